import { summarize, summarizeRate } from '../../src/report/stats.js';
import { SCHEMA_VERSION, type BenchReport, type BenchResult } from '../../src/report/schema.js';
import { parseTestId } from '../../src/bench/scenarios.js';

/** A constructed result: decode/prefill rates from per-repetition samples, everything else plausible. */
export function makeResult(options: { testId?: string; decodeTps?: number[]; prefillTps?: number[]; ttftMs?: number[]; rssPeak?: number; synthetic?: boolean; status?: 'ok' | 'error'; model?: string; sha?: string }): BenchResult {
  const test = parseTestId(options.testId ?? 'pp512+tg128');
  const decode = options.decodeTps ?? [40, 41, 39, 40, 40];
  const prefill = options.prefillTps ?? [200, 205, 195, 200, 200];
  const ttft = options.ttftMs ?? prefill.map((p) => (512 / p) * 1000);
  const ok = (options.status ?? 'ok') === 'ok';
  return {
    model: {
      id: options.model ?? 'qwen2.5-0.5b-synthetic',
      path: '/models/qwen2.5-0.5b-synthetic',
      file: '/models/qwen2.5-0.5b-synthetic/onnx/model.onnx',
      synthetic: options.synthetic ?? true,
      architecture: { model_type: 'qwen2', layers: 24, hidden_size: 896, heads: 14, kv_heads: 2, head_dim: 64, vocab_size: 151936 },
      files_sha256: { 'onnx/model.onnx': options.sha ?? 'a'.repeat(64) },
    },
    variant: { name: 'fp32', quantization: null },
    config: { device: 'cpu', threads: 2, graph_optimization_level: 'all', repetitions: decode.length, warmup: 1, seed: 42 },
    test: { ...test, prompt_lengths: [test.n_prompt], input_ids_sha256: 'b'.repeat(64) },
    status: ok ? 'ok' : 'error',
    error: ok ? null : { code: 'E_MODEL', message: 'broken' },
    load: { session_create_ms: 100, first_run: null, warmup_ms: [1], self_check: { passed: true, max_abs_diff: 0, tolerance: 1e-3, positions: 5 } },
    metrics: {
      prefill_ms: ok ? summarize(prefill.map((p) => (512 / p) * 1000), 'ms') : null,
      prefill_tps: ok ? summarizeRate(prefill.map(() => 512), prefill.map((p) => (512 / p) * 1000)) : null,
      first_sample_ms: null,
      ttft_ms: ok ? summarize(ttft, 'ms') : null,
      tpot_ms: null,
      itl_ms: null,
      decode_tps: ok ? summarizeRate(decode.map(() => 127), decode.map((d) => (127 / d) * 1000)) : null,
      decode_run_ms: null,
      harness_overhead_pct: null,
      e2e_ms: ok ? summarize(ttft.map((t, i) => t + (127 / (decode[i] ?? 1)) * 1000), 'ms') : null,
      output_tps: null,
      total_tps: null,
    },
    memory: { model_files_bytes: 2e9, rss_baseline_bytes: 5e7, rss_after_load_bytes: 2.1e9, rss_peak_bytes: ok ? (options.rssPeak ?? 2.5e9) : null, rss_sample_interval_ms: 20, rss_peak_kernel_bytes: null, gpu: [] },
    kv_cache: null,
    estimate: null,
    samples: [],
  };
}

export function makeReport(results: BenchResult[], env: Partial<{ cpu: string; ort: string }> = {}): BenchReport {
  return {
    schema_version: SCHEMA_VERSION,
    tool: { name: 'modelscout', version: '0.1.0' },
    run: {
      started_at: '2026-01-01T00:00:00.000Z',
      finished_at: '2026-01-01T00:01:00.000Z',
      argv: ['bench'],
      seed: 42,
      config: {
        models: ['/models/qwen2.5-0.5b-synthetic'],
        variants: ['fp32'],
        devices: ['cpu'],
        threads: [2],
        graph_optimization_level: 'all',
        tests: results.map((r) => r.test.id),
        repetitions: 5,
        warmup: 1,
        seed: 42,
        thresholds: { min_decode_tps: null, max_ttft_ms: null, max_peak_rss_bytes: null, max_regression_pct: 10, inconclusive_pass: false },
        baseline: null,
      },
    },
    environment: {
      os: { platform: 'linux', release: '6.0', arch: 'x64' },
      cpu: { model: env.cpu ?? 'AMD EPYC', cores: 2, features: ['avx2'] },
      memory_total_bytes: 24e9,
      gpus: [],
      node: 'v20.19.0',
      onnxruntime: env.ort ?? '1.30.0',
      execution_provider: 'cpu',
    },
    results,
    thresholds: null,
    comparison: null,
    outcome: { status: 'pass', exit_code: 0, reasons: [] },
  };
}

/** Four KV depths of one model, with estimates and thresholds: every bench chart has something to show. */
export function depthReport(shift = 0): BenchReport {
  const results = [0, 512, 1024, 2048].map((d, i) => {
    const r = makeResult({ testId: `tg64@d${d}`, decodeTps: [40 - i * 5 + shift, 41 - i * 5 + shift, 39 - i * 5 + shift], rssPeak: 2.5e9 + i * 1e8 });
    r.estimate = {
      decode_tps: 42 - i * 4,
      prefill_tps: null,
      ttft_ms: null,
      total_memory_bytes: 2.2e9,
      error_pct: { decode_tps: null, prefill_tps: null, ttft_ms: null, total_memory_bytes: null },
      basis: null,
      calibrated: false,
    };
    return r;
  });
  const report = makeReport(results);
  report.run.config.thresholds.min_decode_tps = 30;
  report.run.config.thresholds.max_peak_rss_bytes = 3e9;
  return report;
}

/** Point marks per chart of `depthReport` with a comparison against `depthReport(-4)`. */
export const DEPTH_REPORT_MARKS: Record<string, number> = {
  'decode-vs-depth': 4,
  'speed-vs-memory': 4,
  'estimate-vs-measured-decode': 8,
  'estimate-vs-measured-memory': 8,
  'comparison-change': 20,
  'comparison-prefill_tps': 8,
  'comparison-decode_tps': 8,
  'comparison-ttft_ms': 8,
  'comparison-e2e_ms': 8,
  'comparison-rss_peak_bytes': 8,
};

