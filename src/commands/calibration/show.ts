import { homedir } from 'node:os';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { fitToWidth, terminalWidth, renderTable } from '../../ui/layout.js';
import { CALIBRATION_ENV, calibrationSummaryReport, readCalibration, resolveCalibrationPath, summarizeCalibration, type CalibrationSummary } from '../../pipeline/calibration.js';

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

  async run(): Promise<Record<string, unknown>> {
    const { flags } = await this.parse(CalibrationShow);
    const path = resolveCalibrationPath(process.env, homedir(), flags.calibration);
    const summary = summarizeCalibration(await readCalibration(path), path);
    if (!this.jsonEnabled()) this.log(fitToWidth(renderSummary(summary, terminalWidth(process.stdout)), terminalWidth(process.stdout)));
    return calibrationSummaryReport(summary);
  }
}

function renderSummary(summary: CalibrationSummary, width: number | null): string {
  if (summary.entries.length === 0) {
    return `No calibration in ${summary.file}: estimates use the stated default efficiencies. Run \`modelscout recommend --confirm\` to measure this machine.`;
  }
  const rows = summary.entries.map((e) => [e.hardware, e.device, e.format, String(e.samples), eff(e.decode), eff(e.prefill), e.lastMeasuredAt?.slice(0, 16).replace('T', ' ') ?? '—', e.models.slice(0, 3).join(', ') + (e.models.length > 3 ? ', …' : '')]);
  const table = renderTable(['Hardware', 'Device', 'Format', 'Samples', 'Decode eff.', 'Prefill eff.', 'Last measured', 'Models'], rows, width);
  const sampleRows = summary.entries.flatMap((e) => e.sampleDetails.map((d) => [e.format, d.model, d.test, d.graph, d.measuredAt.slice(0, 16).replace('T', ' '), pct(d.uncalibratedErrorPct?.decode), pct(d.uncalibratedErrorPct?.ttft)]));
  const samples = renderTable(['Format', 'Model', 'Test', 'Graph', 'Measured', 'Uncalibrated error: decode', 'TTFT'], sampleRows, width);
  return [
    `Calibration: ${summary.file}`,
    table,
    'Efficiency = the fraction of the memory bandwidth (decode) or peak FLOP/s (prefill) reached; estimates use the median of each row.',
    '',
    'Samples, and how far the uncalibrated estimate (the stated defaults) was from each:',
    samples,
    'Error = (estimate − measured) ÷ measured. — = not recorded (a sample written by an older version).',
  ].join('\n');
}

function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(0)}%`;
}

function eff(x: number | null): string {
  return x === null ? '—' : x.toFixed(3);
}
