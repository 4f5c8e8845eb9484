import { describe, expect, it } from 'vitest';
import { arrivalGaps, arrivalOffsetsMs, gammaSample } from '../../src/serve/arrivals.js';
import { splitmix32 } from '../../src/util/random.js';

/** One-sample Kolmogorov–Smirnov statistic D of `xs` against a CDF. */
function ksStatistic(xs: number[], cdf: (x: number) => number): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  let d = 0;
  s.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  });
  return d;
}

describe('arrival schedules', () => {
  it('Poisson gaps pass a Kolmogorov–Smirnov test against the exponential distribution', () => {
    const rate = 8;
    for (const seed of [1, 2, 3]) {
      const gaps = arrivalGaps(2000, { rate, burstiness: 1, seed });
      const d = ksStatistic(gaps, (x) => 1 - Math.exp(-rate * x));
      // Critical value at α = 0.01: 1.63 / √n.
      expect(d).toBeLessThan(1.63 / Math.sqrt(gaps.length));
    }
  });

  it('the KS test does reject a wrong distribution (the check has teeth)', () => {
    const gaps = arrivalGaps(2000, { rate: 8, burstiness: 4, seed: 1 });
    expect(ksStatistic(gaps, (x) => 1 - Math.exp(-8 * x))).toBeGreaterThan(1.63 / Math.sqrt(2000));
  });

  it('gamma draws have mean shape·scale and variance shape·scale² (shape below and above 1)', () => {
    for (const shape of [0.5, 1, 3]) {
      const rng = splitmix32(7);
      const xs = Array.from({ length: 40000 }, () => gammaSample(rng, shape, 2));
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
      expect(m).toBeCloseTo(shape * 2, 1);
      expect(Math.abs(v - shape * 4) / (shape * 4)).toBeLessThan(0.06);
    }
  });

  it('same seed → same schedule; another seed → another one', () => {
    const a = arrivalOffsetsMs(100, { rate: 5, burstiness: 0.7, seed: 42 });
    expect(arrivalOffsetsMs(100, { rate: 5, burstiness: 0.7, seed: 42 })).toEqual(a);
    expect(arrivalOffsetsMs(100, { rate: 5, burstiness: 0.7, seed: 43 })).not.toEqual(a);
  });

  it('starts at 0, ascends, and spans N ÷ rate like vLLM', () => {
    const o = arrivalOffsetsMs(50, { rate: 10, burstiness: 1, seed: 3 });
    expect(o[0]).toBe(0);
    for (let i = 1; i < o.length; i += 1) expect(o[i]).toBeGreaterThanOrEqual(o[i - 1] as number);
    // The last request goes one (rescaled) gap before N ÷ rate = 5 s.
    expect(o[o.length - 1]).toBeLessThan(5000);
    expect(o[o.length - 1]).toBeGreaterThan(4000);
  });

  it('an infinite rate sends everything at once', () => {
    expect(arrivalOffsetsMs(4, { rate: Number.POSITIVE_INFINITY, burstiness: 1, seed: 1 })).toEqual([0, 0, 0, 0]);
  });
});
