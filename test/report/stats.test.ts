import { describe, expect, it } from 'vitest';
import {
  differenceOfMeans,
  minSamplesForPercentile,
  percentileSorted,
  sampleStddev,
  summarize,
  summarizeRate,
  tQuantile975,
} from '../../src/report/stats.js';

describe('summarize', () => {
  // Hand computed: mean 5, Σ(x−5)² = 32, s² = 32/7, s = 2.138090; t(0.975, 7) = 2.3646.
  const values = [9, 2, 4, 4, 5, 4, 7, 5];

  it('computes mean, sample stddev (n−1), cv and extremes', () => {
    const s = summarize(values, 'ms');
    expect(s.unit).toBe('ms');
    expect(s.n).toBe(8);
    expect(s.mean).toBe(5);
    expect(s.stddev).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(s.cv_pct).toBeCloseTo((Math.sqrt(32 / 7) / 5) * 100, 10);
    expect(s.min).toBe(2);
    expect(s.max).toBe(9);
  });

  it('uses linear interpolation between closest ranks (numpy default)', () => {
    const s = summarize(values, 'ms');
    // sorted 2,4,4,4,5,5,7,9; p50: h=3.5 → 4.5; p90: h=6.3 → 7+0.3·2; p99: h=6.93 → 7+0.93·2
    expect(s.p50).toBeCloseTo(4.5, 12);
    expect(s.p90).toBeCloseTo(7.6, 12);
    expect(s.p99).toBeCloseTo(8.86, 12);
  });

  it('gives the Student-t 95% interval of the mean', () => {
    const s = summarize(values, 'ms');
    const half = (2.3646 * Math.sqrt(32 / 7)) / Math.sqrt(8);
    expect(s.ci95?.[0]).toBeCloseTo(5 - half, 10);
    expect(s.ci95?.[1]).toBeCloseTo(5 + half, 10);
  });

  it('flags percentiles computed from too few samples', () => {
    expect(summarize(values, 'ms').low_sample_percentiles).toEqual(['p90', 'p99']);
    expect(summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'ms').low_sample_percentiles).toEqual(['p99']);
    expect(summarize([1, 2, 3, 4, 5], 'ms').low_sample_percentiles).toEqual(['p90', 'p99']);
    expect(summarize([3], 'ms').low_sample_percentiles).toEqual(['p50', 'p90', 'p99']);
    expect(summarize(Array.from({ length: 100 }, (_, i) => i), 'ms').low_sample_percentiles).toEqual([]);
  });

  it('has no spread or interval from one sample, and keeps zero', () => {
    const s = summarize([0], 'ms');
    expect(s).toMatchObject({ n: 1, mean: 0, stddev: null, cv_pct: null, ci95: null, min: 0, p50: 0, max: 0 });
  });

  it('refuses an empty sample', () => {
    expect(() => summarize([], 'ms')).toThrow(RangeError);
  });
});

describe('summarizeRate', () => {
  it('summarises per-repetition rates and pools Σ tokens / Σ time', () => {
    // 100 tokens in 1000 ms (100 tok/s) and 100 tokens in 500 ms (200 tok/s): mean rate 150, pooled 133.3.
    const s = summarizeRate([100, 100], [1000, 500]);
    expect(s.unit).toBe('tok/s');
    expect(s.mean).toBe(150);
    expect(s.pooled).toBeCloseTo(200_000 / 1500, 10);
    expect(s.stddev).toBeCloseTo(Math.sqrt(5000), 10);
  });
});

describe('helpers', () => {
  it('tQuantile975 matches the table and interpolates', () => {
    expect(tQuantile975(1)).toBeCloseTo(12.7062, 4);
    expect(tQuantile975(4)).toBeCloseTo(2.7764, 4);
    expect(tQuantile975(4.5)).toBeCloseTo((2.7764 + 2.5706) / 2, 4);
    expect(tQuantile975(60)).toBeCloseTo(2.0003, 4);
    expect(tQuantile975(1e9)).toBeCloseTo(1.96, 3);
    expect(tQuantile975(0.5)).toBeNaN();
  });

  it('percentileSorted and the sample size a percentile needs', () => {
    expect(percentileSorted([1, 2, 3, 4], 25)).toBeCloseTo(1.75, 12);
    expect(percentileSorted([10], 99)).toBe(10);
    expect(minSamplesForPercentile(90)).toBe(10);
    expect(minSamplesForPercentile(99)).toBe(100);
    expect(sampleStddev([5])).toBeNull();
  });

  it('differenceOfMeans gives the Welch interval', () => {
    // a: n=5 mean 10 sd 1; b: n=5 mean 12 sd 2. se² = 1/5 + 4/5 = 1; df = 1 / ((0.04)/4 + (0.64)/4) = 5.882
    const d = differenceOfMeans({ n: 5, mean: 10, stddev: 1 }, { n: 5, mean: 12, stddev: 2 });
    expect(d.delta).toBe(2);
    expect(d.df).toBeCloseTo(1 / (0.04 / 4 + 0.64 / 4), 10);
    const t = tQuantile975(d.df as number);
    expect(t).toBeGreaterThan(2.4469);
    expect(t).toBeLessThan(2.5706);
    expect(d.ci95?.[0]).toBeCloseTo(2 - t, 10);
    expect(d.ci95?.[1]).toBeCloseTo(2 + t, 10);
    expect(differenceOfMeans({ n: 1, mean: 1, stddev: null }, { n: 5, mean: 2, stddev: 1 }).ci95).toBeNull();
  });
});
