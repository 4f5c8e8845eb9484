/**
 * `runBench`: the whole benchmark. Resolves the models and their variants (bad input fails here, before
 * anything runs, exit 2), expands the run matrix, measures each group in its own child process, puts the
 * estimator's prediction beside each measurement, then checks thresholds and the baseline and decides the
 * outcome. Returns the report; rendering and exit codes are the command's business.
 */
import type { GraphKind } from '../onnx/metadata.js';
import { openModelFolder, readModelConfig, type ModelFolder } from '../onnx/model-folder.js';
import type { ModelSpec } from '../catalog/model-spec.js';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { ModelscoutError, errorMessage, isModelscoutError } from '../errors.js';
import { cpuTarget, gpuTarget } from '../hardware/device.js';
import { measureCpuBusy } from '../hardware/cpu-busy.js';
import { detectHardware, type Hardware } from '../hardware/detect.js';
import { estimateSpeed } from '../estimate/speed.js';
import type { DeviceTarget, Efficiency } from '../estimate/device.js';
import { fitMemory } from '../estimate/fit.js';
import type { WeightFormat } from '../estimate/weights.js';
import { checkThresholds, compareReports, decideOutcome } from '../report/compare.js';
import { readReport } from '../report/read.js';
import { SCHEMA_VERSION, type BenchReport, type BenchResult, type EstimateReport, type Environment } from '../report/schema.js';
import type { BenchPlan } from './config.js';
import { DEFAULT_UBATCH_SIZE } from '../estimate/fit.js';
import { autoKvLayout, type KvLayout } from '../runtime/kv-cache.js';
import type { VariantName } from '../estimate/weights.js';
import { expandRunMatrix, type RunGroup } from './matrix.js';
import { inspectVariantFile, quantizationFromMetadata, selectVariants, type VariantFileInfo } from './model-files.js';
import type { TestPayload, WorkerJob } from './protocol.js';
import { runGroupInChild, type ChildOutcome } from './runner.js';
import { batchSequenceLengths, deepestDecodeDepth, kvTokensAtEnd, type TestSpec } from './scenarios.js';
import { assertDeviceAvailable, onnxruntimeVersion } from '../runtime/session.js';

