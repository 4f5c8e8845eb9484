/**
 * The HTML page of a benchmark report (`bench --html`) and of a comparison (`compare --html`): decode tok/s
 * against KV depth, decode tok/s against peak memory with the thresholds, the estimate beside the
 * measurement per figure, and the baseline comparison with its noise intervals and verdicts. Pure.
 */
import { decodeTpsByDepth } from '../depth-series.js';
import { COMPARISON_HEAD, busyNote, comparisonCells, estimateBasisLines, formatNumber, provenanceLine, resultsTable, SYNTHETIC_NOTE } from '../render.js';
import type { BenchReport, BenchResult, Comparison, ComparisonRow } from '../schema.js';
import { intervalChart, xyChart, type Chart, type DataTable, type IntervalRow, type ReferenceLine, type SeriesStyle, type XyPoint } from './charts.js';
import type { HtmlPage, HtmlSection } from './page.js';

const GIB = 1024 ** 3;

export function gib(bytes: number): number {
  return bytes / GIB;
}

function resultLabel(r: BenchResult): string {
  const model = r.model.synthetic ? `${r.model.id} (synthetic)` : r.model.id;
  return `${model} ${r.variant.name} ${r.config.device} t${r.config.threads || 'auto'} ${r.test.id}`;
}

function ok(report: BenchReport): BenchResult[] {
  return report.results.filter((r) => r.status === 'ok');
}

/** Decode tok/s (median, 95% CI band) against the KV depth the decode started at, one line per group. */
export function decodeDepthChart(results: readonly BenchResult[], min: number | null): Chart | null {
  const series = decodeTpsByDepth({ results: [...results] });
  if (series.length === 0) return null;
  const points: XyPoint[] = series.flatMap((s) =>
    s.points.map((p) => ({
      x: p.depth,
      y: p.decodeTps,
      series: s.label,
      label: `${s.label} @d${p.depth}: ${formatNumber(p.decodeTps)} tok/s`,
      ...(p.ci95 ? { yLow: p.ci95[0], yHigh: p.ci95[1] } : {}),
    })),
  );
  return xyChart({
    id: 'decode-vs-depth',
    title: 'Decode speed against context depth',
    caption: 'Median decode tokens per second of one stream when the KV cache already holds the given number of tokens (@d tests); bars: 95% confidence interval of the mean; dashed line: the decode target.',
    x: { title: 'KV cache depth at the start of decoding', unit: 'tokens' },
    y: { title: 'decode speed', unit: 'tok/s' },
    points,
    lines: true,
    references: min === null ? [] : [{ axis: 'y', value: min, label: `target ${formatNumber(min)} tok/s` }],
    seriesTitle: 'model, variant, device, threads, test',
    table: {
      columns: ['series', 'depth (tokens)', 'decode tok/s (median)', '95% CI'],
      rows: series.flatMap((s) => s.points.map((p) => [s.label, String(p.depth), formatNumber(p.decodeTps), p.ci95 ? `${formatNumber(p.ci95[0])} – ${formatNumber(p.ci95[1])}` : '–'])),
    },
  });
}

/** Decode tok/s against peak resident memory, one point per result, with the run's thresholds. */
export function speedMemoryChart(report: BenchReport): Chart | null {
  const rows = ok(report).filter((r) => r.metrics.decode_tps && r.memory.rss_peak_bytes !== null);
  if (rows.length === 0) return null;
  const t = report.run.config.thresholds;
  const references: ReferenceLine[] = [];
  if (t.min_decode_tps !== null) references.push({ axis: 'y', value: t.min_decode_tps, label: `min ${formatNumber(t.min_decode_tps)} tok/s` });
  if (t.max_peak_rss_bytes !== null) references.push({ axis: 'x', value: gib(t.max_peak_rss_bytes), label: `max ${formatNumber(gib(t.max_peak_rss_bytes))} GiB` });
  return xyChart({
    id: 'speed-vs-memory',
    title: 'Decode speed against peak memory',
    caption: 'Each point is one result: its median decode tokens per second and the peak resident memory of the benchmark process. Up and to the left is better; dashed lines: the thresholds of the run.',
    x: { title: 'peak resident memory', unit: 'GiB' },
    y: { title: 'decode speed', unit: 'tok/s' },
    points: rows.map((r) => {
      const tps = r.metrics.decode_tps?.p50 ?? 0;
      const mem = gib(r.memory.rss_peak_bytes ?? 0);
      return { x: mem, y: tps, series: `${r.model.id} ${r.variant.name}`, label: `${resultLabel(r)}: ${formatNumber(tps)} tok/s, ${formatNumber(mem)} GiB` };
    }),
    references,
    seriesTitle: 'model, variant',
    table: {
      columns: ['result', 'decode tok/s (median)', 'peak RSS (GiB)'],
      rows: rows.map((r) => [resultLabel(r), formatNumber(r.metrics.decode_tps?.p50 ?? 0), formatNumber(gib(r.memory.rss_peak_bytes ?? 0))]),
    },
  });
}

