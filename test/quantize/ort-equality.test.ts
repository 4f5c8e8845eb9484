import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { toFloat16Bits, fromFloat16Bits } from '../../src/util/float16.js';
import { dequantizeInt4, packGatherData, quantizeInt4, quantizeInt4Rows, type Int4Weight } from '../../src/quantize/int4.js';
import { createRandom } from '../../src/quantize/random.js';
import { DTYPE, bytesOf, encodeMiniModel, type MiniTensor } from './helpers/mini-onnx.js';

/**
 * ONNX Runtime's own MatMulNBits kernel must compute `A × dequant(W)` with the bytes our quantizer writes:
 * this is what proves the packing (nibble order, transposition, scales and zero-point layout) matches ORT.
 */

const M = 3;
const N = 9;

interface Case {
  K: number;
  blockSize: number;
  symmetric: boolean;
  dtype: 'float32' | 'float16';
  accuracyLevel: 0 | 4;
}

const cases: Case[] = [];
for (const blockSize of [16, 32, 64, 128, 256]) {
  // 3*bs - 5: K not a multiple of the block size, odd K, and an odd number of blocks (zero-point padding).
  for (const K of [3 * blockSize - 5, 2 * blockSize]) {
    for (const symmetric of [true, false]) {
      for (const dtype of ['float32', 'float16'] as const) {
        for (const accuracyLevel of [0, 4] as const) cases.push({ K, blockSize, symmetric, dtype, accuracyLevel });
      }
    }
  }
}

function matMulNBitsModel(q: Int4Weight, accuracyLevel: number): Uint8Array {
  const elem = q.dtype === 'float16' ? DTYPE.float16 : DTYPE.float32;
  const initializers: MiniTensor[] = [
    { name: 'W_Q4', dtype: DTYPE.uint8, dims: [q.N, q.kBlocks, q.blobSize], data: q.packed },
    { name: 'W_scales', dtype: elem, dims: [q.N, q.kBlocks], data: bytesOf(q.scales) },
  ];
  if (q.zeroPoints) initializers.push({ name: 'W_zp', dtype: DTYPE.uint8, dims: [q.N, q.zeroPointBytesPerColumn], data: q.zeroPoints });
  const attributes: Record<string, number> = { K: q.K, N: q.N, bits: 4, block_size: q.blockSize };
  if (accuracyLevel !== 0) attributes.accuracy_level = accuracyLevel;
  return encodeMiniModel({
    nodes: [{ opType: 'MatMulNBits', domain: 'com.microsoft', inputs: ['A', ...initializers.map((t) => t.name)], outputs: ['Y'], intAttributes: attributes }],
    initializers,
    inputs: [{ name: 'A', dtype: elem, dims: ['M', q.K] }],
    outputs: [{ name: 'Y', dtype: elem, dims: ['M', q.N] }],
    opsets: { 'com.microsoft': 1 },
  });
}

function matMulModel(weight: Float32Array, K: number): Uint8Array {
  return encodeMiniModel({
    nodes: [{ opType: 'MatMul', inputs: ['A', 'W'], outputs: ['Y'] }],
    initializers: [{ name: 'W', dtype: DTYPE.float32, dims: [K, N], data: bytesOf(weight) }],
    inputs: [{ name: 'A', dtype: DTYPE.float32, dims: ['M', K] }],
    outputs: [{ name: 'Y', dtype: DTYPE.float32, dims: ['M', N] }],
  });
}

