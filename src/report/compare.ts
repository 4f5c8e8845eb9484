/**
 * Baseline comparison and the CI outcome. Per metric, the noise-aware rule of the spec: a metric has
 * regressed when its direction-aware change exceeds the threshold and the 95% confidence interval of the
 * change (Welch) excludes zero; when it has not, but the interval reaches past the threshold on the bad
 * side, nobody can tell yet: `inconclusive`. Improvements mirror regressions. Pure.
 */
import { differenceOfMeans } from './stats.js';
import { EXIT_CODES } from '../errors.js';
import { comparisonSchema, type AcrossDimension, type BenchReport, type BenchResult, type Comparison, type ComparisonRow, type ThresholdCheck, type Unmatched, type MetricVerdict } from './schema.js';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import type { Stat } from './stats.js';

export type Direction = 'higher_is_better' | 'lower_is_better';

/** The metrics a baseline comparison looks at, each with the direction that is better. */
export const COMPARED_METRICS: readonly { metric: string; direction: Direction }[] = [
  { metric: 'prefill_tps', direction: 'higher_is_better' },
  { metric: 'decode_tps', direction: 'higher_is_better' },
  { metric: 'ttft_ms', direction: 'lower_is_better' },
  { metric: 'e2e_ms', direction: 'lower_is_better' },
  { metric: 'rss_peak_bytes', direction: 'lower_is_better' },
];

export const DEFAULT_MAX_REGRESSION_PCT = 10;

export interface ChangeJudgement {
  delta_pct: number;
  ci95_delta_pct: [number, number] | null;
  verdict: MetricVerdict;
}

/**
 * Judges one metric's change. `thresholdPct` is the tolerated change in percent of the baseline mean.
 * Without a confidence interval (a side with one sample) the point change alone decides.
 */
export function judgeChange(
  baseline: Pick<Stat, 'n' | 'mean' | 'stddev'>,
  current: Pick<Stat, 'n' | 'mean' | 'stddev'>,
  direction: Direction,
  thresholdPct: number,
): ChangeJudgement {
  const scale = Math.abs(baseline.mean);
  const diff = differenceOfMeans(baseline, current);
  const pct = (x: number): number => (scale === 0 ? (x === 0 ? 0 : Math.sign(x) * Number.POSITIVE_INFINITY) : (x / scale) * 100);
  const deltaPct = pct(diff.delta);
  const ciPct: [number, number] | null = diff.ci95 ? [pct(diff.ci95[0]), pct(diff.ci95[1])] : null;
  // "worse" is the change in the bad direction, so one rule serves both directions.
  const sign = direction === 'higher_is_better' ? -1 : 1;
  const worse = sign * deltaPct;
  let verdict: MetricVerdict;
  if (ciPct === null) {
    verdict = worse > thresholdPct ? 'regressed' : -worse > thresholdPct ? 'improved' : 'pass';
  } else {
    const a = sign * ciPct[0];
    const b = sign * ciPct[1];
    const worseLo = Math.min(a, b);
    const worseHi = Math.max(a, b);
    if (worse > thresholdPct && worseLo > 0) verdict = 'regressed';
    else if (-worse > thresholdPct && worseHi < 0) verdict = 'improved';
    else if (worseHi > thresholdPct) verdict = 'inconclusive';
    else verdict = 'pass';
  }
  return { delta_pct: deltaPct, ci95_delta_pct: ciPct, verdict };
}

/** Identity of a result across reports: model, variant, device, threads, test. */
export function resultKey(r: Pick<BenchResult, 'model' | 'variant' | 'config' | 'test'>): string {
  return `${r.model.id}|${r.variant.name}|${r.config.device}|t${r.config.threads}|${r.test.id}`;
}

/** The stat-like view of a metric of a result, or null when it was not measured. */
function metricOf(r: BenchResult, metric: string): { stat: Pick<Stat, 'n' | 'mean' | 'stddev'>; unit: string } | null {
  if (metric === 'rss_peak_bytes') {
    const v = r.memory.rss_peak_bytes;
    return v === null ? null : { stat: { n: 1, mean: v, stddev: null }, unit: 'bytes' };
  }
  const stat = (r.metrics as Record<string, Stat | null>)[metric];
  return stat ? { stat, unit: stat.unit } : null;
}

/** Worst verdict first: regressed > inconclusive > improved > pass. */
export function combineVerdicts(verdicts: Iterable<MetricVerdict>): MetricVerdict {
  let seen = { regressed: false, inconclusive: false, improved: false };
  for (const v of verdicts) if (v !== 'pass') seen = { ...seen, [v]: true };
  if (seen.regressed) return 'regressed';
  if (seen.inconclusive) return 'inconclusive';
  if (seen.improved) return 'improved';
  return 'pass';
}

