import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSpec } from '../catalog/model-spec.js';
import { errorMessage, isModelscoutError } from '../errors.js';
import { estimateSpeed, fitMemory, type DeviceTarget, type Efficiency, type WeightFormat } from '../estimate/index.js';
import type { Hardware } from '../hardware/detect.js';
import { ACCELERATORS } from '../hardware/accelerators.js';
import { cpuTarget, gpuTarget } from '../hardware/device.js';
import type { BenchPlan } from '../bench/config.js';
import type { BenchRunOptions } from '../bench/index.js';
import type { TestSpec } from '../bench/scenarios.js';
import { CUDA_INSTALL_HINT, gpuBenchDevice } from '../runtime/session.js';
import { BUSY_THRESHOLD } from '../hardware/cpu-busy.js';
import type { GraphKind } from '../onnx/metadata.js';
import { fusedUnsupported } from '../onnx/fused/synth-graph.js';
import { planSynth } from '../onnx/synth/index.js';
import { computeHardwareNeeded } from '../recommend/recommend.js';
import { inSizeClass } from '../recommend/rank.js';
import type { Requirements } from '../recommend/requirements.js';
import type { Candidate, Recommendation } from '../recommend/types.js';
import type { BenchReport, BenchResult, Environment } from '../report/schema.js';
import {
  addCalibrationSample,
  calibrationKeyFor,
  efficiencyLookup,
  readCalibration,
  sampleFromMeasurement,
  writeCalibration,
  type CalibrationFile,
} from './calibration.js';
import { decideFinal } from './final.js';
import { buildSyntheticModel, probeHub, pullExport, type HubAccess, type HubProbe } from './obtain.js';
import {
  CONFIRM_QUANTIZATION,
  CONFIRM_SEED,
  DEFAULT_THROUGHPUTS,
  MODE_SETTINGS,
  confirmTest,
  floatModelBytes,
  formatOfVariant,
  observeThroughput,
  partialDepthsFor,
  predictBenchSec,
  predictBuildSec,
  variantForFormat,
  type Throughputs,
} from './plan.js';
import {
  COST_YARDSTICK_USD_PER_TOKEN,
  CONFIRM_SCHEMA_VERSION,
  type ConfirmMode,
  type ConfirmReport,
  type ConfirmVariant,
  type ConfirmedCandidate,
  type CostFigure,
  type EstimatedFigures,
  type ExtrapolatedFigure,
  type MeasuredFigures,
  type VariantMeasurement,
} from '../recommend/confirm-report.js';
import { costPerMillionTokens, decideVerdict, extrapolateToDepth } from './verdict.js';

/**
 * `confirmRecommendation`: the recommendation's top candidates measured on this machine. For each one:
 * obtain the model (pull the ONNX export when the Hub answers, else synthesize the exact architecture),
 * quantize it to int4, benchmark the int4 variant with a test derived from the targets — and the float one
 * when it fits — then give a verdict beside the estimate, update the calibration, and name the best
 * confirmed candidate or say what would change the outcome.
 *
 * Time is planned: every step is predicted before it runs (from the estimator, calibrated as the run goes,
 * and the throughputs observed so far) and candidates are taken cheapest first, so the first one measures
 * the machine for the rest. A candidate whose full benchmark does not fit the remaining budget is measured
 * at partial depth (two shallow models of the real architecture, extrapolated to the full depth) or marked
 * "estimate only" with the reason. At least one candidate is always measured when any can be.
 */

export interface ConfirmOptions {
  recommendation: Recommendation;
  requirements: Requirements;
  catalog: ModelSpec[];
  hardware: Hardware;
  mode: ConfirmMode;
  /** How many of the ranked candidates to take (default 3). */
  candidates: number;
  /** Seconds the measurements are planned to fit in (default per mode). */
  budgetSec?: number;
  pricePerHourUsd?: number | null;
  workDir: string;
  calibrationPath: string;
  /** Benchmark threads (default: one per physical core). */
  threads?: number;
  /**
   * Graph form of synthesized models: `auto` (default) builds the fused graph (ONNX Runtime's fused
   * kernels, as onnxruntime-genai exports) where the architecture allows it, else the standard one.
   */
  graph?: 'auto' | GraphKind;
  tool: { name: string; version: string };
  argv: string[];
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
  signal?: AbortSignal;
}

