/**
 * Summary statistics of repeated measurements, the `stat` object of the report:
 * `{unit, n, mean, stddev (n−1), cv_pct, min, p50, p90, p99, max, ci95}` and, for rates, `pooled`
 * (Σ tokens / Σ time). Pure functions over plain arrays; no clock, no I/O.
 */
import { percentileSorted } from '../util/percentile.js';

/** The percentile every statistic here uses (defined below the layers, where the runtime's probe shares it). */
export { percentileSorted };

export interface Stat {
  unit: string;
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); null with fewer than 2 samples. */
  stddev: number | null;
  /** stddev / mean · 100; null when stddev is null or the mean is 0. */
  cv_pct: number | null;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** 95% confidence interval of the mean (Student t); null with fewer than 2 samples. */
  ci95: [number, number] | null;
  /** Rates only: Σ tokens / Σ seconds over all repetitions. */
  pooled?: number | null | undefined;
  /**
   * Percentiles computed from fewer samples than they need (pX needs at least 100 / (100 − X) samples,
   * so that at least one sample lies beyond it): they are interpolated or equal to the max, not measured.
   */
  low_sample_percentiles: PercentileName[];
}

export type PercentileName = 'p50' | 'p90' | 'p99';

/** Two-sided 95% Student t quantiles t(0.975, df), df = 1..30. */
const T975: readonly number[] = [
  12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788, 2.1604, 2.1448, 2.1314,
  2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
];
/** Beyond df 30 the quantile is interpolated linearly in 1/df between these anchors (∞ → 1.96). */
const T975_TAIL: readonly [number, number][] = [
  [30, 2.0423],
  [40, 2.0211],
  [60, 2.0003],
  [120, 1.9799],
  [Number.POSITIVE_INFINITY, 1.96],
];

/**
 * t(0.975, df) for any real df ≥ 1 (Welch–Satterthwaite gives fractional df): table lookup, linear
 * interpolation between integer df, and in 1/df beyond 30. Accurate to about 1e-3.
 */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return Number.NaN;
  if (df <= 30) {
    const lo = Math.floor(df);
    const hi = Math.ceil(df);
    const tLo = T975[lo - 1] as number;
    const tHi = T975[hi - 1] as number;
    return lo === hi ? tLo : tLo + (tHi - tLo) * (df - lo);
  }
  for (let i = 1; i < T975_TAIL.length; i += 1) {
    const [dfHi, tHi] = T975_TAIL[i] as [number, number];
    if (df <= dfHi) {
      const [dfLo, tLo] = T975_TAIL[i - 1] as [number, number];
      const x = 1 / df;
      const xLo = 1 / dfLo;
      const xHi = 1 / dfHi; // 0 for ∞
      return tLo + ((tHi - tLo) * (xLo - x)) / (xLo - xHi);
    }
  }
  return 1.96;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Sample standard deviation (Bessel's n − 1); null below 2 samples. */
export function sampleStddev(values: readonly number[]): number | null {
  const n = values.length;
  if (n < 2) return null;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (n - 1));
}


/** Minimum samples for a percentile to have at least one observation beyond it. */
export function minSamplesForPercentile(q: number): number {
  return q <= 50 ? 2 : Math.ceil(100 / (100 - q) - 1e-9);
}

/** The stat object of `values` (at least one sample). */
export function summarize(values: readonly number[], unit: string): Stat {
  if (values.length === 0) throw new RangeError('summarize needs at least one sample');
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const m = mean(sorted);
  const sd = sampleStddev(sorted);
  const ci95: [number, number] | null = sd === null ? null : confidenceInterval95(m, sd, n);
  const low: PercentileName[] = [];
  for (const [name, q] of [['p50', 50], ['p90', 90], ['p99', 99]] as const) {
    if (n < minSamplesForPercentile(q)) low.push(name);
  }
  return {
    unit,
    n,
    mean: m,
    stddev: sd,
    cv_pct: sd === null || m === 0 ? null : (sd / Math.abs(m)) * 100,
    min: sorted[0] as number,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    max: sorted[n - 1] as number,
    ci95,
    low_sample_percentiles: low,
  };
}

/**
 * The stat object of a rate (tokens per second), one sample per repetition from `tokens[i]` over
 * `ms[i]`, plus `pooled` = Σ tokens / Σ seconds (the rate of all repetitions taken together, which
 * weights long repetitions more and is not skewed by one very fast short one).
 */
export function summarizeRate(tokens: readonly number[], ms: readonly number[], unit = 'tok/s'): Stat {
  if (tokens.length !== ms.length) throw new RangeError('summarizeRate: tokens and ms differ in length');
  const rates = tokens.map((t, i) => (t / (ms[i] as number)) * 1000);
  let sumTokens = 0;
  let sumMs = 0;
  for (let i = 0; i < tokens.length; i += 1) {
    sumTokens += tokens[i] as number;
    sumMs += ms[i] as number;
  }
  return { ...summarize(rates, unit), pooled: sumMs > 0 ? (sumTokens / sumMs) * 1000 : null };
}

/** mean ± t(0.975, n−1)·sd/√n. */
export function confidenceInterval95(m: number, sd: number, n: number): [number, number] {
  const half = tQuantile975(n - 1) * (sd / Math.sqrt(n));
  return [m - half, m + half];
}

export interface MeanDifference {
  /** current.mean − baseline.mean */
  delta: number;
  /** 95% CI of the difference (Welch), or null when either side has fewer than 2 samples. */
  ci95: [number, number] | null;
  /** Welch–Satterthwaite degrees of freedom, or null. */
  df: number | null;
}

/**
 * Difference of two means with Welch's unequal-variance confidence interval, from their summaries
 * (n, mean, stddev), so it works on stat objects read back from a saved report.
 */
export function differenceOfMeans(
  baseline: Pick<Stat, 'n' | 'mean' | 'stddev'>,
  current: Pick<Stat, 'n' | 'mean' | 'stddev'>,
): MeanDifference {
  const delta = current.mean - baseline.mean;
  if (baseline.stddev === null || current.stddev === null || baseline.n < 2 || current.n < 2) {
    return { delta, ci95: null, df: null };
  }
  const va = (baseline.stddev * baseline.stddev) / baseline.n;
  const vb = (current.stddev * current.stddev) / current.n;
  const se = Math.sqrt(va + vb);
  if (se === 0) return { delta, ci95: [delta, delta], df: baseline.n + current.n - 2 };
  const df = ((va + vb) * (va + vb)) / ((va * va) / (baseline.n - 1) + (vb * vb) / (current.n - 1));
  const half = tQuantile975(df) * se;
  return { delta, ci95: [delta - half, delta + half], df };
}
