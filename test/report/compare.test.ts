import { describe, expect, it } from 'vitest';
import { checkThresholds, combineVerdicts, compareReports, comparisonExitCode, decideOutcome, judgeChange } from '../../src/report/compare.js';
import { renderComparisonMarkdown, renderComparisonTable } from '../../src/report/render.js';
import type { BenchResult } from '../../src/report/schema.js';
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

/** A result with another thread count / variant / device / model (the rest as makeResult makes it). */
function withSetting(r: BenchResult, setting: Partial<{ threads: number; variant: BenchResult['variant']['name']; device: BenchResult['config']['device']; model: string }>): BenchResult {
  return {
    ...r,
    config: { ...r.config, threads: setting.threads ?? r.config.threads, device: setting.device ?? r.config.device },
    variant: { ...r.variant, name: setting.variant ?? r.variant.name },
    model: { ...r.model, id: setting.model ?? r.model.id },
  };
}

describe('a gate that compared nothing does not pass', () => {
  // The baseline was taken with 2 threads (makeResult's default); this run used 1.
  const baseline = makeReport([makeResult({ testId: 'tg32' })]);
  const current = makeReport([withSetting(makeResult({ testId: 'tg32' }), { threads: 1 })]);

  it('no match is inconclusive (exit 3) with one line naming the key and the thread count that differs', () => {
    const c = compareReports(baseline, current, { baselinePath: 'base.json' });
    expect(c.compared).toBe(0);
    expect(c.results).toEqual([]);
    expect(c.verdict).toBe('inconclusive');
    expect(c.missing).toEqual(['qwen2.5-0.5b-synthetic|fp32|cpu|t2|tg32']);
    expect(c.note).toBe(
      'nothing compared: none of the 1 baseline results has a match now: qwen2.5-0.5b-synthetic|fp32|cpu|t2|tg32 (nearest result now differs: thread count 1 now, 2 in the baseline)',
    );
    const outcome = decideOutcome(current.results, [], c, false);
    expect(outcome).toEqual({ status: 'inconclusive', exit_code: 3, reasons: [`inconclusive: ${c.note}`] });
    // --inconclusive-pass is about noise; it does not let an empty comparison pass.
    expect(decideOutcome(current.results, [], c, true).exit_code).toBe(3);
    expect(comparisonExitCode(c, true)).toBe(3);
    expect(benchReportSchema.shape.comparison.parse(c)).toEqual(c);
  });

  it('--allow-missing declares the removal intended: pass, the note kept', () => {
    const c = compareReports(baseline, current, { allowMissing: true });
    expect(c.verdict).toBe('pass');
    expect(c.note).toMatch(/^nothing compared: .*\(allowed by --allow-missing\)/);
    expect(decideOutcome(current.results, [], c, false)).toMatchObject({ status: 'pass', exit_code: 0 });
    expect(comparisonExitCode(c, false)).toBe(0);
  });

  it('one result of two missing is inconclusive too, and a regression still fails first', () => {
    const base2 = makeReport([makeResult({ testId: 'tg32' }), makeResult({ testId: 'pp64' })]);
    const partial = makeReport([makeResult({ testId: 'tg32' })]);
    const c = compareReports(base2, partial);
    expect(c.compared).toBe(1);
    expect(c.verdict).toBe('inconclusive');
    expect(c.note).toMatch(/^1 of 2 baseline results have no match now: .*\|pp64 \(nearest result now differs: test tg32 now, pp64 in the baseline\)$/);
    const slow = makeReport([makeResult({ testId: 'tg32', decodeTps: [20, 21, 19, 20, 20] })]);
    const r = compareReports(base2, slow);
    expect(r.verdict).toBe('regressed');
    expect(decideOutcome(slow.results, [], r, false)).toMatchObject({ status: 'fail', exit_code: 1 });
  });

  it('names several differences, a failure now, and nothing run', () => {
    const other = makeReport([withSetting(makeResult({ testId: 'tg32' }), { device: 'webgpu', variant: 'q4' })]);
    expect(compareReports(baseline, other).unmatched?.[0]?.reason).toBe('nearest result now differs: variant q4 now, fp32 in the baseline; device webgpu now, cpu in the baseline');
    const failed = makeReport([makeResult({ testId: 'tg32', status: 'error' })]);
    expect(compareReports(baseline, failed).unmatched?.[0]?.reason).toBe('failed now: broken');
    expect(compareReports(baseline, makeReport([])).unmatched?.[0]?.reason).toBe('no successful result now');
  });

  it('the table and markdown carry the line and each reason', () => {
    const c = compareReports(baseline, current, { baselinePath: 'base.json' });
    const table = renderComparisonTable(c);
    expect(table).toContain('Comparison with baseline base.json (threshold 10%): inconclusive');
    expect(table).toContain(c.note!);
    expect(table).toContain('missing now: qwen2.5-0.5b-synthetic|fp32|cpu|t2|tg32 — nearest result now differs: thread count 1 now, 2 in the baseline');
    const md = renderComparisonMarkdown(c);
    expect(md).toContain('Nothing compared.');
    expect(md).toContain('- missing now: `qwen2.5-0.5b-synthetic|fp32|cpu|t2|tg32 — nearest');
  });
});