async function runModel(model: Uint8Array, a: ort.Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  try {
    const { Y } = await session.run({ A: a });
    const data = Y!.data;
    if (data instanceof Uint16Array) return Float32Array.from(data, (bits) => fromFloat16Bits(bits));
    return data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('MatMulNBits in ONNX Runtime equals A × dequant(W) computed here', () => {
  it.each(cases)('K=$K block $blockSize symmetric=$symmetric $dtype accuracy_level $accuracyLevel', async ({ K, blockSize, symmetric, dtype, accuracyLevel }) => {
    const rnd = createRandom(K * 1009 + blockSize * 7 + (symmetric ? 1 : 0) + (dtype === 'float16' ? 2 : 0));
    const weight = new Float32Array(K * N).map(() => rnd.normal() * 0.05 + (symmetric ? 0 : 0.02));
    const activations = new Float32Array(M * K).map(() => rnd.normal());
    let source: Float32Array | Uint16Array = weight;
    let aTensor: ort.Tensor = new ort.Tensor('float32', activations, [M, K]);
    if (dtype === 'float16') {
      source = Uint16Array.from(weight, (v) => toFloat16Bits(v));
      const aHalf = Uint16Array.from(activations, (v) => toFloat16Bits(v));
      for (let i = 0; i < activations.length; i++) activations[i] = fromFloat16Bits(aHalf[i]!);
      aTensor = new ort.Tensor('float16', aHalf, [M, K]);
    }
    const q = quantizeInt4(source, K, N, { blockSize, symmetric, dtype });
    const deq = dequantizeInt4(q);

    const actual = await runModel(matMulNBitsModel(q, accuracyLevel), aTensor);
    expect(actual.length).toBe(M * N);

    for (let m = 0; m < M; m++) {
      // Per-block absolute maxima of this row of A, for the int8 bound below.
      const blockMax: number[] = [];
      for (let b = 0; b * blockSize < K; b++) {
        let amax = 0;
        for (let k = b * blockSize; k < Math.min(K, (b + 1) * blockSize); k++) amax = Math.max(amax, Math.abs(activations[m * K + k]!));
        blockMax.push(amax);
      }
      for (let n = 0; n < N; n++) {
        let expected = 0;
        let magnitude = 0;
        let int8Bound = 0;
        for (let k = 0; k < K; k++) {
          const product = activations[m * K + k]! * deq[k * N + n]!;
          expected += product;
          magnitude += Math.abs(product);
          // accuracy_level 4 lets ORT quantize A per block to int8 (scale = absmax/127), so each a_k may move
          // by up to half an int8 step: |Δa_k| <= absmax(block)/254. The output can move by Σ |Δa_k|·|w_kn|.
          int8Bound += (blockMax[Math.floor(k / blockSize)]! / 254) * Math.abs(deq[k * N + n]!);
        }
        // fp32 accumulation in any order: a few ulps of the sum of magnitudes; fp16 output adds its rounding.
        let tolerance = magnitude * 1e-5 + 1e-6;
        if (dtype === 'float16') tolerance += Math.abs(expected) * 2 ** -10;
        if (accuracyLevel === 4) tolerance += int8Bound * 1.01;
        const got = actual[m * N + n]!;
        expect(Math.abs(got - expected), `m=${m} n=${n} got ${got} expected ${expected}`).toBeLessThanOrEqual(tolerance);
      }
    }

    // The same weight as a plain float MatMul gives the same result (fp32, exact compute path).
    if (accuracyLevel === 0) {
      const reference = await runModel(matMulModel(deq, K), new ort.Tensor('float32', activations, [M, K]));
      for (let i = 0; i < M * N; i++) {
        const scale = dtype === 'float16' ? Math.abs(reference[i]!) * 2 ** -10 : 0;
        expect(Math.abs(actual[i]! - reference[i]!)).toBeLessThanOrEqual(scale + 1e-4 * (1 + Math.abs(reference[i]!)));
      }
    }
  });

  it('a packing with swapped nibbles does not match (the check above can fail)', async () => {
    const K = 64;
    const rnd = createRandom(99);
    const weight = new Float32Array(K * N).map(() => rnd.normal() * 0.05);
    const activations = new Float32Array(M * K).map(() => rnd.normal());
    const q = quantizeInt4(weight, K, N, { blockSize: 32, symmetric: true, dtype: 'float32' });
    const deq = dequantizeInt4(q);
    const swapped = { ...q, packed: q.packed.map((b) => ((b & 0x0f) << 4) | (b >> 4)) };
    const actual = await runModel(matMulNBitsModel(swapped, 0), new ort.Tensor('float32', activations, [M, K]));
    let worst = 0;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let expected = 0;
        for (let k = 0; k < K; k++) expected += activations[m * K + k]! * deq[k * N + n]!;
        worst = Math.max(worst, Math.abs(actual[m * N + n]! - expected));
      }
    }
    expect(worst).toBeGreaterThan(0.05);
  });
});

