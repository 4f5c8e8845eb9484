/**
 * The HTML page of a serving benchmark (`serve-bench --html`): throughput against the load (concurrency or
 * request rate), TTFT and TPOT percentiles against the load with the SLO lines, the knee (output throughput
 * against TTFT p99, in level order), the `--find-max` result as a vertical line, and the baseline comparison.
 * Pure.
 */
import { formatNumber } from '../render.js';
import type { Distribution, LevelResult, ServeReport } from '../serve-schema.js';
import { changeCharts } from './bench-page.js';
import { xyChart, type Chart, type ReferenceLine, type XyPoint } from './charts.js';
import type { HtmlPage, HtmlSection } from './page.js';

/** Load levels are counts or rates: whole numbers as they are, others to three significant digits. */
function formatLoad(v: number): string {
  return Number.isInteger(v) ? String(v) : formatNumber(v);
}

type LoadAxis = { title: string; unit: string; of: (l: LevelResult) => number | null; log: boolean };

/** What varied between levels: concurrency or request rate (the sweep's dimension, else whichever is set). */
function loadAxis(report: ServeReport): LoadAxis {
  const dimension = report.load.sweep?.dimension ?? report.find_max?.dimension ?? (report.levels.some((l) => l.max_concurrency !== null) ? 'concurrency' : 'rate');
  const of = dimension === 'concurrency' ? (l: LevelResult) => l.max_concurrency : (l: LevelResult) => l.request_rate;
  const values = report.levels.map(of).filter((v): v is number => v !== null && v > 0);
  // Sweeps usually double (1, 2, 4, … 256): a base-2 axis spaces those levels evenly.
  const log = values.length > 1 && Math.max(...values) / Math.min(...values) >= 8;
  return dimension === 'concurrency' ? { title: 'concurrency', unit: 'requests in flight', of, log } : { title: 'request rate', unit: 'requests/s', of, log };
}

function levelsOnAxis(report: ServeReport, axis: LoadAxis): { level: LevelResult; x: number }[] {
  return report.levels.flatMap((level) => {
    const x = axis.of(level);
    return x === null ? [] : [{ level, x }];
  });
}

function findMaxLine(report: ServeReport, axis: LoadAxis): ReferenceLine[] {
  const best = report.find_max?.best;
  return best === null || best === undefined ? [] : [{ axis: 'x', value: best, label: `--find-max: ${formatLoad(best)} ${axis.unit}` }];
}

/** Output and total token throughput against the load. */
export function throughputChart(report: ServeReport): Chart | null {
  const axis = loadAxis(report);
  const levels = levelsOnAxis(report, axis);
  if (levels.length === 0) return null;
  const points: XyPoint[] = levels.flatMap(({ level, x }) => [
    { x, y: level.output_throughput, series: 'output tokens/s', label: `${level.label}: ${formatNumber(level.output_throughput)} output tok/s` },
    { x, y: level.total_token_throughput, series: 'total tokens/s (input + output)', label: `${level.label}: ${formatNumber(level.total_token_throughput)} total tok/s` },
  ]);
  return xyChart({
    id: 'serve-throughput',
    title: `Throughput against ${axis.title}`,
    caption: `Tokens per second the server delivered at each level of the sweep. Where the curve flattens the server is saturated: more load adds waiting, not throughput.${report.find_max?.best ? ' Dashed vertical line: the highest level that met every SLO (--find-max).' : ''}`,
    x: { title: axis.title, unit: axis.unit, ...(axis.log ? { log: true, logBase: 2 } : {}) },
    y: { title: 'throughput', unit: 'tok/s' },
    points,
    lines: true,
    references: findMaxLine(report, axis),
    seriesTitle: 'figure',
    table: {
      columns: ['level', `${axis.title} (${axis.unit})`, 'output tok/s', 'total tok/s', 'requests/s', 'goodput (req/s)', 'completed', 'failed'],
      rows: levels.map(({ level, x }) => [
        level.label,
        formatLoad(x),
        formatNumber(level.output_throughput),
        formatNumber(level.total_token_throughput),
        formatNumber(level.request_throughput),
        level.goodput === null ? '–' : formatNumber(level.goodput),
        String(level.completed),
        String(level.failed),
      ]),
    },
  });
}

