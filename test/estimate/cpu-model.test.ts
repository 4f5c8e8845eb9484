import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/index.js';
import type { ModelSpec } from '../../src/catalog/model-spec.js';
import {
  CPU_DEFAULT_MODEL,
  CPU_KV_EXTRA_COPIES,
  cpuKvTransientBytes,
  CPU_LAYER_PROBE,
  GPU_DISPATCH_SEC_PER_LAYER,
  cpuActivationBytes,
  DEFAULT_UBATCH_SIZE,
  cpuInt4PrepackFraction,
  cpuRatesFromLayerProbe,
  cpuWeightCopyBytes,
  estimateSpeed,
  fitMemory,
  type CpuLayerProbe,
  type DeviceTarget,
} from '../../src/estimate/index.js';
import { CPU_RUNTIME_OVERHEAD_BYTES } from '../../src/hardware/device.js';

const catalog = loadCatalog();
const model = (id: string): ModelSpec => catalog.find((s) => s.id.toLowerCase() === id)!;

/**
 * The decoder-layer probe on the 2-thread AMD EPYC (AVX-512 VNNI) of the measurements below: one probe, as
 * `recommend --confirm` runs it (first quartiles, `npm run bench:estimate -- --probe-repeats 1`), as cached.
 */
const PROBE: CpuLayerProbe = {
  shape: { ...CPU_LAYER_PROBE.shape },
  tiny: { ...CPU_LAYER_PROBE.tiny },
  blockSize: 128,
  tinyDecodeSecPerLayer: 29.36e-6,
  int4DecodeSecPerLayer: 386.2e-6,
  fp32DecodeSecPerLayer: 1538e-6,
  int4PromptSecPerTokenLayer: 66.02e-6,
  fp32PromptSecPerTokenLayer: 96.67e-6,
};

const epyc: Pick<DeviceTarget, 'kind' | 'name' | 'bandwidthBytesPerSec' | 'bandwidthSource' | 'peakFlops' | 'peakInt8Ops' | 'cpuRates'> = {
  kind: 'cpu',
  name: 'AMD EPYC (2 cores)',
  bandwidthBytesPerSec: 34.1e9,
  bandwidthSource: 'probe',
  peakFlops: 332e9,
  peakInt8Ops: 1329e9,
  cpuRates: cpuRatesFromLayerProbe(PROBE),
};