/** One figure of an estimate-vs-measurement chart. */
export interface EstimatePair {
  category: string;
  estimate: number | null;
  /** The estimate's error band, where the estimator gives one. */
  estimateBand?: [number, number];
  measured: number | null;
  measuredBand?: [number, number] | null;
}

export interface FigureSpec {
  id: string;
  title: string;
  unit: string;
  pairs: EstimatePair[];
  references?: ReferenceLine[];
}

/** The estimate (with its band) beside the measurement (with its interval), one row per category. */
export function estimateVersusMeasuredChart(figure: FigureSpec, categoryTitle: string): Chart | null {
  const pairs = figure.pairs.filter((p) => p.estimate !== null || p.measured !== null);
  if (pairs.length === 0 || !pairs.some((p) => p.estimate !== null)) return null;
  const rows: IntervalRow[] = [];
  for (const p of pairs) {
    if (p.estimate !== null) {
      rows.push({
        category: p.category,
        series: 'estimate',
        value: p.estimate,
        ...(p.estimateBand ? { low: p.estimateBand[0], high: p.estimateBand[1] } : {}),
        label: `${p.category}: estimate ${formatNumber(p.estimate)} ${figure.unit}${p.estimateBand ? ` (band ${formatNumber(p.estimateBand[0])} – ${formatNumber(p.estimateBand[1])})` : ''}`,
      });
    }
    if (p.measured !== null) {
      rows.push({
        category: p.category,
        series: 'measured',
        value: p.measured,
        ...(p.measuredBand ? { low: p.measuredBand[0], high: p.measuredBand[1] } : {}),
        label: `${p.category}: measured ${formatNumber(p.measured)} ${figure.unit}`,
      });
    }
  }
  const errorPct = (p: EstimatePair): string => (p.estimate === null || p.measured === null || p.measured === 0 ? '–' : `${p.estimate >= p.measured ? '+' : ''}${(((p.estimate - p.measured) / p.measured) * 100).toFixed(0)}%`);
  return intervalChart({
    id: `estimate-vs-measured-${figure.id}`,
    title: `Estimate against measurement: ${figure.title}`,
    caption: `For each ${categoryTitle}, the estimator's ${figure.title} (with its error band where it gives one) beside the measured value (with its 95% interval where there are repetitions).${figure.references?.length ? ' Dashed line: the target.' : ''}`,
    x: { title: figure.title, unit: figure.unit },
    categoryTitle,
    rows,
    seriesOrder: ['estimate', 'measured'],
    seriesTitle: 'figure',
    ...(figure.references ? { references: figure.references } : {}),
    table: {
      columns: [categoryTitle, `estimate (${figure.unit})`, 'estimate band', `measured (${figure.unit})`, 'estimate error'],
      rows: pairs.map((p) => [
        p.category,
        p.estimate === null ? '–' : formatNumber(p.estimate),
        p.estimateBand ? `${formatNumber(p.estimateBand[0])} – ${formatNumber(p.estimateBand[1])}` : '–',
        p.measured === null ? '–' : formatNumber(p.measured),
        errorPct(p),
      ]),
    },
  });
}

