import type { ModelSpec } from '../catalog/model-spec.js';
import { estimateSpeed, weightBytes, type DeviceTarget, type Efficiency, type WeightFormat } from '../estimate/index.js';
import { parseTestId, type TestSpec } from '../bench/scenarios.js';
import type { Targets } from '../recommend/requirements.js';
import type { ConfirmMode, ConfirmVariant } from '../recommend/confirm-report.js';

/**
 * How `--confirm` measures, per mode. The test is one realistic request shape (`pp<P>+tg<G>/b<B>`): the
 * prompt fills the context asked for, the batch is the concurrency, and G tokens are generated after it.
 * - quick: the fewest runs that still give a median (2 timed + 1 warm-up), 16 generated tokens;
 * - standard (default): 3 timed runs, 32 generated tokens (31 decode steps per run, 93 per median);
 * - thorough: 5 timed runs, 128 tokens (llama-bench's tg128), deeper partial models, a fidelity check.
 * The budget is the time the measurements are planned to fit in; every step is predicted before it runs.
 */
export interface ModeSettings {
  repetitions: number;
  warmup: number;
  genTokens: number;
  budgetSec: number;
  /** Layers of the two partial-depth models (shallow, deep). */
  partialDepths: [number, number];
  /** Run the quantizer's logit fidelity check (costs two extra forward passes per model). */
  fidelity: boolean;
}

export const MODE_SETTINGS: Record<ConfirmMode, ModeSettings> = {
  quick: { repetitions: 2, warmup: 1, genTokens: 16, budgetSec: 90, partialDepths: [1, 2], fidelity: false },
  standard: { repetitions: 3, warmup: 1, genTokens: 32, budgetSec: 180, partialDepths: [1, 2], fidelity: false },
  thorough: { repetitions: 5, warmup: 1, genTokens: 128, budgetSec: 1800, partialDepths: [2, 4], fidelity: true },
};

/**
 * The context `--confirm` uses when none is given: every prompt is run for real, and on a CPU a prompt of
 * the tree's 2048 tokens takes tens of seconds per run on a small model, so the default is a modest one.
 */
export const CONFIRM_DEFAULT_CONTEXT = 512;

/** Seed of the synthetic weights and the prompt ids. */
export const CONFIRM_SEED = 42;

/** int4 settings: block 128, symmetric, accuracy level 4 (int8 compute on CPU), modelscout quantize's defaults. */
export const CONFIRM_QUANTIZATION = { bits: 4, blockSize: 128, symmetric: true, accuracyLevel: 4 } as const;

/**
 * The benchmark test for a candidate: prompt = the context (less the generated tokens when the candidate
 * only fits at a reduced context), batch = the concurrency. The prompt is at least 1 token.
 */
export function confirmTest(targets: Pick<Targets, 'contextTokens' | 'concurrency'>, genTokens: number, maxContext?: number): TestSpec {
  const gen = Math.max(2, genTokens);
  const limit = maxContext === undefined ? Infinity : maxContext - gen;
  const prompt = Math.max(1, Math.min(targets.contextTokens, limit));
  return parseTestId(`pp${prompt}+tg${gen}${targets.concurrency > 1 ? `/b${targets.concurrency}` : ''}`);
}

/** The variant a weight format is measured as: int4 formats as q4, float ones as fp32 (CPU) or fp16 (GPU). */
export function variantForFormat(format: WeightFormat, device: 'cpu' | 'gpu'): ConfirmVariant {
  if (format === 'q4' || format === 'q4f16' || format === 'int8') return 'q4';
  return device === 'gpu' ? 'fp16' : 'fp32';
}

/** The estimator's weight format of a benchmark variant. */
export function formatOfVariant(variant: ConfirmVariant): WeightFormat {
  return variant;
}

/** The two partial depths for a model of `layersFull` layers, or null when it is too shallow to need them. */
export function partialDepthsFor(layersFull: number, depths: [number, number]): [number, number] | null {
  if (layersFull <= depths[1]) return null;
  return depths;
}

/**
 * Throughputs the plan predicts with: stated starting points, replaced by what this run observes (the
 * first, cheapest candidate measures them for the rest).
 */
