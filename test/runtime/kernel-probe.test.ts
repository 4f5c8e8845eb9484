/**
 * The CPU kernel probe's graphs compute what they say (checked against a plain JavaScript product on small
 * shapes), and the probe returns positive rates for both kernels on a real ONNX Runtime session.
 */
import { describe, expect, it } from 'vitest';
import { gemmProbeModel, int4GemvProbeModel, probeCpuKernels } from '../../src/runtime/kernel-probe.js';
import { decodeModel } from '../../src/onnx/proto.js';
import { createSessionFromBytes, ort } from '../../src/runtime/session.js';

async function run(bytes: Uint8Array, x: Float32Array, m: number, k: number): Promise<Float32Array> {
  const { session } = await createSessionFromBytes(bytes, { device: 'cpu', threads: 1, graphOptLevel: 'all' }, 'test');
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, [m, k]) });
    return out.y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function initializerBytes(bytes: Uint8Array, name: string): Uint8Array {
  const init = decodeModel(bytes).graph?.initializer.find((t) => t.name === name);
  return Uint8Array.from(init!.raw_data!); // a copy: the decoder may hand out a view of a larger buffer
}

describe('the CPU kernel probe', () => {
  it('the GEMM graph is x · W', async () => {
    const [m, k, n] = [3, 8, 5];
    const bytes = gemmProbeModel(m, k, n);
    const w = new Float32Array(initializerBytes(bytes, 'w').buffer);
    const x = Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3);
    const y = await run(bytes, x, m, k);
    for (let i = 0; i < m; i += 1) {
      for (let j = 0; j < n; j += 1) {
        let sum = 0;
        for (let t = 0; t < k; t += 1) sum += x[i * k + t]! * w[t * n + j]!;
        expect(y[i * n + j]).toBeCloseTo(sum, 4);
      }
    }
  });

  it('the int4 graph is x · dequant(W): unsigned nibbles, zero point 8, one scale per block of 32', async () => {
    const [m, k, n, block] = [1, 64, 4, 32];
    const bytes = int4GemvProbeModel(m, k, n, block);
    const packed = initializerBytes(bytes, 'w_q');
    const scales = new Float32Array(initializerBytes(bytes, 'w_scales').buffer);
    const x = Float32Array.from({ length: k }, (_, i) => ((i * 5) % 11) / 11 - 0.5);
    const y = await run(bytes, x, m, k);
    for (let j = 0; j < n; j += 1) {
      let sum = 0;
      for (let t = 0; t < k; t += 1) {
        const b = Math.floor(t / block);
        const byte = packed[(j * (k / block) + b) * (block / 2) + Math.floor((t % block) / 2)]!;
        const q = t % 2 === 0 ? byte & 0x0f : byte >> 4;
        sum += x[t]! * (q - 8) * scales[j * (k / block) + b]!;
      }
      // Accuracy level 4 quantizes x to int8 per block: close, not exact.
      expect(Math.abs(y[j]! - sum)).toBeLessThan(0.02 * Math.max(1, Math.abs(sum)));
    }
  });

  it('measures both kernels in well under two seconds', async () => {
    const r = await probeCpuKernels({ threads: 1, msPerKernel: 50 });
    expect(r.gemmFlopsPerSec).toBeGreaterThan(1e8);
    expect(r.int4GemvOpsPerSec).toBeGreaterThan(1e8);
    expect(r.threads).toBe(1);
    expect(r.durationMs).toBeLessThan(2000);
  });
});
