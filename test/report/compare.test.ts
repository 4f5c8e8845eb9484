import { describe, expect, it } from 'vitest';
import { checkThresholds, combineVerdicts, compareReports, decideOutcome, judgeChange } from '../../src/report/compare.js';
import { benchReportSchema } from '../../src/report/schema.js';
import { makeReport, makeResult } from './make-report.js';

const stat = (n: number, mean: number, stddev: number | null) => ({ n, mean, stddev });

describe('judgeChange (noise-aware rule)', () => {
  it('a clear drop in a higher-is-better metric is a regression', () => {
    const j = judgeChange(stat(5, 40, 1), stat(5, 30, 1), 'higher_is_better', 10);
    expect(j.verdict).toBe('regressed');
    expect(j.delta_pct).toBeCloseTo(-25, 10);
    expect(j.ci95_delta_pct?.[1]).toBeLessThan(0);
  });

  it('a small change inside the noise passes', () => {
    expect(judgeChange(stat(5, 40, 1), stat(5, 39.5, 1), 'higher_is_better', 10).verdict).toBe('pass');
  });

  it('a big change whose interval includes zero is inconclusive, not a regression', () => {
    // −15% on the mean, but sd 8 on 40 with 5 samples: the interval spans zero and the threshold.
    const j = judgeChange(stat(5, 40, 8), stat(5, 34, 8), 'higher_is_better', 10);
    expect(j.ci95_delta_pct?.[0]).toBeLessThan(0);
    expect(j.ci95_delta_pct?.[1]).toBeGreaterThan(0);
    expect(j.verdict).toBe('inconclusive');
  });

  it('a small change with an interval reaching past the threshold is inconclusive', () => {
    expect(judgeChange(stat(3, 100, 6), stat(3, 97, 6), 'higher_is_better', 10).verdict).toBe('inconclusive');
  });

  it('direction: a longer TTFT is worse, a shorter one an improvement', () => {
    expect(judgeChange(stat(5, 100, 2), stat(5, 130, 2), 'lower_is_better', 10).verdict).toBe('regressed');
    expect(judgeChange(stat(5, 100, 2), stat(5, 70, 2), 'lower_is_better', 10).verdict).toBe('improved');
    expect(judgeChange(stat(5, 40, 1), stat(5, 50, 1), 'higher_is_better', 10).verdict).toBe('improved');
  });

  it('without spread (one sample) the point change decides', () => {
    expect(judgeChange(stat(1, 100, null), stat(1, 111, null), 'lower_is_better', 10)).toMatchObject({ verdict: 'regressed', ci95_delta_pct: null });
    expect(judgeChange(stat(1, 100, null), stat(1, 109, null), 'lower_is_better', 10).verdict).toBe('pass');
  });

  it('combines verdicts worst first', () => {
    expect(combineVerdicts(['pass', 'improved', 'inconclusive'])).toBe('inconclusive');
    expect(combineVerdicts(['improved', 'regressed'])).toBe('regressed');
    expect(combineVerdicts(['pass', 'improved'])).toBe('improved');
    expect(combineVerdicts([])).toBe('pass');
  });
});

