/**
 * How far the uncalibrated estimate is from a measurement on this machine, and what the estimator's inputs
 * look like here:
 * 1. the memory-bandwidth probe (the one-second probe `recommend --confirm` runs), repeated with one thread
 *    and with every thread (median, min, max), so its spread on a busy machine is visible;
 * 2. accuracy: for each model (default: the default confirm's three candidates and Qwen2.5-0.5B), synthesized
 *    in the graph form `--confirm` builds (fused where the architecture has one) and quantized like it (int4,
 *    block 32, accuracy level 4), fp32 and q4 are benchmarked with `pp<context>+tg32` at each context
 *    (default 512 and 2,048); beside each measurement, the estimate `recommend` makes with no calibration file
 *    (the probe's bandwidth, the default CPU model): decode tok/s, TTFT, peak memory, the error and whether
 *    the measurement lies inside the stated band;
 * 3. the cost of estimating: fit + speed for every catalog model × weight format.
 * Prints how busy the CPUs were before each model (other processes): figures from a busy machine understate
 * an idle one. Models are built once in the work folder and reused.
 * Estimates are shown twice: with the rates from the ISA's peaks and the bandwidth (what a machine never
 * probed gets) and with the rates from the decoder-layer probe (what `--probe` / `--confirm` give).
 * Usage: npm run bench:estimate [-- --models gpt2,smollm2-135m --contexts 512,2048 --repetitions 3 --threads 2
 *        --work DIR --skip-accuracy --save FILE --from FILE[,FILE…] --probe-repeats 1]
 *   --probe-repeats N  probes each N times and estimates from the medians (default 1, as `recommend --confirm`)
 *   --probe-history K  with --from FILE,FILE…: estimates each file's rows from the medians of its probe and the
 *   probes of the K − 1 files before it (each figure's median, bandwidth included), as a cache that kept a
 *   machine's last K probes would (default 1: each file's own probe)
 *   --save FILE  keeps the probes and the measurements (JSON); --from FILE re-estimates them without measuring
 *   (several files: each with its own probes, in one table). Files saved before the decoder-layer probe
 *   existed carry single-kernel rates instead, and files saved before it kept first quartiles carry medians
 *   the CPU model's factors no longer fit: their rows get the ISA path only.
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { loadCatalog } from '../src/catalog/index.js';
import type { ModelSpec } from '../src/catalog/model-spec.js';
import { WEIGHT_FORMATS, cpuRatesFromLayerProbe, cpuRatesFromPeaks, estimateSpeed, fitMemory, type Banded, type CpuLayerProbe, type DeviceTarget } from '../src/estimate/index.js';
import { fromCachedLayerProbe, toCachedLayerProbe, type CachedLayerProbe } from '../src/hardware/bandwidth-cache.js';
import { detectHardware, int8FromLayerProbe, peakFromLayerProbe, type Hardware } from '../src/hardware/detect.js';
import { cpuTarget } from '../src/hardware/device.js';
import { measureCpuBusy } from '../src/hardware/cpu-busy.js';
import { probeMemoryBandwidth } from '../src/hardware/probe.js';
import { preferredGraph } from '../src/onnx/fused/synth-graph.js';
import { buildSyntheticModel } from '../src/pipeline/obtain.js';
import { CONFIRM_QUANTIZATION } from '../src/pipeline/plan.js';
import { probeCpuKernels } from '../src/runtime/kernel-probe.js';

/**
 * The benchmark harness as the CLI runs it: the compiled build (`npm run build`, which the npm script runs
 * first), so each benchmark child is the compiled worker. Run from source, the children would load
 * TypeScript through tsx, which adds 25–55 MiB to every peak RSS measured here.
 */
