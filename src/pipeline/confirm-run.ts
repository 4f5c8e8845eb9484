/**
 * The state of one confirm run, shared by its parts (src/pipeline/confirm*.ts): the options, the
 * calibration as it grows, the throughputs observed so far, and each candidate's own state (`Work`).
 * Also what every part asks of it: the predicted cost of a step, the graph form a candidate is measured in.
 */
import type { ModelSpec } from '../catalog/model-spec.js';
import { errorMessage, isModelscoutError } from '../errors.js';
import type { DeviceTarget, StatedTopology } from '../estimate/index.js';
import type { EndpointBinding } from './confirm-endpoint.js';
import type { ServeRunner, ServerProbe } from './confirm-endpoint-run.js';
import type { Hardware } from '../hardware/detect.js';
import { cpuTarget, gpuTarget } from '../hardware/device.js';
import type { BenchRunOptions } from '../bench/index.js';
import type { TestSpec } from '../bench/scenarios.js';
import { CUDA_INSTALL_HINT } from '../runtime/session.js';
import type { GraphKind } from '../onnx/metadata.js';
import { fusedUnsupported } from '../onnx/fused/synth-graph.js';
import { planSynth } from '../onnx/synth/index.js';
import type { ConfirmMode, ConfirmVariant, ConfirmedCandidate } from '../recommend/confirm-report.js';
import type { EfficiencyLookup } from '../recommend/rank.js';
import type { Requirements } from '../recommend/requirements.js';
import type { Candidate, Recommendation } from '../recommend/types.js';
import type { BenchReport, Environment } from '../report/schema.js';
import type { CalibrationFile } from './calibration.js';
import { existingBuild, type ExistingBuild, type HubAccess, type HubProbe } from './obtain.js';
import { CONFIRM_SEED, MODE_SETTINGS, confirmTest, formatOfVariant, partialDepthsFor, predictBenchSec, predictBuildSec, variantForFormat, type ModeSettings, type Throughputs } from './plan.js';

export interface ConfirmOptions {
  recommendation: Recommendation;
  requirements: Requirements;
  catalog: ModelSpec[];
  /** Parsed config.json of named models (--model), by model id: synthetic builds take rope_scaling and the like from it. */
  configs?: ReadonlyMap<string, Record<string, unknown>>;
  hardware: Hardware;
  mode: ConfirmMode;
  /** How many of the ranked candidates to take (default 3). */
  candidates: number;
  /** Seconds the measurements are planned to fit in (default per mode). */
  budgetSec?: number;
  pricePerHourUsd?: number | null;
  workDir: string;
  calibrationPath: string;
  /** The calibration as the caller read it (for the recommendation's estimates); read from the path when absent. */
  calibration?: CalibrationFile;
  /** Benchmark threads (default: one per physical core). */
  threads?: number;
  /**
   * Graph form of synthesized models: `auto` (default) builds the fused graph (ONNX Runtime's fused
   * kernels, as onnxruntime-genai exports) where the architecture allows it, else the standard one.
   */
  graph?: 'auto' | GraphKind;
  tool: { name: string; version: string };
  argv: string[];
  /** Servers of candidates (`--base-url [id=]URL`): a bound candidate is measured on its deployment, not here. */
  endpoints?: EndpointBinding[];
  /** The layout the deployments run (`--topology`): its estimate is shown beside what they measured. */
  statedTopology?: StatedTopology | null;
  /** Bearer key of the deployments (OPENAI_API_KEY); never written to the report. */
  apiKey?: string | null;
}

export type BenchRunner = (options: BenchRunOptions) => Promise<BenchReport>;

export interface ConfirmDeps {
  /** Milliseconds of a monotonic clock. */
  now: () => number;
  /** The wall-clock time, RFC 3339. */
  timestamp: () => string;
  /** Hub access for pulls; null: never pull (synthesize everything). */
  hub: HubAccess | null;
  runBench: BenchRunner;
  /** The execution provider GPU candidates are benchmarked with (default: CUDA when installed, else WebGPU). */
  gpuBenchDevice?: () => 'cuda' | 'webgpu' | null;
  onProgress?: (line: string) => void;
  /** Each planned step (pull, build, benchmark) as it starts and ends, with its predicted seconds. */
  onStep?: (event: ConfirmStepEvent) => void;
  signal?: AbortSignal;
  /** The serving benchmark a deployment is measured with (default: serve-bench's core). */
  runServe?: ServeRunner;
  /** Asks a deployment for the layout it runs (--base-url); the real probe when absent. */
  probeServer?: ServerProbe;
}

