/**
 * Measuring one candidate: build its model(s) (synthesized, at full or partial depth), benchmark a variant,
 * turn the results into a measurement with its verdict, and add them to the calibration.
 */
import { errorMessage, isModelscoutError } from '../errors.js';
import { resolveBenchPlan, type BenchPlan } from '../bench/config.js';
import { BUSY_THRESHOLD } from '../hardware/cpu-busy.js';
import type { ConfirmVariant } from '../recommend/confirm-report.js';
import type { BenchReport, BenchResult } from '../report/schema.js';
import { addCalibrationSample, calibrationKeyFor, efficiencyLookup, sampleFromMeasurement } from './calibration.js';
import { benchCost, builtAlready, fullCost, label, measuredGraph, planSteps, runStep, type ConfirmRun, type Work } from './confirm-run.js';
import { describeRun, failedMeasurement, fmt, summarizeVariant } from './confirm-figures.js';
import { buildSyntheticModel } from './obtain.js';
import { floatModelBytes, formatOfVariant, observeThroughput, partialDepthsFor, predictBuildSec } from './plan.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export async function measureCandidate(run: ConfirmRun, w: Work, depthMode: 'full' | 'partial'): Promise<void> {
  const layersList = depthMode === 'full' ? [w.spec.numLayers] : (partialDepthsFor(w.spec.numLayers, run.mode.partialDepths) ?? [w.spec.numLayers]);
  w.out.depth = { mode: depthMode, layersFull: w.spec.numLayers, layersMeasured: layersList };
  if (depthMode === 'partial' && w.primary !== 'q4') {
    w.out.notes.push(`partial-depth models are benchmarked in int4 only: the verdict rests on q4, not the recommended ${w.candidate.format}`);
    w.primary = 'q4';
  }
  if (depthMode === 'partial') {
    w.out.notes.push(
      `too large to benchmark in full within the budget (≈ ${Math.round(fullCost(run, w))} s predicted): measured at ${layersList.join(' and ')} of ${w.spec.numLayers} layers and extrapolated to the full depth`,
    );
  }
  if (w.out.source.kind !== 'pulled') {
    // Two partial-depth models are two builds where the plan counted one.
    planSteps(run, layersList.length - 1);
    const ok = await buildAll(run, w, layersList, depthMode === 'full');
    if (!ok) return;
  }
  await measureVariant(run, w, w.primary);
}

async function buildAll(run: ConfirmRun, w: Work, layersList: number[], keepFloat: boolean): Promise<boolean> {
  const paths: string[] = [];
  let reused = true;
  for (const [i, layers] of layersList.entries()) {
    try {
      const depth = layers < w.spec.numLayers ? ` at ${layers} of ${w.spec.numLayers} layers` : '';
      const have = builtAlready(run, w, layers);
      // A model an earlier run built is reused: the step says so and predicts nothing.
      const step = have.q4
        ? { description: `reusing ${w.candidate.name}${depth}, built by an earlier run`, predictedSec: null }
        : { description: `building ${w.candidate.name}${depth}`, predictedSec: predictBuildSec(w.spec, layers, run.throughputs, true, have) };
      const built = await runStep(run, { kind: 'build', candidate: w.candidate.name, ...step }, () => buildSyntheticModel({
        spec: w.spec,
        catalog: run.options.catalog,
        config: run.options.configs?.get(w.spec.id) ?? null,
        layers,
        seed: run.seed,
        workDir: run.options.workDir,
        needFloat: false,
        keepFloat,
        graph: w.graph,
        fidelity: run.mode.fidelity,
        threads: run.threads,
        producerVersion: run.options.tool.version,
        now: run.deps.now,
        onProgress: (m) => run.say(`${label(w)}: ${m}`),
        ...(run.deps.signal ? { signal: run.deps.signal } : {}),
      }));
      paths.push(built.dir);
      reused &&= !built.synthesized && !built.quantized;
      w.out.timings.obtainSec += built.synthSec;
      w.out.timings.quantizeSec += built.quantizeSec;
      const bytes = floatModelBytes(w.spec, layers);
      if (built.synthesized && built.synthSec > 0) {
        run.throughputs.synthBytesPerSec = observeThroughput(run.throughputs.synthBytesPerSec, bytes / built.synthSec, run.observed.synth);
        run.observed.synth = true;
      }
      if (built.quantized && built.quantizeSec > 0) {
        run.throughputs.quantizeBytesPerSec = observeThroughput(run.throughputs.quantizeBytesPerSec, bytes / built.quantizeSec, run.observed.quantize);
        run.observed.quantize = true;
      }
    } catch (error) {
      const message = isModelscoutError(error) ? error.message : errorMessage(error);
      if (isModelscoutError(error) && error.code === 'E_INTERRUPTED') throw error;
      w.out.measurements.push(failedMeasurement(run, w, w.primary, `building the model failed: ${message}`, layersList));
      run.say(`${label(w)}: building the model failed: ${message}`);
      // The builds after this one and the benchmark are off the plan.
      planSteps(run, -(layersList.length - i - 1) - 1);
      return false;
    }
  }
  w.out.source = {
    kind: 'synthetic',
    synthetic: true,
    repo: null,
    paths,
    seed: run.seed,
    reused,
    reason: `${w.out.source.reason || (w.candidate.onnxRepo ? 'its ONNX export could not be pulled: synthesized' : 'no ONNX export is known: synthesized')}${w.graph === 'fused' ? ' (fused graph: ONNX Runtime\'s fused kernels, as onnxruntime-genai builds it)' : ''}`,
  };
  return true;
}