export const ACROSS_DIMENSIONS = ['threads', 'variant', 'device', 'model'] as const satisfies readonly AcrossDimension[];

type KeyedResult = Pick<BenchResult, 'model' | 'variant' | 'config' | 'test'>;

/** The dimensions of a result's identity, in key order, each with the value a reader recognizes. */
const DIMENSIONS: readonly { name: AcrossDimension | 'test'; label: string; value: (r: KeyedResult) => string }[] = [
  { name: 'model', label: 'model', value: (r) => r.model.id },
  { name: 'variant', label: 'variant', value: (r) => r.variant.name },
  { name: 'device', label: 'device', value: (r) => r.config.device },
  { name: 'threads', label: 'thread count', value: (r) => String(r.config.threads) },
  { name: 'test', label: 'test', value: (r) => r.test.id },
];

/** The key without one dimension: results that differ only there share it. */
function keyWithout(r: KeyedResult, across: AcrossDimension | null): string {
  return DIMENSIONS.filter((d) => d.name !== across).map((d) => d.value(r)).join('|');
}

function settingOf(r: KeyedResult, dimension: AcrossDimension): string {
  return DIMENSIONS.find((d) => d.name === dimension)!.value(r);
}

/**
 * Why a baseline result has no partner now: the current result nearest to it (fewest differing dimensions)
 * and what differs, or that it failed now, or that nothing ran.
 */
export function unmatchedReason(b: KeyedResult, current: readonly BenchResult[], across: AcrossDimension | null): string {
  const sameKey = current.find((c) => keyWithout(c, across) === keyWithout(b, across));
  if (sameKey && sameKey.status !== 'ok') return `failed now${sameKey.error ? `: ${sameKey.error.message}` : ''}`;
  const ok = current.filter((c) => c.status === 'ok');
  if (ok.length === 0) return 'no successful result now';
  let best: { diffs: string[]; count: number } | null = null;
  for (const c of ok) {
    const diffs = DIMENSIONS.filter((d) => d.name !== across && d.value(b) !== d.value(c)).map((d) => `${d.label} ${d.value(c)} now, ${d.value(b)} in the baseline`);
    if (best === null || diffs.length < best.count) best = { diffs, count: diffs.length };
  }
  return best && best.count > 0 ? `nearest result now differs: ${best.diffs.join('; ')}` : 'not measured now';
}

/** The metric rows of one matched pair. */
function compareResults(b: BenchResult, c: BenchResult, threshold: number, across: AcrossDimension | null): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const { metric, direction } of COMPARED_METRICS) {
    const mb = metricOf(b, metric);
    const mc = metricOf(c, metric);
    if (!mb || !mc) continue;
    rows.push({
      test_id: c.test.id,
      model_id: c.model.id,
      variant: c.variant.name,
      device: c.config.device,
      threads: c.config.threads,
      metric,
      direction,
      baseline: mb.stat.mean,
      current: mc.stat.mean,
      unit: mc.unit,
      ...judgeChange(mb.stat, mc.stat, direction, threshold),
      baseline_setting: across === null ? null : settingOf(b, across),
    });
  }
  return rows;
}

/** One line on what did not match: how many matched, then the first few missing with their reasons. */
export function unmatchedNote(unmatched: readonly Unmatched[], compared: number, total: number, allowed: boolean): string | null {
  if (unmatched.length === 0) return null;
  const shown = unmatched.slice(0, 3).map((u) => `${u.key} (${u.reason})`);
  const more = unmatched.length > shown.length ? `, and ${unmatched.length - shown.length} more` : '';
  const head = compared === 0 ? `nothing compared: none of the ${total} baseline results has a match now` : `${unmatched.length} of ${total} baseline results have no match now`;
  const tail = allowed ? ' (allowed by --allow-missing)' : '';
  return `${head}${tail}: ${shown.join('; ')}${more}`;
}

export interface CompareOptions {
  thresholdPct?: number;
  baselinePath?: string | null;
  /** The dimension the reports are meant to differ in; results are matched on the others. */
  across?: AcrossDimension | null;
  /** Baseline results missing now are intended (removed tests); otherwise they make the verdict inconclusive. */
  allowMissing?: boolean;
}

/**
 * Compares `current` against `baseline`, result by result: matched by `resultKey`, or with `across` by the
 * key without that dimension (each side must then have one result per remaining key). A baseline result
 * with no partner is `missing` with its reason; unless `allowMissing`, any missing result makes the
 * verdict at least inconclusive — a gate that compared nothing must not pass.
 */
