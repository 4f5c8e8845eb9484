import { homedir } from 'node:os';
import { Flags } from '@oclif/core';
import Table from 'cli-table3';
import { BaseCommand } from '../../cli/base-command.js';
import { CALIBRATION_ENV, readCalibration, resolveCalibrationPath, summarizeCalibration, type CalibrationSummary } from '../../pipeline/calibration.js';

export default class CalibrationShow extends BaseCommand {
  static override summary = 'Show the efficiencies measured on this machine that estimates use instead of the defaults.';
  static override description = [
    'Every `recommend --confirm` measurement adds a sample per hardware × device × weight format: the fraction of the memory bandwidth decode reached, and of the peak FLOP/s prefill reached. Later estimates for the same key (in recommend, the wizard, --confirm and the estimate beside bench measurements) use the median of the recent samples and say they are calibrated.',
    `The file is $${CALIBRATION_ENV}, else $XDG_CACHE_HOME/modelscout/calibration.json (~/.cache/modelscout/calibration.json); --calibration FILE picks another. \`modelscout calibration reset\` empties it.`,
  ].join('\n\n');

  static override examples = ['<%= config.bin %> calibration show', '<%= config.bin %> calibration show --json', '<%= config.bin %> calibration show --calibration ./calibration.json'];

  static override flags = {
    calibration: Flags.string({ description: `calibration file (default $${CALIBRATION_ENV}, else $XDG_CACHE_HOME/modelscout/calibration.json)`, helpValue: 'FILE' }),
  };

  async run(): Promise<CalibrationSummary> {
    const { flags } = await this.parse(CalibrationShow);
    const path = resolveCalibrationPath(process.env, homedir(), flags.calibration);
    const summary = summarizeCalibration(await readCalibration(path), path);
    if (!this.jsonEnabled()) this.log(renderSummary(summary));
    return summary;
  }
}

function renderSummary(summary: CalibrationSummary): string {
  if (summary.entries.length === 0) {
    return `No calibration in ${summary.file}: estimates use the stated default efficiencies. Run \`modelscout recommend --confirm\` to measure this machine.`;
  }
  const table = new Table({ head: ['Hardware', 'Device', 'Format', 'Samples', 'Decode eff.', 'Prefill eff.', 'Last measured', 'Models'], style: { head: [], border: [], compact: true } });
  for (const e of summary.entries) {
    table.push([e.hardware, e.device, e.format, String(e.samples), eff(e.decode), eff(e.prefill), e.lastMeasuredAt?.slice(0, 16).replace('T', ' ') ?? '—', e.models.slice(0, 3).join(', ') + (e.models.length > 3 ? ', …' : '')]);
  }
  return [
    `Calibration: ${summary.file}`,
    table.toString(),
    'Efficiency = the fraction of the memory bandwidth (decode) or peak FLOP/s (prefill) reached; estimates use the median of each row.',
  ].join('\n');
}

function eff(x: number | null): string {
  return x === null ? '—' : x.toFixed(3);
}
