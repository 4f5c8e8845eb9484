/**
 * HTML pages of the recommendation report (`recommend --html`, `recommend --confirm --html`) and the one
 * entry point that renders any saved report (`modelscout report FILE.json --html out.html`): it recognises
 * the report by its kind and schema version, validates it, and builds the page. Pure apart from the SVG
 * rendering; reading and writing files is the command's.
 */
import { ModelscoutError } from '../errors.js';
import { readRecommendationReport, toRecommendationReport } from '../recommend/report-json.js';
import type { Candidate, Recommendation } from '../recommend/types.js';
import { benchPage, comparisonPage, decodeDepthChart, estimateVersusMeasuredChart, gib, type EstimatePair, type FigureSpec } from '../report/html/bench-page.js';
import { xyChart, type Chart, type ReferenceLine, type XyPoint } from '../report/html/charts.js';
import { servePage } from '../report/html/serve-page.js';
import { SERVE_SCHEMA_VERSION, serveReportSchema } from '../report/serve-schema.js';
import { pageCharts, renderHtmlPage, type HtmlPage, type HtmlSection } from '../report/html/page.js';
import { parseReport } from '../report/read.js';
import { formatNumber } from '../report/render.js';
import { HTML_SUMMARY_SCHEMA_VERSION, type HtmlSummary } from '../report/html/summary.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { SCHEMA_VERSION, comparisonSchema } from '../report/schema.js';
import type { ConfirmReport, ConfirmedCandidate, VariantMeasurement } from '../recommend/confirm-report.js';

type Banded = { value: number; low: number; high: number };

/** The estimator's relative band around `value`, taken from the candidate's banded figure. */
function bandAround(value: number | null, banded: Banded | null): [number, number] | undefined {
  if (value === null || !banded || banded.value === 0) return undefined;
  return [(value * banded.low) / banded.value, (value * banded.high) / banded.value];
}

function measuredOk(c: ConfirmedCandidate): VariantMeasurement[] {
  return c.measurements.filter((m) => m.status === 'ok');
}

function variantLabel(c: { name: string }, m: VariantMeasurement): string {
  return `${c.name} ${m.variant}${m.extrapolated ? ' (extrapolated)' : ''}`;
}

/** Usable memory of the device the candidates were placed on (the fit limit), when all share one. */
function usableMemory(rec: Recommendation): number | null {
  const usable = [...new Set(rec.candidates.map((c) => c.memory.usableBytes))];
  return usable.length === 1 ? (usable[0] ?? null) : null;
}

/**
 * Candidates on decode tok/s per stream × memory: the estimate (with its band) of every ranked candidate, and
 * what was measured for the confirmed ones, against the decode target and the usable memory.
 */
export function candidatesChart(rec: Recommendation): Chart | null {
  const points: XyPoint[] = [];
  const rows: string[][] = [];
  for (const c of rec.candidates) {
    const d = c.speed.decodeTokPerSec;
    if (!d) continue;
    points.push({ x: gib(c.memory.totalBytes), y: d.value, yLow: d.low, yHigh: d.high, series: `estimate (${c.format})`, tag: c.name, label: `${c.name} ${c.format}: estimate ${formatNumber(d.value)} tok/s (band ${formatNumber(d.low)} – ${formatNumber(d.high)}), ${formatNumber(gib(c.memory.totalBytes))} GiB` });
    rows.push([c.name, `estimate (${c.format})`, `${formatNumber(d.value)} (${formatNumber(d.low)} – ${formatNumber(d.high)})`, formatNumber(gib(c.memory.totalBytes))]);
  }
  for (const c of rec.confirm?.candidates ?? []) {
    for (const m of measuredOk(c)) {
      const tps = m.measured.decodeTokPerSecPerStream;
      const mem = m.measured.peakMemoryBytes;
      if (tps === null || mem === null) continue;
      const series = `measured (${m.variant})`;
      points.push({ x: gib(mem), y: tps, series, tag: c.name, label: `${variantLabel(c, m)}: measured ${formatNumber(tps)} tok/s, ${formatNumber(gib(mem))} GiB peak` });
      rows.push([c.name, `${series}${m.extrapolated ? ', extrapolated' : ''}`, formatNumber(tps), formatNumber(gib(mem))]);
    }
  }
  if (points.length === 0) return null;
  const references: ReferenceLine[] = [{ axis: 'y', value: rec.targets.decodeTokensPerSec, label: `target ${formatNumber(rec.targets.decodeTokensPerSec)} tok/s` }];
  const usable = usableMemory(rec);
  const maxX = Math.max(...points.map((p) => p.x));
  if (usable !== null) references.push({ axis: 'x', value: gib(usable), label: `usable ${formatNumber(gib(usable))} GiB` });
  // Models far smaller than the memory limit would crowd into one corner on a linear axis.
  const log = usable !== null && gib(usable) > 10 * maxX;
  return xyChart({
    id: 'candidates-speed-memory',
    title: 'Candidates: decode speed against memory',
    caption: `Every ranked candidate's estimated decode tokens per second per stream (bar: the estimator's error band) at its estimated memory, and what was measured on this machine (peak resident memory). Dashed lines: the decode target and the memory usable here; above the target line and left of the memory line meets both.${log ? ' Memory on a logarithmic axis.' : ''}`,
    x: { title: 'memory', unit: 'GiB', ...(log ? { log: true } : {}) },
    y: { title: 'decode speed per stream', unit: 'tok/s' },
    points,
    tags: true,
    references,
    seriesTitle: 'figure',
    table: { columns: ['candidate', 'figure', 'decode tok/s per stream', 'memory (GiB)'], rows },
  });
}

