import { describe, expect, it } from 'vitest';
import { findModel, paramCount } from '../../src/catalog/index.js';
import { errorBand, type DeviceTarget } from '../../src/estimate/device.js';
import { finetuneMemory, NF4_BITS_PER_WEIGHT } from '../../src/estimate/finetune.js';
import { activationBytes, defaultKvDtype, fitMemory } from '../../src/estimate/fit.js';
import { kvCacheBytes } from '../../src/estimate/kv-cache.js';
import { attentionFlops, estimateSpeed, matmulFlopsPerToken } from '../../src/estimate/speed.js';
import { weightBytes } from '../../src/estimate/weights.js';

const GIB = 1024 ** 3;

function cpu(availableGiB: number, overrides: Partial<DeviceTarget> = {}): DeviceTarget {
  return {
    kind: 'cpu',
    name: 'test CPU',
    count: 1,
    memoryTotalBytes: availableGiB * GIB,
    memoryAvailableBytes: availableGiB * GIB,
    bandwidthBytesPerSec: 50e9,
    bandwidthSource: 'probe',
    peakFlops: 1e12,
    peakFlopsSource: 'default',
    runtimeOverheadBytes: 512 * 1024 * 1024,
    ...overrides,
  };
}

const llama8b = findModel('llama-3.1-8b');
const qwen05 = findModel('qwen2.5-0.5b');