export function compareReports(baseline: BenchReport, current: BenchReport, options: CompareOptions = {}): Comparison {
  const threshold = options.thresholdPct ?? DEFAULT_MAX_REGRESSION_PCT;
  const across = options.across ?? null;
  const allowMissing = options.allowMissing ?? false;
  const group = (results: readonly BenchResult[]): Map<string, BenchResult[]> => {
    const map = new Map<string, BenchResult[]>();
    for (const r of results) if (r.status === 'ok') map.set(keyWithout(r, across), [...(map.get(keyWithout(r, across)) ?? []), r]);
    return map;
  };
  const currentByKey = group(current.results);
  const baselineByKey = group(baseline.results);
  const rows: ComparisonRow[] = [];
  const unmatched: Unmatched[] = [];
  const warnings = environmentWarnings(baseline, current, across);
  let compared = 0;
  let total = 0;
  for (const b of baseline.results) {
    if (b.status !== 'ok') continue;
    total += 1;
    const key = resultKey(b);
    const partners = currentByKey.get(keyWithout(b, across)) ?? [];
    const rivals = baselineByKey.get(keyWithout(b, across)) ?? [];
    if (partners.length !== 1 || rivals.length !== 1) {
      const reason =
        partners.length === 0
          ? unmatchedReason(b, current.results, across)
          : `ambiguous across ${across ?? 'nothing'}: ${rivals.length} baseline and ${partners.length} current results differ only in ${across ?? 'nothing'} (${[...rivals, ...partners].map((r) => settingOf(r, across ?? 'threads')).join(', ')}); keep one ${across ?? 'setting'} per report`;
      unmatched.push({ key, reason });
      continue;
    }
    const c = partners[0]!;
    compared += 1;
    if (across !== 'model' && across !== 'variant' && !sameFiles(b.model.files_sha256, c.model.files_sha256)) {
      warnings.push(`${key}: the model files differ from the baseline's (sha256)`);
    }
    rows.push(...compareResults(b, c, threshold, across));
  }
  const missingVerdicts: MetricVerdict[] = unmatched.length > 0 && !allowMissing ? ['inconclusive'] : [];
  return {
    baseline: {
      path: options.baselinePath ?? null,
      started_at: baseline.run.started_at,
      tool_version: baseline.tool.version,
    },
    threshold_pct: threshold,
    results: rows,
    missing: unmatched.map((u) => u.key),
    warnings,
    verdict: combineVerdicts([...rows.map((r) => r.verdict), ...missingVerdicts]),
    across,
    compared,
    unmatched,
    missing_allowed: allowMissing,
    note: unmatchedNote(unmatched, compared, total, allowMissing),
  };
}

/** Missing results count against the gate unless they were declared intended. */
function missingBlocks(comparison: Comparison): boolean {
  return comparison.missing.length > 0 && comparison.missing_allowed !== true;
}

/**
 * The exit code of a comparison on its own (`compare`): 1 regressed; 3 when results are missing (not
 * allowed) — whatever `inconclusivePass` says, since that is about noise, not about comparing nothing —
 * or when the noise leaves it open; else 0.
 */
export function comparisonExitCode(comparison: Comparison, inconclusivePass: boolean): number {
  if (comparison.verdict === 'regressed') return EXIT_CODES.failed;
  if (missingBlocks(comparison)) return EXIT_CODES.inconclusive;
  if (comparison.verdict === 'inconclusive' && !inconclusivePass) return EXIT_CODES.inconclusive;
  return EXIT_CODES.ok;
}

/** Differences between the two runs' environments that make numbers less comparable. */
export function environmentWarnings(baseline: BenchReport, current: BenchReport, across: AcrossDimension | null = null): string[] {
  const out: string[] = [];
  const pairs: [string, string, string][] = [
    ['CPU model', baseline.environment.cpu.model, current.environment.cpu.model],
    ['CPU cores', String(baseline.environment.cpu.cores), String(current.environment.cpu.cores)],
    // Comparing devices is the point of --across device: a different provider is expected then.
    ...(across === 'device' ? [] : [['execution provider', baseline.environment.execution_provider, current.environment.execution_provider] as [string, string, string]]),
    ['onnxruntime version', baseline.environment.onnxruntime, current.environment.onnxruntime],
    ['OS', `${baseline.environment.os.platform} ${baseline.environment.os.arch}`, `${current.environment.os.platform} ${current.environment.os.arch}`],
  ];
  for (const [what, a, b] of pairs) if (a !== b) out.push(`${what} differs: baseline ${a}, now ${b}`);
  return out;
}