describe('the default CPU model', () => {
  // Measured with `npm run bench:estimate` (pp<context>+tg32, 2 threads, medians, the machine idle): decode
  // tok/s and TTFT ms, the same run as the probe above. The probe's conversion to sustained rates was set
  // before it; `decodeInt4` (1.15) was set on it and two later runs, the standard graph's factors on decode
  // at five depths (the test below), `decodeCentre` (1.08) on it and five later runs
  // (docs/cpu-model-and-containers.md).
  const measured: [string, 'q4' | 'fp32', 'fused' | 'standard', number, number, number][] = [
    ['gpt2', 'fp32', 'standard', 512, 33.6, 610],
    ['gpt2', 'q4', 'standard', 512, 52.4, 383],
    ['smollm2-135m', 'fp32', 'fused', 512, 49.3, 495],
    ['smollm2-135m', 'fp32', 'fused', 2048, 38.9, 2260],
    ['smollm2-135m', 'q4', 'fused', 512, 136.6, 347],
    ['smollm2-135m', 'q4', 'fused', 2048, 63.0, 2381],
    ['smollm2-360m', 'fp32', 'fused', 512, 26.8, 1149],
    ['smollm2-360m', 'fp32', 'fused', 2048, 18.6, 5547],
    ['smollm2-360m', 'q4', 'fused', 512, 61.3, 1045],
    ['smollm2-360m', 'q4', 'fused', 2048, 53.5, 4660],
    ['qwen2.5-0.5b', 'fp32', 'fused', 512, 19.9, 1140],
    ['qwen2.5-0.5b', 'fp32', 'fused', 2048, 17.0, 5940],
    ['qwen2.5-0.5b', 'q4', 'fused', 512, 63.0, 1006],
    ['qwen2.5-0.5b', 'q4', 'fused', 2048, 62.4, 4357],
  ];
  it.each(measured)('reproduces the measured %s %s (%s graph) at %i tokens within ±35 per cent from the probe', (id, format, graph, context, decode, ttft) => {
    // The probe ran at the block size of the files measured with it.
    const est = estimateSpeed({ spec: model(id), format, context, promptTokens: context, device: epyc, graph, weightOptions: { int4: { blockSize: PROBE.blockSize } } });
    expect(Math.abs(est.decodeTokPerSec!.value / decode - 1)).toBeLessThan(0.35);
    expect(Math.abs(est.ttftMs!.value / ttft - 1)).toBeLessThan(0.35);
    expect(est.decodeTokPerSec!.low).toBeLessThanOrEqual(decode);
    expect(est.decodeTokPerSec!.high).toBeGreaterThanOrEqual(decode);
    expect(est.ttftMs!.low).toBeLessThanOrEqual(ttft);
    expect(est.ttftMs!.high).toBeGreaterThanOrEqual(ttft);
  });

  it('the standard graph’s decode slows with depth as measured: the cache term, not the dispatch, carries it', () => {
    // gpt2's standard graph decoding 32 tokens from five depths (`bench --tests tg32,tg32@d128,…@d960
    // --repetitions 2`, 2 threads, medians, tok/s) right after this probe (`hardware --probe`, as cached).
    // Measured at one context only, a larger dispatch and a cheaper cache fitted as well; the depths separate them.
    const probe: CpuLayerProbe = {
      ...PROBE,
      tinyDecodeSecPerLayer: 41.26e-6,
      int4DecodeSecPerLayer: 447.2e-6,
      fp32DecodeSecPerLayer: 1796.4e-6,
      int4PromptSecPerTokenLayer: 117.5e-6,
      fp32PromptSecPerTokenLayer: 168.4e-6,
    };
    const device = { ...epyc, bandwidthBytesPerSec: 27.3e9, cpuRates: cpuRatesFromLayerProbe(probe) };
    const sweep: ['q4' | 'fp32', number[]][] = [
      ['q4', [114.7, 80.7, 40.7, 25.8]],
      ['fp32', [41.2, 32.4, 27.3, 18.4]],
    ];
    const depths = [128, 256, 512, 960];
    for (const [format, tokPerSec] of sweep) {
      // The steps run from the depth to 32 positions past it.
      const stepMs = depths.map((d) => 1000 / estimateSpeed({ spec: model('gpt2'), format, context: d + 16, promptTokens: 1, device, graph: 'standard', weightOptions: { int4: { blockSize: PROBE.blockSize } } }).decodeTokPerSec!.value);
      depths.forEach((_, i) => expect(Math.abs(1000 / stepMs[i]! / tokPerSec[i]! - 1)).toBeLessThan(0.25));
      // What each position of cache adds to a step: within a fifth of the measured slope.
      const measuredSlope = (1000 / tokPerSec[3]! - 1000 / tokPerSec[0]!) / (960 - 128);
      expect(Math.abs((stepMs[3]! - stepMs[0]!) / (960 - 128) / measuredSlope - 1)).toBeLessThan(0.2);
    }
  });

  it('int4 decodes at the probed int4 rate: its speed follows it, fp32 ignores it', () => {
    const spec = model('qwen2.5-0.5b');
    const rates = epyc.cpuRates!;
    const slowInt4 = { ...epyc, cpuRates: { ...rates, int4OpsPerSec: rates.int4OpsPerSec / 4 } };
    const q4 = estimateSpeed({ spec, format: 'q4', context: 512, device: epyc, graph: 'fused' });
    const q4Slow = estimateSpeed({ spec, format: 'q4', context: 512, device: slowInt4, graph: 'fused' });
    expect(q4Slow.decodeTokPerSec!.value).toBeLessThan(q4.decodeTokPerSec!.value * 0.6);
    expect(q4.decodeBound).toBe('compute');
    const fp32 = estimateSpeed({ spec, format: 'fp32', context: 512, device: epyc, graph: 'fused' });
    const fp32Slow = estimateSpeed({ spec, format: 'fp32', context: 512, device: slowInt4, graph: 'fused' });
    expect(fp32Slow.decodeTokPerSec!.value).toBe(fp32.decodeTokPerSec!.value);
  });

  it('carries the graph form: the standard graph computes every position’s logits and copies its growing cache', () => {
    const spec = model('smollm2-135m');
    const at = (graph: 'fused' | 'standard', context: number) => estimateSpeed({ spec, format: 'q4', context, promptTokens: 512, device: epyc, graph });
    expect(at('standard', 512).ttftMs!.value).toBeGreaterThan(at('fused', 512).ttftMs!.value * 1.3);
    const parts = (graph: 'fused' | 'standard') => at(graph, 2048).basis.decodeStepParts!;
    expect(parts('standard').kvSec).toBeGreaterThan(parts('fused').kvSec * 2);
    expect(parts('fused').dispatchSec).toBeCloseTo((spec.numLayers * epyc.cpuRates!.dispatchSecPerLayer * CPU_DEFAULT_MODEL.dispatch.fused) / CPU_DEFAULT_MODEL.decodeCentre, 12);
    // Deeper caches decode slower.
    expect(at('fused', 2048).decodeTokPerSec!.value).toBeLessThan(at('fused', 512).decodeTokPerSec!.value);
    expect(at('fused', 512).basis.graph).toBe('fused');
  });

  it('stated efficiencies keep the plain roofline (what calibration reproduces)', () => {
    const spec = model('smollm2-135m');
    const est = estimateSpeed({ spec, format: 'q4', context: 512, device: epyc, graph: 'fused', efficiency: { decode: 0.5, prefill: 0.5, source: 'calibrated' } });
    expect(est.basis.decodeStepParts).toBeNull();
    expect(est.decodeTokPerSec!.value).toBeCloseTo((epyc.bandwidthBytesPerSec! * 0.5) / (est.basis.weightBytesPerStep + est.basis.kvBytesPerStep), 6);
  });
});