async function compiledBench(): Promise<typeof import('../src/bench/index.js')> {
  const url = new URL('../dist/bench/index.js', import.meta.url);
  try {
    return (await import(url.href)) as typeof import('../src/bench/index.js');
  } catch {
    throw new Error('bench:estimate measures with the compiled harness: run `npm run build` first (`npm run bench:estimate` does)');
  }
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}
function numberArgument(name: string, fallback: number): number {
  const value = Number(argument(name));
  return Number.isFinite(value) && value > 0 ? value : fallback;
}
function listArgument(name: string, fallback: string[]): string[] {
  return argument(name)?.split(',').map((s) => s.trim()).filter(Boolean) ?? fallback;
}
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `median ${median(values).toFixed(2)}  min ${sorted[0]!.toFixed(2)}  max ${sorted[sorted.length - 1]!.toFixed(2)}  (n=${values.length})`;
}
/** Several decoder-layer probes as one: each timing's median (the shapes are the probe's own, alike in all). */
function medianProbe(probes: CpuLayerProbe[]): CpuLayerProbe {
  const medianOf = (key: Exclude<keyof CpuLayerProbe, 'shape' | 'tiny' | 'blockSize'>): number => median(probes.map((p) => p[key]));
  const last = probes[probes.length - 1]!;
  return {
    shape: last.shape,
    tiny: last.tiny,
    blockSize: last.blockSize,
    tinyDecodeSecPerLayer: medianOf('tinyDecodeSecPerLayer'),
    int4DecodeSecPerLayer: medianOf('int4DecodeSecPerLayer'),
    fp32DecodeSecPerLayer: medianOf('fp32DecodeSecPerLayer'),
    int4PromptSecPerTokenLayer: medianOf('int4PromptSecPerTokenLayer'),
    fp32PromptSecPerTokenLayer: medianOf('fp32PromptSecPerTokenLayer'),
  };
}
const load = (): string => os.loadavg().map((l) => l.toFixed(1)).join(' ');
const pct = (est: number | null, meas: number | null | undefined): string => (est === null || !meas ? '—' : `${(((est - meas) / meas) * 100).toFixed(0)}%`);
const inBand = (band: Banded | null, meas: number | null | undefined): string => (band === null || !meas ? '—' : meas >= band.low && meas <= band.high ? 'yes' : 'NO');