function confirmFigures(rec: Recommendation, confirm: ConfirmReport): FigureSpec[] {
  const byId = new Map<string, Candidate>(rec.candidates.map((c) => [c.id, c]));
  const pairs = (pick: (c: ConfirmedCandidate, m: VariantMeasurement, rc: Candidate | undefined) => EstimatePair): EstimatePair[] =>
    confirm.candidates.flatMap((c) => measuredOk(c).map((m) => pick(c, m, byId.get(c.id))));
  const usable = usableMemory(rec);
  return [
    {
      id: 'decode',
      title: 'decode speed per stream',
      unit: 'tok/s',
      references: [{ axis: 'x', value: rec.targets.decodeTokensPerSec, label: `target ${formatNumber(rec.targets.decodeTokensPerSec)}` }],
      pairs: pairs((c, m, rc) => {
        const band = bandAround(m.estimated.decodeTokPerSecPerStream, rc?.speed.decodeTokPerSec ?? null);
        return { category: variantLabel(c, m), estimate: m.estimated.decodeTokPerSecPerStream, ...(band ? { estimateBand: band } : {}), measured: m.measured.decodeTokPerSecPerStream };
      }),
    },
    {
      id: 'ttft',
      title: 'time to first token',
      unit: 'ms',
      references: [{ axis: 'x', value: rec.targets.maxTtftMs, label: `target ${formatNumber(rec.targets.maxTtftMs)}` }],
      pairs: pairs((c, m, rc) => {
        const band = bandAround(m.estimated.ttftMs, rc?.speed.ttftMs ?? null);
        return { category: variantLabel(c, m), estimate: m.estimated.ttftMs, ...(band ? { estimateBand: band } : {}), measured: m.measured.ttftMs };
      }),
    },
    {
      id: 'prefill',
      title: 'prefill speed',
      unit: 'tok/s',
      pairs: pairs((c, m, rc) => {
        const band = bandAround(m.estimated.prefillTokPerSec, rc?.speed.prefillTokPerSec ?? null);
        return { category: variantLabel(c, m), estimate: m.estimated.prefillTokPerSec, ...(band ? { estimateBand: band } : {}), measured: m.measured.prefillTokPerSec };
      }),
    },
    {
      id: 'memory',
      title: 'memory',
      unit: 'GiB',
      ...(usable !== null && gib(usable) < 4 * Math.max(1, ...confirm.candidates.map((c) => gib(c.measurements[0]?.measured.peakMemoryBytes ?? 0))) ? { references: [{ axis: 'x' as const, value: gib(usable), label: 'usable' }] } : {}),
      pairs: pairs((c, m) => ({
        category: variantLabel(c, m),
        estimate: m.estimated.totalMemoryBytes === null ? null : gib(m.estimated.totalMemoryBytes),
        measured: m.measured.peakMemoryBytes === null ? null : gib(m.measured.peakMemoryBytes),
      })),
    },
  ];
}

