import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { runBench, type BenchRunOptions } from '../../src/bench/index.js';
import { readCalibration } from '../../src/pipeline/calibration.js';
import { confirmRecommendation, type ConfirmDeps, type ConfirmOptions } from '../../src/pipeline/confirm.js';
import type { ConfirmStepEvent } from '../../src/pipeline/confirm-run.js';
import { syntheticModelDir } from '../../src/pipeline/obtain.js';
import type { ConfirmReport } from '../../src/recommend/confirm-report.js';
import type { BenchReport } from '../../src/report/schema.js';
import { acceleratorInfo, findAccelerator } from '../../src/hardware/accelerators.js';
import { recommend } from '../../src/recommend/recommend.js';
import { estimateSpeed } from '../../src/estimate/index.js';
import { cpuTarget } from '../../src/hardware/device.js';
import { renderConfirmReport } from '../../src/ui/render-recommendation.js';
import { DEEP_CATALOG, GiB, constructedResult, tinyRecommendation, type TinySetup } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ms-confirm-'));
  dirs.push(dir);
  return dir;
}

function optionsFor(setup: TinySetup, dir: string, extra: Partial<ConfirmOptions> = {}): ConfirmOptions {
  return {
    recommendation: setup.recommendation,
    requirements: setup.requirements,
    catalog: setup.catalog,
    hardware: setup.hardware,
    mode: 'quick',
    candidates: 3,
    workDir: join(dir, 'work'),
    calibrationPath: join(dir, 'calibration.json'),
    tool: { name: 'modelscout', version: 'test' },
    argv: ['recommend', '--confirm'],
    ...extra,
  };
}

function depsWith(lines: string[], runner: ConfirmDeps['runBench'] = runBench, steps: ConfirmStepEvent[] = []): ConfirmDeps {
  return { now: () => performance.now(), timestamp: () => new Date().toISOString(), hub: null, runBench: runner, onProgress: (l) => lines.push(l), onStep: (e) => steps.push(e) };
}

/** Every step started once, numbered 1..n, ended after it started; n is the final plan. */
function expectWellFormedSteps(steps: ConfirmStepEvent[]): ConfirmStepEvent[] {
  const starts = steps.filter((e) => e.stage === 'start');
  expect(starts.map((e) => e.index)).toEqual(starts.map((_, i) => i + 1));
  for (const start of starts) {
    expect(start.total).toBeGreaterThanOrEqual(start.index);
    const end = steps.find((e) => e.stage === 'end' && e.index === start.index)!;
    expect(steps.indexOf(end)).toBeGreaterThan(steps.indexOf(start));
    expect(end.elapsedSec).toBeGreaterThanOrEqual(0);
  }
  expect(steps.at(-1)!.total).toBe(starts.length);
  return starts;
}