describe('compareReports on constructed reports', () => {
  const baseline = makeReport([makeResult({ testId: 'pp512+tg128' }), makeResult({ testId: 'tg128' })]);

  it('flags a clear regression of decode speed and keeps the others passing', () => {
    const current = makeReport([makeResult({ testId: 'pp512+tg128', decodeTps: [30, 31, 29, 30, 30] }), makeResult({ testId: 'tg128' })]);
    const c = compareReports(baseline, current, { thresholdPct: 10, baselinePath: 'base.json' });
    expect(c.verdict).toBe('regressed');
    const row = c.results.find((r) => r.test_id === 'pp512+tg128' && r.metric === 'decode_tps');
    expect(row).toMatchObject({ verdict: 'regressed', direction: 'higher_is_better', baseline: 40, unit: 'tok/s' });
    expect(row?.delta_pct).toBeCloseTo(-25, 0);
    expect(c.results.filter((r) => r.test_id === 'tg128').every((r) => r.verdict === 'pass')).toBe(true);
    expect(benchReportSchema.shape.comparison.parse(c)).toEqual(c);
    const outcome = decideOutcome(current.results, [], c, false);
    expect(outcome).toMatchObject({ status: 'fail', exit_code: 1 });
    expect(outcome.reasons.join()).toContain('decode_tps');
  });

  it('passes on noise', () => {
    const current = makeReport([makeResult({ testId: 'pp512+tg128', decodeTps: [40.5, 39, 40, 41, 39.5], prefillTps: [198, 203, 200, 202, 197] }), makeResult({ testId: 'tg128', decodeTps: [39.6, 40.4, 40, 41, 39] })]);
    const c = compareReports(baseline, current);
    expect(c.results.map((r) => r.verdict)).not.toContain('regressed');
    expect(c.verdict).toBe('pass');
    expect(decideOutcome(current.results, [], c, false)).toMatchObject({ status: 'pass', exit_code: 0 });
  });

  it('reports an improvement', () => {
    const current = makeReport([makeResult({ testId: 'pp512+tg128', decodeTps: [60, 61, 59, 60, 60] }), makeResult({ testId: 'tg128' })]);
    const c = compareReports(baseline, current);
    expect(c.verdict).toBe('improved');
    expect(decideOutcome(current.results, [], c, false).exit_code).toBe(0);
  });

  it('inconclusive exits 3 unless told to pass', () => {
    const noisy = makeReport([makeResult({ testId: 'pp512+tg128', decodeTps: [20, 45, 30, 50, 25] }), makeResult({ testId: 'tg128' })]);
    const c = compareReports(baseline, noisy);
    expect(c.verdict).toBe('inconclusive');
    expect(decideOutcome(noisy.results, [], c, false)).toMatchObject({ status: 'inconclusive', exit_code: 3 });
    expect(decideOutcome(noisy.results, [], c, true)).toMatchObject({ status: 'pass', exit_code: 0 });
  });

  it('lists missing tests and warns about a different environment and different model files', () => {
    const current = makeReport([makeResult({ testId: 'pp512+tg128', sha: 'c'.repeat(64) })], { cpu: 'Intel Xeon', ort: '1.31.0' });
    const c = compareReports(baseline, current);
    expect(c.missing).toEqual(['qwen2.5-0.5b-synthetic|fp32|cpu|t2|tg128']);
    expect(c.warnings.join('\n')).toMatch(/CPU model differs: baseline AMD EPYC, now Intel Xeon/);
    expect(c.warnings.join('\n')).toMatch(/onnxruntime version differs/);
    expect(c.warnings.join('\n')).toMatch(/model files differ/);
  });
});

describe('thresholds and the outcome', () => {
  const results = [makeResult({ testId: 'pp512+tg128' }), makeResult({ testId: 'tg128', status: 'error' })];

  it('checks absolute limits on medians of successful results', () => {
    const checks = checkThresholds(results, { min_decode_tps: 45, max_ttft_ms: 3000, max_peak_rss_bytes: 2e9 });
    expect(checks).toHaveLength(3);
    expect(checks.find((c) => c.metric === 'decode_tps')).toMatchObject({ passed: false, value: 40, limit: 45, kind: 'min' });
    expect(checks.find((c) => c.metric === 'ttft_ms')?.passed).toBe(true);
    expect(checks.find((c) => c.metric === 'rss_peak_bytes')).toMatchObject({ passed: false, value: 2.5e9 });
  });

  it('a failed run makes the outcome fail even when everything else passes', () => {
    const o = decideOutcome(results, [], null, false);
    expect(o).toMatchObject({ status: 'fail', exit_code: 1 });
    expect(o.reasons[0]).toBe('1 of 2 runs failed');
    expect(decideOutcome([results[0]!], [], null, false)).toEqual({ status: 'pass', exit_code: 0, reasons: [] });
  });
});