export interface Work {
  candidate: Candidate;
  spec: ModelSpec;
  device: DeviceTarget;
  benchDevice: 'cpu' | 'cuda' | 'webgpu';
  primary: ConfirmVariant;
  test: TestSpec;
  /** Timed runs and warm-ups (the mode's; the quick mode's for a measurement forced over the budget). */
  runs: { repetitions: number; warmup: number };
  /** Why it cannot be measured at all (then it is "estimate only"). */
  unmeasurable: string | null;
  synthUnsupported: string | null;
  /** The graph form a synthesized model of it is built in. */
  graph: GraphKind;
  out: ConfirmedCandidate;
}

/**
 * A step of the run, as it starts and as it ends. `total` is the steps planned so far: it grows when a
 * candidate is measured at partial depth (two models) or the budget leaves room for a second variant, and
 * shrinks when a candidate turns out not to fit the budget (it stays an estimate).
 */
export interface ConfirmStepEvent {
  stage: 'start' | 'end';
  /** 1-based. */
  index: number;
  total: number;
  kind: 'pull' | 'build' | 'bench';
  /** The candidate's model name. */
  candidate: string;
  /** What the step does, e.g. `building SmolLM2-135M at 2 of 30 layers`. */
  description: string;
  /** Seconds the plan predicts (null: no prediction, e.g. a download). */
  predictedSec: number | null;
  /** Seconds since the step started (0 at the start). */
  elapsedSec: number;
}

/** The run-wide state: fixed settings first, then what the run learns as it goes. */
export interface ConfirmRun {
  readonly options: ConfirmOptions;
  readonly deps: ConfirmDeps;
  /** RFC 3339 time the run started. */
  readonly startedAt: string;
  readonly rec: Recommendation;
  readonly mode: ModeSettings;
  readonly budgetSec: number;
  readonly threads: number;
  readonly seed: number;
  /** The estimates the recommendation was made with: every measurement is compared with these. */
  readonly initialLookup: EfficiencyLookup;
  /** Budget predictions use the live calibration, updated after every measurement. */
  liveLookup: EfficiencyLookup;
  calibration: CalibrationFile;
  samplesAdded: number;
  environment: Environment | null;
  readonly throughputs: Throughputs;
  readonly observed: { synth: boolean; quantize: boolean };
  /** How much slower than predicted the benchmarks ran so far (null before the first). */
  slowdown: number | null;
  /** Steps started so far, and planned in all (see `ConfirmStepEvent`). */
  readonly steps: { index: number; planned: number };
  say(line: string): void;
  elapsedSec(): number;
  remainingSec(): number;
}

/** Runs `work` as the next step: a start event before it, an end event after it (also when it throws). */
export async function runStep<T>(run: ConfirmRun, step: Pick<ConfirmStepEvent, 'kind' | 'candidate' | 'description' | 'predictedSec'>, work: () => Promise<T>): Promise<T> {
  run.steps.index += 1;
  run.steps.planned = Math.max(run.steps.planned, run.steps.index);
  const index = run.steps.index;
  const t0 = run.deps.now();
  run.deps.onStep?.({ stage: 'start', index, total: run.steps.planned, ...step, elapsedSec: 0 });
  try {
    return await work();
  } finally {
    run.deps.onStep?.({ stage: 'end', index, total: run.steps.planned, ...step, elapsedSec: (run.deps.now() - t0) / 1000 });
  }
}

/** Steps added to (or, negative, taken from) the plan; never fewer than those already started. */
export function planSteps(run: ConfirmRun, count: number): void {
  run.steps.planned = Math.max(run.steps.index, run.steps.planned + count);
}

export function buildCost(run: ConfirmRun, w: Work, layers: number): number {
  return w.out.source.kind === 'pulled' ? 0 : predictBuildSec(w.spec, layers, run.throughputs, true, builtAlready(run, w, layers));
}

/** What the work dir already holds of `w` synthesized at `layers` layers (an earlier run's build is reused). */
export function builtAlready(run: ConfirmRun, w: Work, layers: number): ExistingBuild {
  return existingBuild({ workDir: run.options.workDir, spec: w.spec, seed: run.seed, layers, graph: w.graph, config: run.options.configs?.get(w.spec.id) ?? null });
}

export function benchCost(run: ConfirmRun, w: Work, layers: number, variant: ConfirmVariant): number {
  return predictBenchSec({
    spec: w.spec,
    layers,
    variant,
    test: w.test,
    device: w.device,
    efficiency: run.liveLookup(w.device, formatOfVariant(variant), measuredGraph(w)),
    repetitions: w.runs.repetitions,
    warmup: w.runs.warmup,
    throughputs: run.throughputs,
    slowdown: run.slowdown,
  });
}

export function fullCost(run: ConfirmRun, w: Work): number {
  return buildCost(run, w, w.spec.numLayers) + benchCost(run, w, w.spec.numLayers, w.primary);
}

export function partialCost(run: ConfirmRun, w: Work): number | null {
  const depths = partialDepthsFor(w.spec.numLayers, run.mode.partialDepths);
  if (!depths || w.synthUnsupported !== null) return null;
  return depths.reduce((sum, layers) => sum + buildCost(run, w, layers) + benchCost(run, w, layers, w.primary), 0);
}