describe('confirmRecommendation on tiny synthetic candidates (real synth, quantize and bench)', () => {
  it('synthesizes, quantizes, benchmarks and confirms; a second run reuses the models and compares with calibrated estimates', async () => {
    const dir = await tempDir();
    const setup = await tinyRecommendation(dir);
    const lines: string[] = [];
    const steps: ConfirmStepEvent[] = [];
    const first = await confirmRecommendation(optionsFor(setup, dir), depsWith(lines, runBench, steps));
    // Each candidate: a build and a benchmark of the primary variant, then a benchmark of the other one,
    // each announced with what the plan predicts for it.
    const starts = expectWellFormedSteps(steps);
    expect(starts.map((e) => e.kind).sort()).toEqual([...Array(3).fill('bench'), ...Array(3).fill('bench'), ...Array(3).fill('build')].sort());
    expect(starts.every((e) => e.predictedSec !== null && e.predictedSec > 0)).toBe(true);
    expect(starts[0]!.description).toMatch(/^building Tiny/);
    expect(starts[1]!.description).toMatch(/^benchmarking Tiny\S* .*(q4|fp32) pp64\+tg16$/);

    expect(first).toMatchObject({ schemaVersion: 1, kind: 'modelscout.confirm', mode: 'quick', hub: { reachable: false } });
    expect(first.settings.test).toMatchObject({ id: 'pp64+tg16', promptTokens: 64, genTokens: 16, batch: 1, repetitions: 2, warmup: 1 });
    expect(first.candidates.map((c) => c.id)).toEqual(setup.recommendation.candidates.slice(0, 3).map((c) => c.id));
    for (const c of first.candidates) {
      expect(c.source).toMatchObject({ kind: 'synthetic', synthetic: true, reused: false, seed: 42 });
      expect(c.depth).toMatchObject({ mode: 'full', layersMeasured: [c.depth.layersFull] });
      // int4 and float both measured (both fit, the budget allows), the verdict on the recommended format.
      expect(c.measurements.map((m) => m.variant).sort()).toEqual(['fp32', 'q4']);
      for (const m of c.measurements) {
        expect(m.status, m.error ?? '').toBe('ok');
        expect(m.extrapolated).toBe(false);
        const r = m.results[0]!;
        expect(r.model.synthetic).toBe(true);
        expect(r.test).toMatchObject({ n_prompt: 64, n_gen: 16, batch_size: 1 });
        expect(m.measured.decodeTokPerSecPerStream).toBeCloseTo(r.metrics.decode_tps!.p50, 6);
        expect(m.measured.ttftMs).toBe(r.metrics.ttft_ms!.p50);
        expect(m.estimated.efficiencySource).toBe('default');
        expect(m.errorPct.decodeTokPerSecPerStream).toBeCloseTo(((m.estimated.decodeTokPerSecPerStream! - m.measured.decodeTokPerSecPerStream!) / m.measured.decodeTokPerSecPerStream!) * 100, 6);
      }
      // Tiny models decode hundreds of tokens per second: far above 20 tok/s and under 500 ms.
      expect(c.verdict).toMatchObject({ status: 'confirmed', variant: 'fp32' });
      expect(existsSync(join(c.source.paths[0]!, 'onnx', 'model_q4.onnx'))).toBe(true);
    }
    expect(first.final).toMatchObject({ status: 'confirmed', candidateId: setup.recommendation.candidates[0]!.id });
    // Synthesized in the fused form where the architecture allows it (head dim a multiple of 16), measured
    // with its fast KV layout; Tiny-B (head dim 24) stays a standard graph with the growing cache.
    for (const c of first.candidates) {
      const fused = c.id !== 'tiny-llama-b';
      expect(c.source.paths[0]!.endsWith('-fused'), c.id).toBe(fused);
      expect(c.source.reason.includes('fused graph'), c.id).toBe(fused);
      for (const m of c.measurements) expect(m.results[0]!.kv_cache?.update, c.id).toBe(fused ? 'appended' : 'concatenated');
      // The estimate beside each measurement is for the graph form measured (the CPU model has a term for it).
      const spec = setup.catalog.find((s) => s.id === c.id)!;
      for (const m of c.measurements) {
        const format = m.variant === 'q4' ? 'q4' : 'fp32';
        const estimate = (graph: 'fused' | 'standard') => estimateSpeed({ spec, format, context: 64, promptTokens: 64, concurrency: 1, device: cpuTarget(setup.hardware), graph }).decodeTokPerSec?.value;
        expect(m.estimated.decodeTokPerSecPerStream, c.id).toBeCloseTo(estimate(fused ? 'fused' : 'standard')!, 6);
        if (fused) expect(m.estimated.decodeTokPerSecPerStream, c.id).not.toBeCloseTo(estimate('standard')!, 3);
      }
    }
    expect(first.candidates.map((c) => c.id)).toContain('tiny-llama-b');
    expect(first.calibration.samplesAdded).toBe(6);
    expect(lines.some((l) => /synthesizing tiny-/.test(l))).toBe(true);
    expect(lines.some((l) => /quantizing tiny-/.test(l))).toBe(true);
    const calibration = await readCalibration(join(dir, 'calibration.json'));
    expect(calibration.entries.map((e) => `${e.hardware}|${e.format}`).sort()).toEqual(['cpu:Test CPU:2 threads|fp32', 'cpu:Test CPU:2 threads|q4']);

    const again: string[] = [];
    const againSteps: ConfirmStepEvent[] = [];
    const second = await confirmRecommendation(optionsFor(setup, dir), depsWith(again, runBench, againSteps));
    expect(again.some((l) => /synthesizing|quantizing/.test(l))).toBe(false);
    // The builds are announced as reused, with no prediction (and none in the budget's plan).
    const reusedSteps = expectWellFormedSteps(againSteps).filter((e) => e.kind === 'build');
    expect(reusedSteps).toHaveLength(3);
    for (const e of reusedSteps) {
      expect(e.description).toMatch(/^reusing Tiny-\w, built by an earlier run$/);
      expect(e.predictedSec).toBeNull();
    }
    for (const c of second.candidates) {
      expect(c.source.reused).toBe(true);
      for (const m of c.measurements) expect(m.estimated.efficiencySource).toBe('calibrated');
    }
    expect(second.calibration.estimatesCalibrated).toEqual({ fp32: true, q4: true });
    expect((await readCalibration(join(dir, 'calibration.json'))).entries[0]!.samples).toHaveLength(6);
  });

  it('measures a candidate too deep for the budget at two partial depths and extrapolates to the full depth', async () => {
    const dir = await tempDir();
    const setup = await tinyRecommendation(dir, { contextTokens: 32 }, 1, DEEP_CATALOG);
    expect(setup.recommendation.candidates[0]!.id).toBe('tiny-deep');
    const lines: string[] = [];
    const steps: ConfirmStepEvent[] = [];
    // A 1-second budget fits nothing: the best candidate is still measured, the cheaper way (partial depth).
    const report = await confirmRecommendation(optionsFor(setup, dir, { candidates: 1, budgetSec: 1 }), depsWith(lines, runBench, steps));
    // Planned as one build and one benchmark; at partial depth two builds, known before the first starts.
    const starts = expectWellFormedSteps(steps);
    expect(starts.map((e) => [e.index, e.total, e.kind, e.description])).toEqual([
      [1, 3, 'build', expect.stringMatching(/^building \S+ at 1 of 96 layers$/)],
      [2, 3, 'build', expect.stringMatching(/^building \S+ at 2 of 96 layers$/)],
      [3, 3, 'bench', expect.stringMatching(/^benchmarking \S+ q4 pp32\+tg16 at 1 and 2 layers$/)],
    ]);
    const c = report.candidates[0]!;
    expect(c.depth).toEqual({ mode: 'partial', layersFull: 96, layersMeasured: [1, 2] });
    expect(c.notes.join(' ')).toMatch(/over the 1 s budget/);
    expect(c.notes.join(' ')).toMatch(/measured at 1 and 2 of 96 layers and extrapolated/);
    const m = c.measurements[0]!;
    expect(m).toMatchObject({ variant: 'q4', status: 'ok', extrapolated: true, layersMeasured: [1, 2], layersFull: 96 });
    expect(m.results.map((r) => r.model.architecture.layers)).toEqual([1, 2]);
    const e = m.extrapolation!;
    expect(e.decodeStepMs.points.map((p) => p.layers)).toEqual([1, 2]);
    expect(['two-depth fit', 'estimate scaled']).toContain(e.decodeStepMs.method);
    expect(e.decodeStepMs.full / (e.decodeStepMs.fixed + 96 * e.decodeStepMs.perLayer)).toBeCloseTo(1, 3);
    expect(m.measured.decodeTokPerSecPerStream).toBeCloseTo(1000 / e.decodeStepMs.full, 6);
    expect(m.measured.ttftMs).toBeCloseTo(e.ttftMs.full, 6);
    expect(c.verdict.extrapolated).toBe(true);
    // Only the shallow models were built (fused: head dim 64 allows it); their float files were dropped once quantized.
    const deep = setup.catalog.find((s) => s.id === 'tiny-deep')!;
    const shallow = syntheticModelDir(join(dir, 'work'), deep, 42, 1, 'fused');
    expect(existsSync(join(shallow, 'onnx', 'model_q4.onnx'))).toBe(true);
    expect(existsSync(join(shallow, 'onnx', 'model.onnx'))).toBe(false);
    expect(existsSync(syntheticModelDir(join(dir, 'work'), deep, 42, 96, 'fused'))).toBe(false);
    expect(existsSync(syntheticModelDir(join(dir, 'work'), deep, 42, 1))).toBe(false);
  });
});

