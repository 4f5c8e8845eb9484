/**
 * The CPU kernel probe: how fast ONNX Runtime's own kernels run on this machine right now, in well under a
 * second. Two one-operator graphs built in memory, each run repeatedly for a fixed time on the run's thread
 * count:
 * - `MatMul` fp32, M × K × N = 256 × 1,024 × 1,024: the GEMM rate a long prompt's projections get (prefill);
 * - `MatMulNBits` int4 (block 32, accuracy level 4), one row against a 2,048 × 8,192 weight (8 MiB packed,
 *   more than a core's L2): the rate a decode step's int4 matrix-vector products get.
 * Both are what the CPU delivers — clock, SMT siblings sharing one core's vector units, a throttled or
 * shared host — where the ISA peak only says what it could. Reported as the median of the runs'
 * rates (2·M·K·N operations per run).
 */
import { attr, GraphBuilder } from '../onnx/graph-builder.js';
import { createTensor, DataType, encodeModel } from '../onnx/proto.js';
import { createSessionFromBytes, ort } from './session.js';

export interface KernelProbeResult {
  /** fp32 GEMM FLOP/s (MatMul, prefill-like shape). */
  gemmFlopsPerSec: number;
  /** int4 matrix-vector ops/s (MatMulNBits at accuracy level 4, decode-like shape; 2 ops per weight). */
  int4GemvOpsPerSec: number;
  threads: number;
  durationMs: number;
}

export interface KernelProbeOptions {
  threads: number;
  /** Time spent running each kernel (default 300 ms); session creation comes on top (tens of ms). */
  msPerKernel?: number;
}

const GEMM = { m: 256, k: 1024, n: 1024 } as const;
const GEMV = { m: 1, k: 2048, n: 8192, block: 32 } as const;

/** Deterministic pseudo-random bytes (the values do not matter to the speed, only that they are not all zero). */
function fillBytes(bytes: Uint8Array, seed: number): Uint8Array {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes.length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function smallFloats(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  const noise = fillBytes(new Uint8Array(count), seed);
  for (let i = 0; i < count; i += 1) out[i] = ((noise[i] as number) - 127.5) / 1024;
  return out;
}

function initializer(name: string, dataType: number, dims: number[], raw: Uint8Array) {
  return createTensor({ name, data_type: dataType, dims, raw_data: raw });
}

/** `y = x · W`, W fp32 [K, N]. */
export function gemmProbeModel(m: number, k: number, n: number): Uint8Array {
  const g = new GraphBuilder({ opsets: { '': 17 } });
  g.addInput('x', DataType.FLOAT, [m, k]);
  g.addNode({ name: 'gemm', op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] });
  g.addOutput('y', DataType.FLOAT, [m, n]);
  const { model } = g.build();
  const w = smallFloats(k * n, 7);
  model.graph?.initializer.push(initializer('w', DataType.FLOAT, [k, n], new Uint8Array(w.buffer)));
  return encodeModel(model);
}

/** `y = x · dequant(W)`, W int4 [N, K/block, block/2] with fp32 scales (symmetric), accuracy level 4. */
export function int4GemvProbeModel(m: number, k: number, n: number, block: number): Uint8Array {
  const blocks = k / block;
  const g = new GraphBuilder({ opsets: { '': 17, 'com.microsoft': 1 } });
  g.addInput('x', DataType.FLOAT, [m, k]);
  g.addNode({
    name: 'gemv',
    op: 'MatMulNBits',
    domain: 'com.microsoft',
    inputs: ['x', 'w_q', 'w_scales'],
    outputs: ['y'],
    attributes: { K: attr.int(k), N: attr.int(n), bits: attr.int(4), block_size: attr.int(block), accuracy_level: attr.int(4) },
  });
  g.addOutput('y', DataType.FLOAT, [m, n]);
  const { model } = g.build();
  const scales = new Float32Array(n * blocks).fill(0.01);
  model.graph?.initializer.push(
    initializer('w_q', DataType.UINT8, [n, blocks, block / 2], fillBytes(new Uint8Array(n * blocks * (block / 2)), 11)),
    initializer('w_scales', DataType.FLOAT, [n * blocks], new Uint8Array(scales.buffer)),
  );
  return encodeModel(model);
}

async function kernelRate(bytes: Uint8Array, label: string, m: number, k: number, n: number, threads: number, ms: number, now: () => number): Promise<number> {
  const { session } = await createSessionFromBytes(bytes, { device: 'cpu', threads, graphOptLevel: 'all' }, label);
  try {
    const x = new ort.Tensor('float32', smallFloats(m * k, 3), [m, k]);
    await session.run({ x }); // warm-up: prepacking, thread pool start
    const rates: number[] = [];
    const end = now() + ms;
    while (now() < end || rates.length < 3) {
      const t0 = now();
      await session.run({ x });
      const dt = now() - t0;
      if (dt > 0) rates.push((2 * m * k * n) / (dt / 1000));
    }
    rates.sort((a, b) => a - b);
    return rates[Math.floor(rates.length / 2)] as number;
  } finally {
    await session.release();
  }
}

/** Runs both kernels (about 2 × `msPerKernel` plus session creation). */
export async function probeCpuKernels(options: KernelProbeOptions, now: () => number = () => performance.now()): Promise<KernelProbeResult> {
  const ms = options.msPerKernel ?? 300;
  const threads = Math.max(1, options.threads);
  const t0 = now();
  const gemmFlopsPerSec = await kernelRate(gemmProbeModel(GEMM.m, GEMM.k, GEMM.n), 'the GEMM probe', GEMM.m, GEMM.k, GEMM.n, threads, ms, now);
  const int4GemvOpsPerSec = await kernelRate(int4GemvProbeModel(GEMV.m, GEMV.k, GEMV.n, GEMV.block), 'the int4 probe', GEMV.m, GEMV.k, GEMV.n, threads, ms, now);
  return { gemmFlopsPerSec, int4GemvOpsPerSec, threads, durationMs: now() - t0 };
}
