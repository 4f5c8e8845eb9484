/**
 * The decoder-layer probe's graphs load and run in ONNX Runtime (int4 and fp32, one row and a prompt chunk on
 * top of a cache), the probe returns positive timings, and a case's timing is the first quartile of its runs.
 */
import { describe, expect, it } from 'vitest';
import { CPU_LAYER_PROBE, cpuRatesFromLayerProbe, type LayerShape } from '../../src/estimate/cpu-rates.js';
import { DEFAULT_INT4 } from '../../src/estimate/weights.js';
import { decodeModel } from '../../src/onnx/proto.js';
import { caseSeconds, layerProbeFeeds, layerProbeModel, probeCpuKernels } from '../../src/runtime/kernel-probe.js';
import { createSessionFromBytes } from '../../src/runtime/session.js';

const small: LayerShape = { hidden: 64, intermediate: 96, heads: 2, kvHeads: 1 };

describe('the decoder-layer probe', () => {
  it('has the fused graph’s operators, its own weights per layer', () => {
    const model = decodeModel(layerProbeModel(small, 2, 'int4'));
    const ops = (model.graph?.node ?? []).map((n) => n.op_type);
    const count = (op: string): number => ops.filter((o) => o === op).length;
    // q/k/v, o, the packed gate/up and down per layer; gate/up split after the product.
    expect(count('MatMulNBits')).toBe(2 * 4);
    expect(count('Split')).toBe(2);
    expect(count('GroupQueryAttention')).toBe(2);
    expect(count('QuickGelu')).toBe(2);
    expect(count('SkipSimplifiedLayerNormalization')).toBe(2 * 2);
    const nbits = model.graph?.node.find((n) => n.op_type === 'MatMulNBits');
    const attribute = (name: string): number | undefined => Number(nbits?.attribute.find((a) => a.name === name)?.i);
    expect([attribute('bits'), attribute('block_size'), attribute('accuracy_level')]).toEqual([4, CPU_LAYER_PROBE.blockSize, 4]);
    expect(CPU_LAYER_PROBE.blockSize).toBe(DEFAULT_INT4.blockSize);
    const initializers = new Set((model.graph?.initializer ?? []).map((t) => t.name));
    expect(initializers.has('/layers.0/mlp/down_proj.q') && initializers.has('/layers.1/mlp/down_proj.q')).toBe(true);
    expect(decodeModel(layerProbeModel(small, 1, 'fp32')).graph?.node.filter((n) => n.op_type === 'MatMul')).toHaveLength(4);
  });

  it.each(['int4', 'fp32'] as const)('the %s stack runs in ONNX Runtime: one row and a prompt chunk on top of a cache', async (format) => {
    const layers = 2;
    const { session } = await createSessionFromBytes(layerProbeModel(small, layers, format), { device: 'cpu', threads: 1, graphOptLevel: 'all' }, 'test');
    try {
      for (const rows of [1, 5]) {
        const out = await session.run(layerProbeFeeds(small, layers, rows, 8));
        expect(out.y!.dims).toEqual([1, rows, small.hidden]);
        expect(out['present.1.key']!.dims).toEqual([1, small.kvHeads, 8 + rows, small.hidden / small.heads]);
        const y = out.y!.data as Float32Array;
        expect(y.every(Number.isFinite)).toBe(true);
        expect(new Set(y).size).toBeGreaterThan(1);
      }
    } finally {
      await session.release();
    }
  });

  it('a case that lost a core for most of its runs still reads the speed of the others', () => {
    // 4 runs at full speed, 5 at half (another guest held a core): the median would be a slow run.
    const times = [2, 1, 2, 1, 2, 1, 2, 2, 1].map((t) => t * 1e-3);
    expect(caseSeconds(times)).toBe(1e-3);
    expect(caseSeconds([3e-3])).toBe(3e-3);
    expect(caseSeconds([4e-3, 1e-3, 2e-3, 3e-3, 5e-3])).toBe(2e-3);
  });

  it('measures every stack and gives positive, finite rates', async () => {
    const r = await probeCpuKernels({ threads: 1, msPerCase: 20 });
    expect(r.shape).toEqual(CPU_LAYER_PROBE.shape);
    for (const v of [r.tinyDecodeSecPerLayer, r.int4DecodeSecPerLayer, r.fp32DecodeSecPerLayer, r.int4PromptSecPerTokenLayer, r.fp32PromptSecPerTokenLayer]) expect(v).toBeGreaterThan(0);
    // A layer of 14.9 M weights costs more than the tiny one.
    expect(r.int4DecodeSecPerLayer).toBeGreaterThan(r.tinyDecodeSecPerLayer);
    const rates = cpuRatesFromLayerProbe(r);
    for (const v of [rates.int4OpsPerSec, rates.readBytesPerSec, rates.gemmFlopsPerSec.fp32, rates.gemmFlopsPerSec.int4]) expect(Number.isFinite(v) && v > 1e8).toBe(true);
    expect(r.threads).toBe(1);
    expect(r.durationMs).toBeLessThan(10_000);
  }, 30_000);
});