export function label(w: Work): string {
  return `[${w.candidate.rank}] ${w.candidate.name}`;
}

/** The per-candidate starting point: device, test, primary variant, and whether it can be measured here. */
export function prepareWork(candidate: Candidate, options: ConfirmOptions, hub: HubProbe, fromAlternatives: boolean, gpuDevice: 'cuda' | 'webgpu' | null): Work {
  const spec = options.catalog.find((m) => m.id === candidate.id);
  const device = candidate.device.kind === 'gpu' ? (gpuTarget(options.hardware) ?? cpuTarget(options.hardware)) : cpuTarget(options.hardware);
  const mode = MODE_SETTINGS[options.mode];
  const test = confirmTest(options.recommendation.targets, mode.genTokens, candidate.fit === 'reduced-context' ? candidate.memory.maxContext : spec?.maxContext);
  let unmeasurable: string | null = spec ? null : `${candidate.id} is not in the catalog in use`;
  if (candidate.device.kind === 'gpu') {
    const real = options.hardware.gpus.filter((g) => g.source === 'nvidia-smi');
    if (real.length === 0) unmeasurable = 'it is recommended for a what-if GPU (--gpu / --vram), and there is none here to measure it on';
    else if (gpuDevice === null) unmeasurable = `this onnxruntime-node build has no GPU execution provider (install CUDA's: ${CUDA_INSTALL_HINT})`;
  }
  const notes: string[] = [];
  if (candidate.device.kind === 'gpu' && unmeasurable === null && gpuDevice === 'webgpu') {
    notes.push(`measured with WebGPU: the CUDA execution provider is not installed (${CUDA_INSTALL_HINT}); CUDA is usually faster`);
  }
  if (candidate.engine === 'llama.cpp') {
    notes.push(`a GGUF file (${candidate.variant ?? 'llama.cpp'}, runs in llama.cpp): measured here is its architecture, synthesized with random weights as an ONNX int4 model in ONNX Runtime; the file's own speed in llama.cpp may differ (time it with llama-bench)`);
  }
  if (fromAlternatives) notes.push(`nothing of the ${options.recommendation.leaf.sizeClass.label} class fits here: this is one of the best alternatives below it`);
  if (candidate.format === 'int8') notes.push('int8 weights are measured as int4 (q4): modelscout quantizes to int4 only');
  if (candidate.fit === 'reduced-context') notes.push(`fits only at a reduced context: measured with a ${test.n_prompt}-token prompt`);
  const out: ConfirmedCandidate = {
    rank: candidate.rank,
    id: candidate.id,
    name: candidate.name,
    device: candidate.device,
    format: candidate.format,
    source: { kind: 'none', synthetic: false, repo: null, paths: [], seed: null, reused: false, reason: hub.reachable || hub.cacheOnly ? '' : hub.reason },
    depth: { mode: 'none', layersFull: spec?.numLayers ?? 0, layersMeasured: [] },
    measurements: [],
    verdict: { status: 'estimate-only', checks: [], reasons: [], extrapolated: false, variant: null },
    cost: null,
    timings: { obtainSec: 0, quantizeSec: 0, benchSec: 0 },
    notes,
  };
  return {
    candidate,
    spec: spec ?? ({} as ModelSpec),
    device,
    benchDevice: candidate.device.kind === 'gpu' ? (gpuDevice ?? 'cuda') : 'cpu',
    primary: variantForFormat(candidate.format, candidate.device.kind),
    test,
    runs: { repetitions: mode.repetitions, warmup: mode.warmup },
    unmeasurable,
    synthUnsupported: null,
    graph: 'standard',
    out,
  };
}

/** The graph form a candidate is (or would be) measured in: a pulled export as it is (standard), else what synth builds. */
export function measuredGraph(w: Work): GraphKind {
  return w.out.source.kind === 'pulled' ? 'standard' : w.graph;
}

/** Whether `synth` can build the architecture (it refuses what it cannot reproduce exactly, saying what). */
export async function resolveSynthSupport(w: Work, catalog: ModelSpec[], graph: 'auto' | GraphKind): Promise<void> {
  if (w.unmeasurable !== null) return;
  try {
    await planSynth({ source: w.spec.id, seed: CONFIRM_SEED, catalog });
  } catch (error) {
    w.synthUnsupported = isModelscoutError(error) ? error.message : errorMessage(error);
    return;
  }
  if (graph === 'standard') return;
  // Not every architecture has a fused form (GroupQueryAttention needs a head dim that is a multiple of 16, …).
  const unsupported = fusedUnsupported(w.spec);
  if (unsupported === null) w.graph = 'fused';
  else if (graph === 'fused') w.out.notes.push(`synthesized as a standard graph: ${unsupported}`);
}
