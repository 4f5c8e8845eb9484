import type { ModelSpec } from '../catalog/model-spec.js';
import { fitMemory, type WeightFormat } from '../estimate/index.js';
import { ACCELERATORS } from '../hardware/accelerators.js';
import { computeHardwareNeeded } from '../recommend/recommend.js';
import { inSizeClass } from '../recommend/rank.js';
import { gpuBenchDevice } from '../runtime/session.js';
import { COST_YARDSTICK_USD_PER_TOKEN, CONFIRM_SCHEMA_VERSION, type ConfirmReport, type ConfirmVariant } from '../recommend/confirm-report.js';
import { efficiencyLookup, readCalibration, writeCalibration } from './calibration.js';
import { finishCandidate, round } from './confirm-figures.js';
import { measureCandidate, measureVariant } from './confirm-measure.js';
import { benchCost, fullCost, label, partialCost, planSteps, prepareWork, resolveSynthSupport, runStep, type ConfirmDeps, type ConfirmOptions, type ConfirmRun, type Work } from './confirm-run.js';
import { decideFinal } from './final.js';
import { probeHub, pullExport, type HubProbe } from './obtain.js';
import type { Candidate } from '../recommend/types.js';
import { CONFIRM_QUANTIZATION, CONFIRM_SEED, DEFAULT_THROUGHPUTS, MODE_SETTINGS, confirmTest, formatOfVariant, predictBuildSec } from './plan.js';
import { bindEndpoints } from './confirm-endpoint.js';
import { endpointCandidate, measureEndpoint } from './confirm-endpoint-run.js';
import type { ConfirmedCandidate } from '../recommend/confirm-report.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type { BenchRunner, ConfirmDeps, ConfirmOptions } from './confirm-run.js';

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

export async function confirmRecommendation(options: ConfirmOptions, deps: ConfirmDeps): Promise<ConfirmReport> {
  const run = await startRun(options, deps);
  const rec = options.recommendation;
  const pool = rec.candidates.length > 0 ? rec.candidates : (rec.nothingFits?.alternatives ?? []);
  // Candidates bound to a deployment (--base-url) are measured there; the top ones without a server locally.
  const bindings = bindEndpoints(options.endpoints ?? [], pool.map((c) => c.id));
  const bound = new Map(bindings.map((b) => [b.candidateId, b.url]));
  const top = pool.slice(0, Math.max(1, options.candidates));
  const taken = pool.filter((c) => bound.has(c.id) || top.includes(c));
  const locals = taken.filter((c) => !bound.has(c.id));
  const fromAlternatives = rec.candidates.length === 0 && taken.length > 0;
  const remote = await measureEndpoints(run, taken.filter((c) => bound.has(c.id)), bound);
  const hub: HubProbe =
    locals.length > 0
      ? await probeHub(deps.hub, locals.find((c) => c.onnxRepo)?.onnxRepo ?? undefined)
      : { reachable: false, cacheOnly: false, endpoint: '', reason: 'every candidate was measured on its deployment (--base-url): nothing pulled or built here' };
  run.say(`Hub: ${hub.reason}`);
  const gpuDevice = locals.some((c) => c.device.kind === 'gpu') ? (deps.gpuBenchDevice ?? gpuBenchDevice)() : null;
  const works = locals.map((candidate) => prepareWork(candidate, options, hub, fromAlternatives, gpuDevice));
  await Promise.all(works.map(async (w) => resolveSynthSupport(w, options.catalog, options.graph ?? 'auto')));

  await pullExports(run, works, hub);
  markUnbuildable(works, hub);
  // The plan's steps: a build (unless pulled) and a benchmark per candidate that can be measured.
  for (const w of works) if (w.unmeasurable === null) planSteps(run, stepsOf(w));
  const order = await measurePrimaries(run, works);
  await measureOtherVariants(run, order);
  for (const w of works) finishCandidate(run, w);
  await writeCalibration(options.calibrationPath, run.calibration);
  return assembleReport(run, works, remote, taken.length, hub);
}

/** Each candidate bound to a deployment, measured there through the serving benchmark. */
async function measureEndpoints(run: ConfirmRun, candidates: Candidate[], bound: Map<string, string>): Promise<ConfirmedCandidate[]> {
  const { options, deps } = run;
  const out: ConfirmedCandidate[] = [];
  for (const candidate of candidates) {
    const url = bound.get(candidate.id) as string;
    const spec = options.catalog.find((m) => m.id === candidate.id) ?? null;
    const result = await measureEndpoint(
      {
        candidate,
        spec,
        url,
        targets: run.rec.targets,
        mode: options.mode,
        stated: options.statedTopology ?? null,
        gpuKey: options.hardware.gpus.find((g) => g.known !== null)?.known?.key ?? null,
        pricePerHourUsd: options.pricePerHourUsd ?? null,
        apiKey: options.apiKey ?? null,
        tool: options.tool,
        say: run.say,
      },
      deps.runServe,
      deps.probeServer,
    );
    out.push(endpointCandidate(candidate, spec?.numLayers ?? 1, result));
  }
  return out;
}