describe('compare --across one dimension', () => {
  const base = makeReport([makeResult({ testId: 'tg32' }), makeResult({ testId: 'pp64' })]);

  it('threads: 2 vs 1 matched on the rest, rows say both settings', () => {
    const one = makeReport([withSetting(makeResult({ testId: 'tg32', decodeTps: [25, 26, 24, 25, 25] }), { threads: 1 }), withSetting(makeResult({ testId: 'pp64' }), { threads: 1 })]);
    const c = compareReports(base, one, { across: 'threads' });
    expect(c.compared).toBe(2);
    expect(c.missing).toEqual([]);
    expect(c.note).toBeNull();
    const row = c.results.find((r) => r.test_id === 'tg32' && r.metric === 'decode_tps');
    expect(row).toMatchObject({ threads: 1, baseline_setting: '2', verdict: 'regressed' });
    expect(c.verdict).toBe('regressed');
    expect(renderComparisonTable(c)).toMatch(/across threads[\s\S]*│ 2 → 1 /);
  });

  it('variant, device and model: each matched when only it differs; no sha or provider warning for the point of the comparison', () => {
    const q4 = makeReport([withSetting(makeResult({ testId: 'tg32', sha: 'c'.repeat(64) }), { variant: 'q4' }), withSetting(makeResult({ testId: 'pp64', sha: 'c'.repeat(64) }), { variant: 'q4' })]);
    const v = compareReports(base, q4, { across: 'variant' });
    expect([v.compared, v.verdict, v.warnings]).toEqual([2, 'pass', []]);
    expect(v.results[0]?.baseline_setting).toBe('fp32');
    // Without --across the same pair compares nothing, and says the variant differs.
    expect(compareReports(base, q4).unmatched?.[0]?.reason).toBe('nearest result now differs: variant q4 now, fp32 in the baseline');

    const gpu = makeReport([withSetting(makeResult({ testId: 'tg32' }), { device: 'webgpu' }), withSetting(makeResult({ testId: 'pp64' }), { device: 'webgpu' })]);
    gpu.environment = { ...gpu.environment, execution_provider: 'webgpu' };
    const d = compareReports(base, gpu, { across: 'device' });
    expect([d.compared, d.warnings]).toEqual([2, []]);
    expect(renderComparisonTable(d)).toContain('cpu → webgpu');

    const other = makeReport([withSetting(makeResult({ testId: 'tg32' }), { model: 'smollm2-135m' }), withSetting(makeResult({ testId: 'pp64' }), { model: 'smollm2-135m' })]);
    const m = compareReports(base, other, { across: 'model' });
    expect(m.compared).toBe(2);
    expect(m.results[0]).toMatchObject({ model_id: 'smollm2-135m', baseline_setting: 'qwen2.5-0.5b-synthetic' });
  });

  it('two current results that differ only in the named dimension are ambiguous, not guessed', () => {
    const two = makeReport([withSetting(makeResult({ testId: 'tg32' }), { threads: 1 }), withSetting(makeResult({ testId: 'tg32' }), { threads: 4 })]);
    const single = makeReport([makeResult({ testId: 'tg32' })]);
    const c = compareReports(single, two, { across: 'threads' });
    expect(c.compared).toBe(0);
    expect(c.unmatched?.[0]?.reason).toBe('ambiguous across threads: 1 baseline and 2 current results differ only in threads (2, 1, 4); keep one threads per report');
    expect(comparisonExitCode(c, false)).toBe(3);
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