interface Work {
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

export async function confirmRecommendation(options: ConfirmOptions, deps: ConfirmDeps): Promise<ConfirmReport> {
  const started = deps.now();
  const startedAt = deps.timestamp();
  const rec = options.recommendation;
  const mode = MODE_SETTINGS[options.mode];
  const budgetSec = options.budgetSec ?? mode.budgetSec;
  const threads = options.threads ?? options.hardware.cpu.cores;
  const seed = CONFIRM_SEED;
  const say = (line: string): void => deps.onProgress?.(line);
  const elapsedSec = (): number => (deps.now() - started) / 1000;
  const remainingSec = (): number => budgetSec - elapsedSec();

  let calibration: CalibrationFile = await readCalibration(options.calibrationPath);
  // The estimates the recommendation was made with (calibrated by earlier runs, or the defaults): every
  // measurement is compared with these. Budget predictions use the live calibration, updated per run.
  const initialLookup = efficiencyLookup(calibration, options.hardware, threads);
  let liveLookup = initialLookup;
  let samplesAdded = 0;
  let environment: Environment | null = null;
  const throughputs: Throughputs = { ...DEFAULT_THROUGHPUTS };
  const observed = { synth: false, quantize: false };
  let slowdown: number | null = null;

  const pool = rec.candidates.length > 0 ? rec.candidates : (rec.nothingFits?.alternatives ?? []);
  const taken = pool.slice(0, Math.max(1, options.candidates));
  const fromAlternatives = rec.candidates.length === 0 && taken.length > 0;
  const hub = await probeHub(deps.hub, taken.find((c) => c.onnxRepo)?.onnxRepo ?? undefined);
  say(`Hub: ${hub.reason}`);

  const gpuDevice = taken.some((c) => c.device.kind === 'gpu') ? (deps.gpuBenchDevice ?? gpuBenchDevice)() : null;
  const works = taken.map((candidate) => prepareWork(candidate, options, hub, fromAlternatives, gpuDevice));
  // The test the mode derives from the targets (a candidate may deviate: a reduced context, a forced quick run).
  const nominal = confirmTest(rec.targets, mode.genTokens);
  await Promise.all(works.map(async (w) => resolveSynthSupport(w, options.catalog, options.graph ?? 'auto')));

  const buildCost = (w: Work, layers: number): number => (w.out.source.kind === 'pulled' ? 0 : predictBuildSec(w.spec, layers, throughputs, true));
  const benchCost = (w: Work, layers: number, variant: ConfirmVariant): number =>
    predictBenchSec({
      spec: w.spec,
      layers,
      variant,
      test: w.test,
      device: w.device,
      efficiency: liveLookup(w.device, formatOfVariant(variant), measuredGraph(w)),
      repetitions: w.runs.repetitions,
      warmup: w.runs.warmup,
      throughputs,
      slowdown,
    });
  const fullCost = (w: Work): number => buildCost(w, w.spec.numLayers) + benchCost(w, w.spec.numLayers, w.primary);
  const partialCost = (w: Work): number | null => {
    const depths = partialDepthsFor(w.spec.numLayers, mode.partialDepths);
    if (!depths || w.synthUnsupported !== null) return null;
    return depths.reduce((sum, layers) => sum + predictBuildSec(w.spec, layers, throughputs, true) + benchCost(w, layers, w.primary), 0);
  };

  // Pulls first decide the source; a failed pull falls back to synthesis.
  for (const w of works) {
    if (w.unmeasurable !== null || !w.candidate.onnxRepo || !(hub.reachable || hub.cacheOnly) || !deps.hub) continue;
    say(`${label(w)}: pulling ${w.candidate.onnxRepo} (int4)`);
    const t0 = deps.now();
    const pulled = await pullExport(w.candidate.onnxRepo, ['q4'], deps.hub, deps.signal);
    w.out.timings.obtainSec += (deps.now() - t0) / 1000;
    if (pulled.ok) {
      w.out.source = { kind: 'pulled', synthetic: false, repo: w.candidate.onnxRepo, paths: [pulled.result.path], seed: null, reused: pulled.downloadedBytes === 0, reason: `ONNX export ${w.candidate.onnxRepo} (${pulled.result.source})` };
      if (w.primary !== 'q4') {
        w.out.notes.push(`the export is pulled in int4 only: the verdict rests on q4, not the recommended ${w.candidate.format}`);
        w.primary = 'q4';
      }
    } else {
      w.out.notes.push(pulled.reason);
    }
  }
  for (const w of works) {
    if (w.unmeasurable === null && w.out.source.kind !== 'pulled' && w.synthUnsupported !== null) {
      const noExport = w.candidate.onnxRepo ? (hub.reachable || hub.cacheOnly ? `its ONNX export could not be pulled` : `its ONNX export cannot be pulled (${hub.reason.split(':')[0]})`) : 'it has no known ONNX export';
      w.unmeasurable = `${noExport}, and ${w.synthUnsupported.replace(/^cannot synthesize /, 'it cannot be synthesized: ')}`;
    }
  }

  // Phase 1: the variant each verdict rests on, cheapest candidate first.
  const measurable = works.filter((w) => w.unmeasurable === null);
  const order = [...measurable].sort((a, b) => fullCost(a) - fullCost(b) || a.candidate.rank - b.candidate.rank);
  const deferred: Work[] = [];
  for (const w of order) {
    const full = fullCost(w);
    const partial = partialCost(w);
    const left = remainingSec();
    if (full <= left) await measureCandidate(w, 'full');
    else if (partial !== null && partial <= left && w.out.source.kind !== 'pulled') await measureCandidate(w, 'partial');
    else deferred.push(w);
  }
  for (const w of deferred) {
    const anyMeasured = works.some((x) => x.out.measurements.some((m) => m.status === 'ok'));
    const partial = partialCost(w);
    const cheapest = partial !== null && partial < fullCost(w) ? partial : fullCost(w);
    if (!anyMeasured && w === [...deferred].sort((a, b) => a.candidate.rank - b.candidate.rank)[0]) {
      // Over the budget anyway: as few runs and tokens as still give a median (the quick mode's).
      const quick = MODE_SETTINGS.quick;
      w.runs = { repetitions: Math.min(quick.repetitions, w.runs.repetitions), warmup: Math.min(quick.warmup, w.runs.warmup) };
      w.test = confirmTest(rec.targets, Math.min(quick.genTokens, w.test.n_gen), w.candidate.fit === 'reduced-context' ? w.candidate.memory.maxContext : w.spec.maxContext);
      w.out.notes.push(
        `measured over the ${budgetSec} s budget (≈ ${Math.round(cheapest)} s predicted with ${Math.max(0, Math.round(remainingSec()))} s left) so that at least one candidate is measured, with the quick settings (${w.test.id} × ${w.runs.repetitions} + ${w.runs.warmup} warm-up)`,
      );
      await measureCandidate(w, partial !== null && partial < fullCost(w) ? 'partial' : 'full');
    } else {
      w.unmeasurable = `benchmarking it would take ≈ ${Math.round(cheapest)} s (${partial !== null ? 'at partial depth' : 'in full'}), more than the ${Math.max(0, Math.round(remainingSec()))} s left of the ${budgetSec} s budget: raise --budget or use --thorough`;
    }
  }

  // Phase 2: the other variant (float beside int4) of full-depth synthetic models, while time remains.
  for (const w of order) {
    if (w.out.depth.mode !== 'full' || w.out.source.kind !== 'synthetic') continue;
    const other: ConfirmVariant = w.primary === 'q4' ? (w.device.kind === 'gpu' ? 'fp16' : 'fp32') : 'q4';
    if (other === 'fp16') continue; // synthetic fp16 runs only on GPUs; the CPU path benchmarks fp32
    const fits = fitMemory({ spec: w.spec, format: formatOfVariant(other), context: w.test.n_prompt + w.test.n_gen, concurrency: w.test.batch_size, device: w.device }).fits;
    if (!fits) {
      w.out.notes.push(`${other} not benchmarked: it does not fit the memory usable here`);
      continue;
    }
    const floatMissing = other === 'fp32' && !w.out.source.paths.some((p) => existsSync(join(p, 'onnx', 'model.onnx')));
    const cost = (floatMissing ? predictBuildSec(w.spec, w.spec.numLayers, throughputs, false) : 0) + benchCost(w, w.spec.numLayers, other);
    if (cost > remainingSec()) {
      w.out.notes.push(`${other} not benchmarked: ≈ ${Math.round(cost)} s predicted, ${Math.max(0, Math.round(remainingSec()))} s of the budget left`);
      continue;
    }
    await measureVariant(w, other);
  }

  for (const w of works) finishCandidate(w);
  await writeCalibration(options.calibrationPath, calibration);

  const classModels = options.catalog.filter((m) => inSizeClass(m, rec.leaf.sizeClass));
  const hardwareNeeded = rec.hardwareNeeded ?? (classModels.length > 0 ? computeHardwareNeeded(classModels, options.requirements, ACCELERATORS) : null);
  const candidates = works.map((w) => w.out);
  const final = decideFinal({
    candidates,
    targets: rec.targets,
    hardwareNeeded,
    catalog: options.catalog,
    activeParams: Object.fromEntries(works.map((w) => [w.spec.id, w.spec.paramsActive])),
  });
  const estimatesCalibrated: Partial<Record<WeightFormat, boolean>> = {};
  for (const w of works) for (const m of w.out.measurements) estimatesCalibrated[formatOfVariant(m.variant)] = m.estimated.efficiencySource === 'calibrated';

  return {
    schemaVersion: CONFIRM_SCHEMA_VERSION,
    kind: 'modelscout.confirm',
    startedAt,
    finishedAt: deps.timestamp(),
    durationSec: round(elapsedSec(), 1),
    mode: options.mode,
    settings: {
      candidates: taken.length,
      budgetSec,
      budgetNote:
        'Each step is predicted before it runs and candidates are taken cheapest first; a candidate that does not fit the time left is measured at partial depth or marked estimate-only. At least one candidate is measured when any can be.',
      test: { id: nominal.id, promptTokens: nominal.n_prompt, genTokens: nominal.n_gen, batch: nominal.batch_size, repetitions: mode.repetitions, warmup: mode.warmup },
      partialDepths: mode.partialDepths,
      threads,
      seed,
      workDir: options.workDir,
      quantization: { ...CONFIRM_QUANTIZATION },
      pricePerHourUsd: options.pricePerHourUsd ?? null,
      costYardstickUsdPerToken: COST_YARDSTICK_USD_PER_TOKEN,
    },
    hub: { reachable: hub.reachable, endpoint: hub.endpoint, reason: hub.reason },
    calibration: { file: options.calibrationPath, samplesAdded, estimatesCalibrated },
    environment,
    candidates,
    final,
    reportPath: null,
  };

  // ---- steps -------------------------------------------------------------------------------------------

  async function measureCandidate(w: Work, depthMode: 'full' | 'partial'): Promise<void> {
    const layersList = depthMode === 'full' ? [w.spec.numLayers] : (partialDepthsFor(w.spec.numLayers, mode.partialDepths) ?? [w.spec.numLayers]);
    w.out.depth = { mode: depthMode, layersFull: w.spec.numLayers, layersMeasured: layersList };
    if (depthMode === 'partial' && w.primary !== 'q4') {
      w.out.notes.push(`partial-depth models are benchmarked in int4 only: the verdict rests on q4, not the recommended ${w.candidate.format}`);
      w.primary = 'q4';
    }
    if (depthMode === 'partial') {
      w.out.notes.push(
        `too large to benchmark in full within the budget (≈ ${Math.round(fullCost(w))} s predicted): measured at ${layersList.join(' and ')} of ${w.spec.numLayers} layers and extrapolated to the full depth`,
      );
    }
    if (w.out.source.kind !== 'pulled') {
      const ok = await buildAll(w, layersList, depthMode === 'full');
      if (!ok) return;
    }
    await measureVariant(w, w.primary);
  }

  async function buildAll(w: Work, layersList: number[], keepFloat: boolean): Promise<boolean> {
    const paths: string[] = [];
    let reused = true;
    for (const layers of layersList) {
      try {
        const built = await buildSyntheticModel({
          spec: w.spec,
          catalog: options.catalog,
          layers,
          seed,
          workDir: options.workDir,
          needFloat: false,
          keepFloat,
          graph: w.graph,
          fidelity: mode.fidelity,
          threads,
          producerVersion: options.tool.version,
          now: deps.now,
          onProgress: (m) => say(`${label(w)}: ${m}`),
          ...(deps.signal ? { signal: deps.signal } : {}),
        });
        paths.push(built.dir);
        reused &&= !built.synthesized && !built.quantized;
        w.out.timings.obtainSec += built.synthSec;
        w.out.timings.quantizeSec += built.quantizeSec;
        const bytes = floatModelBytes(w.spec, layers);
        if (built.synthesized && built.synthSec > 0) {
          throughputs.synthBytesPerSec = observeThroughput(throughputs.synthBytesPerSec, bytes / built.synthSec, observed.synth);
          observed.synth = true;
        }
        if (built.quantized && built.quantizeSec > 0) {
          throughputs.quantizeBytesPerSec = observeThroughput(throughputs.quantizeBytesPerSec, bytes / built.quantizeSec, observed.quantize);
          observed.quantize = true;
        }
      } catch (error) {
        const message = isModelscoutError(error) ? error.message : errorMessage(error);
        if (isModelscoutError(error) && error.code === 'E_INTERRUPTED') throw error;
        w.out.measurements.push(failedMeasurement(w, w.primary, `building the model failed: ${message}`, layersList));
        say(`${label(w)}: building the model failed: ${message}`);
        return false;
      }
    }
    w.out.source = {
      kind: 'synthetic',
      synthetic: true,
      repo: null,
      paths,
      seed,
      reused,
      reason: `${w.out.source.reason || (w.candidate.onnxRepo ? 'its ONNX export could not be pulled: synthesized' : 'no ONNX export is known: synthesized')}${w.graph === 'fused' ? ' (fused graph: ONNX Runtime\'s fused kernels, as onnxruntime-genai builds it)' : ''}`,
    };
    return true;
  }

  async function measureVariant(w: Work, variant: ConfirmVariant): Promise<void> {
    const paths = [...w.out.source.paths];
    if (variant === 'fp32' && w.out.source.kind === 'synthetic') {
      // The float files of a full-depth model are kept, or rebuilt here when an earlier run dropped them.
      const built = await buildSyntheticModel({
        spec: w.spec,
        catalog: options.catalog,
        layers: w.spec.numLayers,
        seed,
        workDir: options.workDir,
        needFloat: true,
        keepFloat: true,
        graph: w.graph,
        fidelity: false,
        threads,
        producerVersion: options.tool.version,
        now: deps.now,
        onProgress: (m) => say(`${label(w)}: ${m}`),
      });
      w.out.timings.obtainSec += built.synthSec;
    }
    const layersList = w.out.depth.layersMeasured;
    say(`${label(w)}: benchmarking ${variant} ${w.test.id} × ${w.runs.repetitions} (+${w.runs.warmup} warm-up)${layersList.length > 1 ? ` at ${layersList.join(' and ')} layers` : ''}`);
    const t0 = deps.now();
    let report: BenchReport;
    try {
      report = await deps.runBench({
        plan: benchPlan(paths, variant, w),
        // Fused graphs get their fast KV layout (appended on the CPU); standard graphs the growing cache.
        kvLayout: 'auto',
        tool: options.tool,
        argv: options.argv,
        hardware: options.hardware,
        efficiencyFor: (device, format) => initialLookup(device, format, measuredGraph(w)),
        onProgress: (message, level) => {
          if (level === 'group') say(`  ${message}`);
        },
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
    } catch (error) {
      const message = isModelscoutError(error) ? error.message : errorMessage(error);
      if (deps.signal?.aborted) throw error;
      w.out.measurements.push(failedMeasurement(w, variant, message, layersList));
      return;
    }
    const benchSec = (deps.now() - t0) / 1000;
    w.out.timings.benchSec += benchSec;
    environment ??= report.environment;
    // A pulled export may itself be synthetic (its metadata says so): the label follows the files.
    if (report.results.some((r) => r.model.synthetic)) w.out.source.synthetic = true;
    const measurement = summarize(w, variant, report.results, benchSec);
    w.out.measurements.push(measurement);
    const busy = Math.max(...report.results.map((r) => r.load.cpu_busy_before ?? 0));
    if (busy > BUSY_THRESHOLD) {
      w.out.notes.push(`${variant}: other processes used ${Math.round(busy * 100)}% of the CPU time just before this measurement: it understates an idle machine (and is left out of calibration when quieter measurements exist)`);
    }
    if (measurement.status === 'ok') {
      for (const r of report.results) recordCalibration(w, variant, r);
      liveLookup = efficiencyLookup(calibration, options.hardware, threads);
      // What the calibrated estimate still misses (the load right now, process start, session creation):
      // later predictions in this run are scaled by it.
      const previous = slowdown;
      slowdown = 1;
      const ratio = benchSec / Math.max(0.1, layersList.reduce((sum, layers) => sum + benchCost(w, layers, variant), 0));
      slowdown = Math.max(0.5, previous === null ? ratio : (previous + ratio) / 2);
    }
    const m = measurement.measured;
    say(
      `${label(w)}: ${variant}${measurement.extrapolated ? ' (extrapolated)' : ''} decode ${fmt(m.decodeTokPerSecPerStream)} tok/s per stream, TTFT ${fmt(m.ttftMs)} ms → ${measurement.verdict.status}`,
    );
  }

  function benchPlan(paths: string[], variant: ConfirmVariant, w: Work): BenchPlan {
    return {
      models: paths,
      variants: [variant],
      devices: [w.benchDevice],
      threads: [threads],
      graphOptLevel: 'all',
      tests: [w.test],
      repetitions: w.runs.repetitions,
      warmup: w.runs.warmup,
      seed,
      thresholds: { min_decode_tps: null, max_ttft_ms: null, max_peak_rss_bytes: null, max_regression_pct: 10, inconclusive_pass: false },
      baseline: null,
    };
  }

  function recordCalibration(w: Work, variant: ConfirmVariant, r: BenchResult): void {
    if (r.status !== 'ok') return;
    const format = formatOfVariant(variant);
    const layers = r.model.architecture.layers ?? w.spec.numLayers;
    const sample = sampleFromMeasurement({
      spec: w.spec,
      layers,
      format,
      device: w.device,
      promptTokens: r.test.n_prompt,
      batch: r.test.batch_size,
      decodeTokPerSecPerStream: r.metrics.decode_tps ? r.metrics.decode_tps.p50 / r.test.batch_size : null,
      prefillTokPerSec: r.metrics.prefill_tps?.p50 ?? null,
      model: describeRun(w.spec, layers, r.model.synthetic, measuredGraph(w)),
      test: r.test.id,
      measuredAt: deps.timestamp(),
      graph: measuredGraph(w),
      cpuBusyBefore: r.load.cpu_busy_before ?? null,
    });
    if (!sample) return;
    calibration = addCalibrationSample(calibration, calibrationKeyFor(options.hardware, w.device, format, threads), sample);
    samplesAdded += 1;
  }

  function summarize(w: Work, variant: ConfirmVariant, results: BenchResult[], benchSec: number): VariantMeasurement {
    const layersList = w.out.depth.layersMeasured;
    const estimated = estimateFigures(w, variant);
    const failed = results.find((r) => r.status !== 'ok');
    if (failed || results.length === 0) {
      return { ...failedMeasurement(w, variant, failed?.error?.message ?? 'no result', layersList), results, benchSec };
    }
    const B = w.test.batch_size;
    const per = results.map((r) => ({
      layers: r.model.architecture.layers ?? w.spec.numLayers,
      decodeStepMs: r.metrics.decode_tps && r.metrics.decode_tps.p50 > 0 ? (1000 * B) / r.metrics.decode_tps.p50 : null,
      ttftMs: r.metrics.ttft_ms?.p50 ?? null,
      prefill: r.metrics.prefill_tps?.p50 ?? null,
      peak: r.memory.rss_peak_bytes,
    }));
    let measured: MeasuredFigures;
    let extrapolation: VariantMeasurement['extrapolation'] = null;
    const full = w.spec.numLayers;
    if (per.length === 1 && per[0]!.layers === full) {
      const p = per[0]!;
      measured = { decodeTokPerSecPerStream: p.decodeStepMs ? 1000 / p.decodeStepMs : null, ttftMs: p.ttftMs, prefillTokPerSec: p.prefill, peakMemoryBytes: p.peak };
    } else {
      const fit = (pick: (x: (typeof per)[number]) => number | null, estimate: (layers: number) => number): ExtrapolatedFigure | null => {
        const points = per.flatMap((x) => {
          const v = pick(x);
          return v === null ? [] : [{ layers: x.layers, value: v }];
        });
        if (points.length === 0) return null;
        const r = extrapolateToDepth(points, estimate, full);
        return { fixed: r.fixed, perLayer: r.perLayer, full: r.full, points, method: r.method, scale: r.scale };
      };
      const at = estimateAtDepth(w, variant);
      const step = fit((x) => x.decodeStepMs, (layers) => at(layers).decodeStepMs);
      const ttft = fit((x) => x.ttftMs, (layers) => at(layers).ttftMs);
      const peak = fit((x) => x.peak, (layers) => at(layers).memoryBytes);
      measured = {
        decodeTokPerSecPerStream: step ? 1000 / step.full : null,
        ttftMs: ttft ? ttft.full : null,
        prefillTokPerSec: ttft && ttft.full > 0 ? (w.test.n_prompt * B * 1000) / ttft.full : null,
        peakMemoryBytes: peak ? Math.round(peak.full) : null,
      };
      if (step && ttft && peak) extrapolation = { decodeStepMs: step, ttftMs: ttft, peakMemoryBytes: peak };
    }
    const extrapolated = per.length > 1 || per[0]!.layers !== full;
    const verdict = decideVerdict({
      targets: rec.targets,
      measured,
      usableMemoryBytes: w.candidate.memory.usableBytes,
      extrapolated,
    });
    return {
      variant,
      status: 'ok',
      error: null,
      extrapolated,
      layersMeasured: per.map((x) => x.layers),
      layersFull: full,
      measured,
      estimated,
      errorPct: {
        decodeTokPerSecPerStream: errorPct(measured.decodeTokPerSecPerStream, estimated.decodeTokPerSecPerStream),
        ttftMs: errorPct(measured.ttftMs, estimated.ttftMs),
        memoryBytes: errorPct(measured.peakMemoryBytes, estimated.totalMemoryBytes),
      },
      extrapolation,
      verdict,
      results,
      benchSec: round(benchSec, 1),
    };
  }

  /** The estimator's figures for the model cut to `layers` layers: what partial depths are scaled with. */
  function estimateAtDepth(w: Work, variant: ConfirmVariant): (layers: number) => { decodeStepMs: number; ttftMs: number; memoryBytes: number } {
    const format = formatOfVariant(variant);
    const efficiency = initialLookup(w.device, format, measuredGraph(w));
    const B = w.test.batch_size;
    return (layers) => {
      const spec: ModelSpec = { ...w.spec, numLayers: layers };
      const speed = estimateSpeed({ spec, format, context: w.test.n_prompt, promptTokens: w.test.n_prompt, concurrency: B, device: w.device, ...(efficiency ? { efficiency } : {}) });
      const fit = fitMemory({ spec, format, context: w.test.n_prompt + w.test.n_gen, concurrency: B, device: w.device });
      return {
        decodeStepMs: speed.decodeTokPerSec ? 1000 / speed.decodeTokPerSec.value : 0,
        ttftMs: speed.ttftMs ? speed.ttftMs.value * B : 0,
        memoryBytes: fit.totalBytes,
      };
    };
  }

  function estimateFigures(w: Work, variant: ConfirmVariant): EstimatedFigures {
    const format = formatOfVariant(variant);
    const efficiency: Efficiency | undefined = initialLookup(w.device, format, measuredGraph(w));
    const B = w.test.batch_size;
    const speed = estimateSpeed({ spec: w.spec, format, context: w.test.n_prompt, promptTokens: w.test.n_prompt, concurrency: B, device: w.device, ...(efficiency ? { efficiency } : {}) });
    const fit = fitMemory({ spec: w.spec, format, context: w.test.n_prompt + w.test.n_gen, concurrency: B, device: w.device });
    return {
      decodeTokPerSecPerStream: speed.decodeTokPerSec?.value ?? null,
      ttftMs: speed.ttftMs ? speed.ttftMs.value * B : null,
      prefillTokPerSec: speed.prefillTokPerSec?.value ?? null,
      totalMemoryBytes: fit.totalBytes,
      efficiencySource: efficiency?.source === 'calibrated' ? 'calibrated' : 'default',
    };
  }

  function failedMeasurement(w: Work, variant: ConfirmVariant, message: string, layersList: number[]): VariantMeasurement {
    return {
      variant,
      status: 'error',
      error: message,
      extrapolated: layersList.length > 1 || layersList[0] !== w.spec.numLayers,
      layersMeasured: layersList,
      layersFull: w.spec.numLayers,
      measured: { decodeTokPerSecPerStream: null, ttftMs: null, prefillTokPerSec: null, peakMemoryBytes: null },
      estimated: estimateFigures(w, variant),
      errorPct: { decodeTokPerSecPerStream: null, ttftMs: null, memoryBytes: null },
      extrapolation: null,
      verdict: decideVerdict({ targets: rec.targets, measured: null, usableMemoryBytes: w.candidate.memory.usableBytes, extrapolated: false, error: message }),
      results: [],
      benchSec: 0,
    };
  }

  function finishCandidate(w: Work): void {
    const out = w.out;
    if (w.unmeasurable !== null && out.measurements.length === 0) {
      out.verdict = { ...decideVerdict({ targets: rec.targets, measured: null, usableMemoryBytes: w.candidate.memory.usableBytes, extrapolated: false, notMeasuredReason: `estimate only: ${w.unmeasurable}` }), variant: null };
      if (out.depth.mode !== 'none') out.depth = { mode: 'none', layersFull: w.spec.numLayers, layersMeasured: [] };
      return;
    }
    const ok = out.measurements.filter((m) => m.status === 'ok');
    const primary = out.measurements.find((m) => m.variant === w.primary);
    let chosen: VariantMeasurement | undefined = primary?.status === 'ok' ? primary : ok[0];
    if (chosen && chosen.verdict.status !== 'confirmed') {
      const other = ok.find((m) => m !== chosen && m.verdict.status === 'confirmed');
      if (other) {
        out.notes.push(`confirmed as ${other.variant}: the recommended ${w.candidate.format} variant (${chosen.variant}) missed (${chosen.verdict.reasons.join('; ')})`);
        chosen = other;
      }
    }
    if (!chosen) {
      const failed = out.measurements[0];
      out.verdict = { ...(failed?.verdict ?? decideVerdict({ targets: rec.targets, measured: null, usableMemoryBytes: 0, extrapolated: false, error: 'not measured' })), variant: failed?.variant ?? null };
      return;
    }
    out.verdict = { ...chosen.verdict, variant: chosen.variant };
    out.cost = costOf(chosen);
  }

  function costOf(m: VariantMeasurement): CostFigure | null {
    const price = options.pricePerHourUsd;
    if (price === undefined || price === null || m.measured.decodeTokPerSecPerStream === null) return null;
    const total = m.measured.decodeTokPerSecPerStream * (m.results[0]?.test.batch_size ?? 1);
    const perMillion = costPerMillionTokens(price, total);
    if (perMillion === null) return null;
    return {
      pricePerHourUsd: price,
      decodeTokPerSecTotal: total,
      usdPerMillionTokens: perMillion,
      usdPerToken: perMillion / 1e6,
      yardstickUsdPerToken: COST_YARDSTICK_USD_PER_TOKEN,
      belowYardstick: perMillion / 1e6 < COST_YARDSTICK_USD_PER_TOKEN,
    };
  }

  function label(w: Work): string {
    return `[${w.candidate.rank}] ${w.candidate.name}`;
  }
}


/** The per-candidate starting point: device, test, primary variant, and whether it can be measured here. */
function prepareWork(candidate: Candidate, options: ConfirmOptions, hub: HubProbe, fromAlternatives: boolean, gpuDevice: 'cuda' | 'webgpu' | null): Work {
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
function measuredGraph(w: Work): GraphKind {
  return w.out.source.kind === 'pulled' ? 'standard' : w.graph;
}

/** Whether `synth` can build the architecture (it refuses what it cannot reproduce exactly, saying what). */
async function resolveSynthSupport(w: Work, catalog: ModelSpec[], graph: 'auto' | GraphKind): Promise<void> {
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

/** e.g. `qwen2.5-7b (1 of 28 layers, synthetic, fused graph)`: what a calibration sample was measured on. */
function describeRun(spec: ModelSpec, layers: number, synthetic: boolean, graph: GraphKind): string {
  const parts = [...(layers !== spec.numLayers ? [`${layers} of ${spec.numLayers} layers`] : []), ...(synthetic ? ['synthetic'] : []), ...(graph === 'fused' ? ['fused graph'] : [])];
  return parts.length > 0 ? `${spec.id} (${parts.join(', ')})` : spec.id;
}

/** As in the bench report: (estimated − measured) ÷ measured × 100, positive when the estimate was higher. */
function errorPct(measured: number | null, estimated: number | null): number | null {
  if (measured === null || estimated === null || measured === 0) return null;
  return ((estimated - measured) / measured) * 100;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(x: number | null): string {
  if (x === null) return 'n/a';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