function sameFiles(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.length !== kb.length) return false;
  return ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

export interface Thresholds {
  min_decode_tps: number | null;
  max_ttft_ms: number | null;
  max_peak_rss_bytes: number | null;
}

/** Absolute limits on the headline (p50) figures of every successful result that has the metric. */
export function checkThresholds(results: readonly BenchResult[], t: Thresholds): ThresholdCheck[] {
  const checks: ThresholdCheck[] = [];
  for (const r of results) {
    if (r.status !== 'ok') continue;
    const base = { test_id: r.test.id, model_id: r.model.id, variant: r.variant.name, threads: r.config.threads };
    if (t.min_decode_tps !== null && r.metrics.decode_tps) {
      const value = r.metrics.decode_tps.p50;
      checks.push({ ...base, metric: 'decode_tps', kind: 'min', limit: t.min_decode_tps, value, passed: value >= t.min_decode_tps });
    }
    if (t.max_ttft_ms !== null && r.metrics.ttft_ms) {
      const value = r.metrics.ttft_ms.p50;
      checks.push({ ...base, metric: 'ttft_ms', kind: 'max', limit: t.max_ttft_ms, value, passed: value <= t.max_ttft_ms });
    }
    if (t.max_peak_rss_bytes !== null) {
      const value = r.memory.rss_peak_bytes;
      checks.push({ ...base, metric: 'rss_peak_bytes', kind: 'max', limit: t.max_peak_rss_bytes, value, passed: value !== null && value <= t.max_peak_rss_bytes });
    }
  }
  return checks;
}

export type Outcome = BenchReport['outcome'];

/**
 * The run's exit code: 1 when a combination failed, a threshold was breached or a metric regressed;
 * else 3 when baseline results have no match now (unless the comparison allows missing ones), or when a
 * comparison was inconclusive (0 with `inconclusivePass`); else 0.
 */
export function decideOutcome(
  results: readonly BenchResult[],
  checks: readonly ThresholdCheck[],
  comparison: Comparison | null,
  inconclusivePass: boolean,
): Outcome {
  const reasons: string[] = [];
  const failed = results.filter((r) => r.status === 'error');
  if (failed.length > 0) reasons.push(`${failed.length} of ${results.length} runs failed`);
  const breaches = checks.filter((c) => !c.passed);
  for (const c of breaches) {
    reasons.push(`${c.model_id} ${c.variant} ${c.test_id} t${c.threads}: ${c.metric} ${c.value ?? 'n/a'} ${c.kind === 'min' ? '<' : '>'} limit ${c.limit}`);
  }
  const regressed = comparison?.results.filter((r) => r.verdict === 'regressed') ?? [];
  for (const r of regressed) reasons.push(`regressed: ${r.model_id} ${r.variant} ${r.test_id} t${r.threads} ${r.metric} ${r.delta_pct.toFixed(1)}%`);
  const inconclusive = comparison?.results.filter((r) => r.verdict === 'inconclusive') ?? [];
  if (failed.length > 0 || breaches.length > 0 || regressed.length > 0) {
    if (comparison?.note) reasons.push(comparison.note);
    return { status: 'fail', exit_code: EXIT_CODES.failed, reasons };
  }
  if (comparison && missingBlocks(comparison)) {
    // Not noise: --inconclusive-pass does not cover it, only --allow-missing does.
    reasons.push(`inconclusive: ${comparison.note ?? `${comparison.missing.length} baseline results have no match now`}`);
    return { status: 'inconclusive', exit_code: EXIT_CODES.inconclusive, reasons };
  }
  if (inconclusive.length > 0) {
    for (const r of inconclusive) reasons.push(`inconclusive: ${r.model_id} ${r.variant} ${r.test_id} t${r.threads} ${r.metric} ${r.delta_pct.toFixed(1)}%`);
    return inconclusivePass ? { status: 'pass', exit_code: EXIT_CODES.ok, reasons } : { status: 'inconclusive', exit_code: EXIT_CODES.inconclusive, reasons };
  }
  if (comparison?.note) reasons.push(comparison.note);
  return { status: 'pass', exit_code: EXIT_CODES.ok, reasons };
}

export const COMPARISON_REPORT_KIND = 'modelscout.comparison';

/** `compare --json` (and `--format json`): the comparison with `schema_version` and `kind` first. */
export function comparisonJsonReport(comparison: Comparison): Record<string, unknown> {
  return toJsonReport(comparisonSchema, comparison, COMPARISON_REPORT_KIND, '1');
}

export function buildComparisonJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(comparisonSchema, COMPARISON_REPORT_KIND, '1');
}
