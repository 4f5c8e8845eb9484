/**
 * Renderers of a report: a terminal table (cli-table3), markdown for `$GITHUB_STEP_SUMMARY`, and JSON.
 * Pure: they return strings. Synthetic models are labelled in every format, so numbers measured on random
 * weights are never mistaken for a real model's.
 */
import { BUSY_THRESHOLD } from '../hardware/cpu-busy.js';
import Table from 'cli-table3';
import type { BenchReport, BenchResult, Comparison, ComparisonRow } from './schema.js';
import type { Stat } from './stats.js';

/** Three significant digits, no exponent for ordinary values. */
export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return value.toFixed(Math.min(decimals, 6));
}

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

export function formatBytesBinary(bytes: number | null): string {
  if (bytes === null) return '–';
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < BINARY.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${BINARY[u]}`;
}

/** The headline of a stat: `median (mean ± sd)`, or `median` alone with one sample. */
export function formatStat(stat: Stat | null): string {
  if (!stat) return '–';
  const median = formatNumber(stat.p50);
  if (stat.stddev === null) return median;
  return `${median} (${formatNumber(stat.mean)} ± ${formatNumber(stat.stddev, 2)})`;
}

export function modelLabel(r: Pick<BenchResult, 'model'>): string {
  return r.model.synthetic ? `${r.model.id} (synthetic)` : r.model.id;
}

/** The estimate of the test's headline rate (decode, or prefill for pp tests) and the measurement's error. */
function estimateCell(r: BenchResult): string {
  const e = r.estimate;
  if (!e) return '–';
  const [value, err, what] = e.decode_tps !== null ? [e.decode_tps, e.error_pct.decode_tps, 'decode'] : [e.prefill_tps, e.error_pct.prefill_tps, 'prefill'];
  if (value === null) return '–';
  return `${what} ${formatNumber(value)}${err === null ? '' : ` (${err >= 0 ? '+' : ''}${err.toFixed(0)}%)`}`;
}

function kvCell(r: BenchResult): string {
  if (!r.kv_cache) return '–';
  const kv = r.kv_cache;
  const mark = kv.agrees === false ? ' ≠ measured' : '';
  // The layout is named when it is not the default growing cache (its bytes are then what was allocated).
  const layout = kv.layout === 'growing' ? '' : kv.layout === 'preallocated' && kv.update === 'appended' ? ' appended' : ` ${kv.layout}`;
  return `${formatBytesBinary(kv.measured_bytes ?? kv.analytic_bytes)}${layout}${mark}`;
}

const HEAD = ['model', 'variant', 'threads', 'test', 'status', 'prefill tok/s', 'decode tok/s', 'TTFT ms', 'peak RSS', 'KV cache', 'estimate tok/s (error)'];

/** The results table's column for GPU memory, shown when some result sampled it (a GPU run with nvidia-smi). */
const GPU_MEMORY_HEAD = 'peak GPU memory';

/**
 * A result's GPU memory: per GPU sampled, what this process held at the peak (nvidia-smi's per-process
 * figure) or, where the driver does not report processes, how far the GPU's used memory rose above its
 * level before the test (`+`); GPUs are numbered when there are several.
 */
export function gpuMemoryCell(r: Pick<BenchResult, 'memory'>): string {
  const gpus = r.memory.gpu;
  if (gpus.length === 0) return '–';
  const one = (g: (typeof gpus)[number]): string => {
    if (g.process_used_peak_bytes !== null) return formatBytesBinary(g.process_used_peak_bytes);
    if (g.used_peak_bytes !== null && g.used_baseline_bytes !== null) return `+${formatBytesBinary(Math.max(0, g.used_peak_bytes - g.used_baseline_bytes))}`;
    return '?';
  };
  return gpus.length === 1 ? one(gpus[0] as (typeof gpus)[number]) : gpus.map((g) => `${g.index}: ${one(g)}`).join(', ');
}

function rowCells(r: BenchResult, gpuMemory: boolean): string[] {
  const status = r.status === 'ok' ? 'ok' : 'error';
  const cells = [
    modelLabel(r),
    r.variant.name,
    String(r.config.threads || 'auto'),
    r.test.id,
    status,
    formatStat(r.metrics.prefill_tps),
    formatStat(r.metrics.decode_tps),
    formatStat(r.metrics.ttft_ms),
    formatBytesBinary(r.memory.rss_peak_bytes),
  ];
  if (gpuMemory) cells.push(gpuMemoryCell(r));
  cells.push(kvCell(r), estimateCell(r));
  return cells;
}

/** The results table's head and rows: `HEAD`, with the GPU memory column after peak RSS when any result has GPU samples. */
export function resultsTable(report: Pick<BenchReport, 'results'>): { head: string[]; rows: string[][] } {
  const gpuMemory = report.results.some((r) => r.memory.gpu.length > 0);
  const after = HEAD.indexOf('peak RSS') + 1;
  const head = gpuMemory ? [...HEAD.slice(0, after), GPU_MEMORY_HEAD, ...HEAD.slice(after)] : [...HEAD];
  return { head, rows: report.results.map((r) => rowCells(r, gpuMemory)) };
}

export function provenanceLine(report: BenchReport): string {
  const env = report.environment;
  return `${report.tool.name} ${report.tool.version} · onnxruntime ${env.onnxruntime} (${env.execution_provider}) · ${env.cpu.model}, ${env.cpu.cores} cores · node ${env.node} · ${report.run.started_at}`;
}

function anySynthetic(report: BenchReport): boolean {
  return report.results.some((r) => r.model.synthetic);
}

export const SYNTHETIC_NOTE = 'Synthetic models (random weights): speed and memory are real, the generated text is not.';

/**
 * A warning when other processes kept the CPUs busy before some runs started (`load.cpu_busy_before` above
 * `BUSY_THRESHOLD`): those figures understate what the machine does when idle.
 */
export function busyNote(report: Pick<BenchReport, 'results'>): string | null {
  const busy = report.results.map((r) => r.load.cpu_busy_before ?? null).filter((b): b is number => b !== null && b > BUSY_THRESHOLD);
  if (busy.length === 0) return null;
  return `The machine was busy before ${busy.length} of ${report.results.length} runs (up to ${Math.round(Math.max(...busy) * 100)}% of CPU time used by other processes): those figures understate an idle machine.`;
}

/**
 * What the estimate column rests on, once per distinct basis (the machine's bandwidth and where it came from,
 * the efficiencies and whether they are this machine's calibration), so an estimate's error is read knowing
 * whether it came from default rates.
 */
export function estimateBasisLines(report: Pick<BenchReport, 'results'>): string[] {
  const bases = new Map<string, boolean>();
  for (const r of report.results) {
    if (r.estimate?.basis) bases.set(r.estimate.basis, (bases.get(r.estimate.basis) ?? false) || r.estimate.calibrated);
  }
  return [...bases].map(([basis, calibrated]) => `Estimates: ${basis}${calibrated ? '' : ' (not calibrated on this machine: recommend --confirm adds its measurements to the calibration)'}.`);
}

/** The terminal table: one row per result, then the comparison and the outcome when there are any. */
export function renderBenchTable(report: BenchReport): string {
  const results = resultsTable(report);
  const table = new Table({ head: results.head, style: { head: [], border: [], compact: true } });
  for (const row of results.rows) table.push(row);
  const parts = [provenanceLine(report), table.toString(), 'Figures: median (mean ± sd) over repetitions; estimate error = (estimated − measured) / measured.'];
  for (const r of report.results.filter((x) => x.status === 'error')) {
    parts.push(`error: ${modelLabel(r)} ${r.variant.name} ${r.test.id}: ${r.error?.message ?? 'unknown'}`);
  }
  for (const line of estimateBasisLines(report)) parts.push(line);
  if (anySynthetic(report)) parts.push(SYNTHETIC_NOTE);
  const busy = busyNote(report);
  if (busy) parts.push(busy);
  const overheads = report.results.map((r) => r.metrics.harness_overhead_pct?.p50).filter((v): v is number => v !== undefined);
  if (overheads.length > 0) parts.push(`Harness overhead (time outside session.run per decode step): max median ${formatNumber(Math.max(...overheads), 2)}%.`);
  if (report.comparison) parts.push(renderComparisonTable(report.comparison, { changedOnly: false }));
  if (report.thresholds) {
    for (const c of report.thresholds.checks.filter((x) => !x.passed)) {
      parts.push(`threshold breached: ${c.model_id} ${c.variant} ${c.test_id}: ${c.metric} ${c.value === null ? 'n/a' : formatNumber(c.value)} (${c.kind} ${formatNumber(c.limit)})`);
    }
  }
  parts.push(`Outcome: ${report.outcome.status} (exit ${report.outcome.exit_code})${report.outcome.reasons.length ? ` — ${report.outcome.reasons.join('; ')}` : ''}`);
  return `${parts.join('\n')}\n`;
}

function escapeMd(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function mdTable(head: string[], rows: string[][]): string {
  const lines = [`| ${head.map(escapeMd).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map(escapeMd).join(' | ')} |`);
  return lines.join('\n');
}

const VERDICT_ICON: Record<string, string> = { pass: '✅ pass', improved: '🟢 improved', regressed: '❌ regressed', inconclusive: '⚠️ inconclusive' };

/**
 * Markdown for a CI step summary. With a comparison it shows only what changed (regressed, improved,
 * inconclusive), the failures and the threshold breaches; without one, the full results table.
 */
export function renderMarkdown(report: BenchReport): string {
  const out: string[] = [];
  const status = report.outcome.status === 'pass' ? '✅' : report.outcome.status === 'fail' ? '❌' : '⚠️';
  out.push(`### ${status} modelscout bench: ${report.outcome.status}`);
  out.push('');
  out.push(`<sub>${escapeMd(provenanceLine(report))}</sub>`);
  out.push('');
  if (anySynthetic(report)) {
    out.push(`> ${SYNTHETIC_NOTE}`);
    out.push('');
  }
  const busy = busyNote(report);
  if (busy) {
    out.push(`> ⚠️ ${busy}`);
    out.push('');
  }
  for (const reason of report.outcome.reasons) out.push(`- ${reason}`);
  if (report.outcome.reasons.length) out.push('');
  if (report.comparison) {
    out.push(renderComparisonMarkdown(report.comparison, { changedOnly: true }));
    const failed = report.results.filter((r) => r.status === 'error');
    if (failed.length) {
      out.push('');
      out.push(mdTable(['model', 'variant', 'test', 'error'], failed.map((r) => [modelLabel(r), r.variant.name, r.test.id, r.error?.message ?? ''])));
    }
  } else {
    const results = resultsTable(report);
    out.push(mdTable(results.head, results.rows));
    out.push('');
    out.push('Figures: median (mean ± sd) over repetitions; estimate error = (estimated − measured) / measured.');
    for (const line of estimateBasisLines(report)) out.push(`- ${escapeMd(line)}`);
    for (const r of report.results.filter((x) => x.status === 'error')) out.push(`- error: ${escapeMd(`${modelLabel(r)} ${r.variant.name} ${r.test.id}: ${r.error?.message ?? 'unknown'}`)}`);
  }
  return `${out.join('\n')}\n`;
}