export interface BenchRunOptions {
  plan: BenchPlan;
  tool: { name: string; version: string };
  argv: string[];
  /** Progress lines: `group` when a model variant starts or fails, `detail` for each step inside it. */
  onProgress?: (message: string, level: 'group' | 'detail') => void;
  /** Run the correctness self-check after the tests and keep their results only if it passes (default true). */
  selfCheck?: boolean;
  rssIntervalMs?: number;
  /** `auto`: direct for modelscout fused graphs (modelscout.graph metadata) on the CPU, growing otherwise; unset = growing. */
  kvLayout?: KvLayout | 'auto';
  /** Hardware for the environment and the estimates; detected when absent. */
  hardware?: Hardware;
  /** Forward the child processes' own output to stderr (debugging). */
  passThroughOutput?: boolean;
  /** How busy the CPUs are before each model's runs (default: sampled for 250 ms; injectable for tests). */
  cpuBusy?: () => Promise<number | null>;
  /**
   * Efficiencies for the estimate beside each measurement (calibrated from earlier measurements on this
   * machine, see src/pipeline/calibration.ts); undefined keeps the estimator's stated defaults.
   */
  efficiencyFor?: (device: DeviceTarget, format: WeightFormat, hardware: Hardware, graph?: GraphKind) => Efficiency | undefined;
  /** Aborting stops the run: the running child is killed and the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

interface ModelEntry {
  model: ModelFolder;
  variants: VariantName[];
  spec: ModelSpec | null;
  config: Record<string, unknown> | null;
}

const emptyMetrics: BenchResult['metrics'] = {
  prefill_ms: null,
  prefill_tps: null,
  first_sample_ms: null,
  ttft_ms: null,
  tpot_ms: null,
  itl_ms: null,
  decode_tps: null,
  decode_run_ms: null,
  harness_overhead_pct: null,
  e2e_ms: null,
  output_tps: null,
  total_tps: null,
};

function environmentOf(hw: Hardware, devices: readonly string[]): Environment {
  return {
    os: hw.os,
    cpu: { model: hw.cpu.model, cores: hw.cpu.cores, features: Object.entries(hw.cpu.features).filter(([, on]) => on).map(([k]) => k) },
    memory_total_bytes: hw.memory.totalBytes,
    gpus: hw.gpus.map((g) => ({ name: g.name, memory_total_bytes: g.vramTotalBytes, driver: g.driver })),
    node: process.version,
    onnxruntime: onnxruntimeVersion(),
    execution_provider: [...new Set(devices)].join(','),
  };
}

/** (estimated − measured) / measured · 100: positive when the estimate promised more than was measured. */
function errorPct(measured: number | null | undefined, estimated: number | null): number | null {
  if (measured === null || measured === undefined || estimated === null || measured === 0) return null;
  return ((estimated - measured) / measured) * 100;
}

/**
 * The estimator's figures for the same model, variant, hardware and test: decode at the context the
 * test decodes at, prefill of its prompt, memory at its final length. Null without an architecture.
 */
export function estimateFor(
  spec: ModelSpec | null,
  layers: number,
  variant: VariantName,
  test: TestSpec,
  hw: Hardware,
  device: string,
  measured: BenchResult | null,
  efficiencyFor?: BenchRunOptions['efficiencyFor'],
  graph: GraphKind = 'standard',
): EstimateReport | null {
  if (!spec) return null;
  // A synthetic model may be built with fewer layers than its architecture: estimate what actually runs.
  const runSpec: ModelSpec = { ...spec, numLayers: layers };
  const target = device === 'cpu' ? cpuTarget(hw) : (gpuTarget(hw) ?? cpuTarget(hw));
  const format: WeightFormat = variant;
  const b = test.batch_size;
  const context = test.kind === 'tg' ? Math.max(test.n_depth, 1) : test.n_depth + test.n_prompt;
  const efficiency = efficiencyFor?.(target, format, hw, graph);
  const speed = estimateSpeed({
    spec: runSpec,
    format,
    context,
    promptTokens: Math.max(1, test.n_prompt),
    concurrency: b,
    device: target,
    graph,
    ...(device === 'webgpu' ? { provider: 'webgpu' as const } : {}),
    ...(efficiency ? { efficiency } : {}),
  });
  const fit = fitMemory({ spec: runSpec, format, context: kvTokensAtEnd(test), concurrency: b, device: target, graph });
  const decode = test.kind === 'pp' ? null : (speed.decodeTokPerSecTotal?.value ?? null);
  const prefill = test.kind === 'tg' ? null : (speed.prefillTokPerSec?.value ?? null);
  // One request's prefill scales with the batch (B prompts).
  const ttft = test.kind === 'tg' || !speed.ttftMs ? null : speed.ttftMs.value * b;
  const m = measured?.status === 'ok' ? measured : null;
  return {
    decode_tps: decode,
    prefill_tps: prefill,
    ttft_ms: ttft,
    total_memory_bytes: fit.totalBytes,
    error_pct: {
      decode_tps: errorPct(m?.metrics.decode_tps?.p50, decode),
      prefill_tps: errorPct(m?.metrics.prefill_tps?.p50, prefill),
      ttft_ms: errorPct(m?.metrics.ttft_ms?.p50, ttft),
      total_memory_bytes: errorPct(m?.memory.rss_peak_bytes, fit.totalBytes),
    },
    calibrated: speed.basis.efficiency.source === 'calibrated',
    basis: `${speed.basis.device}; bandwidth ${speed.basis.bandwidthBytesPerSec === null ? 'unknown' : `${(speed.basis.bandwidthBytesPerSec / 1e9).toFixed(1)} GB/s (${speed.basis.bandwidthSource})`}; ${speed.basis.efficiency.note ?? ''}`.trim(),
  };
}

interface GroupContext {
  group: RunGroup;
  entry: ModelEntry;
  info: VariantFileInfo | null;
  infoError: { code: string; message: string } | null;
}

function assembleResult(
  ctx: GroupContext,
  plan: BenchPlan,
  testIndex: number,
  payload: TestPayload | null,
  groupError: { code: string; message: string } | null,
  load: WorkerLoad,
  hw: Hardware,
  efficiencyFor?: BenchRunOptions['efficiencyFor'],
): BenchResult {
  const { group, entry, info } = ctx;
  const test = group.tests[testIndex] as TestSpec;
  const m = payload?.measurement ?? null;
  const error = ctx.infoError ?? groupError ?? payload?.error ?? (m ? null : { code: 'E_RUNTIME', message: 'no result' });
  const sig = info?.signature ?? null;
  const spec = entry.spec;
  const layers = load.kv?.layers ?? sig?.numLayers ?? spec?.numLayers ?? null;
  const rssPeak = m ? maxOrNull(m.rss_peak_bytes, m.rss_peak_kernel_bytes) : null;
  const result: BenchResult = {
    model: {
      id: entry.model.id,
      path: entry.model.path,
      file: entry.model.files[group.variant] ?? null,
      synthetic: info?.metadata.synthetic ?? false,
      architecture: {
        model_type: spec?.modelType ?? (typeof entry.config?.model_type === 'string' ? entry.config.model_type : null),
        layers,
        hidden_size: spec?.hiddenSize ?? null,
        heads: spec?.numHeads ?? null,
        kv_heads: load.kv?.kv_heads ?? sig?.numKvHeads ?? spec?.numKvHeads ?? null,
        head_dim: load.kv?.head_dim ?? sig?.headDim ?? spec?.headDim ?? null,
        vocab_size: load.vocab ?? sig?.vocabSize ?? spec?.vocabSize ?? null,
      },
      files_sha256: info?.sha256 ?? {},
    },
    variant: { name: group.variant, quantization: info ? quantizationFromMetadata(info.metadata, group.variant) : group.variant === 'q4' ? { bits: 4, block_size: null, symmetric: null, accuracy_level: null } : null },
    config: {
      device: group.session.device,
      threads: group.session.threads,
      graph_optimization_level: group.session.graphOptLevel,
      ubatch_size: plan.ubatchSize ?? DEFAULT_UBATCH_SIZE,
      repetitions: plan.repetitions,
      warmup: plan.warmup,
      seed: plan.seed,
    },
    test: {
      ...test,
      prompt_lengths: m?.prompt_lengths ?? (test.kind === 'tg' && test.n_depth === 0 ? new Array<number>(test.batch_size).fill(1) : batchSequenceLengths(test.n_depth > 0 ? test.n_depth : test.n_prompt, test.batch_size)),
      input_ids_sha256: m?.input_ids_sha256 ?? null,
    },
    status: error ? 'error' : 'ok',
    error,
    load: {
      session_create_ms: load.sessionCreateMs,
      first_run: payload?.first_run_e2e_ms != null ? { test_id: test.id, e2e_ms: payload.first_run_e2e_ms } : null,
      warmup_ms: m?.warmup_ms ?? [],
      self_check: load.selfCheck,
      cpu_busy_before: load.cpuBusyBefore,
    },
    metrics: m ? m.metrics : emptyMetrics,
    memory: {
      model_files_bytes: info?.bytes ?? null,
      rss_baseline_bytes: load.rssBaseline,
      rss_after_load_bytes: payload?.rss_after_load_bytes ?? load.rssAfterLoad,
      rss_peak_bytes: rssPeak,
      rss_sample_interval_ms: m ? m.rss_sample_interval_ms : null,
      rss_peak_kernel_bytes: m?.rss_peak_kernel_bytes ?? null,
      gpu: payload?.gpu ?? [],
    },
    kv_cache:
      m && load.kv
        ? {
            layout: load.kvLayout === 'growing' || load.kvLayout === 'direct' ? load.kvLayout : 'preallocated',
            update: load.kvLayout === 'growing' ? 'concatenated' : load.kvLayout === 'preallocated' ? 'in-place' : 'appended',
            dtype: load.kv.dtype,
            layers: load.kv.layers,
            kv_heads: load.kv.kv_heads,
            head_dim: load.kv.head_dim,
            bytes_per_token: m.kv.bytes_per_token,
            tokens_at_end: m.kv.tokens_at_end,
            analytic_bytes: m.kv.analytic_bytes,
            measured_bytes: m.kv.measured_bytes,
            agrees: load.kvLayout === 'growing' ? m.kv.measured_bytes === m.kv.analytic_bytes : null,
          }
        : null,
    estimate: null,
    samples: m ? m.samples : [],
  };
  if (layers !== null) result.estimate = estimateFor(spec, layers, group.variant, test, hw, group.session.device, result, efficiencyFor, info?.metadata.graph ?? 'standard');
  return result;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

interface WorkerLoad {
  sessionCreateMs: number | null;
  rssBaseline: number | null;
  rssAfterLoad: number | null;
  selfCheck: BenchResult['load']['self_check'];
  kv: { dtype: 'float32' | 'float16'; layers: number; kv_heads: number; head_dim: number } | null;
  vocab: number | null;
  kvLayout: KvLayout;
  /** Busy fraction of the CPUs (other processes) sampled before the child started; null: not measured. */
  cpuBusyBefore: number | null;
}

/** Resolves every model and variant up front: missing paths and variants are usage errors (exit 2). */
export async function resolveModels(plan: BenchPlan): Promise<ModelEntry[]> {
  const entries: ModelEntry[] = [];
  for (const ref of plan.models) {
    const model = await openModelFolder(ref);
    const variants = selectVariants(model, plan.variants);
    const { spec, config } = await readModelConfig(model.configPath);
    entries.push({ model, variants, spec, config });
  }
  return entries;
}

/** Intra-op threads beyond this many per logical CPU only oversubscribe the machine. */
export const MAX_THREADS_PER_CPU = 4;

/** Rejects thread counts no machine of this size can use (0 = onnxruntime's default). */
export function assertThreadCounts(threads: readonly number[], cpus: number): void {
  const limit = Math.max(1, cpus) * MAX_THREADS_PER_CPU;
  const bad = threads.find((t) => t > limit);
  if (bad !== undefined) {
    throw new ModelscoutError('E_INPUT', `invalid --threads ${bad}: this machine has ${cpus} logical CPUs, expected 0 (onnxruntime's default) to ${limit}`, {
      suggestions: [`Use --threads ${cpus} or fewer; more threads than CPUs only slow the run down.`],
    });
  }
}

/** Rejects tests that need more positions than the model has (its context, or the graph's position tables). */
export function assertTestsFitContext(file: string, tests: readonly TestSpec[], limits: readonly (number | null)[]): void {
  const known = limits.filter((l): l is number => l !== null && l > 0);
  if (known.length === 0) return;
  const limit = Math.min(...known);
  const tooLong = tests.find((t) => kvTokensAtEnd(t) > limit);
  if (tooLong) {
    throw new ModelscoutError('E_INPUT', `test ${tooLong.id} needs ${kvTokensAtEnd(tooLong)} positions, but ${file} holds at most ${limit}`, {
      suggestions: ['Use shorter prompts, fewer generated tokens or a smaller depth, or a model with a longer context (synth --max-length for fused graphs).'],
    });
  }
}

export async function runBench(options: BenchRunOptions): Promise<BenchReport> {
  const { plan } = options;
  const startedAt = new Date().toISOString();
  assertThreadCounts(plan.threads, availableParallelism());
  for (const d of plan.devices) assertDeviceAvailable(d);
  const entries = await resolveModels(plan);
  const baseline = plan.baseline ? await readReport(plan.baseline, 'baseline') : null;
  const hw = options.hardware ?? (await detectHardware());
  const groups = expandRunMatrix({
    models: entries.map((e) => ({ ref: e.model.ref, variants: e.variants })),
    devices: plan.devices,
    threads: plan.threads,
    graphOptLevel: plan.graphOptLevel,
    tests: plan.tests,
  });
  const rssIntervalMs = options.rssIntervalMs ?? 20;
  const kvLayoutOption = options.kvLayout ?? 'growing';
  const infoCache = new Map<string, { info: VariantFileInfo | null; error: { code: string; message: string } | null }>();
  // Every variant file is read before any measurement, so a test longer than a model's context is a usage
  // error up front (not a child aborted in the middle of the run).
  for (const group of groups) {
    const entry = entries.find((e) => e.model.ref === group.model) as ModelEntry;
    const file = entry.model.files[group.variant] as string;
    if (infoCache.has(file)) continue;
    let cached: { info: VariantFileInfo | null; error: { code: string; message: string } | null };
    try {
      cached = { info: await inspectVariantFile(file, entry.model.lone ? dirname(entry.model.path) : entry.model.path), error: null };
    } catch (error) {
      cached = { info: null, error: isModelscoutError(error) ? { code: error.code, message: error.message } : { code: 'E_MODEL', message: errorMessage(error) } };
    }
    infoCache.set(file, cached);
    assertTestsFitContext(file, group.tests, [entry.spec?.maxContext ?? null, cached.info?.positions ?? null]);
  }
  const results: BenchResult[] = [];
  for (const group of groups) {
    const entry = entries.find((e) => e.model.ref === group.model) as ModelEntry;
    const file = entry.model.files[group.variant] as string;
    let cached = infoCache.get(file)!;
    const graphKind = cached.info?.metadata.graph ?? null;
    // `auto` picks each test's layout (the direct one only for tests that decode deep enough to use it); the
    // tests of one layout share a child process, in the order of the group.
    const testLayouts: KvLayout[] = group.tests.map((t) => (kvLayoutOption === 'auto' ? autoKvLayout(graphKind, group.session.device, deepestDecodeDepth(t)) : kvLayoutOption));
    const layouts = [...new Set(testLayouts)];
    if (!cached.error && layouts.includes('preallocated') && graphKind === 'standard') {
      cached = { info: cached.info, error: { code: 'E_USAGE', message: `the preallocated KV layout needs a fused graph (GroupQueryAttention); ${file} is a standard graph` } };
    }
    const bufferLayout = layouts.find((l) => l === 'appended' || l === 'direct');
    if (!cached.error && bufferLayout && graphKind !== 'fused') {
      cached = { info: cached.info, error: { code: 'E_USAGE', message: `the ${bufferLayout} KV layout needs a modelscout fused graph (modelscout synth --graph fused); ${file} is not one` } };
    }
    const ctx: GroupContext = { group, entry, info: cached.info, infoError: cached.error };
    const label = `${entry.model.id} ${group.variant} ${group.session.device} t${group.session.threads || 'auto'}`;
    const newLoad = (kvLayout: KvLayout): WorkerLoad => ({ sessionCreateMs: null, rssBaseline: null, rssAfterLoad: null, selfCheck: null, kv: null, vocab: null, kvLayout, cpuBusyBefore: null });
    if (cached.error) {
      options.onProgress?.(`[${group.index + 1}/${groups.length}] ${label}: ${cached.error.message}`, 'group');
      for (let i = 0; i < group.tests.length; i += 1) results.push(assembleResult(ctx, plan, i, null, null, newLoad(testLayouts[i] as KvLayout), hw, options.efficiencyFor));
      continue;
    }
    const info = cached.info as VariantFileInfo;
    options.onProgress?.(`[${group.index + 1}/${groups.length}] ${label}${info.metadata.synthetic ? ' (synthetic)' : ''}`, 'group');
    const byTest: { payload: TestPayload | null; fatal: ChildOutcome['fatal']; load: WorkerLoad }[] = [];
    for (const kvLayout of layouts) {
      const indices = group.tests.flatMap((_, i) => (testLayouts[i] === kvLayout ? [i] : []));
      const load = newLoad(kvLayout);
      const job: WorkerJob = {
        modelFile: file,
        session: group.session,
        tests: indices.map((i) => group.tests[i] as TestSpec),
        repetitions: plan.repetitions,
        warmup: plan.warmup,
        seed: plan.seed,
        vocabSize: info.signature.vocabSize ?? entry.spec?.vocabSize ?? null,
        quantized: group.variant === 'q4' || info.metadata.quantization !== null,
        selfCheck: options.selfCheck ?? true,
        rssIntervalMs,
        kvLayout,
        ubatchSize: plan.ubatchSize ?? DEFAULT_UBATCH_SIZE,
      };
      // What else the machine was doing just before (none of this run's work is going on now).
      load.cpuBusyBefore = options.cpuBusy ? await options.cpuBusy() : await measureCpuBusy();
      const outcome = await runGroupInChild(job, {
        onProgress: (m) => options.onProgress?.(`[${group.index + 1}/${groups.length}] ${label}: ${m}`, 'detail'),
        ...(options.passThroughOutput ? { passThroughOutput: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (options.signal?.aborted) throw options.signal.reason;
      if (outcome.load) {
        load.sessionCreateMs = outcome.load.session_create_ms;
        load.rssBaseline = outcome.load.rss_baseline_bytes;
        load.rssAfterLoad = outcome.load.rss_after_load_bytes;
        load.selfCheck = outcome.load.self_check;
        load.kv = outcome.load.kv;
        load.vocab = outcome.load.vocab_size;
      }
      indices.forEach((testIndex, j) => {
        byTest[testIndex] = { payload: outcome.payloads.get(j) ?? null, fatal: outcome.fatal, load };
      });
      if (outcome.fatal) options.onProgress?.(`[${group.index + 1}/${groups.length}] ${label}: ${outcome.fatal.message}`, 'group');
    }
    for (let i = 0; i < group.tests.length; i += 1) {
      const { payload, fatal, load } = byTest[i] as (typeof byTest)[number];
      results.push(assembleResult(ctx, plan, i, payload, payload ? null : fatal, load, hw, options.efficiencyFor));
    }
  }
  const checks = checkThresholds(results, plan.thresholds);
  const thresholdsGiven = plan.thresholds.min_decode_tps !== null || plan.thresholds.max_ttft_ms !== null || plan.thresholds.max_peak_rss_bytes !== null;
  const partial: BenchReport = {
    schema_version: SCHEMA_VERSION,
    tool: options.tool,
    run: {
      started_at: startedAt,
      finished_at: new Date().toISOString(),
      argv: options.argv,
      seed: plan.seed,
      config: {
        models: plan.models,
        variants: plan.variants === undefined ? ['default'] : plan.variants === 'all' ? ['all'] : [...plan.variants],
        devices: plan.devices,
        threads: plan.threads,
        graph_optimization_level: plan.graphOptLevel,
        ubatch_size: plan.ubatchSize ?? DEFAULT_UBATCH_SIZE,
        tests: plan.tests.map((t) => t.id),
        repetitions: plan.repetitions,
        warmup: plan.warmup,
        seed: plan.seed,
        thresholds: plan.thresholds,
        baseline: plan.baseline,
      },
    },
    environment: environmentOf(hw, plan.devices),
    results,
    thresholds: thresholdsGiven ? { checks, passed: checks.every((c) => c.passed) } : null,
    comparison: null,
    outcome: { status: 'pass', exit_code: 0, reasons: [] },
  };
  if (baseline) partial.comparison = compareReports(baseline, partial, {
      thresholdPct: plan.thresholds.max_regression_pct,
      baselinePath: plan.baseline,
      allowMissing: plan.thresholds.allow_missing ?? false,
    });
  partial.outcome = decideOutcome(results, checks, partial.comparison, plan.thresholds.inconclusive_pass);
  return partial;
}