describe('GatherBlockQuantized in ONNX Runtime returns the dequantized embedding rows', () => {
  const gatherCases: { cols: number; blockSize: number; symmetric: boolean; dtype: 'float32' | 'float16' }[] = [];
  for (const blockSize of [16, 32, 64, 128, 256]) {
    for (const symmetric of [true, false]) {
      for (const dtype of ['float32', 'float16'] as const) gatherCases.push({ cols: blockSize * 3, blockSize, symmetric, dtype });
    }
  }
  // cols not a multiple of the block size (odd block count, ragged last block).
  gatherCases.push({ cols: 80, blockSize: 32, symmetric: false, dtype: 'float32' });

  it.each(gatherCases)('hidden $cols block $blockSize symmetric=$symmetric $dtype', async ({ cols, blockSize, symmetric, dtype }) => {
    const rows = 13;
    const rnd = createRandom(cols + blockSize + (symmetric ? 5 : 0));
    const table = new Float32Array(rows * cols).map(() => rnd.normal() * 0.1);
    const source = dtype === 'float16' ? Uint16Array.from(table, (v) => toFloat16Bits(v)) : table;
    const q = quantizeInt4Rows(source, rows, cols, { blockSize, symmetric, dtype });
    const deq = dequantizeInt4(q); // [cols, rows]: the transposed table
    const elem = dtype === 'float16' ? DTYPE.float16 : DTYPE.float32;
    const initializers: MiniTensor[] = [
      { name: 'E_Q4', dtype: DTYPE.uint8, dims: [rows, Math.ceil(cols / 2)], data: packGatherData(q) },
      { name: 'E_scales', dtype: elem, dims: [rows, q.kBlocks], data: bytesOf(q.scales) },
    ];
    if (q.zeroPoints) initializers.push({ name: 'E_zp', dtype: DTYPE.uint8, dims: [rows, q.zeroPointBytesPerColumn], data: q.zeroPoints });
    const model = encodeMiniModel({
      nodes: [
        {
          opType: 'GatherBlockQuantized',
          domain: 'com.microsoft',
          inputs: ['E_Q4', 'ids', ...initializers.slice(1).map((t) => t.name)],
          outputs: ['Y'],
          intAttributes: { bits: 4, block_size: blockSize, gather_axis: 0, quantize_axis: 1 },
        },
      ],
      initializers,
      inputs: [{ name: 'ids', dtype: DTYPE.int64, dims: [1, 'S'] }],
      outputs: [{ name: 'Y', dtype: elem, dims: [1, 'S', cols] }],
      opsets: { 'com.microsoft': 1 },
    });
    const ids = [3, 0, 12, 3, 7];
    const session = await ort.InferenceSession.create(model);
    try {
      const { Y } = await session.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) });
      expect(Y!.dims).toEqual([1, ids.length, cols]);
      const data = Y!.data;
      const got = data instanceof Uint16Array ? Float32Array.from(data, (b) => fromFloat16Bits(b)) : (data as Float32Array);
      ids.forEach((id, t) => {
        for (let c = 0; c < cols; c++) {
          const expected = deq[c * rows + id]!;
          const tolerance = dtype === 'float16' ? Math.abs(expected) * 2 ** -10 : 1e-7;
          expect(Math.abs(got[t * cols + c]! - expected)).toBeLessThanOrEqual(tolerance);
        }
      });
    } finally {
      await session.release();
    }
  });
});