/** Decode step time against decoder layers for candidates measured at partial depth: the fit to the full depth. */
export function extrapolationChart(confirm: ConfirmReport): Chart | null {
  const points: XyPoint[] = [];
  const rows: string[][] = [];
  for (const c of confirm.candidates) {
    for (const m of measuredOk(c)) {
      const e = m.extrapolation?.decodeStepMs;
      if (!m.extrapolated || !e) continue;
      const name = `${c.name} ${m.variant}`;
      for (const p of e.points) {
        points.push({ x: p.layers, y: p.value, series: name, label: `${name}: measured ${formatNumber(p.value)} ms per step at ${p.layers} layers` });
        rows.push([name, String(p.layers), formatNumber(p.value), 'measured']);
      }
      points.push({ x: m.layersFull, y: e.full, series: name, tag: 'extrapolated', label: `${name}: ${formatNumber(e.full)} ms per step at ${m.layersFull} layers (${e.method})` });
      rows.push([name, String(m.layersFull), formatNumber(e.full), `extrapolated (${e.method}): ${formatNumber(e.fixed)} ms + ${formatNumber(e.perLayer)} ms per layer`]);
    }
  }
  if (points.length === 0) return null;
  return xyChart({
    id: 'extrapolation',
    title: 'Partial-depth models: decode step time against layers',
    caption: 'Candidates too large to benchmark in full within the budget were measured at two shallow depths; the line runs through those measurements to the full depth (the last point of each line), which gives the decode speed reported for them.',
    x: { title: 'decoder layers', unit: 'layers' },
    y: { title: 'decode step time', unit: 'ms' },
    points,
    lines: true,
    tags: true,
    seriesTitle: 'candidate',
    table: { columns: ['candidate', 'layers', 'decode step (ms)', 'how'], rows },
  });
}

function candidateTable(rec: Recommendation): NonNullable<HtmlSection['tables']> {
  const confirmed = new Map((rec.confirm?.candidates ?? []).map((c) => [c.id, c]));
  const rows = rec.candidates.map((c) => {
    const k = confirmed.get(c.id);
    return [
      String(c.rank),
      c.name,
      `${c.device.name} (${c.device.kind})`,
      c.format,
      formatNumber(gib(c.memory.totalBytes)),
      c.speed.decodeTokPerSec ? formatNumber(c.speed.decodeTokPerSec.value) : '–',
      c.speed.ttftMs ? formatNumber(c.speed.ttftMs.value) : '–',
      k ? `${k.verdict.status}${k.verdict.variant ? ` (${k.verdict.variant})` : ''}${k.verdict.reasons.length ? `: ${k.verdict.reasons.join('; ')}` : ''}` : 'not measured',
    ];
  });
  return [{ caption: 'Ranked candidates', table: { columns: ['rank', 'model', 'device', 'format', 'memory (GiB, est.)', 'decode tok/s (est.)', 'TTFT ms (est.)', 'verdict'], rows } }];
}

/** The page of a recommendation, with its confirm report when there is one. */
export function recommendationPage(rec: Recommendation): HtmlPage {
  const t = rec.targets;
  const confirm = rec.confirm;
  const facts: [string, string][] = [
    ['size class', rec.leaf.label],
    ['targets', `decode ≥ ${formatNumber(t.decodeTokensPerSec)} tok/s per stream, TTFT ≤ ${formatNumber(t.maxTtftMs)} ms, context ${t.contextTokens} tokens, concurrency ${t.concurrency}`],
    ['outcome', rec.summary],
  ];
  if (confirm) {
    facts.push(['confirmed', confirm.final.message]);
    facts.push(['measured on', confirm.environment ? `${confirm.environment.cpu.model}, ${confirm.environment.cpu.cores} cores, onnxruntime ${confirm.environment.onnxruntime} (${confirm.environment.execution_provider})` : 'nothing ran']);
  }
  const notes = [...rec.notes];
  if (confirm?.candidates.some((c) => c.source.synthetic)) notes.push('Synthetic models (random weights): speed and memory are real, the generated text is not.');
  for (const c of confirm?.candidates ?? []) for (const n of c.notes) notes.push(`${c.name}: ${n}`);
  if (confirm) for (const w of confirm.final.whatWouldChange) notes.push(`What would change the outcome: ${w}`);
  const sections: HtmlSection[] = [];
  const overview = candidatesChart(rec);
  sections.push({ heading: 'Candidates against the targets', ...(overview ? { charts: [overview] } : {}), tables: candidateTable(rec) });
  if (confirm) {
    const estimates = confirmFigures(rec, confirm)
      .map((f) => estimateVersusMeasuredChart(f, 'candidate and variant'))
      .filter((c): c is Chart => c !== null);
    if (estimates.length > 0) sections.push({ heading: 'Estimates against measurements', paragraphs: ['Estimate error = (estimated − measured) ÷ measured; the band is the estimator\u2019s own error band.'], charts: estimates });
    const results = confirm.candidates.flatMap((c) => c.measurements.flatMap((m) => m.results));
    const extra = [extrapolationChart(confirm), decodeDepthChart(results, rec.targets.decodeTokensPerSec)].filter((c): c is Chart => c !== null);
    if (extra.length > 0) sections.push({ heading: 'How the figures were reached', charts: extra });
  }
  return {
    kind: 'modelscout.recommendation',
    title: confirm ? `modelscout recommend --confirm: ${confirm.final.status}` : `modelscout recommend: ${rec.leaf.label}`,
    facts,
    notes,
    sections,
    data: toRecommendationReport(rec),
    footer: confirm ? `modelscout, confirmed ${confirm.startedAt} – ${confirm.finishedAt} (${Math.round(confirm.durationSec)} s)` : 'modelscout recommend',
  };
}

