import { describe, expect, it } from 'vitest';
import { compareReports, decideOutcome } from '../../src/report/compare.js';
import { estimateBasisLines, formatStat, gpuMemoryCell, renderJson, renderMarkdown, renderBenchTable, resultsTable } from '../../src/report/render.js';
import { summarize } from '../../src/report/stats.js';
import { makeReport, makeResult } from './make-report.js';

describe('renderers', () => {
  it('formats the headline as median (mean ± sd)', () => {
    expect(formatStat(summarize([10, 12, 11], 'ms'))).toBe('11.0 (11.0 ± 1.0)');
    expect(formatStat(summarize([7], 'ms'))).toBe('7.00');
    expect(formatStat(null)).toBe('–');
  });

  it('labels synthetic models in the table and in markdown', () => {
    const report = makeReport([makeResult({ synthetic: true })]);
    expect(renderBenchTable(report)).toContain('qwen2.5-0.5b-synthetic (synthetic)');
    expect(renderBenchTable(report)).toMatch(/Synthetic models \(random weights\)/);
    expect(renderMarkdown(report)).toContain('qwen2.5-0.5b-synthetic (synthetic)');
    const real = makeReport([makeResult({ synthetic: false, model: 'qwen2.5-0.5b' })]);
    expect(renderBenchTable(real)).not.toContain('(synthetic)');
  });

  it('names the KV layout in the table when it is not the growing cache', () => {
    const kv = { dtype: 'float32' as const, layers: 2, kv_heads: 2, head_dim: 16, bytes_per_token: 256, tokens_at_end: 10, analytic_bytes: 2560, agrees: null };
    const growing = makeResult({});
    growing.kv_cache = { ...kv, layout: 'growing', update: 'concatenated', measured_bytes: 2560, agrees: true };
    const appended = makeResult({ testId: 'tg128' });
    appended.kv_cache = { ...kv, layout: 'preallocated', update: 'appended', measured_bytes: 4096 };
    const shared = makeResult({ testId: 'tg64' });
    shared.kv_cache = { ...kv, layout: 'preallocated', update: 'in-place', measured_bytes: 3072 };
    const table = renderBenchTable(makeReport([growing, appended, shared]));
    expect(table).toContain('4.0 KiB appended');
    expect(table).toContain('3.0 KiB preallocated');
    expect(table).toMatch(/2\.5 KiB\s+│/);
    expect(table).not.toContain('growing');
  });

  it('adds a GPU memory column only when some result sampled GPU memory', () => {
    const cpu = makeResult({});
    expect(renderBenchTable(makeReport([cpu]))).not.toContain('peak GPU memory');
    expect(renderMarkdown(makeReport([cpu]))).not.toContain('peak GPU memory');
    const sample = { index: 0, name: 'NVIDIA H200', used_baseline_bytes: 600 * 2 ** 20, used_peak_bytes: 1624 * 2 ** 20, process_used_peak_bytes: 900 * 2 ** 20, source: 'nvidia-smi' as const, sample_interval_ms: 100 };
    const gpu = makeResult({ testId: 'tg128' });
    gpu.memory.gpu = [sample];
    // Without per-process figures (some drivers): the rise over the GPU's level before the test.
    const noProcess = makeResult({ testId: 'tg64' });
    noProcess.memory.gpu = [{ ...sample, process_used_peak_bytes: null }];
    const twoGpus = makeResult({ testId: 'pp512' });
    twoGpus.memory.gpu = [sample, { ...sample, index: 1, process_used_peak_bytes: 2 ** 30 }];
    expect(gpuMemoryCell(cpu)).toBe('–');
    expect(gpuMemoryCell(gpu)).toBe('900.0 MiB');
    expect(gpuMemoryCell(noProcess)).toBe('+1.0 GiB');
    expect(gpuMemoryCell(twoGpus)).toBe('0: 900.0 MiB, 1: 1.0 GiB');
    const report = makeReport([cpu, gpu, noProcess, twoGpus]);
    const { head, rows } = resultsTable(report);
    expect(head.indexOf('peak GPU memory')).toBe(head.indexOf('peak RSS') + 1);
    expect(rows.every((row) => row.length === head.length)).toBe(true);
    expect(rows.map((row) => row[head.indexOf('peak GPU memory')])).toEqual(['–', '900.0 MiB', '+1.0 GiB', '0: 900.0 MiB, 1: 1.0 GiB']);
    const table = renderBenchTable(report);
    expect(table).toContain('peak GPU memory');
    expect(table).toMatch(/tg128 .*900\.0 MiB/);
    expect(renderMarkdown(report)).toContain('| peak GPU memory |');
  });

  it('says what the estimates rest on, once per basis, and whether they are calibrated here', () => {
    const estimate = (basis: string | null, calibrated: boolean): NonNullable<ReturnType<typeof makeResult>['estimate']> => ({
      decode_tps: 40,
      prefill_tps: null,
      ttft_ms: null,
      total_memory_bytes: 2e9,
      error_pct: { decode_tps: 5, prefill_tps: null, ttft_ms: null, total_memory_bytes: null },
      basis,
      calibrated,
    });
    const defaults = 'AMD EPYC (CPU, 2 cores); bandwidth 25.0 GB/s (default); default CPU efficiencies';
    const a = makeResult({});
    a.estimate = estimate(defaults, false);
    const b = makeResult({ testId: 'tg128' });
    b.estimate = estimate(defaults, false);
    const none = makeResult({ testId: 'tg64' });
    expect(estimateBasisLines(makeReport([none]))).toEqual([]);
    const lines = estimateBasisLines(makeReport([a, b, none]));
    expect(lines).toEqual([`Estimates: ${defaults} (not calibrated on this machine: recommend --confirm adds its measurements to the calibration).`]);
    const calibrated = makeResult({ testId: 'pp512' });
    calibrated.estimate = estimate('AMD EPYC (CPU, 2 cores); bandwidth 29.7 GB/s (probed); calibrated', true);
    expect(estimateBasisLines(makeReport([a, calibrated]))).toEqual([lines[0], 'Estimates: AMD EPYC (CPU, 2 cores); bandwidth 29.7 GB/s (probed); calibrated.']);
    expect(renderBenchTable(makeReport([a, b]))).toContain(lines[0]);
    expect(renderMarkdown(makeReport([a, b]))).toContain(`- ${lines[0]}`);
  });

  it('warns when other processes kept the CPUs busy before some runs', () => {
    const quiet = makeResult({});
    quiet.load.cpu_busy_before = 0.1;
    const busy = makeResult({ testId: 'tg128' });
    busy.load.cpu_busy_before = 0.62;
    const old = makeResult({ testId: 'tg64' });
    expect(renderBenchTable(makeReport([quiet, old]))).not.toMatch(/busy/);
    const table = renderBenchTable(makeReport([quiet, busy, old]));
    expect(table).toContain('The machine was busy before 1 of 3 runs (up to 62% of CPU time used by other processes): those figures understate an idle machine.');
    expect(renderMarkdown(makeReport([quiet, busy]))).toContain('> ⚠️ The machine was busy before 1 of 2 runs');
  });

  it('shows failures with their message', () => {
    const report = makeReport([makeResult({}), makeResult({ testId: 'tg128', status: 'error' })]);
    report.outcome = decideOutcome(report.results, [], null, false);
    const table = renderBenchTable(report);
    expect(table).toContain('error: qwen2.5-0.5b-synthetic (synthetic) fp32 tg128: broken');
    expect(table).toContain('Outcome: fail (exit 1)');
    expect(renderMarkdown(report)).toContain('❌ modelscout bench: fail');
  });

  it('markdown with a comparison shows only what changed', () => {
    const baseline = makeReport([makeResult({ testId: 'pp512+tg128' }), makeResult({ testId: 'tg128' })]);
    const current = makeReport([makeResult({ testId: 'pp512+tg128', decodeTps: [30, 31, 29, 30, 30] }), makeResult({ testId: 'tg128' })]);
    current.comparison = compareReports(baseline, current, { baselinePath: 'base.json' });
    current.outcome = decideOutcome(current.results, [], current.comparison, false);
    const md = renderMarkdown(current);
    expect(md).toContain('❌ regressed');
    expect(md).toContain('| pp512+tg128 | decode_tps |');
    // unchanged rows are left out of the step summary
    expect(md).not.toContain('| tg128 |');
    expect(md.split('\n').filter((l) => l.startsWith('| qwen')).length).toBe(current.comparison.results.filter((r) => r.verdict !== 'pass').length);
  });

  it('JSON keeps zero, false and null', () => {
    const r = makeResult({});
    r.load.self_check = { passed: false, max_abs_diff: 0, tolerance: 0, positions: 0 };
    const text = renderJson(makeReport([r]));
    expect(text).toContain('"passed": false');
    expect(text).toContain('"max_abs_diff": 0');
    expect(text).toContain('"kv_cache": null');
  });
});