describe('verdicts against constructed measurements', () => {
  it('rejects a candidate that misses decode speed, one that misses TTFT and one that does not fit, and confirms one that meets every target', async () => {
    const dir = await tempDir();
    const setup = await tinyRecommendation(dir);
    const ranked = setup.recommendation.candidates.map((c) => c.id);
    expect(ranked).toHaveLength(4);
    const usable = setup.recommendation.candidates[0]!.memory.usableBytes;
    // Per candidate (by rank): misses decode (10 < 20 tok/s), misses TTFT (900 > 500 ms), does not fit, meets all.
    const figures = [
      { decodeTps: 10, ttftMs: 100, peakBytes: GiB },
      { decodeTps: 40, ttftMs: 900, peakBytes: GiB },
      { decodeTps: 40, ttftMs: 100, peakBytes: usable + GiB },
      { decodeTps: 40, ttftMs: 100, peakBytes: GiB },
    ];
    const runner = async (options: BenchRunOptions): Promise<BenchReport> => {
      const results = options.plan.models.map((path) => {
        const index = ranked.findIndex((id) => path.includes(`${id}-synthetic`));
        const test = options.plan.tests[0]!;
        const layers = setup.catalog.find((m) => m.id === ranked[index])!.numLayers;
        return constructedResult({ path, layers, prompt: test.n_prompt, gen: test.n_gen, batch: test.batch_size, ...figures[index]! });
      });
      return { environment: null, results } as unknown as BenchReport;
    };
    const report: ConfirmReport = await confirmRecommendation(optionsFor(setup, dir, { candidates: 4 }), depsWith([], runner));
    const byRank = report.candidates;
    expect(byRank.map((c) => c.verdict.status)).toEqual(['rejected', 'rejected', 'rejected', 'confirmed']);
    expect(byRank[0]!.verdict.reasons).toEqual(['decode 10.0 tok/s per stream is below the 20.0 tok/s target (10.0 tok/s short, 50% of the target)']);
    expect(byRank[1]!.verdict.reasons).toEqual(['time to first token 900 ms exceeds the 500 ms target (+400 ms, 1.8× the target)']);
    expect(byRank[2]!.verdict.reasons[0]).toMatch(/^peak memory \d+\.\d\d GiB does not fit the \d+\.\d\d GiB usable here \(\d+\.\d\d GiB over\)$/);
    expect(byRank[2]!.verdict.checks.find((k) => k.name === 'memory')?.met).toBe(false);
    expect(report.final).toMatchObject({ status: 'confirmed', candidateId: ranked[3] });

    // Without the one that meets every target: none is confirmed, the closest is named and the way out said.
    const three = await confirmRecommendation(optionsFor(setup, dir, { candidates: 3 }), depsWith([], runner));
    expect(three.final.status).toBe('none-confirmed');
    // Closeness: decode 10/20 = 0.5 against TTFT 500/900 ≈ 0.56; the one that does not fit counts 0.
    expect(three.final.closest?.id).toBe(ranked[1]);
    expect(three.final.whatWouldChange[0]).toMatch(/^A shorter context: .* prompts of about 35 tokens or fewer \(measured 900 ms for 64\)\.$/);
    expect(three.final.whatWouldChange.some((l) => /^A smaller model: /.test(l))).toBe(true);
    expect(three.final.whatWouldChange.at(-1)).toMatch(/^A GPU: the class needs .* e\.g\. 1× NVIDIA/);

    // The steps' times as printed: every step of a fresh build; for reused models only what took time.
    const timed = (c: ConfirmReport['candidates'][number], timings: typeof c.timings, reused: boolean): ConfirmReport['candidates'][number] => ({ ...c, timings, source: { ...c.source, reused } });
    const [first, second] = three.candidates;
    const shown = renderConfirmReport({ ...three, candidates: [timed(first!, { obtainSec: 1.5, quantizeSec: 1.6, benchSec: 11.9 }, false), timed(second!, { obtainSec: 0, quantizeSec: 0, benchSec: 11.8 }, true)] }, setup.recommendation.targets, 200);
    expect(shown).toContain('- took 1.5 s to synthesize, 1.6 s to quantize, 11.9 s to benchmark\n');
    expect(shown).toContain('- took 11.8 s to benchmark (models reused from the work dir)\n');
    expect(shown).not.toMatch(/0\.0 s to/);
  });

  it('benchmarks GPU candidates with WebGPU when the CUDA provider is missing (and says so); with no GPU provider at all they stay estimates', async () => {
    const dir = await tempDir();
    const setup = await tinyRecommendation(dir);
    const l4 = findAccelerator('L4')!;
    setup.hardware.gpus = [{ index: 0, name: 'NVIDIA L4', vramTotalBytes: 24 * GiB, vramFreeBytes: 22 * GiB, driver: '580', known: acceleratorInfo(l4), source: 'nvidia-smi' }];
    setup.recommendation = recommend({ tree: setup.tree, requirements: setup.requirements, hardware: setup.hardware, catalog: setup.catalog, top: 4 });
    expect(setup.recommendation.candidates[0]!.device.kind).toBe('gpu');
    const devices: string[] = [];
    const runner = async (options: BenchRunOptions): Promise<BenchReport> => {
      devices.push(...options.plan.devices);
      const test = options.plan.tests[0]!;
      const layersOf = (path: string): number => setup.catalog.find((m) => path.includes(`${m.id}-synthetic`))!.numLayers;
      return { environment: null, results: options.plan.models.map((path) => constructedResult({ path, layers: layersOf(path), prompt: test.n_prompt, gen: test.n_gen, batch: test.batch_size, decodeTps: 100, ttftMs: 50, peakBytes: GiB })) } as unknown as BenchReport;
    };
    const webgpu = await confirmRecommendation(optionsFor(setup, dir, { candidates: 1 }), { ...depsWith([], runner), gpuBenchDevice: () => 'webgpu' });
    expect(devices.length).toBeGreaterThan(0);
    expect(new Set(devices)).toEqual(new Set(['webgpu']));
    expect(webgpu.candidates[0]!.notes.some((n) => /^measured with WebGPU: the CUDA execution provider is not installed/.test(n))).toBe(true);
    expect(webgpu.candidates[0]!.verdict.status).not.toBe('estimate-only');

    devices.length = 0;
    const cuda = await confirmRecommendation(optionsFor(setup, dir, { candidates: 1 }), { ...depsWith([], runner), gpuBenchDevice: () => 'cuda' });
    expect(new Set(devices)).toEqual(new Set(['cuda']));
    expect(cuda.candidates[0]!.notes.some((n) => /WebGPU/.test(n))).toBe(false);

    devices.length = 0;
    const none = await confirmRecommendation(optionsFor(setup, dir, { candidates: 1 }), { ...depsWith([], runner), gpuBenchDevice: () => null });
    expect(devices).toEqual([]);
    expect(none.candidates[0]!.verdict.status).toBe('estimate-only');
    expect(none.candidates[0]!.verdict.reasons.join(' ')).toMatch(/no GPU execution provider/);
  });

  it('calls a verdict decided within 10% of a speed target a close call, and a clear one nothing', async () => {
    const dir = await tempDir();
    const setup = await tinyRecommendation(dir);
    const target = setup.recommendation.targets.maxTtftMs;
    const runnerAt = (ttftMs: number) => async (options: BenchRunOptions): Promise<BenchReport> => {
      const test = options.plan.tests[0]!;
      const layersOf = (path: string): number => setup.catalog.find((m) => path.includes(`${m.id}-synthetic`))!.numLayers;
      const results = options.plan.models.map((path) => constructedResult({ path, layers: layersOf(path), prompt: test.n_prompt, gen: test.n_gen, batch: test.batch_size, decodeTps: 100, ttftMs, peakBytes: GiB }));
      return { environment: null, results } as unknown as BenchReport;
    };
    const close = (await confirmRecommendation(optionsFor(setup, dir, { candidates: 1 }), depsWith([], runnerAt(target * 1.04)))).candidates[0]!;
    expect(close.verdict.status).toBe('rejected');
    expect(close.notes.filter((n) => /a close call: TTFT \d+ ms is 4% outside the \d+ ms target/.test(n))).toHaveLength(1);
    const clear = (await confirmRecommendation(optionsFor(setup, await tempDir(), { candidates: 1 }), depsWith([], runnerAt(target * 0.5)))).candidates[0]!;
    expect(clear.verdict.status).toBe('confirmed');
    expect(clear.notes.some((n) => /close call/.test(n))).toBe(false);
  });

  it('says when a measurement ran on a busy machine, and records how busy in the calibration sample', async () => {
    const dir = await tempDir();
    const setup = await tinyRecommendation(dir);
    const runner = async (options: BenchRunOptions): Promise<BenchReport> => {
      const test = options.plan.tests[0]!;
      const layersOf = (path: string): number => setup.catalog.find((m) => path.includes(`${m.id}-synthetic`))!.numLayers;
      const results = options.plan.models.map((path) => {
        const r = constructedResult({ path, layers: layersOf(path), prompt: test.n_prompt, gen: test.n_gen, batch: test.batch_size, decodeTps: 100, ttftMs: 50, peakBytes: GiB });
        r.load.cpu_busy_before = 0.8;
        return r;
      });
      return { environment: null, results } as unknown as BenchReport;
    };
    const report = await confirmRecommendation(optionsFor(setup, dir, { candidates: 1 }), depsWith([], runner));
    const c = report.candidates[0]!;
    expect(c.notes.some((n) => /other processes used 80% of the CPU time just before this measurement: it understates an idle machine/.test(n))).toBe(true);
    const calibration = await readCalibration(join(dir, 'calibration.json'));
    const samples = calibration.entries.flatMap((e) => e.samples);
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.every((s) => s.cpu_busy_before === 0.8)).toBe(true);
  });

  it('costs the generated tokens at the given hourly price and compares with the hosted-API yardstick', async () => {
    const dir = await tempDir();
    const setup = await tinyRecommendation(dir, { contextTokens: 64, concurrency: 2 });
    const runner = async (options: BenchRunOptions): Promise<BenchReport> => {
      const test = options.plan.tests[0]!;
      const layersOf = (path: string): number => setup.catalog.find((m) => path.includes(`${m.id}-synthetic`))!.numLayers;
      return { environment: null, results: options.plan.models.map((path) => constructedResult({ path, layers: layersOf(path), prompt: test.n_prompt, gen: test.n_gen, batch: test.batch_size, decodeTps: 100, ttftMs: 50, peakBytes: GiB })) } as unknown as BenchReport;
    };
    const report = await confirmRecommendation(optionsFor(setup, dir, { candidates: 1, pricePerHourUsd: 0.36 }), depsWith([], runner));
    expect(report.settings.test.id).toBe('pp64+tg16/b2');
    const c = report.candidates[0]!;
    // 100 tok/s over both streams = 50 per stream; $0.36/h over 360,000 tokens/h = $1 per million.
    expect(c.measurements[0]!.measured.decodeTokPerSecPerStream).toBeCloseTo(50, 6);
    expect(c.cost).toMatchObject({ pricePerHourUsd: 0.36, decodeTokPerSecTotal: 100, belowYardstick: true, yardstickUsdPerToken: 0.001 });
    expect(c.cost!.usdPerMillionTokens).toBeCloseTo(1, 9);
  });
});