export async function measureVariant(run: ConfirmRun, w: Work, variant: ConfirmVariant): Promise<void> {
  const paths = [...w.out.source.paths];
  if (variant === 'fp32' && w.out.source.kind === 'synthetic') {
    // The float files of a full-depth model are kept, or rebuilt here when an earlier run dropped them (a step of its own).
    const floatMissing = !w.out.source.paths.some((p) => existsSync(join(p, 'onnx', 'model.onnx')));
    const build = () => buildSyntheticModel({
      spec: w.spec,
      catalog: run.options.catalog,
      config: run.options.configs?.get(w.spec.id) ?? null,
      layers: w.spec.numLayers,
      seed: run.seed,
      workDir: run.options.workDir,
      needFloat: true,
      keepFloat: true,
      graph: w.graph,
      fidelity: false,
      threads: run.threads,
      producerVersion: run.options.tool.version,
      now: run.deps.now,
      onProgress: (m) => run.say(`${label(w)}: ${m}`),
    });
    const built = floatMissing
      ? await runStep(run, { kind: 'build', candidate: w.candidate.name, description: `building ${w.candidate.name} (fp32)`, predictedSec: predictBuildSec(w.spec, w.spec.numLayers, run.throughputs, false) }, build)
      : await build();
    w.out.timings.obtainSec += built.synthSec;
  }
  const layersList = w.out.depth.layersMeasured;
  run.say(`${label(w)}: benchmarking ${variant} ${w.test.id} × ${w.runs.repetitions} (+${w.runs.warmup} warm-up)${layersList.length > 1 ? ` at ${layersList.join(' and ')} layers` : ''}`);
  const t0 = run.deps.now();
  const predictedSec = layersList.reduce((sum, layers) => sum + benchCost(run, w, layers, variant), 0);
  const what = `benchmarking ${w.candidate.name} ${variant} ${w.test.id}${layersList.length > 1 ? ` at ${layersList.join(' and ')} layers` : ''}`;
  let report: BenchReport;
  try {
    report = await runStep(run, { kind: 'bench', candidate: w.candidate.name, description: what, predictedSec }, () => run.deps.runBench({
      plan: benchPlan(run, paths, variant, w),
      // Fused graphs get their fast KV layout (direct on the CPU); standard graphs the growing cache.
      kvLayout: 'auto',
      tool: run.options.tool,
      argv: run.options.argv,
      hardware: run.options.hardware,
      efficiencyFor: (device, format) => run.initialLookup(device, format, measuredGraph(w)),
      onProgress: (message, level) => {
        if (level === 'group') run.say(`  ${message}`);
      },
      ...(run.deps.signal ? { signal: run.deps.signal } : {}),
    }));
  } catch (error) {
    const message = isModelscoutError(error) ? error.message : errorMessage(error);
    if (run.deps.signal?.aborted) throw error;
    w.out.measurements.push(failedMeasurement(run, w, variant, message, layersList));
    return;
  }
  const benchSec = (run.deps.now() - t0) / 1000;
  w.out.timings.benchSec += benchSec;
  run.environment ??= report.environment;
  // A pulled export may itself be synthetic (its metadata says so): the label follows the files.
  if (report.results.some((r) => r.model.synthetic)) w.out.source.synthetic = true;
  const measurement = summarizeVariant(run, w, variant, report.results, benchSec);
  w.out.measurements.push(measurement);
  const busy = Math.max(...report.results.map((r) => r.load.cpu_busy_before ?? 0));
  if (busy > BUSY_THRESHOLD) {
    w.out.notes.push(`${variant}: other processes used ${Math.round(busy * 100)}% of the CPU time just before this measurement: it understates an idle machine (and is left out of calibration when quieter measurements exist)`);
  }
  if (measurement.status === 'ok') {
    for (const r of report.results) recordCalibration(run, w, variant, r);
    run.liveLookup = efficiencyLookup(run.calibration, run.options.hardware, run.threads);
    // What the calibrated estimate still misses (the load right now, process start, session creation):
    // later predictions in this run are scaled by it.
    const previous = run.slowdown;
    run.slowdown = 1;
    const ratio = benchSec / Math.max(0.1, layersList.reduce((sum, layers) => sum + benchCost(run, w, layers, variant), 0));
    run.slowdown = Math.max(0.5, previous === null ? ratio : (previous + ratio) / 2);
  }
  const m = measurement.measured;
  run.say(
    `${label(w)}: ${variant}${measurement.extrapolated ? ' (extrapolated)' : ''} decode ${fmt(m.decodeTokPerSecPerStream)} tok/s per stream, TTFT ${fmt(m.ttftMs)} ms → ${measurement.verdict.status}`,
  );
}

/** The bench plan of one variant's run: the bench defaults, with confirm's models, device, threads, test and runs. */
function benchPlan(run: ConfirmRun, paths: string[], variant: ConfirmVariant, w: Work): BenchPlan {
  const plan = resolveBenchPlan({}, {
    models: paths,
    variants: [variant],
    devices: [w.benchDevice],
    threads: [run.threads],
    repetitions: w.runs.repetitions,
    warmup: w.runs.warmup,
    seed: run.seed,
  });
  return { ...plan, tests: [w.test] };
}

function recordCalibration(run: ConfirmRun, w: Work, variant: ConfirmVariant, r: BenchResult): void {
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
    measuredAt: run.deps.timestamp(),
    graph: measuredGraph(w),
    cpuBusyBefore: r.load.cpu_busy_before ?? null,
  });
  if (!sample) return;
  run.calibration = addCalibrationSample(run.calibration, calibrationKeyFor(run.options.hardware, w.device, format, run.threads), sample);
  run.samplesAdded += 1;
}