/** What a JSON file is, told apart by its kind and schema version. */
export type ReportKind = 'bench' | 'comparison' | 'recommendation' | 'serve';

export function detectReportKind(value: unknown): ReportKind | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if (v.kind === 'modelscout.recommendation') return 'recommendation';
  if (v.kind === 'serve-bench') return 'serve';
  if ('schema_version' in v && 'results' in v && 'environment' in v) return 'bench';
  if ('threshold_pct' in v && 'results' in v && 'verdict' in v) return 'comparison';
  return null;
}

/** Builds the page of any report modelscout writes; `what` names the input in errors. */
export function pageForReport(value: unknown, what: string): HtmlPage & { reportKind: ReportKind } {
  const kind = detectReportKind(value);
  if (kind === null) {
    throw new ModelscoutError('E_INPUT', `${what} is not a report modelscout renders (a bench report with schema_version "${SCHEMA_VERSION}", a comparison, a serve-bench report or a recommendation)`, {
      suggestions: ['Pass the JSON of `modelscout bench --out`, `compare --json`, `serve-bench --out`, `recommend --json` or the `recommend --confirm` report.'],
    });
  }
  return { ...pageOfKind(kind, value, what), reportKind: kind };
}

function pageOfKind(kind: ReportKind, value: unknown, what: string): HtmlPage {
  switch (kind) {
    case 'bench':
      return benchPage(parseReport(value, what));
    case 'comparison': {
      const parsed = comparisonSchema.safeParse(value);
      if (!parsed.success) throw notAReport(what, parsed.error.issues[0]?.path.join('.') ?? '', parsed.error.issues[0]?.message ?? 'invalid');
      return comparisonPage(parsed.data);
    }
    case 'serve': {
      const version = (value as { schema_version?: unknown }).schema_version;
      if (version !== SERVE_SCHEMA_VERSION) {
        throw new ModelscoutError('E_INPUT', `${what} has schema_version ${JSON.stringify(version)}; this modelscout reads serve-bench reports of "${SERVE_SCHEMA_VERSION}"`, {
          suggestions: ['Produce the report again with this version of modelscout (`modelscout serve-bench ... --out FILE`).'],
        });
      }
      const parsed = serveReportSchema.safeParse(value);
      if (!parsed.success) throw notAReport(what, parsed.error.issues[0]?.path.join('.') ?? '', parsed.error.issues[0]?.message ?? 'invalid');
      return servePage(parsed.data);
    }
    case 'recommendation':
      return recommendationPage(readRecommendationReport(value, what));
  }
}

function notAReport(what: string, where: string, message: string): ModelscoutError {
  return new ModelscoutError('E_INPUT', `${what} is not a valid modelscout report: ${where || '(top level)'}: ${message}`, {
    suggestions: ['Pass a file modelscout wrote, unchanged.'],
  });
}

export interface RenderedReport {
  kind: ReportKind;
  html: string;
  charts: { id: string; title: string; marks: number }[];
}

/** The HTML page of any report, with what it holds. */
export async function renderReportHtml(value: unknown, what: string): Promise<RenderedReport> {
  const page = pageForReport(value, what);
  const html = await renderHtmlPage(page);
  return { kind: page.reportKind, html, charts: pageCharts(page).map((c) => ({ id: c.id, title: c.title, marks: c.marks })) };
}

/**
 * Renders any report to a self-contained HTML file (written atomically) and says what it holds: the one
 * path behind `--html` on every command and `modelscout report`.
 */
export async function writeReportHtml(htmlPath: string, value: unknown, input: string): Promise<HtmlSummary> {
  const rendered = await renderReportHtml(value, input);
  await writeFileAtomic(htmlPath, rendered.html);
  return {
    schema_version: HTML_SUMMARY_SCHEMA_VERSION,
    input,
    report_kind: rendered.kind,
    html: htmlPath,
    html_bytes: Buffer.byteLength(rendered.html),
    charts: rendered.charts,
  };
}