/** The run's state before any candidate: the calibration (the caller's, or read once here) and the clock. */
async function startRun(options: ConfirmOptions, deps: ConfirmDeps): Promise<ConfirmRun> {
  const started = deps.now();
  const startedAt = deps.timestamp();
  const mode = MODE_SETTINGS[options.mode];
  const budgetSec = options.budgetSec ?? mode.budgetSec;
  const threads = options.threads ?? options.hardware.cpu.cores;
  const calibration = options.calibration ?? (await readCalibration(options.calibrationPath));
  const initialLookup = efficiencyLookup(calibration, options.hardware, threads);
  const elapsedSec = (): number => (deps.now() - started) / 1000;
  return {
    options,
    deps,
    startedAt,
    rec: options.recommendation,
    mode,
    budgetSec,
    threads,
    seed: CONFIRM_SEED,
    initialLookup,
    liveLookup: initialLookup,
    calibration,
    samplesAdded: 0,
    environment: null,
    throughputs: { ...DEFAULT_THROUGHPUTS },
    observed: { synth: false, quantize: false },
    slowdown: null,
    steps: { index: 0, planned: 0 },
    say: (line) => deps.onProgress?.(line),
    elapsedSec,
    remainingSec: () => budgetSec - elapsedSec(),
  };
}

/** Steps of a candidate measured in full: its build (unless pulled) and its benchmark. */
function stepsOf(w: Work): number {
  return (w.out.source.kind === 'pulled' ? 0 : 1) + 1;
}

/** Pulls first decide the source; a failed pull falls back to synthesis. */
async function pullExports(run: ConfirmRun, works: Work[], hub: HubProbe): Promise<void> {
  const access = run.deps.hub;
  const pulls = works.filter((w) => w.unmeasurable === null && w.candidate.onnxRepo && (hub.reachable || hub.cacheOnly) && access);
  planSteps(run, pulls.length);
  for (const w of pulls) {
    if (!w.candidate.onnxRepo || !access) continue;
    const repo = w.candidate.onnxRepo;
    run.say(`${label(w)}: pulling ${repo} (int4)`);
    const t0 = run.deps.now();
    const pulled = await runStep(run, { kind: 'pull', candidate: w.candidate.name, description: `pulling ${repo} (int4)`, predictedSec: null }, () => pullExport(repo, ['q4'], access, run.deps.signal));
    w.out.timings.obtainSec += (run.deps.now() - t0) / 1000;
    if (pulled.ok) {
      w.out.source = { kind: 'pulled', synthetic: false, repo, paths: [pulled.result.path], seed: null, reused: pulled.downloadedBytes === 0, reason: `ONNX export ${repo} (${pulled.result.source})` };
      if (w.primary !== 'q4') {
        w.out.notes.push(`the export is pulled in int4 only: the verdict rests on q4, not the recommended ${w.candidate.format}`);
        w.primary = 'q4';
      }
    } else {
      w.out.notes.push(pulled.reason);
    }
  }
}

/** A candidate with no export to pull and an architecture synth cannot build stays an estimate, saying why. */
function markUnbuildable(works: Work[], hub: HubProbe): void {
  for (const w of works) {
    if (w.unmeasurable === null && w.out.source.kind !== 'pulled' && w.synthUnsupported !== null) {
      const noExport = w.candidate.onnxRepo ? (hub.reachable || hub.cacheOnly ? `its ONNX export could not be pulled` : `its ONNX export cannot be pulled (${hub.reason.split(':')[0]})`) : 'it has no known ONNX export';
      w.unmeasurable = `${noExport}, and ${w.synthUnsupported.replace(/^cannot synthesize /, 'it cannot be synthesized: ')}`;
    }
  }
}

/**
 * Phase 1: the variant each verdict rests on, cheapest candidate first, in full or at partial depth as the
 * budget allows; at least one candidate is measured when any can be. Returns the order they were taken in.
 */
