/**
 * `--find-max`: the highest concurrency (or request rate) at which every SLO still holds. Doubling from the
 * start value until a level fails, then bisection between the last passing and the first failing level,
 * down to one step (1 for concurrency, 5% for a rate). A level passes only when every SLO is met with
 * confidence (the interval of the percentile lies under the limit: "uncertain" counts as failing), the
 * client kept up, and the server was not over-saturated (a level is stopped early once it is). A level
 * the client limited ends the search: its answer would be about the client.
 */
import type { LevelResult, ServeReport } from '../report/serve-schema.js';

export type SearchDimension = 'concurrency' | 'rate';
export type FindMaxResult = NonNullable<ServeReport['find_max']>;

export interface FindMaxOptions {
  dimension: SearchDimension;
  start: number;
  limit: number;
}

export function levelPasses(level: LevelResult): { pass: boolean; reason: string } {
  if (!level.valid && level.client.limited) return { pass: false, reason: `client-limited: ${level.client.reasons.join('; ')}` };
  if (level.stopped) return { pass: false, reason: level.stopped };
  if (level.saturation.over_saturated) return { pass: false, reason: 'over-saturated: TTFT or the wait for a slot kept climbing' };
  if (level.completed === 0) return { pass: false, reason: 'no request completed' };
  const bad = level.slo.filter((s) => s.verdict !== 'met');
  if (bad.length > 0) {
    return {
      pass: false,
      reason: bad.map((s) => `${s.metric.replace('_ms', '')} p${s.percentile} ${s.value_ms === null ? 'n/a' : s.value_ms.toFixed(1)} ms ${s.verdict === 'uncertain' ? '≈' : '>'} ${s.limit_ms} ms (${s.verdict})`).join('; '),
    };
  }
  return { pass: true, reason: level.slo.map((s) => `${s.metric.replace('_ms', '')} p${s.percentile} ${(s.value_ms ?? 0).toFixed(1)} ≤ ${s.limit_ms} ms`).join('; ') || 'no SLO' };
}

function resolution(dimension: SearchDimension, lo: number): number {
  return dimension === 'concurrency' ? 1 : Math.max(lo * 0.05, 0.01);
}

function midpoint(dimension: SearchDimension, lo: number, hi: number): number {
  if (dimension === 'concurrency') return Math.floor((lo + hi) / 2);
  return Math.round(((lo + hi) / 2) * 1000) / 1000;
}

export async function findMax(o: FindMaxOptions, measure: (value: number) => Promise<LevelResult>): Promise<FindMaxResult> {
  const steps: FindMaxResult['steps'] = [];
  let best: number | null = null;
  let failing: number | null = null;
  let stopped: string | null = null;
  const tryValue = async (value: number, phase: 'doubling' | 'bisection'): Promise<boolean | null> => {
    const level = await measure(value);
    const j = levelPasses(level);
    steps.push({ value, phase, slo_met: j.pass, reason: j.reason });
    if (level.client.limited) {
      stopped = `the client limited the level at ${value} (${level.client.reasons.join('; ')}): spread the load with --workers or use a less busy machine`;
      return null;
    }
    return j.pass;
  };
  let v = o.start;
  for (;;) {
    const pass = await tryValue(v, 'doubling');
    if (pass === null) return { dimension: o.dimension, best, first_failing: failing, steps, stopped };
    if (!pass) {
      failing = v;
      break;
    }
    best = v;
    if (v >= o.limit) {
      stopped = `reached the search limit ${o.limit} with every SLO met`;
      return { dimension: o.dimension, best, first_failing: null, steps, stopped };
    }
    v = Math.min(o.limit, v * 2);
  }
  if (best === null) {
    stopped = `the first level (${o.start}) already misses an SLO`;
    return { dimension: o.dimension, best, first_failing: failing, steps, stopped };
  }
  let lo = best;
  let hi = failing;
  while (hi - lo > resolution(o.dimension, lo)) {
    const mid = midpoint(o.dimension, lo, hi);
    if (mid <= lo || mid >= hi) break;
    const pass = await tryValue(mid, 'bisection');
    if (pass === null) break;
    if (pass) lo = mid;
    else hi = mid;
  }
  return { dimension: o.dimension, best: lo, first_failing: hi, steps, stopped };
}
