import { homedir } from 'node:os';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { CALIBRATION_ENV, calibrationResetReport, readCalibration, resetCalibration, resolveCalibrationPath, writeCalibration } from '../../pipeline/calibration.js';


export default class CalibrationReset extends BaseCommand {
  static override summary = 'Forget the measured efficiencies: estimates go back to the stated defaults.';
  static override description = `Empties the calibration file ($${CALIBRATION_ENV}, else $XDG_CACHE_HOME/modelscout/calibration.json), or with --hardware only the entries of one hardware description as \`calibration show\` prints it. The file is rewritten atomically.`;

  static override examples = ['<%= config.bin %> calibration reset', '<%= config.bin %> calibration reset --hardware "cpu:AMD EPYC:2 threads"'];

  static override flags = {
    calibration: Flags.string({ description: `calibration file (default $${CALIBRATION_ENV}, else $XDG_CACHE_HOME/modelscout/calibration.json)`, helpValue: 'FILE' }),
    hardware: Flags.string({ description: 'remove only the entries of this hardware description', helpValue: 'TEXT' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { flags } = await this.parse(CalibrationReset);
    const path = resolveCalibrationPath(process.env, homedir(), flags.calibration);
    const { file, removedSamples } = resetCalibration(await readCalibration(path), flags.hardware);
    await writeCalibration(path, file);
    if (!this.jsonEnabled()) {
      this.log(`Removed ${removedSamples} sample${removedSamples === 1 ? '' : 's'} from ${path}${flags.hardware ? ` (hardware "${flags.hardware}")` : ''}; ${file.entries.length} entr${file.entries.length === 1 ? 'y' : 'ies'} left.`);
    }
    return calibrationResetReport({ file: path, removedSamples, remainingEntries: file.entries.length });
  }
}