export function renderJson(report: unknown): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

function formatValue(row: ComparisonRow, v: number): string {
  return row.unit === 'bytes' ? formatBytesBinary(v) : formatNumber(v);
}

export function comparisonCells(r: ComparisonRow, across: Comparison['across'] = null): string[] {
  const ci = r.ci95_delta_pct ? `[${r.ci95_delta_pct[0].toFixed(1)}, ${r.ci95_delta_pct[1].toFixed(1)}]` : '–';
  const threads = (t: string | number): string => String(Number(t) || 'auto');
  // With --across, the dimension that differs shows both sides: "baseline → current".
  const both = (dimension: NonNullable<Comparison['across']>, current: string, show: (v: string) => string = (v) => v): string =>
    across === dimension && r.baseline_setting != null ? `${show(r.baseline_setting)} → ${show(current)}` : show(current);
  return [
    both('model', r.model_id),
    both('variant', r.variant),
    both('threads', String(r.threads), threads),
    r.test_id,
    r.metric,
    formatValue(r, r.baseline),
    formatValue(r, r.current),
    `${r.delta_pct >= 0 ? '+' : ''}${r.delta_pct.toFixed(1)}%`,
    ci,
    r.verdict,
  ];
}

function comparisonHead(c: Comparison): string[] {
  return c.across === 'device' ? [...COMPARISON_HEAD.slice(0, 3), 'device', ...COMPARISON_HEAD.slice(3)] : COMPARISON_HEAD;
}

