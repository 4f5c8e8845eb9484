/**
 * From the decoder-layer probe's timings to the CPU model's rates, and from the ISA's peaks where no probe ran.
 */
import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/index.js';
import {
  CPU_DEFAULT_MODEL,
  CPU_LAYER_PROBE,
  CPU_RATES_FROM_PEAKS,
  cpuRatesFromLayerProbe,
  cpuRatesFromPeaks,
  estimateSpeed,
  layerWeights,
  PROBE_QUARTILE_TO_SUSTAINED as K,
  qkvWidth,
  type CpuLayerProbe,
  type CpuRates,
} from '../../src/estimate/index.js';
import { fromCachedLayerProbe, toCachedLayerProbe } from '../../src/hardware/bandwidth-cache.js';

const { shape, tiny } = CPU_LAYER_PROBE;

/**
 * The timings a machine with these rates at its first quartile would give the probe (the model the
 * derivation inverts); the rates it reports are these × `PROBE_QUARTILE_TO_SUSTAINED`.
 */
function timings(r: { int4: number; dispatch: number; read: number; gemmFp32: number; gemmInt4: number }): CpuLayerProbe {
  const ops = 2 * layerWeights(shape);
  return {
    shape: { ...shape },
    tiny: { ...tiny },
    blockSize: CPU_LAYER_PROBE.blockSize,
    tinyDecodeSecPerLayer: r.dispatch + (2 * layerWeights(tiny)) / r.int4,
    int4DecodeSecPerLayer: r.dispatch + ops / r.int4,
    fp32DecodeSecPerLayer: r.dispatch + (4 * layerWeights(shape)) / r.read,
    int4PromptSecPerTokenLayer: ops / r.gemmInt4,
    fp32PromptSecPerTokenLayer: ops / r.gemmFp32,
  };
}

describe('the decoder-layer probe’s shape', () => {
  it('is Qwen2.5-0.5B’s layer: q/k/v packed 1,152 wide, 14.9 M MatMul weights', () => {
    expect(qkvWidth(shape)).toBe(1152);
    expect(layerWeights(shape)).toBe(896 * 1152 + 896 * 896 + 3 * 896 * 4864);
    expect(qkvWidth(tiny)).toBe((2 + 2) * 32);
  });
});

describe('cpuRatesFromLayerProbe', () => {
  it('recovers the int4 rate, the dispatch per layer, the read rate and both GEMM rates from the timings', () => {
    const truth = { int4: 50e9, dispatch: 30e-6, read: 28e9, gemmFp32: 200e9, gemmInt4: 180e9 };
    const rates = cpuRatesFromLayerProbe(timings(truth));
    expect(rates.int4OpsPerSec).toBeCloseTo(truth.int4 * K.int4, -6);
    expect(rates.dispatchSecPerLayer).toBeCloseTo(truth.dispatch * K.dispatch, 9);
    expect(rates.readBytesPerSec).toBeCloseTo(truth.read * K.read, -6);
    expect(rates.gemmFlopsPerSec.fp32).toBeCloseTo(truth.gemmFp32 * K.gemm, -6);
    expect(rates.gemmFlopsPerSec.int4).toBeCloseTo(truth.gemmInt4 * K.gemm, -6);
    expect(rates.source).toBe('layer probe');
    expect(rates.basis).toContain(`int4 decode ${((truth.int4 * K.int4) / 1e9).toFixed(1)} GOP/s`);
  });

  it('the sustained rates are slower than the first quartile’s, and the dispatch longer', () => {
    expect(K.int4).toBeLessThan(1);
    expect(K.read).toBeLessThan(1);
    expect(K.gemm).toBeLessThan(1);
    expect(K.dispatch).toBeGreaterThan(1);
  });

  it('a slower machine reads slower rates; a costlier dispatch is not taken for slower kernels', () => {
    const base = { int4: 50e9, dispatch: 30e-6, read: 28e9, gemmFp32: 200e9, gemmInt4: 180e9 };
    const slow = cpuRatesFromLayerProbe(timings({ ...base, int4: 25e9 }));
    expect(slow.int4OpsPerSec).toBeCloseTo(25e9 * K.int4, -6);
    const heavy = cpuRatesFromLayerProbe(timings({ ...base, dispatch: 120e-6 }));
    expect(heavy.dispatchSecPerLayer).toBeCloseTo(120e-6 * K.dispatch, 9);
    expect(heavy.int4OpsPerSec).toBeCloseTo(50e9 * K.int4, -6);
    expect(heavy.readBytesPerSec).toBeCloseTo(28e9 * K.read, -6);
  });

  it('noisy timings (the tiny stack as slow as the big one) still give finite rates: at least a quarter of a step is weights', () => {
    const probe = { ...timings({ int4: 50e9, dispatch: 30e-6, read: 28e9, gemmFp32: 200e9, gemmInt4: 180e9 }), tinyDecodeSecPerLayer: 1e-3, int4DecodeSecPerLayer: 0.9e-3 };
    const rates = cpuRatesFromLayerProbe(probe);
    const ops = 2 * (layerWeights(shape) - layerWeights(tiny));
    expect(rates.int4OpsPerSec).toBeCloseTo((ops / (0.25 * 0.9e-3)) * K.int4, -6);
    expect(rates.dispatchSecPerLayer).toBeGreaterThanOrEqual(0);
    expect(rates.dispatchSecPerLayer).toBeLessThan(0.9e-3);
    expect(Number.isFinite(rates.readBytesPerSec) && rates.readBytesPerSec > 0).toBe(true);
  });
});