const threads = numberArgument('threads', os.availableParallelism());
// One probe by default, as `recommend --confirm` runs it: the estimates below are then the ones a user gets.
const repeats = numberArgument('probe-repeats', 1);
const durationMs = numberArgument('duration', 1000);

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.availableParallelism()} threads, load average ${load()} (1, 5, 15 min)`);

// 1. The probes (not with --from: re-estimating measures nothing).
const fromFiles = argument('from');
const single: number[] = [];
const all: number[] = [];
const layerRuns: CpuLayerProbe[] = [];
let layerProbe: CpuLayerProbe | null = null;
if (!fromFiles) {
  console.log(`\n1. bandwidth probe: 64 MiB buffers, ${durationMs} ms per probe, ${repeats} probes per setting, interleaved`);
  for (let i = 0; i < repeats; i += 1) {
    single.push((await probeMemoryBandwidth({ threads: 1, durationMs })).bytesPerSec / 1e9);
    all.push((await probeMemoryBandwidth({ threads, durationMs })).bytesPerSec / 1e9);
  }
  console.log(`  1 thread:        GB/s ${summary(single)}`);
  console.log(`  ${threads} threads:       GB/s ${summary(all)}`);
  for (let i = 0; i < repeats; i += 1) {
    const k = await probeCpuKernels({ threads });
    layerRuns.push(k);
    console.log(`  decoder-layer probe ${i + 1}/${repeats}: ${k.durationMs.toFixed(0)} ms`);
  }
  layerProbe = medianProbe(layerRuns);
  const us = (key: Exclude<keyof CpuLayerProbe, 'shape' | 'tiny' | 'blockSize'>): string => summary(layerRuns.map((r) => r[key] * 1e6));
  console.log(`  decoder-layer probe, ${threads} threads, µs per layer: tiny decode ${us('tinyDecodeSecPerLayer')}; int4 decode ${us('int4DecodeSecPerLayer')}; fp32 decode ${us('fp32DecodeSecPerLayer')}`);
  console.log(`    µs per layer and prompt token: int4 ${us('int4PromptSecPerTokenLayer')}; fp32 ${us('fp32PromptSecPerTokenLayer')}`);
  console.log(`    rates (medians): ${cpuRatesFromLayerProbe(layerProbe).basis}`);
}

const catalog = loadCatalog();

// 2. Accuracy of the uncalibrated estimate.
interface Measured {
  model: string;
  format: 'fp32' | 'q4';
  graph: 'fused' | 'standard';
  context: number;
  n_gen: number;
  decode: number | null;
  ttft: number | null;
  peak: number | null;
  busy: string;
  error?: string;
}
interface Saved {
  threads: number;
  bandwidth_gbps: number;
  /** int4 block size of the q4 files measured (absent in files saved before block 128 became the default: 32). */
  int4_block_size?: number;
  /** The decoder-layer probe's medians (absent in files saved before it existed). */
  layer_probe?: CachedLayerProbe;
  /** The single-kernel probe of files saved before the decoder-layer probe (shown, not used). */
  gemm_gflops?: number;
  int4_gemv_gops?: number;
  rows: Measured[];
}
if (!process.argv.includes('--skip-accuracy')) {
  const models = listArgument('models', ['gpt2', 'smollm2-135m', 'smollm2-360m', 'qwen2.5-0.5b']);
  const contexts = listArgument('contexts', ['512', '2048']).map(Number);
  const repetitions = numberArgument('repetitions', 3);
  const workDir = argument('work') ?? join(os.tmpdir(), 'modelscout-bench-estimate');
  const from = argument('from');
  const detected = await detectHardware({ cgroupLimits: null });
  const files: { name: string; saved: Saved }[] = [];
  if (from) {
    for (const file of from.split(',').map((f) => f.trim()).filter(Boolean)) {
      const saved = JSON.parse(await readFile(file, 'utf8')) as Saved;
      const single = saved.gemm_gflops !== undefined ? `; single-kernel probe: GEMM ${saved.gemm_gflops.toFixed(1)} GFLOP/s, int4 GEMV ${(saved.int4_gemv_gops ?? 0).toFixed(1)} GOP/s (not used)` : '';
      const layer = fromCachedLayerProbe(saved.layer_probe);
      console.log(`\n2. estimate (no calibration) vs the measurements in ${file} (bandwidth probe ${saved.bandwidth_gbps.toFixed(1)} GB/s${single})`);
      console.log(`  ${layer ? `rates: ${cpuRatesFromLayerProbe(layer).basis}` : 'no decoder-layer probe in this file: the ISA path only'}`);
      files.push({ name: file, saved });
    }
  } else {
    const saved: Saved = { threads, bandwidth_gbps: median(all), int4_block_size: CONFIRM_QUANTIZATION.blockSize, ...(layerProbe ? { layer_probe: toCachedLayerProbe(layerProbe) } : {}), rows: [] };
    console.log(`\n2. estimate (no calibration) vs measurement: ${threads} threads, pp<context>+tg32, ${repetitions} timed runs + 1 warm-up, medians; work dir ${workDir}`);
    for (const id of models) {
      const spec = catalog.find((s) => s.id.toLowerCase() === id.toLowerCase());
      if (!spec) throw new Error(`unknown model ${id}`);
      const graph = preferredGraph(spec);
      // A context past the model's window cannot be measured (GPT-2: 1,024 positions).
      const fitting = contexts.filter((c) => c + 32 <= spec.maxContext);
      if (fitting.length === 0) continue;
      const built = await buildSyntheticModel({
        spec,
        catalog,
        layers: spec.numLayers,
        seed: 7,
        workDir,
        needFloat: true,
        keepFloat: true,
        graph,
        fidelity: false,
        threads,
        producerVersion: 'bench',
        now: () => performance.now(),
        onProgress: (line) => console.error(`  ${line}`),
      });
      const busy = await measureCpuBusy(500);
      const loadBefore = load();
      const report = await (await compiledBench()).runBench({
        plan: {
          models: [built.dir],
          variants: ['fp32', 'q4'],
          devices: ['cpu'],
          threads: [threads],
          graphOptLevel: 'all',
          tests: fitting.map((c) => ({ id: `pp${c}+tg32`, kind: 'pp+tg' as const, n_prompt: c, n_gen: 32, n_depth: 0, batch_size: 1 })),
          repetitions,
          warmup: 1,
          seed: 7,
          thresholds: { min_decode_tps: null, max_ttft_ms: null, max_peak_rss_bytes: null, max_regression_pct: 10, inconclusive_pass: false },
          baseline: null,
        },
        tool: { name: 'modelscout bench:estimate', version: '0' },
        argv: process.argv.slice(2),
        kvLayout: 'auto',
        hardware: detected,
        onProgress: (message) => console.error(`  ${message}`),
      });
      for (const r of report.results) {
        const row: Measured = { model: spec.id, format: r.variant.name as 'fp32' | 'q4', graph, context: r.test.n_prompt, n_gen: r.test.n_gen, decode: r.metrics.decode_tps?.p50 ?? null, ttft: r.metrics.ttft_ms?.p50 ?? null, peak: r.memory.rss_peak_bytes ?? null, busy: `${busy === null ? '?' : (busy * 100).toFixed(0)}% / ${loadBefore.split(' ')[0]}` };
        if (r.status !== 'ok') row.error = r.error?.message ?? 'error';
        saved.rows.push(row);
      }
    }
    files.push({ name: 'this run', saved });
    const save = argument('save');
    if (save) {
      await writeFile(save, `${JSON.stringify(saved, null, 2)}\n`);
      console.log(`  measurements saved to ${save} (re-estimate with --from ${save})`);
    }
  }
  // The estimate `recommend` makes with no calibration file: against the probe's bandwidth, with the rates from
  // the ISA's peaks (a machine never probed) and with the decoder-layer probe's (after --probe or --confirm).
  const rows: string[][] = [];
  const errors = { decode: [] as number[], ttft: [] as number[], memory: [] as number[], isaDecode: [] as number[], isaTtft: [] as number[] };
  let outside = 0;
  const outsideRows: string[] = [];
  const history = Math.round(numberArgument('probe-history', 1));
  for (const [index, { name, saved }] of files.entries()) {
    // The probes of this file and the ones before it (`--probe-history`): each figure's median.
    const kept = files.slice(Math.max(0, index - history + 1), index + 1).map((f) => f.saved);
    const bandwidthGbps = median(kept.map((k) => k.bandwidth_gbps));
    const keptLayers = kept.map((k) => fromCachedLayerProbe(k.layer_probe));
    const layer = keptLayers.every((l): l is CpuLayerProbe => l !== null) ? medianProbe(keptLayers) : null;
    if (kept.length > 1) console.log(`  ${name}: the medians of ${kept.length} probes (this file's and the ${kept.length - 1} before it)`);
    const base: Hardware = { ...detected, cpu: { ...detected.cpu, cores: Math.min(detected.cpu.cores, saved.threads) }, bandwidth: { bytesPerSec: bandwidthGbps * 1e9, source: 'probe' as const, note: 'bench:estimate probe median' } };
    const isaDevice: DeviceTarget = cpuTarget(base);
    const weightOptions = { int4: { blockSize: saved.int4_block_size ?? 32 } };
    const probeDevice: DeviceTarget | null = layer
      ? cpuTarget({
          ...base,
          peakFlops: { flopsPerSec: peakFromLayerProbe(layer).flopsPerSec, source: 'probe', basis: peakFromLayerProbe(layer).basis, int8OpsPerSec: int8FromLayerProbe(layer).opsPerSec, int8Basis: int8FromLayerProbe(layer).basis },
          layerProbe: { ...layer, note: name },
        })
      : null;
    console.log(`  ${name}: ISA peaks ${(isaDevice.peakFlops! / 1e9).toFixed(0)} GFLOP/s fp32, ${((isaDevice.peakInt8Ops ?? 0) / 1e9).toFixed(0)} GOP/s int8 → rates from ${cpuRatesFromPeaks(isaDevice)?.basis ?? 'no peaks'}`);
    for (const m of saved.rows) {
      if (m.error) {
        rows.push([m.model, m.format, m.graph, String(m.context), `failed: ${m.error}`]);
        continue;
      }
      const spec = catalog.find((s) => s.id === m.model) as ModelSpec;
      const isa = estimateSpeed({ spec, format: m.format, context: m.context, promptTokens: m.context, device: isaDevice, graph: m.graph, weightOptions });
      const speed = probeDevice ? estimateSpeed({ spec, format: m.format, context: m.context, promptTokens: m.context, device: probeDevice, graph: m.graph, weightOptions }) : null;
      const fit = fitMemory({ spec, format: m.format, context: m.context + m.n_gen, device: probeDevice ?? isaDevice, graph: m.graph, weightOptions });
      const dEst = speed?.decodeTokPerSec?.value ?? null;
      const tEst = speed?.ttftMs?.value ?? null;
      if (dEst !== null && m.decode) errors.decode.push(((dEst - m.decode) / m.decode) * 100);
      if (tEst !== null && m.ttft) errors.ttft.push(((tEst - m.ttft) / m.ttft) * 100);
      if (isa.decodeTokPerSec && m.decode) errors.isaDecode.push(((isa.decodeTokPerSec.value - m.decode) / m.decode) * 100);
      if (isa.ttftMs && m.ttft) errors.isaTtft.push(((isa.ttftMs.value - m.ttft) / m.ttft) * 100);
      if (m.peak) errors.memory.push(((fit.totalBytes - m.peak) / m.peak) * 100);
      const dIn = inBand(speed?.decodeTokPerSec ?? null, m.decode);
      const tIn = inBand(speed?.ttftMs ?? null, m.ttft);
      if (dIn === 'NO') outside += 1;
      if (tIn === 'NO') outside += 1;
      const beyond = (est: number | null, meas: number | null | undefined): boolean => est !== null && !!meas && Math.abs(est / meas - 1) > 0.35;
      if (beyond(dEst, m.decode) || beyond(tEst, m.ttft)) outsideRows.push(`${m.model} ${m.format} ${m.context}`);
      rows.push([
        m.model,
        m.format,
        m.graph,
        String(m.context),
        m.decode?.toFixed(1) ?? '—',
        dEst?.toFixed(1) ?? '—',
        pct(dEst, m.decode),
        dIn,
        pct(isa.decodeTokPerSec?.value ?? null, m.decode),
        m.ttft?.toFixed(0) ?? '—',
        tEst?.toFixed(0) ?? '—',
        pct(tEst, m.ttft),
        tIn,
        pct(isa.ttftMs?.value ?? null, m.ttft),
        m.peak ? (m.peak / 2 ** 20).toFixed(0) : '—',
        (fit.totalBytes / 2 ** 20).toFixed(0),
        pct(fit.totalBytes, m.peak),
        m.busy,
      ]);
    }
  }
  const header = ['model', 'format', 'graph', 'ctx', 'decode tok/s', 'est.', 'err', 'in band', 'ISA err', 'TTFT ms', 'est.', 'err', 'in band', 'ISA err', 'peak MiB', 'est.', 'err', 'busy / load'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`  ${line(header)}`);
  for (const row of rows) console.log(`  ${line(row)}`);
  const worst = (values: number[]): string => (values.length === 0 ? '—' : `${Math.max(...values.map(Math.abs)).toFixed(0)}%`);
  const med = (values: number[]): string => (values.length === 0 ? '—' : `${median(values).toFixed(0)}%`);
  console.log(`  worst |error| with the decoder-layer probe's rates: decode ${worst(errors.decode)}, TTFT ${worst(errors.ttft)}, peak memory ${worst(errors.memory)}; measurements outside the stated band: ${outside}`);
  console.log(`  rows beyond ±35 % (decode or TTFT) with the probe's rates: ${outsideRows.length === 0 ? 'none' : outsideRows.join(', ')}`);
  console.log(`  worst |error| with the ISA's peaks (never probed): decode ${worst(errors.isaDecode)}, TTFT ${worst(errors.isaTtft)}`);
  console.log(`  median error with the probe's rates: decode ${med(errors.decode)}, TTFT ${med(errors.ttft)}`);
  console.log(`  busy = share of CPU time other processes used in the 0.5 s before each model's runs; load = 1-min load average then. Above 25 % busy the measurements understate an idle machine.`);
}

// 3. The cost of estimating.
const benchDevice: DeviceTarget = {
  kind: 'cpu',
  name: 'bench CPU',
  count: 1,
  memoryTotalBytes: 24 * 1024 ** 3,
  memoryAvailableBytes: 22 * 1024 ** 3,
  bandwidthBytesPerSec: 25e9,
  bandwidthSource: 'default',
  peakFlops: 3e11,
  peakFlopsSource: 'default',
  peakInt8Ops: 1.2e12,
  runtimeOverheadBytes: 512 * 1024 * 1024,
};
const timings: number[] = [];
for (let r = 0; r < 7; r += 1) {
  const start = process.hrtime.bigint();
  for (const spec of catalog) {
    for (const format of WEIGHT_FORMATS) {
      fitMemory({ spec, format, context: 4096, device: benchDevice });
      estimateSpeed({ spec, format, context: 4096, promptTokens: 512, device: benchDevice, graph: 'fused' });
    }
  }
  timings.push(Number(process.hrtime.bigint() - start) / 1e6);
}
console.log(`\n3. estimating fit + speed for ${catalog.length} models × ${WEIGHT_FORMATS.length} formats: ms ${summary(timings)}`);
console.log(`load average at the end: ${load()}`);