const PERCENTILES = ['p50', 'p90', 'p99'] as const;

/** A latency metric's percentiles against the load, with its SLO lines. */
export function latencyChart(report: ServeReport, metric: 'ttft_ms' | 'tpot_ms', title: string): Chart | null {
  const axis = loadAxis(report);
  const levels = levelsOnAxis(report, axis).filter(({ level }) => level.metrics[metric] !== null);
  if (levels.length === 0) return null;
  const points: XyPoint[] = [];
  for (const { level, x } of levels) {
    const d = level.metrics[metric] as Distribution;
    for (const p of PERCENTILES) {
      const v = d.percentiles[p];
      if (v !== undefined) points.push({ x, y: v, series: p, label: `${level.label}: ${title} ${p} ${formatNumber(v)} ms` });
    }
  }
  const references: ReferenceLine[] = [
    ...report.slo.filter((s) => s.metric === metric).map((s) => ({ axis: 'y' as const, value: s.limit_ms, label: `SLO p${s.percentile} ≤ ${formatNumber(s.limit_ms)} ms` })),
    ...findMaxLine(report, axis),
  ];
  const ys = points.map((p) => p.y).filter((v) => v > 0);
  // A saturated server's latency grows by orders of magnitude: a log axis keeps the low levels readable.
  const log = ys.length > 0 && Math.max(...ys) / Math.min(...ys) > 50;
  return xyChart({
    id: `serve-${metric.replace('_ms', '')}`,
    title: `${title} percentiles against ${axis.title}`,
    caption: `p50, p90 and p99 of ${title} over the requests of each level${references.some((r) => r.axis === 'y') ? '; dashed horizontal line: the SLO' : ''}.${log ? ' Logarithmic axis.' : ''}`,
    x: { title: axis.title, unit: axis.unit, ...(axis.log ? { log: true, logBase: 2 } : {}) },
    y: { title, unit: 'ms', ...(log ? { log: true } : {}) },
    points,
    lines: true,
    references,
    seriesOrder: [...PERCENTILES],
    seriesTitle: 'percentile',
    table: {
      columns: ['level', ...PERCENTILES.map((p) => `${p} (ms)`), 'mean (ms)', 'requests'],
      rows: levels.map(({ level }) => {
        const d = level.metrics[metric] as Distribution;
        return [level.label, ...PERCENTILES.map((p) => (d.percentiles[p] === undefined ? '–' : formatNumber(d.percentiles[p] as number))), formatNumber(d.mean), String(d.n)];
      }),
    },
  });
}

/** Output throughput against TTFT p99 in level order: where more load stops buying throughput. */
export function kneeChart(report: ServeReport): Chart | null {
  const levels = report.levels.filter((l) => l.metrics.ttft_ms?.percentiles.p99 !== undefined);
  if (levels.length < 2) return null;
  const ttftSlo = report.slo.find((s) => s.metric === 'ttft_ms');
  return xyChart({
    id: 'serve-knee',
    title: 'The knee: throughput against TTFT p99',
    caption: 'Each point is one level of the sweep (labelled), joined in the order of increasing load. Past the knee, throughput barely grows while the slowest first tokens wait longer and longer.',
    x: { title: 'TTFT p99', unit: 'ms' },
    y: { title: 'output throughput', unit: 'tok/s' },
    points: levels.map((l) => ({ x: l.metrics.ttft_ms?.percentiles.p99 ?? 0, y: l.output_throughput, series: 'levels', tag: l.label, label: `${l.label}: ${formatNumber(l.output_throughput)} tok/s at TTFT p99 ${formatNumber(l.metrics.ttft_ms?.percentiles.p99 ?? 0)} ms` })),
    lines: true,
    lineOrder: 'given',
    tags: true,
    references: ttftSlo ? [{ axis: 'x', value: ttftSlo.limit_ms, label: `SLO ${formatNumber(ttftSlo.limit_ms)} ms` }] : [],
    seriesTitle: 'sweep',
    table: { columns: ['level', 'TTFT p99 (ms)', 'output tok/s'], rows: levels.map((l) => [l.label, formatNumber(l.metrics.ttft_ms?.percentiles.p99 ?? 0), formatNumber(l.output_throughput)]) },
  });
}