describe('the cached layer probe', () => {
  it('round-trips through the cache’s snake_case entry', () => {
    const probe = timings({ int4: 50e9, dispatch: 30e-6, read: 28e9, gemmFp32: 200e9, gemmInt4: 180e9 });
    const cached = toCachedLayerProbe(probe);
    expect(Object.keys(cached).every((k) => /^[a-z0-9_]+$/.test(k))).toBe(true);
    expect(fromCachedLayerProbe(JSON.parse(JSON.stringify(cached)))).toEqual(probe);
  });

  it('an entry with a missing or non-positive figure is no probe', () => {
    const cached = toCachedLayerProbe(timings({ int4: 50e9, dispatch: 30e-6, read: 28e9, gemmFp32: 200e9, gemmInt4: 180e9 }));
    expect(fromCachedLayerProbe(undefined)).toBeNull();
    expect(fromCachedLayerProbe({ ...cached, fp32_decode_sec_per_layer: 0 })).toBeNull();
    const { heads: _heads, ...withoutHeads } = cached;
    expect(fromCachedLayerProbe(withoutHeads)).toBeNull();
  });

  it('timings cached before the probe kept first quartiles (medians, no statistic) are not read', () => {
    const cached = toCachedLayerProbe(timings({ int4: 50e9, dispatch: 30e-6, read: 28e9, gemmFp32: 200e9, gemmInt4: 180e9 }));
    expect(cached.statistic).toBe('first_quartile');
    const { statistic: _statistic, ...medians } = cached;
    expect(fromCachedLayerProbe(medians)).toBeNull();
    expect(fromCachedLayerProbe({ ...medians, statistic: 'median' } as unknown as typeof cached)).toBeNull();
    expect(fromCachedLayerProbe(cached)).not.toBeNull();
  });

  it('timings cached by a probe of an earlier layer layout (gate and up as two products) are not read', () => {
    const cached = toCachedLayerProbe(timings({ int4: 50e9, dispatch: 30e-6, read: 28e9, gemmFp32: 200e9, gemmInt4: 180e9 }));
    expect(cached.layout).toBe('gate-up-packed');
    const { layout: _layout, ...unpacked } = cached;
    expect(fromCachedLayerProbe(unpacked)).toBeNull();
    expect(fromCachedLayerProbe(cached)).not.toBeNull();
  });
});

