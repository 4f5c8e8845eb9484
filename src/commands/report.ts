import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { writeReportHtml } from '../pipeline/report-html.js';
import type { HtmlSummary } from '../report/html/summary.js';
import { readJsonFile } from '../report/read.js';

export default class Report extends BaseCommand {
  static override summary = 'Render a saved report (bench, compare, recommend or recommend --confirm JSON) as one self-contained HTML page with charts.';
  static override description = `The kind of report is recognised from the file. The page loads nothing at view time: charts are inline SVG, each with its figures as a table beneath; the report's JSON is embedded in the page. It prints well.

Charts: bench — decode tok/s against KV depth (@d tests), decode tok/s against peak memory with the thresholds, estimate against measurement per figure, the baseline comparison; compare — each metric's change with its 95% interval, the threshold lines and the verdict; recommend — the candidates on decode tok/s × memory with the targets, and with --confirm the estimate (with its band) against the measurement per figure and the partial-depth extrapolation.`;

  static override examples = [
    '<%= config.bin %> report modelscout-report.json --html report.html',
    '<%= config.bin %> report bench.json --html bench.html',
  ];

  static override args = {
    file: Args.string({ description: 'a JSON report written by modelscout', required: true }),
  };

  static override flags = {
    html: Flags.string({ description: 'where to write the HTML page [default: the report path with .html]', helpValue: 'FILE' }),
  };

  async run(): Promise<HtmlSummary> {
    const { args, flags } = await this.parse(Report);
    const out = flags.html ?? `${args.file.replace(/\.json$/i, '')}.html`;
    const summary = await writeReportHtml(out, await readJsonFile(args.file, 'report'), args.file);
    if (!this.jsonEnabled()) {
      this.log(`Wrote ${out} (${summary.report_kind} report, ${summary.charts.length} charts): open it in a browser.`);
    }
    return summary;
  }
}
