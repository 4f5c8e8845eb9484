/**
 * Cases a mutation pass over the estimator found untested: each fails on one small realistic bug (named
 * beside it) that the other tests let through.
 */
import { describe, expect, it } from 'vitest';
import { findModel } from '../../src/catalog/index.js';
import type { DeviceTarget } from '../../src/estimate/device.js';
import { PREFILL_CHUNK_TOKENS, activationBytes } from '../../src/estimate/fit.js';
import { kvCacheBytesPerToken, slidingLayerCount } from '../../src/estimate/kv-cache.js';
import { estimateSpeed } from '../../src/estimate/speed.js';
import { weightBytes } from '../../src/estimate/weights.js';

const device: DeviceTarget = {
  kind: 'cpu',
  name: 'test CPU',
  count: 1,
  memoryTotalBytes: 64 * 1024 ** 3,
  memoryAvailableBytes: 64 * 1024 ** 3,
  bandwidthBytesPerSec: 50e9,
  bandwidthSource: 'probe',
  peakFlops: 1e12,
  peakFlopsSource: 'known',
  runtimeOverheadBytes: 0,
};

describe('activation memory against a hand-worked figure (not against its own function)', () => {
  // Bug caught: a term dropped or doubled (e.g. 2 × ffn instead of 3 × ffn, k/v counted once).
  it('Qwen2.5-0.5B: (3 × 896 + q 14×64 + k,v 2×2×64 + 3 × 4864) × 4 B per token, a 2048-token chunk, fp32 logits', () => {
    const spec = findModel('qwen2.5-0.5b');
    expect([spec.hiddenSize, spec.numHeads, spec.numKvHeads, spec.headDim, spec.intermediateSize, spec.vocabSize]).toEqual([896, 14, 2, 64, 4864, 151936]);
    expect(PREFILL_CHUNK_TOKENS).toBe(2048);
    const perToken = (2688 + 896 + 256 + 14592) * 4; // 73,728 B
    expect(activationBytes(spec, 4096, 1)).toBe(2048 * perToken + 151936 * 4); // 151,602,688
    expect(activationBytes(spec, 4096, 1)).toBe(151_602_688);
    expect(activationBytes(spec, 100, 3)).toBe(3 * (100 * perToken + 151936 * 4));
  });
});

describe("the prefill estimate's weight-read floor", () => {
  // Bug caught: prefill time = compute time alone (the max with the weight read dropped).
  it('a short prompt on a device with far more FLOP/s than bandwidth takes as long as reading the weights once', () => {
    const spec = findModel('llama-3.1-8b');
    const fast = { ...device, peakFlops: 1e18 };
    const efficiency = { decode: 0.5, prefill: 0.5, source: 'calibrated' as const };
    const est = estimateSpeed({ spec, format: 'q4', context: 8, promptTokens: 8, device: fast, efficiency });
    const readSec = weightBytes(spec, 'q4').streamedBytesPerToken / (50e9 * 0.5);
    expect(est.ttftMs!.value).toBeCloseTo(readSec * 1000, 6);
    // Compute alone would be over a thousand times shorter.
    expect(est.ttftMs!.value).toBeGreaterThan(1000 * ((2 * spec.paramsActive * 8) / (1e18 * 0.5)) * 1000);
  });
});

describe('sliding-window layers with an odd layer count', () => {
  // Bug caught: Math.floor instead of Math.ceil — even-indexed layers 0, 2, 4 of 5 slide: 3, not 2.
  it('alternating windows slide on the even-indexed layers: 3 of 5, 21 of 42; all of them with "all"', () => {
    const gemma = findModel('gemma-2-9b');
    expect(gemma.slidingWindowPattern).toBe('alternate');
    expect(slidingLayerCount({ ...gemma, numLayers: 5 })).toBe(3);
    expect(slidingLayerCount({ ...gemma, numLayers: 1 })).toBe(1);
    expect(slidingLayerCount(gemma)).toBe(21);
    expect(slidingLayerCount({ ...gemma, numLayers: 5, slidingWindowPattern: 'all' })).toBe(5);
    expect(slidingLayerCount({ ...gemma, slidingWindow: null })).toBe(0);
    // The per-token KV bytes still count every layer while the context is inside the window.
    expect(kvCacheBytesPerToken({ ...gemma, numLayers: 5 })).toBe(kvCacheBytesPerToken(gemma) / 42 * 5);
  });
});