/** The page of a `serve-bench` report. */
export function servePage(report: ServeReport): HtmlPage {
  const notes = [...report.notes];
  for (const l of report.levels) {
    if (!l.valid) notes.push(`${l.label}: the client limited this level (${l.client.reasons.join('; ') || 'see the report'}) — its figures understate the server.`);
    if (l.saturation.over_saturated) notes.push(`${l.label}: over-saturated (queue growing, TTFT climbing).`);
    if (l.stopped) notes.push(`${l.label}: stopped early: ${l.stopped}`);
  }
  const speed = [throughputChart(report), latencyChart(report, 'ttft_ms', 'time to first token'), latencyChart(report, 'tpot_ms', 'time per output token'), kneeChart(report)].filter((c): c is Chart => c !== null);
  const sections: HtmlSection[] = [];
  if (speed.length > 0) sections.push({ heading: 'Load sweep', charts: speed });
  if (report.find_max) {
    const f = report.find_max;
    sections.push({
      heading: '--find-max',
      paragraphs: [`Highest ${f.dimension} that met every SLO: ${f.best === null ? 'none' : formatLoad(f.best)}${f.first_failing === null ? '' : `; first failing: ${formatLoad(f.first_failing)}`}.${f.stopped ? ` Stopped: ${f.stopped}.` : ''}`],
      tables: [{ caption: 'Search steps', table: { columns: ['step', f.dimension, 'phase', 'SLOs met', 'why'], rows: f.steps.map((s, i) => [String(i + 1), formatLoad(s.value), s.phase, s.slo_met ? 'yes' : 'no', s.reason]) } }],
    });
  }
  if (report.comparison) {
    const c = report.comparison;
    const rows = c.results.map((r) => ({ ...r, label: `${r.metric} · ${r.level}` }));
    const table = {
      columns: ['level', 'metric', 'baseline', 'current', 'change', '95% CI of change', 'verdict'],
      rows: c.results.map((r) => [r.level, r.metric, formatNumber(r.baseline), formatNumber(r.current), `${r.delta_pct >= 0 ? '+' : ''}${r.delta_pct.toFixed(1)}%`, r.ci95_delta_pct ? `[${r.ci95_delta_pct[0].toFixed(1)}, ${r.ci95_delta_pct[1].toFixed(1)}]` : '–', r.verdict]),
    };
    sections.push({ heading: 'Comparison with the baseline', paragraphs: [`Against ${c.baseline_path ?? 'the baseline'}: ${c.verdict}, threshold ${formatNumber(c.threshold_pct)}%.`], charts: changeCharts(rows, c.threshold_pct, table) });
  }
  return {
    kind: 'modelscout.serve-bench',
    title: `modelscout serve-bench: ${report.outcome.status}`,
    facts: [
      ['target', `${report.target.model} at ${report.target.base_urls.join(', ')} (${report.target.endpoint})`],
      ['workload', `${report.workload.dataset}${report.workload.input_len !== null ? `, ${report.workload.input_len} tokens in` : ''}${report.workload.output_len !== null ? `, ${report.workload.output_len} out` : ''}, seed ${report.workload.seed}`],
      ['SLOs', report.slo.length === 0 ? 'none' : report.slo.map((s) => `${s.metric} p${s.percentile} ≤ ${formatNumber(s.limit_ms)} ms`).join(', ')],
      ['outcome', `${report.outcome.status} (exit ${report.outcome.exit_code})${report.outcome.reasons.length ? ` — ${report.outcome.reasons.join('; ')}` : ''}`],
      ['client', `${report.environment.cpu.model}, ${report.environment.cpu.cores} cores${report.environment.load_avg_1m === null ? '' : `, load ${formatNumber(report.environment.load_avg_1m)}`}`],
    ],
    notes,
    sections,
    data: report,
    footer: `${report.tool.name} ${report.tool.version}, run ${report.run.started_at}`,
  };
}