function comparisonRowCells(r: ComparisonRow, c: Comparison): string[] {
  const cells = comparisonCells(r, c.across);
  if (c.across === 'device') cells.splice(3, 0, r.baseline_setting != null ? `${r.baseline_setting} → ${r.device}` : r.device);
  return cells;
}

function comparisonTitle(c: Comparison): string {
  return `${c.baseline.path ? ` ${c.baseline.path}` : ''}${c.across ? ` across ${c.across}` : ''}`;
}

/** The lines under a comparison: warnings, then each unmatched baseline result with why (or just its key). */
function comparisonFootnotes(c: Comparison): string[] {
  const out = c.warnings.map((w) => `warning: ${w}`);
  if (c.note) out.push(c.note);
  const reasons = new Map((c.unmatched ?? []).map((u) => [u.key, u.reason]));
  for (const m of c.missing) out.push(`missing now: ${m}${reasons.has(m) ? ` — ${reasons.get(m)}` : ''}`);
  return out;
}

export const COMPARISON_HEAD = ['model', 'variant', 'threads', 'test', 'metric', 'baseline', 'current', 'change', '95% CI of change', 'verdict'];

export interface ComparisonRenderOptions {
  /** Only rows whose verdict is not `pass`. */
  changedOnly?: boolean;
}

