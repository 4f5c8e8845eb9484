import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { ACROSS_DIMENSIONS, DEFAULT_MAX_REGRESSION_PCT, compareReports, comparisonExitCode, comparisonJsonReport } from '../report/compare.js';
import { readReport } from '../report/read.js';
import { renderComparisonMarkdown, renderComparisonTable, renderJson } from '../report/render.js';
import { invalidValue } from '../errors.js';
import { writeReportHtml } from '../pipeline/report-html.js';

const FORMATS = ['table', 'markdown', 'json'] as const;

export default class Compare extends BaseCommand {
  static override summary = 'Compare two benchmark reports: per-metric change, its 95% confidence interval and a verdict.';
  static override description = `A is the baseline, B the candidate. A metric regressed when its change in the bad direction exceeds --max-regression-pct and the 95% confidence interval of the change excludes zero; when the interval reaches past the threshold but that is not established, the verdict is inconclusive. Environment differences (CPU, provider, onnxruntime version, model files) are warned about.

Results are matched by model, variant, device, thread count and test. To compare two configurations (1 vs 2 threads, fp32 vs q4, cpu vs webgpu, model A vs model B), name the dimension that differs with --across; the others must match. A baseline result with no match is listed with the nearest result and what differs.

Exit codes: 0 pass or improved, 1 regressed, 2 bad input, 3 inconclusive: noise (0 with --inconclusive-pass) or baseline results with no match (0 with --allow-missing).`;

  static override examples = [
    '<%= config.bin %> compare baseline.json current.json',
    '<%= config.bin %> compare baseline.json current.json --format markdown >> "$GITHUB_STEP_SUMMARY"',
    '<%= config.bin %> compare threads-1.json threads-2.json --across threads',
    '<%= config.bin %> compare fp32.json q4.json --across variant',
  ];

  static override args = {
    baseline: Args.string({ description: 'report A (the baseline)', required: true }),
    current: Args.string({ description: 'report B (the candidate)', required: true }),
  };

  static override flags = {
    format: Flags.option({ options: FORMATS, default: 'table' as const, description: 'stdout format (--json is the same as --format json)' })(),
    'max-regression-pct': Flags.string({ description: `tolerated change in percent [default: ${DEFAULT_MAX_REGRESSION_PCT}]` }),
    'changed-only': Flags.boolean({ description: 'show only metrics whose verdict is not pass' }),
    'inconclusive-pass': Flags.boolean({ description: 'exit 0 instead of 3 when the comparison is inconclusive because of noise' }),
    across: Flags.option({ options: ACROSS_DIMENSIONS, description: 'the dimension A and B differ in; results are matched on the others' })(),
    'allow-missing': Flags.boolean({ description: 'results of A with no match in B are intended (removed tests): do not exit 3 for them' }),
    html: Flags.string({ description: 'also write the comparison as one self-contained HTML page: each metric\'s change with its 95% interval, the thresholds and the verdicts', helpValue: 'FILE' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(Compare);
    let threshold = DEFAULT_MAX_REGRESSION_PCT;
    if (flags['max-regression-pct'] !== undefined) {
      threshold = Number(flags['max-regression-pct']);
      if (!Number.isFinite(threshold) || threshold <= 0) throw invalidValue('--max-regression-pct', flags['max-regression-pct'], 'a percentage greater than 0');
    }
    const a = await readReport(args.baseline, 'report');
    const b = await readReport(args.current, 'report');
    const comparison = compareReports(a, b, { thresholdPct: threshold, baselinePath: args.baseline, across: flags.across ?? null, allowMissing: flags['allow-missing'] });
    if (flags.html) await writeReportHtml(flags.html, comparison, `${args.baseline} → ${args.current}`);
    process.exitCode = comparisonExitCode(comparison, flags['inconclusive-pass']);
    if (!this.jsonEnabled()) {
      const changedOnly = flags['changed-only'] || flags.format === 'markdown';
      const text =
        flags.format === 'markdown'
          ? `${renderComparisonMarkdown(comparison, { changedOnly })}\n`
          : flags.format === 'json'
            ? renderJson(comparisonJsonReport(comparison))
            : `${renderComparisonTable(comparison, { changedOnly })}\n`;
      process.stdout.write(text);
    }
    return comparisonJsonReport(comparison);
  }
}