describe('GPU dispatch overhead', () => {
  const l4: Pick<DeviceTarget, 'kind' | 'name' | 'bandwidthBytesPerSec' | 'bandwidthSource' | 'peakFlops'> = {
    kind: 'gpu',
    name: 'NVIDIA L4',
    bandwidthBytesPerSec: 300e9,
    bandwidthSource: 'known',
    peakFlops: 121e12,
  };
  it('WebGPU pays about a millisecond per layer and step: a small model is dispatch-bound', () => {
    const spec = model('smollm2-135m');
    const webgpu = estimateSpeed({ spec, format: 'q4', context: 512, device: l4, provider: 'webgpu' });
    const cuda = estimateSpeed({ spec, format: 'q4', context: 512, device: l4 });
    expect(1 / webgpu.decodeTokPerSec!.value).toBeGreaterThanOrEqual(spec.numLayers * GPU_DISPATCH_SEC_PER_LAYER.webgpu);
    expect(webgpu.decodeTokPerSec!.value).toBeLessThan(40);
    expect(cuda.decodeTokPerSec!.value).toBeGreaterThan(webgpu.decodeTokPerSec!.value * 10);
    expect(webgpu.basis.notes.join(' ')).toContain('WebGPU dispatch');
  });
});

describe('CPU peak memory', () => {
  // Peak RSS of `modelscout bench` (the compiled CLI; pp<context>+tg32, 2 threads, 2 repetitions after a
  // warm-up, ONNX Runtime 1.30) on `npm run bench:estimate`'s models: int4 files at the quantizer's defaults —
  // block 128, quantized embeddings; fused graphs in the direct KV layout; prompts of one sequence in passes
  // of 256 positions (docs/benchmarks.md). The fused graph's transient KV copies were fitted to these peaks;
  // the other terms were set before them.
  const measured: [string, 'q4' | 'fp32', 'fused' | 'standard', number, number][] = [
    ['gpt2', 'fp32', 'standard', 512, 1078],
    ['gpt2', 'q4', 'standard', 512, 542],
    ['smollm2-135m', 'fp32', 'fused', 512, 827],
    ['smollm2-135m', 'fp32', 'fused', 2048, 902],
    ['smollm2-135m', 'q4', 'fused', 512, 321],
    ['smollm2-135m', 'q4', 'fused', 2048, 379],
    ['smollm2-360m', 'fp32', 'fused', 512, 1810],
    ['smollm2-360m', 'fp32', 'fused', 2048, 1961],
    ['smollm2-360m', 'q4', 'fused', 512, 502],
    ['smollm2-360m', 'q4', 'fused', 2048, 638],
    ['qwen2.5-0.5b', 'fp32', 'fused', 512, 2608],
    ['qwen2.5-0.5b', 'fp32', 'fused', 2048, 2656],
    ['qwen2.5-0.5b', 'q4', 'fused', 512, 552],
    ['qwen2.5-0.5b', 'q4', 'fused', 2048, 595],
  ];
  it.each(measured)('%s %s (%s graph) at %i tokens is within a tenth of the measured peak (%i MiB)', (id, format, graph, context, mib) => {
    const fit = fitMemory({ spec: model(id), format, context: context + 32, device: { kind: 'cpu', memoryAvailableBytes: 20 * 2 ** 30, runtimeOverheadBytes: CPU_RUNTIME_OVERHEAD_BYTES }, graph });
    expect(Math.abs(fit.totalBytes / 2 ** 20 / mib - 1)).toBeLessThan(0.1);
  });

  it('a standard graph holds every position’s logits and three score matrices; a fused one the last position’s logits and one', () => {
    const spec = model('gpt2');
    const S = 2048;
    // One pass of all 2,048 positions (ubatch 0): attention is the larger phase in both graphs.
    const standard = cpuActivationBytes(spec, S, 1, 'standard', 0);
    const fused = cpuActivationBytes(spec, S, 1, 'fused', 0);
    expect(standard - fused).toBe((S - 1) * spec.vocabSize * 4 * 2 + 2 * spec.numHeads * S * S * 4);
  });

  it('the activation peak is the larger phase, not the sum: Qwen2.5-0.5B’s wide MLP sets it at 512 tokens, attention at 2,048', () => {
    const spec = model('qwen2.5-0.5b');
    // The packed gate/up product and its two halves (the Split's input and outputs) are alive at once.
    const mlp = (S: number): number => S * (2 * spec.hiddenSize + 4 * spec.intermediateSize) * 4;
    expect(cpuActivationBytes(spec, 512, 1, 'fused', 0)).toBe(mlp(512) + spec.vocabSize * 8);
    // In passes of 256 (the default) the MLP phase is one pass's.
    expect(cpuActivationBytes(spec, 512, 1, 'fused')).toBe(mlp(256) + spec.vocabSize * 8);
    // One sequence: passes of 256 positions, the last one's scores over all 2,048.
    const scores = spec.numHeads * 256 * 2048 * 4;
    expect(cpuActivationBytes(spec, 2048, 1, 'fused')).toBeGreaterThan(scores);
    expect(cpuActivationBytes(spec, 2048, 1, 'fused')).toBeLessThan(scores + mlp(256));
  });

  it('one sequence’s prompt runs in passes of DEFAULT_UBATCH_SIZE positions; several sequences, or ubatch 0, in one pass', () => {
    const spec = model('smollm2-135m');
    expect(DEFAULT_UBATCH_SIZE).toBe(256);
    const onePass = cpuActivationBytes(spec, 2048, 1, 'fused', 0);
    const passes = cpuActivationBytes(spec, 2048, 1, 'fused');
    // The scores of a 256-position pass over 2,048 instead of 2,048 over 2,048: an eighth.
    expect(onePass - passes).toBe(spec.numHeads * (2048 - 256) * 2048 * 4 + (2048 - 256) * (3 * spec.hiddenSize + spec.numHeads * spec.headDim + 2 * spec.numKvHeads * spec.headDim) * 4);
    expect(cpuActivationBytes(spec, 2048, 2, 'fused')).toBe(2 * onePass);
    expect(cpuActivationBytes(spec, 200, 1, 'fused')).toBe(cpuActivationBytes(spec, 200, 1, 'fused', 0));
  });

  it('ONNX Runtime holds a tied embedding table twice in float formats and int4 blocks prepacked beside the file’s', () => {
    const tied = model('smollm2-135m');
    expect(tied.tieWordEmbeddings).toBe(true);
    expect(cpuWeightCopyBytes(tied, 'fp32', 1e9)).toBe(tied.vocabSize * tied.hiddenSize * 4);
    expect(cpuWeightCopyBytes(tied, 'fp16', 1e9)).toBe(tied.vocabSize * tied.hiddenSize * 2);
    expect(cpuWeightCopyBytes(tied, 'q4', 1e8, 32)).toBe(Math.round(1e8 * cpuInt4PrepackFraction(32)));
    // Larger blocks: fewer per-block scales and sums to prepack (measured on Qwen2.5-0.5B: 0.66 at 32, 0.38 at 128).
    expect(cpuInt4PrepackFraction(32)).toBeCloseTo(0.63, 2);
    expect(cpuInt4PrepackFraction(128)).toBeCloseTo(0.38, 2);
    expect(cpuWeightCopyBytes(tied, 'q4', 1e8)).toBe(Math.round(1e8 * cpuInt4PrepackFraction(128)));
    const untied = model('llama-3.1-8b');
    expect(untied.tieWordEmbeddings).toBe(false);
    expect(cpuWeightCopyBytes(untied, 'fp32', 1e9)).toBe(0);
  });

  it('counts the KV cache’s transient copies as activations, so the parts add up to the total', () => {
    const spec = model('smollm2-360m');
    const device = { kind: 'cpu' as const, memoryAvailableBytes: 20 * 2 ** 30, runtimeOverheadBytes: CPU_RUNTIME_OVERHEAD_BYTES };
    const fit = fitMemory({ spec, format: 'q4', context: 2080, device, graph: 'fused' });
    // The fused graph's cache once, plus the last prompt pass's positions (DEFAULT_UBATCH_SIZE) once more.
    const transient = cpuKvTransientBytes(spec, 2080, 1, 'fused', 'fp32');
    expect(transient).toBeCloseTo(CPU_KV_EXTRA_COPIES.fused * fit.kvBytes * (DEFAULT_UBATCH_SIZE / 2080), -1);
    expect(fit.activationBytes).toBe(cpuActivationBytes(spec, 2080, 1, 'fused') + transient);
    expect(fit.weightBytes + fit.kvBytes + fit.activationBytes + fit.runtimeOverheadBytes).toBe(fit.totalBytes);
    // A standard graph holds the whole cache twice more; several sequences go in one pass of up to 2,048 positions.
    expect(cpuKvTransientBytes(spec, 2080, 1, 'standard', 'fp32')).toBe(CPU_KV_EXTRA_COPIES.standard * fit.kvBytes);
    expect(cpuKvTransientBytes(spec, 1024, 4, 'fused', 'fp32')).toBe(CPU_KV_EXTRA_COPIES.fused * 4 * (fit.kvBytes / 2080) * 1024);
    // Without a graph form (no ONNX Runtime CPU model): none of those terms.
    const generic = fitMemory({ spec, format: 'q4', context: 2080, device });
    expect(generic.runtimeOverheadBytes).toBe(CPU_RUNTIME_OVERHEAD_BYTES);
  });
});