describe('the CPU model on the rates', () => {
  const catalog = loadCatalog();
  const spec = catalog.find((s) => s.id === 'qwen2.5-0.5b')!;
  const rates: CpuRates = cpuRatesFromLayerProbe(timings({ int4: 50e9, dispatch: 30e-6, read: 28e9, gemmFp32: 200e9, gemmInt4: 180e9 }));
  const device = { kind: 'cpu' as const, name: 'probed CPU', bandwidthBytesPerSec: 40e9, bandwidthSource: 'probe' as const, peakFlops: 332e9, peakInt8Ops: 1329e9, cpuRates: rates };

  it('an int4 decode step is its weight ops at the int4 rate, the KV cache at a share of the read rate and the dispatch', () => {
    const est = estimateSpeed({ spec, format: 'q4', context: 512, device, graph: 'fused' });
    const parts = est.basis.decodeStepParts!;
    // Every part of the step is divided by the model's decode centring.
    expect(parts.dispatchSec).toBeCloseTo((spec.numLayers * rates.dispatchSecPerLayer * CPU_DEFAULT_MODEL.dispatch.fused) / CPU_DEFAULT_MODEL.decodeCentre, 12);
    expect(parts.weightsSec).toBeGreaterThan(est.basis.weightBytesPerStep / rates.readBytesPerSec / CPU_DEFAULT_MODEL.decodeCentre);
    expect(est.decodeBound).toBe('compute');
    // Half the int4 rate doubles the weights' part (compute-bound); four times makes reading them the bound.
    const slow = estimateSpeed({ spec, format: 'q4', context: 512, device: { ...device, cpuRates: { ...rates, int4OpsPerSec: rates.int4OpsPerSec / 2 } }, graph: 'fused' });
    expect(slow.basis.decodeStepParts!.weightsSec).toBeCloseTo(parts.weightsSec * 2, 9);
    const fast = estimateSpeed({ spec, format: 'q4', context: 512, device: { ...device, cpuRates: { ...rates, int4OpsPerSec: rates.int4OpsPerSec * 4 } }, graph: 'fused' });
    expect(fast.decodeBound).toBe('memory');
    expect(fast.basis.decodeStepParts!.weightsSec).toBeCloseTo(est.basis.weightBytesPerStep / rates.readBytesPerSec / CPU_DEFAULT_MODEL.decodeCentre, 9);
    // The probe's rates win over the peaks and the bandwidth.
    const otherPeaks = estimateSpeed({ spec, format: 'q4', context: 512, device: { ...device, peakFlops: 1e12, peakInt8Ops: 1e13, bandwidthBytesPerSec: 100e9 }, graph: 'fused' });
    expect(otherPeaks.decodeTokPerSec!.value).toBe(est.decodeTokPerSec!.value);
    expect(est.basis.formula).toContain('decoder-layer probe');
  });

  it('fp32 decodes at the read rate; prompts run at the format’s GEMM rate', () => {
    const fp32 = estimateSpeed({ spec, format: 'fp32', context: 512, device, graph: 'fused' });
    expect(fp32.decodeBound).toBe('memory');
    expect(fp32.basis.decodeStepParts!.weightsSec).toBeCloseTo(fp32.basis.weightBytesPerStep / rates.readBytesPerSec / CPU_DEFAULT_MODEL.decodeCentre, 9);
    const q4 = estimateSpeed({ spec, format: 'q4', context: 512, device, graph: 'fused' });
    // int4 prompts at 180 GFLOP/s, fp32 at 200: the int4 prompt is slower.
    expect(q4.ttftMs!.value).toBeGreaterThan(fp32.ttftMs!.value);
  });

  it('never probed: the rates are stated fractions of the ISA’s peaks and the bandwidth', () => {
    const fromPeaks = cpuRatesFromPeaks({ peakFlops: 332e9, peakInt8Ops: 1329e9, bandwidthBytesPerSec: 25e9 })!;
    expect(fromPeaks.int4OpsPerSec).toBeCloseTo(1329e9 * CPU_RATES_FROM_PEAKS.int8, 0);
    expect(fromPeaks.gemmFlopsPerSec.fp32).toBeCloseTo(332e9 * CPU_RATES_FROM_PEAKS.gemm, 0);
    expect(fromPeaks.readBytesPerSec).toBeCloseTo(25e9 * CPU_RATES_FROM_PEAKS.bandwidth, 0);
    expect(fromPeaks.source).toBe('peaks');
    const { cpuRates: _probe, ...unprobed } = device;
    const est = estimateSpeed({ spec, format: 'q4', context: 512, device: unprobed, graph: 'fused' });
    expect(est.basis.formula).toContain("the ISA's peaks");
    expect(est.basis.decodeStepParts!.dispatchSec).toBeCloseTo((spec.numLayers * CPU_RATES_FROM_PEAKS.dispatchSecPerLayer * CPU_DEFAULT_MODEL.dispatch.fused) / CPU_DEFAULT_MODEL.decodeCentre, 12);
  });
});