async function measurePrimaries(run: ConfirmRun, works: Work[]): Promise<Work[]> {
  const measurable = works.filter((w) => w.unmeasurable === null);
  // Each candidate's cost once (it reads the work dir for models an earlier run built), not per comparison.
  const costs = new Map(measurable.map((w) => [w, fullCost(run, w)] as const));
  const order = [...measurable].sort((a, b) => costs.get(a)! - costs.get(b)! || a.candidate.rank - b.candidate.rank);
  const deferred: Work[] = [];
  for (const w of order) {
    const full = fullCost(run, w);
    const partial = partialCost(run, w);
    const left = run.remainingSec();
    if (full <= left) await measureCandidate(run, w, 'full');
    else if (partial !== null && partial <= left && w.out.source.kind !== 'pulled') await measureCandidate(run, w, 'partial');
    else deferred.push(w);
  }
  const first = [...deferred].sort((a, b) => a.candidate.rank - b.candidate.rank)[0];
  for (const w of deferred) {
    const anyMeasured = works.some((x) => x.out.measurements.some((m) => m.status === 'ok'));
    const partial = partialCost(run, w);
    const cheapest = partial !== null && partial < fullCost(run, w) ? partial : fullCost(run, w);
    if (!anyMeasured && w === first) {
      // Over the budget anyway: as few runs and tokens as still give a median (the quick mode's).
      const quick = MODE_SETTINGS.quick;
      w.runs = { repetitions: Math.min(quick.repetitions, w.runs.repetitions), warmup: Math.min(quick.warmup, w.runs.warmup) };
      w.test = confirmTest(run.rec.targets, Math.min(quick.genTokens, w.test.n_gen), w.candidate.fit === 'reduced-context' ? w.candidate.memory.maxContext : w.spec.maxContext);
      w.out.notes.push(
        `measured over the ${run.budgetSec} s budget (≈ ${Math.round(cheapest)} s predicted with ${Math.max(0, Math.round(run.remainingSec()))} s left) so that at least one candidate is measured, with the quick settings (${w.test.id} × ${w.runs.repetitions} + ${w.runs.warmup} warm-up)`,
      );
      await measureCandidate(run, w, partial !== null && partial < fullCost(run, w) ? 'partial' : 'full');
    } else {
      planSteps(run, -stepsOf(w));
      w.unmeasurable = `benchmarking it would take ≈ ${Math.round(cheapest)} s (${partial !== null ? 'at partial depth' : 'in full'}), more than the ${Math.max(0, Math.round(run.remainingSec()))} s left of the ${run.budgetSec} s budget: raise --budget or use --thorough`;
    }
  }
  return order;
}

/** Phase 2: the other variant (float beside int4) of full-depth synthetic models, while time remains. */
async function measureOtherVariants(run: ConfirmRun, order: Work[]): Promise<void> {
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
    const cost = (floatMissing ? predictBuildSec(w.spec, w.spec.numLayers, run.throughputs, false) : 0) + benchCost(run, w, w.spec.numLayers, other);
    if (cost > run.remainingSec()) {
      w.out.notes.push(`${other} not benchmarked: ≈ ${Math.round(cost)} s predicted, ${Math.max(0, Math.round(run.remainingSec()))} s of the budget left`);
      continue;
    }
    planSteps(run, (floatMissing ? 1 : 0) + 1);
    await measureVariant(run, w, other);
  }
}

/** The report: settings, Hub, calibration, every candidate in rank order, and the final verdict. */
function assembleReport(run: ConfirmRun, works: Work[], remote: ConfirmedCandidate[], taken: number, hub: HubProbe): ConfirmReport {
  const { options, rec, mode } = run;
  const classModels: ModelSpec[] = options.catalog.filter((m) => inSizeClass(m, rec.leaf.sizeClass));
  const hardwareNeeded = rec.hardwareNeeded ?? (classModels.length > 0 ? computeHardwareNeeded(classModels, options.requirements, ACCELERATORS) : null);
  const candidates = [...works.map((w) => w.out), ...remote].sort((a, b) => a.rank - b.rank);
  const final = decideFinal({
    candidates,
    targets: rec.targets,
    hardwareNeeded,
    catalog: options.catalog,
    activeParams: Object.fromEntries([...works.map((w) => [w.spec.id, w.spec.paramsActive] as const), ...remote.map((c) => [c.id, options.catalog.find((m) => m.id === c.id)?.paramsActive ?? 0] as const)]),
  });
  const estimatesCalibrated: Partial<Record<WeightFormat, boolean>> = {};
  for (const w of works) for (const m of w.out.measurements) estimatesCalibrated[formatOfVariant(m.variant)] = m.estimated.efficiencySource === 'calibrated';
  // The test the mode derives from the targets (a candidate may deviate: a reduced context, a forced quick run).
  const nominal = confirmTest(rec.targets, mode.genTokens);
  const finishedAt = run.deps.timestamp();
  return {
    schemaVersion: CONFIRM_SCHEMA_VERSION,
    kind: 'modelscout.confirm',
    startedAt: run.startedAt,
    finishedAt,
    durationSec: round(run.elapsedSec(), 1),
    mode: options.mode,
    settings: {
      candidates: taken,
      budgetSec: run.budgetSec,
      budgetNote:
        'Each step is predicted before it runs and candidates are taken cheapest first; a candidate that does not fit the time left is measured at partial depth or marked estimate-only. At least one candidate is measured when any can be.',
      test: { id: nominal.id, promptTokens: nominal.n_prompt, genTokens: nominal.n_gen, batch: nominal.batch_size, repetitions: mode.repetitions, warmup: mode.warmup },
      partialDepths: mode.partialDepths,
      threads: run.threads,
      seed: run.seed,
      workDir: options.workDir,
      quantization: { ...CONFIRM_QUANTIZATION },
      pricePerHourUsd: options.pricePerHourUsd ?? null,
      costYardstickUsdPerToken: COST_YARDSTICK_USD_PER_TOKEN,
    },
    hub: { reachable: hub.reachable, endpoint: hub.endpoint, reason: hub.reason },
    calibration: { file: options.calibrationPath, samplesAdded: run.samplesAdded, estimatesCalibrated },
    environment: run.environment,
    candidates,
    final,
    reportPath: null,
  };
}