export function renderComparisonTable(c: Comparison, options: ComparisonRenderOptions = {}): string {
  const rows = options.changedOnly ? c.results.filter((r) => r.verdict !== 'pass') : c.results;
  const table = new Table({ head: comparisonHead(c), style: { head: [], border: [] } });
  for (const r of rows) table.push(comparisonRowCells(r, c));
  return [`Comparison with baseline${comparisonTitle(c)} (threshold ${c.threshold_pct}%): ${c.verdict}`, table.toString(), ...comparisonFootnotes(c)].join('\n');
}

export function renderComparisonMarkdown(c: Comparison, options: ComparisonRenderOptions = {}): string {
  const rows = options.changedOnly ? c.results.filter((r) => r.verdict !== 'pass') : c.results;
  const out = [`**Against the baseline${c.across ? ` across ${c.across}` : ''}** (threshold ${c.threshold_pct}%, 95% CI): ${VERDICT_ICON[c.verdict] ?? c.verdict}`, ''];
  if (c.results.length === 0) out.push('Nothing compared.');
  else if (rows.length === 0) out.push(`No metric changed beyond the noise (${c.results.length} compared).`);
  else out.push(mdTable(comparisonHead(c), rows.map((r) => { const cells = comparisonRowCells(r, c); cells[cells.length - 1] = VERDICT_ICON[r.verdict] ?? r.verdict; return cells; })));
  const notes = comparisonFootnotes(c);
  if (notes.length) out.push('');
  for (const n of notes) out.push(`- ${n.startsWith('warning: ') ? `⚠️ ${n.slice(9)}` : n.startsWith('missing now: ') ? `missing now: \`${n.slice(13)}\`` : n}`);
  return out.join('\n');
}
