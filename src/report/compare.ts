/**
 * Baseline comparison and the CI outcome. Per metric, the noise-aware rule of the spec: a metric has
 * regressed when its direction-aware change exceeds the threshold and the 95% confidence interval of the
 * change (Welch) excludes zero; when it has not, but the interval reaches past the threshold on the bad
 * side, nobody can tell yet: `inconclusive`. Improvements mirror regressions. Pure.
 */
import { differenceOfMeans } from './stats.js';
import { EXIT_CODES } from '../errors.js';
import type { BenchReport, BenchResult, Comparison, ComparisonRow, ThresholdCheck, Verdict } from './schema.js';
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
  verdict: Verdict;
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
  let verdict: Verdict;
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
export function combineVerdicts(verdicts: Iterable<Verdict>): Verdict {
  let seen = { regressed: false, inconclusive: false, improved: false };
  for (const v of verdicts) if (v !== 'pass') seen = { ...seen, [v]: true };
  if (seen.regressed) return 'regressed';
  if (seen.inconclusive) return 'inconclusive';
  if (seen.improved) return 'improved';
  return 'pass';
}

export interface CompareOptions {
  thresholdPct?: number;
  baselinePath?: string | null;
}

/** Compares `current` against `baseline`, result by result (matched by `resultKey`). */
export function compareReports(baseline: BenchReport, current: BenchReport, options: CompareOptions = {}): Comparison {
  const threshold = options.thresholdPct ?? DEFAULT_MAX_REGRESSION_PCT;
  const currentByKey = new Map<string, BenchResult>();
  for (const r of current.results) if (r.status === 'ok') currentByKey.set(resultKey(r), r);
  const rows: ComparisonRow[] = [];
  const missing: string[] = [];
  const warnings = environmentWarnings(baseline, current);
  for (const b of baseline.results) {
    if (b.status !== 'ok') continue;
    const key = resultKey(b);
    const c = currentByKey.get(key);
    if (!c) {
      missing.push(key);
      continue;
    }
    if (!sameFiles(b.model.files_sha256, c.model.files_sha256)) {
      warnings.push(`${key}: the model files differ from the baseline's (sha256)`);
    }
    for (const { metric, direction } of COMPARED_METRICS) {
      const mb = metricOf(b, metric);
      const mc = metricOf(c, metric);
      if (!mb || !mc) continue;
      const j = judgeChange(mb.stat, mc.stat, direction, threshold);
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
        ...j,
      });
    }
  }
  return {
    baseline: {
      path: options.baselinePath ?? null,
      started_at: baseline.run.started_at,
      tool_version: baseline.tool.version,
    },
    threshold_pct: threshold,
    results: rows,
    missing,
    warnings,
    verdict: combineVerdicts(rows.map((r) => r.verdict)),
  };
}

/** Differences between the two runs' environments that make numbers less comparable. */
export function environmentWarnings(baseline: BenchReport, current: BenchReport): string[] {
  const out: string[] = [];
  const pairs: [string, string, string][] = [
    ['CPU model', baseline.environment.cpu.model, current.environment.cpu.model],
    ['CPU cores', String(baseline.environment.cpu.cores), String(current.environment.cpu.cores)],
    ['execution provider', baseline.environment.execution_provider, current.environment.execution_provider],
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
 * else 3 when a comparison was inconclusive (0 with `inconclusivePass`); else 0.
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
    return { status: 'fail', exit_code: EXIT_CODES.failed, reasons };
  }
  if (inconclusive.length > 0) {
    for (const r of inconclusive) reasons.push(`inconclusive: ${r.model_id} ${r.variant} ${r.test_id} t${r.threads} ${r.metric} ${r.delta_pct.toFixed(1)}%`);
    return inconclusivePass ? { status: 'pass', exit_code: EXIT_CODES.ok, reasons } : { status: 'inconclusive', exit_code: EXIT_CODES.inconclusive, reasons };
  }
  return { status: 'pass', exit_code: EXIT_CODES.ok, reasons };
}