export interface Throughputs {
  /** fp32 bytes written per second by the synthetic-model builder. */
  synthBytesPerSec: number;
  /** fp32 bytes read per second by the quantizer. */
  quantizeBytesPerSec: number;
  /** Model bytes loaded per second when a session is created. */
  loadBytesPerSec: number;
  /** Seconds to start a benchmark process and run its self-check. */
  processSec: number;
}

/** Conservative for a shared 2-core machine; observed figures replace them as soon as there are any. */
export const DEFAULT_THROUGHPUTS: Throughputs = { synthBytesPerSec: 80e6, quantizeBytesPerSec: 40e6, loadBytesPerSec: 300e6, processSec: 3 };

/**
 * Default efficiencies are guesses about a runtime (wide error band); until the run has calibrated itself
 * the plan assumes a benchmark takes this many times the estimate.
 */
export const UNCALIBRATED_PESSIMISM = 4;

/** fp32 bytes of a model at `layers` layers: what `synth` writes and `quantize` reads. */
export function floatModelBytes(spec: ModelSpec, layers: number): number {
  return weightBytes({ ...spec, numLayers: layers }, 'fp32').totalBytes;
}

/** Bytes of the benchmarked variant's files at `layers` layers. */
export function variantModelBytes(spec: ModelSpec, layers: number, variant: ConfirmVariant): number {
  return weightBytes({ ...spec, numLayers: layers }, formatOfVariant(variant)).totalBytes;
}

/**
 * Predicted seconds of one benchmark of one variant at `layers` layers: process start and self-check, the
 * session load, then warm-up + timed runs of (batched prefill + G − 1 decode steps), from the estimator
 * with `efficiency` (× `UNCALIBRATED_PESSIMISM` when it is a default).
 */
export function predictBenchSec(input: {
  spec: ModelSpec;
  layers: number;
  variant: ConfirmVariant;
  test: TestSpec;
  device: DeviceTarget;
  efficiency: Efficiency | undefined;
  repetitions: number;
  warmup: number;
  throughputs: Throughputs;
  /**
   * Measured ÷ predicted time of the benchmarks so far in this run (the machine's load, what the estimator
   * leaves out); null before the first one, when an uncalibrated estimate counts `UNCALIBRATED_PESSIMISM`
   * times over and a calibrated one 1.2 times.
   */
  slowdown: number | null;
}): number {
  const { test } = input;
  const spec: ModelSpec = { ...input.spec, numLayers: input.layers };
  const format = formatOfVariant(input.variant);
  const speed = estimateSpeed({
    spec,
    format,
    context: test.n_prompt,
    promptTokens: test.n_prompt,
    concurrency: test.batch_size,
    device: input.device,
    ...(input.efficiency ? { efficiency: input.efficiency } : {}),
  });
  const prefillSec = ((speed.ttftMs?.value ?? 60_000) / 1000) * test.batch_size;
  const decodeTotal = speed.decodeTokPerSecTotal?.value ?? 0.5;
  const decodeSec = (Math.max(1, test.n_gen - 1) * test.batch_size) / decodeTotal;
  const runs = input.warmup + input.repetitions;
  const pessimism = input.slowdown ?? (input.efficiency?.source === 'calibrated' ? 1.2 : UNCALIBRATED_PESSIMISM);
  const loadSec = variantModelBytes(input.spec, input.layers, input.variant) / input.throughputs.loadBytesPerSec;
  return input.throughputs.processSec + loadSec + runs * (prefillSec + decodeSec) * pessimism;
}

/**
 * Predicted seconds to build a synthetic model at `layers` layers and, with `quantize`, its int4 files;
 * `have` is what the work dir already holds of it (a step it holds costs nothing).
 */
export function predictBuildSec(spec: ModelSpec, layers: number, throughputs: Throughputs, quantize: boolean, have: { float: boolean; q4: boolean } = { float: false, q4: false }): number {
  const bytes = floatModelBytes(spec, layers);
  const synth = have.float || (quantize && have.q4) ? 0 : bytes / throughputs.synthBytesPerSec;
  return synth + (quantize && !have.q4 ? bytes / throughputs.quantizeBytesPerSec : 0);
}

/** Running observation of a throughput: the latest figure weighs as much as all before it. */
export function observeThroughput(previous: number, observed: number, seenBefore: boolean): number {
  if (!(observed > 0) || !Number.isFinite(observed)) return previous;
  return seenBefore ? (previous + observed) / 2 : observed;
}