describe('fitMemory', () => {
  it('adds weights, KV, activations and runtime overhead against available memory less headroom', () => {
    const device = cpu(24);
    const fit = fitMemory({ spec: qwen05, format: 'fp32', context: 4096, device });
    expect(fit.weightBytes).toBe(weightBytes(qwen05, 'fp32').totalBytes);
    expect(fit.kvDtype).toBe('fp32');
    expect(fit.kvBytes).toBe(kvCacheBytes(qwen05, { tokens: 4096, dtype: 'fp32' }));
    expect(fit.activationBytes).toBe(activationBytes(qwen05, 4096, 1));
    expect(fit.totalBytes).toBe(fit.weightBytes + fit.kvBytes + fit.activationBytes + device.runtimeOverheadBytes);
    expect(fit.usableBytes).toBe(24 * GIB - Math.round(24 * GIB * 0.1));
    expect(fit.fits).toBe(true);
    expect(fit.reason).toBeNull();
    expect(fit.maxContext).toBe(qwen05.maxContext);
  });

  it('says when the weights alone do not fit, with no context possible', () => {
    const fit = fitMemory({ spec: llama8b, format: 'fp32', context: 4096, device: cpu(24) });
    expect(fit.fits).toBe(false);
    expect(fit.maxContext).toBe(0);
    expect(fit.reason).toMatch(/fp32 weights alone \(29\.9 GiB/);
    expect(fit.reason).toMatch(/available RAM/);
  });

  it('finds the largest context that fits when the KV cache is what overflows', () => {
    const device = cpu(10);
    const fit = fitMemory({ spec: llama8b, format: 'q4', context: 131_072, device });
    expect(fit.fits).toBe(false);
    expect(fit.reason).toMatch(/KV cache for 131072 tokens/);
    expect(fit.maxContext).toBeGreaterThan(1000);
    expect(fit.maxContext).toBeLessThan(131_072);
    expect(fitMemory({ spec: llama8b, format: 'q4', context: fit.maxContext, device }).fits).toBe(true);
    expect(fitMemory({ spec: llama8b, format: 'q4', context: fit.maxContext + 1, device }).fits).toBe(false);
  });

  it('multiplies the KV cache by concurrency and honours kvDtype and headroom', () => {
    const base = fitMemory({ spec: llama8b, format: 'fp16', context: 8192, device: cpu(1000), kvDtype: 'fp16' });
    const four = fitMemory({ spec: llama8b, format: 'fp16', context: 8192, device: cpu(1000), kvDtype: 'fp16', concurrency: 4 });
    expect(four.kvBytes).toBe(base.kvBytes * 4);
    expect(defaultKvDtype('q4f16')).toBe('fp16');
    expect(fitMemory({ spec: qwen05, format: 'fp16', context: 10, device: cpu(10), headroomFraction: 0.5 }).usableBytes).toBe(5 * GIB);
  });
});

describe('estimateSpeed', () => {
  it('divides bandwidth × efficiency by the bytes one decode step reads', () => {
    const device = cpu(24);
    const efficiency = { decode: 0.5, prefill: 0.25, source: 'calibrated' as const };
    const est = estimateSpeed({ spec: llama8b, format: 'fp16', context: 1024, promptTokens: 512, device, efficiency });
    const bytes = weightBytes(llama8b, 'fp16').streamedBytesPerToken + kvCacheBytes(llama8b, { tokens: 1024, dtype: 'fp16' });
    expect(est.decodeBound).toBe('memory');
    expect(est.decodeTokPerSec!.value).toBeCloseTo((50e9 * 0.5) / bytes, 9);
    expect(est.basis).toMatchObject({ weightBytesPerStep: weightBytes(llama8b, 'fp16').streamedBytesPerToken, kvDtype: 'fp16', efficiency });
    // Calibrated band: ×0.8 to ×1.25.
    expect(est.decodeTokPerSec!.low).toBeCloseTo(est.decodeTokPerSec!.value * 0.8, 9);
    expect(est.decodeTokPerSec!.high).toBeCloseTo(est.decodeTokPerSec!.value * 1.25, 9);
  });

  it('derives prefill and TTFT from 2 × active params per token plus attention over peak × efficiency', () => {
    const device = cpu(24);
    const efficiency = { decode: 0.5, prefill: 0.25, source: 'default' as const };
    const est = estimateSpeed({ spec: qwen05, format: 'fp32', context: 512, promptTokens: 512, device, efficiency });
    const flops = matmulFlopsPerToken(qwen05) * 512 + attentionFlops(qwen05, 512);
    const seconds = flops / (1e12 * 0.25);
    expect(est.ttftMs!.value).toBeCloseTo(seconds * 1000, 6);
    expect(est.prefillTokPerSec!.value).toBeCloseTo(512 / seconds, 6);
    // Default band ×0.5 to ×1.5; a time's band inverts it.
    expect(est.ttftMs!.low).toBeCloseTo(est.ttftMs!.value / 1.5, 6);
    expect(est.ttftMs!.high).toBeCloseTo(est.ttftMs!.value / 0.5, 6);
    // Matmul FLOPs are twice the MatMul weights: everything but the (tied) embedding table, norms and biases.
    expect(matmulFlopsPerToken(qwen05)).toBeLessThan(2 * paramCount(qwen05).total);
  });

  it('scales linearly with the efficiency it is given', () => {
    const device = cpu(24);
    const a = estimateSpeed({ spec: llama8b, format: 'q4', context: 2048, device, efficiency: { decode: 0.4, prefill: 0.2, source: 'calibrated' } });
    const b = estimateSpeed({ spec: llama8b, format: 'q4', context: 2048, device, efficiency: { decode: 0.8, prefill: 0.4, source: 'calibrated' } });
    expect(b.decodeTokPerSec!.value / a.decodeTokPerSec!.value).toBeCloseTo(2, 9);
    expect(a.ttftMs!.value / b.ttftMs!.value).toBeCloseTo(2, 9);
  });

  it('is faster for a MoE model than a dense one of similar size, and slower with a longer context', () => {
    const device = cpu(1000);
    const moe = estimateSpeed({ spec: findModel('qwen3-30b-a3b'), format: 'q4', context: 1024, device });
    const dense = estimateSpeed({ spec: findModel('qwen3-32b'), format: 'q4', context: 1024, device });
    expect(moe.decodeTokPerSec!.value).toBeGreaterThan(dense.decodeTokPerSec!.value * 4);
    const long = estimateSpeed({ spec: llama8b, format: 'q4', context: 32_768, device });
    const short = estimateSpeed({ spec: llama8b, format: 'q4', context: 1024, device });
    expect(long.decodeTokPerSec!.value).toBeLessThan(short.decodeTokPerSec!.value);
  });

  it('reports per-stream and total decode rates for concurrent sequences', () => {
    const device = cpu(1000);
    const one = estimateSpeed({ spec: llama8b, format: 'fp16', context: 1024, device });
    const eight = estimateSpeed({ spec: llama8b, format: 'fp16', context: 1024, device, concurrency: 8 });
    expect(eight.decodeTokPerSec!.value).toBeLessThan(one.decodeTokPerSec!.value);
    expect(eight.decodeTokPerSecTotal!.value).toBeGreaterThan(one.decodeTokPerSecTotal!.value * 3);
  });

  it('turns compute-bound when the device has little FLOP/s', () => {
    const est = estimateSpeed({ spec: qwen05, format: 'q4', context: 128, device: cpu(24, { peakFlops: 1e9 }) });
    expect(est.decodeBound).toBe('compute');
  });

  it('returns null decode speed with a note when the bandwidth is unknown', () => {
    const est = estimateSpeed({ spec: qwen05, format: 'fp16', context: 128, device: cpu(24, { kind: 'gpu', bandwidthBytesPerSec: null, bandwidthSource: 'unknown', peakFlops: null, name: 'Mystery GPU' }) });
    expect(est.decodeTokPerSec).toBeNull();
    expect(est.ttftMs).toBeNull();
    expect(est.basis.notes.join(' ')).toMatch(/bandwidth of Mystery GPU is unknown/);
  });

  it('uses stated default efficiencies per device kind', () => {
    const gpu = estimateSpeed({ spec: qwen05, format: 'fp16', context: 128, device: cpu(24, { kind: 'gpu', bandwidthSource: 'known' }) });
    expect(gpu.basis.efficiency).toMatchObject({ decode: 0.7, prefill: 0.45, source: 'default' });
    const cpuDefault = estimateSpeed({ spec: qwen05, format: 'fp16', context: 128, device: cpu(24, { bandwidthSource: 'default' }) });
    expect(cpuDefault.basis.efficiency).toMatchObject({ decode: 0.6, source: 'default' });
    expect(errorBand(gpu.basis.efficiency)).toEqual({ low: 0.5, high: 1.5 });
  });
});

describe('finetuneMemory', () => {
  const gpu24: DeviceTarget = cpu(24, { kind: 'gpu', runtimeOverheadBytes: GIB });

  it('counts rank-r adapters on every linear layer', () => {
    const ft = finetuneMemory({ spec: llama8b, method: 'lora', rank: 16, device: gpu24 });
    // per layer Σ(K + N): q 8192, k 5120, v 5120, o 8192, gate/up/down 3 × 18432 = 81,920; × 32 layers × r 16.
    expect(ft.adapterParams).toBe(81_920 * 32 * 16);
    expect(ft.adapterBytes).toBe(ft.adapterParams * 4);
    expect(ft.optimizerBytes).toBe(ft.adapterParams * 8);
    expect(ft.gradientBytes).toBe(ft.adapterParams * 4);
    const attentionOnly = finetuneMemory({ spec: llama8b, method: 'lora', rank: 16, targetModules: 'attention', device: gpu24 });
    expect(attentionOnly.adapterParams).toBe((8192 + 5120 + 5120 + 8192) * 32 * 16);
  });

  it('holds the frozen base in bf16 for LoRA and NF4 for QLoRA', () => {
    const gpu16: DeviceTarget = cpu(16, { kind: 'gpu', runtimeOverheadBytes: GIB });
    const lora = finetuneMemory({ spec: llama8b, method: 'lora', device: gpu16 });
    const qlora = finetuneMemory({ spec: llama8b, method: 'qlora', device: gpu16 });
    expect(lora.frozenWeightBytes).toBe(paramCount(llama8b).total * 2);
    const embeddingAndHead = 2 * 128_256 * 4096;
    const matmulsExceptHead = paramCount(llama8b).total - embeddingAndHead - (32 * 2 + 1) * 4096;
    expect(qlora.frozenWeightBytes).toBe(Math.round((matmulsExceptHead * NF4_BITS_PER_WEIGHT) / 8 + (embeddingAndHead + (32 * 2 + 1) * 4096) * 2));
    expect(lora.fits).toBe(false);
    expect(lora.reason).toMatch(/LORA needs .* GiB, more than the .* GiB usable .* free VRAM; the largest part is the frozen bf16 base/);
    expect(qlora.fits).toBe(true);
  });

  it('grows activations with batch and sequence length', () => {
    const small = finetuneMemory({ spec: llama8b, method: 'qlora', batch: 1, seqLen: 1024, device: gpu24 });
    const large = finetuneMemory({ spec: llama8b, method: 'qlora', batch: 4, seqLen: 4096, device: gpu24 });
    expect(large.activationBytes).toBe(small.activationBytes * 16);
    const noCheckpoint = finetuneMemory({ spec: llama8b, method: 'qlora', batch: 1, seqLen: 1024, gradientCheckpointing: false, device: gpu24 });
    // Without checkpointing every layer keeps its 34·s·b·h bytes instead of its 2·s·b·h input.
    const sbh = 1024 * 4096;
    expect(noCheckpoint.activationBytes - small.activationBytes).toBe((32 * 34 - 32 * 2 - 34) * sbh);
  });
});