function benchEstimateCharts(report: BenchReport): Chart[] {
  const rows = ok(report).filter((r) => r.estimate);
  const figure = (id: string, title: string, unit: string, pick: (r: BenchResult) => EstimatePair): FigureSpec => ({ id, title, unit, pairs: rows.map(pick) });
  const figures: FigureSpec[] = [
    figure('decode', 'decode speed', 'tok/s', (r) => ({ category: resultLabel(r), estimate: r.estimate?.decode_tps ?? null, measured: r.metrics.decode_tps?.p50 ?? null, measuredBand: r.metrics.decode_tps?.ci95 ?? null })),
    figure('prefill', 'prefill speed', 'tok/s', (r) => ({ category: resultLabel(r), estimate: r.estimate?.prefill_tps ?? null, measured: r.metrics.prefill_tps?.p50 ?? null, measuredBand: r.metrics.prefill_tps?.ci95 ?? null })),
    figure('ttft', 'time to first token', 'ms', (r) => ({ category: resultLabel(r), estimate: r.estimate?.ttft_ms ?? null, measured: r.metrics.ttft_ms?.p50 ?? null, measuredBand: r.metrics.ttft_ms?.ci95 ?? null })),
    figure('memory', 'peak memory', 'GiB', (r) => ({
      category: resultLabel(r),
      estimate: r.estimate?.total_memory_bytes == null ? null : gib(r.estimate.total_memory_bytes),
      measured: r.memory.rss_peak_bytes === null ? null : gib(r.memory.rss_peak_bytes),
    })),
  ];
  return figures.map((f) => estimateVersusMeasuredChart(f, 'result')).filter((c): c is Chart => c !== null);
}

function rowLabel(r: ComparisonRow): string {
  return `${r.metric} · ${r.test_id} · ${r.model_id} ${r.variant} t${r.threads || 'auto'}`;
}

/** Verdicts keep one look everywhere: shape and colour both say it (readable in greyscale). */
export const VERDICT_STYLES: Record<string, SeriesStyle> = {
  regressed: { colour: '#cc3311', shape: 'cross' },
  inconclusive: { colour: '#e69f00', shape: 'triangle-up' },
  improved: { colour: '#009e73', shape: 'diamond' },
  pass: { colour: '#555555', shape: 'circle' },
};

/** One compared metric, whatever the report family (a bench test, a serving level). */
export interface ChangeRow {
  /** The row's name on the chart, metric first. */
  label: string;
  metric: string;
  unit: string;
  baseline: number;
  current: number;
  delta_pct: number;
  ci95_delta_pct: [number, number] | null;
  verdict: string;
}

/** The change of every compared metric with its 95% interval, the ± threshold lines, marked by verdict; then each metric's baseline and current. */
export function changeCharts(rows: readonly ChangeRow[], thresholdPct: number, table: DataTable): Chart[] {
  if (rows.length === 0) return [];
  const verdicts = ['regressed', 'inconclusive', 'improved', 'pass'];
  const change = intervalChart({
    id: 'comparison-change',
    title: 'Change against the baseline, with its noise interval',
    caption: `Each row is one metric: the change of its mean in percent of the baseline (point) and the 95% confidence interval of that change (bar, Welch). Dashed lines: ±${formatNumber(thresholdPct)}% threshold. For tok/s a fall is worse; for ms and bytes a rise is worse. Marker = verdict.`,
    x: { title: 'change from baseline', unit: '%', zero: true },
    categoryTitle: 'metric · result',
    rows: rows.map((r) => ({
      category: r.label,
      series: r.verdict,
      value: r.delta_pct,
      ...(r.ci95_delta_pct ? { low: r.ci95_delta_pct[0], high: r.ci95_delta_pct[1] } : {}),
      label: `${r.label}: ${r.delta_pct >= 0 ? '+' : ''}${r.delta_pct.toFixed(1)}% (${r.verdict})`,
    })),
    seriesOrder: verdicts.filter((v) => rows.some((r) => r.verdict === v)),
    seriesTitle: 'verdict',
    seriesStyles: VERDICT_STYLES,
    references: [
      { axis: 'x', value: -thresholdPct, label: `−${formatNumber(thresholdPct)}%` },
      { axis: 'x', value: thresholdPct, label: `+${formatNumber(thresholdPct)}%` },
    ],
    table,
  });
  const charts: Chart[] = [change];
  for (const metric of [...new Set(rows.map((r) => r.metric))]) {
    const mine = rows.filter((r) => r.metric === metric);
    const bytes = mine[0]?.unit === 'bytes';
    const unit = bytes ? 'GiB' : (mine[0]?.unit ?? '');
    const scale = (v: number): number => (bytes ? gib(v) : v);
    charts.push(
      intervalChart({
        id: `comparison-${metric}`,
        title: `Baseline and current: ${metric}`,
        caption: `The mean of ${metric} in the baseline and now, per result; the verdict is in the table.`,
        x: { title: metric, unit },
        categoryTitle: 'result',
        rows: mine.flatMap((r) => [
          { category: r.label, series: 'baseline', value: scale(r.baseline), label: `${r.label}: baseline ${formatNumber(scale(r.baseline))} ${unit}` },
          { category: r.label, series: 'current', value: scale(r.current), label: `${r.label}: current ${formatNumber(scale(r.current))} ${unit} (${r.verdict})` },
        ]),
        seriesOrder: ['baseline', 'current'],
        seriesTitle: 'run',
        table: { columns: ['result', `baseline (${unit})`, `current (${unit})`, 'change', 'verdict'], rows: mine.map((r) => [r.label, formatNumber(scale(r.baseline)), formatNumber(scale(r.current)), `${r.delta_pct >= 0 ? '+' : ''}${r.delta_pct.toFixed(1)}%`, r.verdict]) },
      }),
    );
  }
  return charts;
}

/** The charts of a bench comparison. */
export function comparisonCharts(c: Comparison): Chart[] {
  const rows = c.results.map((r) => ({ ...r, label: rowLabel(r) }));
  return changeCharts(rows, c.threshold_pct, { columns: COMPARISON_HEAD, rows: c.results.map((r) => comparisonCells(r, c.across ?? null)) });
}

function comparisonSection(c: Comparison): HtmlSection {
  const paragraphs = [`Against the baseline${c.baseline.path ? ` ${c.baseline.path}` : ''}${c.baseline.started_at ? ` (run ${c.baseline.started_at})` : ''}: ${c.verdict}, threshold ${formatNumber(c.threshold_pct)}%.`];
  for (const w of c.warnings) paragraphs.push(`Warning: ${w}`);
  for (const m of c.missing) paragraphs.push(`Missing now: ${m}`);
  return { heading: 'Comparison with the baseline', paragraphs, charts: comparisonCharts(c) };
}

/** The page of a `bench` report. */
export function benchPage(report: BenchReport): HtmlPage {
  const notes: string[] = [];
  if (report.results.some((r) => r.model.synthetic)) notes.push(SYNTHETIC_NOTE);
  const busy = busyNote(report);
  if (busy) notes.push(busy);
  for (const r of report.results.filter((x) => x.status === 'error')) notes.push(`error: ${resultLabel(r)}: ${r.error?.message ?? 'unknown'}`);
  const charts = [decodeDepthChart(report.results, report.run.config.thresholds.min_decode_tps), speedMemoryChart(report)].filter((c): c is Chart => c !== null);
  const sections: HtmlSection[] = [];
  if (charts.length > 0) sections.push({ heading: 'Speed', charts });
  const estimates = benchEstimateCharts(report);
  if (estimates.length > 0) sections.push({ heading: 'Estimates against measurements', paragraphs: ['Estimate error = (estimated − measured) ÷ measured.', ...estimateBasisLines(report)], charts: estimates });
  if (report.comparison) sections.push(comparisonSection(report.comparison));
  const results = resultsTable(report);
  sections.push({ heading: 'All results', tables: [{ caption: 'Figures: median (mean ± sd) over repetitions', table: { columns: results.head, rows: results.rows } }] });
  return {
    kind: 'modelscout.bench',
    title: `modelscout bench: ${report.outcome.status}`,
    facts: [
      ['outcome', `${report.outcome.status} (exit ${report.outcome.exit_code})${report.outcome.reasons.length ? ` — ${report.outcome.reasons.join('; ')}` : ''}`],
      ['results', `${report.results.length} (${ok(report).length} ok)`],
      ['environment', provenanceLine(report)],
    ],
    notes,
    sections,
    data: report,
    footer: `${report.tool.name} ${report.tool.version}, run ${report.run.started_at}`,
  };
}

/** The page of a `compare` result (the two reports' comparison). */
export function comparisonPage(c: Comparison): HtmlPage {
  return {
    kind: 'modelscout.comparison',
    title: `modelscout compare: ${c.verdict}`,
    facts: [
      ['verdict', c.verdict],
      ['threshold', `${formatNumber(c.threshold_pct)}%`],
      ['baseline', `${c.baseline.path ?? '(unnamed)'}${c.baseline.tool_version ? `, modelscout ${c.baseline.tool_version}` : ''}${c.baseline.started_at ? `, ${c.baseline.started_at}` : ''}`],
      ['metrics compared', String(c.results.length)],
    ],
    notes: [],
    sections: [comparisonSection(c)],
    data: c,
    footer: 'modelscout compare',
  };
}
