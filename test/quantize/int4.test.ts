import { describe, expect, it } from 'vitest';
import { ModelscoutError } from '../../src/errors.js';
import { toFloat16Bits, fromFloat16Bits } from '../../src/util/float16.js';
import {
  Int4Quantizer,
  dequantizeInt4,
  packGatherData,
  quantizeInt4,
  quantizeInt4Rows,
  readInt4Code,
  readInt4Scale,
  readInt4ZeroPoint,
  type Int4Weight,
} from '../../src/quantize/int4.js';
import { createRandom } from '../../src/quantize/random.js';

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
const floatBytes = (values: Float32Array): string => hex(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));

// The spec's worked example (§1.7): one column, K = 16, block 16.
const EXAMPLE = new Float32Array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.75, 0.05, 0, -0.05, 0.25, -0.25, 0.8, -0.1, 0.15]);

function codes(weight: Int4Weight): number[] {
  const out: number[] = [];
  for (let n = 0; n < weight.N; n++) for (let k = 0; k < weight.K; k++) out.push(readInt4Code(weight, k, n));
  return out;
}

describe('int4 quantization: the spec worked example, to the byte', () => {
  it('symmetric: scale -0.1, codes, B bytes, no zero points', () => {
    const q = quantizeInt4(EXAMPLE, 16, 1, { blockSize: 16, symmetric: true, dtype: 'float32' });
    expect(floatBytes(q.scales as Float32Array)).toBe('cd cc cc bd');
    expect(codes(q)).toEqual([7, 10, 5, 12, 3, 14, 1, 15, 8, 8, 9, 6, 11, 0, 9, 7]);
    expect(hex(q.packed)).toBe('a7 c5 e3 f1 88 69 0b 79');
    expect(q.zeroPoints).toBeUndefined();
    expect([q.kBlocks, q.blobSize, q.columnBytes]).toEqual([1, 8, 8]);
  });

  it('asymmetric: scale 0.10333333, zp 7 with pad nibble 8', () => {
    const q = quantizeInt4(EXAMPLE, 16, 1, { blockSize: 16, symmetric: false, dtype: 'float32' });
    expect(floatBytes(q.scales as Float32Array)).toBe('6d a0 d3 3d');
    expect(codes(q)).toEqual([8, 5, 10, 3, 12, 1, 14, 0, 7, 7, 7, 9, 5, 15, 6, 8]);
    expect(hex(q.packed)).toBe('58 3a 1c 0e 77 97 f5 86');
    expect(hex(q.zeroPoints!)).toBe('87');
  });
});

describe('int4 layout', () => {
  it('transposes: column n of W becomes row n of B, blocks run down the column', () => {
    // W [K=32, N=2]: column 0 is the example twice, column 1 its negation twice.
    const K = 32;
    const w = new Float32Array(K * 2);
    for (let k = 0; k < K; k++) {
      w[k * 2] = EXAMPLE[k % 16]!;
      w[k * 2 + 1] = -EXAMPLE[k % 16]!;
    }
    const q = quantizeInt4(w, K, 2, { blockSize: 16, symmetric: true, dtype: 'float32' });
    expect(q.packed.length).toBe(2 * 2 * 8);
    expect(hex(q.packed.subarray(0, 8))).toBe('a7 c5 e3 f1 88 69 0b 79');
    expect(hex(q.packed.subarray(8, 16))).toBe('a7 c5 e3 f1 88 69 0b 79');
    // Negated column: m = -0.8, scale = +0.1 and the same codes (q - 8 flips sign with the scale).
    expect(readInt4Scale(q, 1, 0)).toBeCloseTo(0.1, 7);
    expect(hex(q.packed.subarray(16, 24))).toBe('a7 c5 e3 f1 88 69 0b 79');
    expect(Array.from(q.scales as Float32Array).map((s) => Math.sign(s))).toEqual([-1, -1, 1, 1]);
  });

  it('pads zero points per column: odd block count, each column starts on a fresh byte', () => {
    const K = 48; // 3 blocks of 16
    const N = 3;
    const rnd = createRandom(7);
    const w = new Float32Array(K * N).map(() => rnd.normal() * 0.1 + 0.02);
    const q = quantizeInt4(w, K, N, { blockSize: 16, symmetric: false, dtype: 'float32' });
    expect(q.kBlocks).toBe(3);
    expect(q.zeroPointBytesPerColumn).toBe(2);
    expect(q.zeroPoints!.length).toBe(N * 2); // not ceil(N*kb/2) = 5
    for (let n = 0; n < N; n++) expect(q.zeroPoints![n * 2 + 1]! >> 4).toBe(8);
    // The zero points read back are the ones the codes were computed with: dequantization is within a step.
    const deq = dequantizeInt4(q);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < 3; b++) {
        const scale = Math.abs(readInt4Scale(q, n, b));
        for (let k = b * 16; k < b * 16 + 16; k++) expect(Math.abs(deq[k * N + n]! - w[k * N + n]!)).toBeLessThanOrEqual(scale * 1.0001);
      }
    }
    expect(readInt4ZeroPoint(q, 0, 2)).toBe(q.zeroPoints![1]! & 0x0f);
  });

  it('K not a multiple of the block size: padding bytes stay 0x00, the odd pad nibble is the zero point', () => {
    const K = 21; // blocks of 16: one full, one with 5 rows
    const N = 2;
    const rnd = createRandom(3);
    const w = new Float32Array(K * N).map(() => rnd.normal());
    for (const symmetric of [true, false]) {
      const q = quantizeInt4(w, K, N, { blockSize: 16, symmetric, dtype: 'float32' });
      expect(q.packed.length).toBe(N * 2 * 8);
      for (let n = 0; n < N; n++) {
        const column = q.packed.subarray(n * 16, n * 16 + 16);
        // Rows 16..20 fill bytes 8, 9 and the low nibble of 10; bytes 11..15 are padding.
        expect(Array.from(column.subarray(11))).toEqual([0, 0, 0, 0, 0]);
        expect(column[10]! >> 4).toBe(readInt4ZeroPoint(q, n, 1));
      }
      // The tail block's scale comes from its 5 real rows only.
      const tail = Array.from({ length: 5 }, (_, i) => w[(16 + i) * N]!);
      const range = symmetric ? Math.max(...tail.map(Math.abs)) / 8 : (Math.max(0, ...tail) - Math.min(0, ...tail)) / 15;
      expect(Math.abs(readInt4Scale(q, 0, 1))).toBeCloseTo(range, 6);
    }
  });

  it('an all-zero block gets scale -0 (sign bit set) and code 8 in symmetric mode', () => {
    const q = quantizeInt4(new Float32Array(16), 16, 1, { blockSize: 16, symmetric: true, dtype: 'float32' });
    expect(floatBytes(q.scales as Float32Array)).toBe('00 00 00 80');
    expect(hex(q.packed)).toBe('88 88 88 88 88 88 88 88');
    expect(dequantizeInt4(q).every((v) => v === 0)).toBe(true);
  });

  it('ties |max| == |min| pick the minimum (negative) value, so the scale is positive', () => {
    const w = new Float32Array(16);
    w[0] = 0.5;
    w[1] = -0.5;
    const q = quantizeInt4(w, 16, 1, { blockSize: 16, symmetric: true, dtype: 'float32' });
    expect(readInt4Scale(q, 0, 0)).toBe(0.0625);
    expect(readInt4Code(q, 1, 0)).toBe(0); // -0.5 / 0.0625 + 8 = 0
    expect(readInt4Code(q, 0, 0)).toBe(15); // +0.5 clamps at 15: the one-step-off extreme
  });
});

describe('int4 dequantization error', () => {
  const cases: { K: number; N: number; blockSize: number; symmetric: boolean; dtype: 'float32' | 'float16' }[] = [];
  for (const blockSize of [16, 32, 64, 128, 256]) {
    for (const symmetric of [true, false]) {
      for (const dtype of ['float32', 'float16'] as const) cases.push({ K: blockSize * 3 - 7, N: 5, blockSize, symmetric, dtype });
    }
  }

  it.each(cases)('K=$K N=$N block $blockSize symmetric=$symmetric $dtype: within half a step, one at the clamped extreme', ({ K, N, blockSize, symmetric, dtype }) => {
    const rnd = createRandom(K * 31 + N + (symmetric ? 1 : 0));
    const values = new Float32Array(K * N).map(() => rnd.normal() * 0.05 + (symmetric ? 0 : 0.01));
    let source: Float32Array | Uint16Array = values;
    if (dtype === 'float16') {
      source = Uint16Array.from(values, (v) => toFloat16Bits(v));
      for (let i = 0; i < values.length; i++) values[i] = fromFloat16Bits(source[i]!);
    }
    const q = quantizeInt4(source, K, N, { blockSize, symmetric, dtype });
    expect(q.scales).toBeInstanceOf(dtype === 'float16' ? Uint16Array : Float32Array);
    const deq = dequantizeInt4(q);
    let extremes = 0;
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < q.kBlocks; b++) {
        const scale = Math.abs(readInt4Scale(q, n, b));
        const zp = readInt4ZeroPoint(q, n, b);
        for (let k = b * blockSize; k < Math.min(K, (b + 1) * blockSize); k++) {
          const err = Math.abs(deq[k * N + n]! - values[k * N + n]!);
          // fp16 scales are rounded, so the grid is off by up to 2^-11 relative per step: allow that slack.
          const slack = dtype === 'float16' ? scale * 8 * 2 ** -10 : scale * 1e-5;
          const code = readInt4Code(q, k, n);
          if (err > scale / 2 + slack) {
            // Only the clamped extreme may be off by more than half a step: code 15 (symmetric: the value
            // opposite to the sign of m; asymmetric: near the max because zp is rounded) or code 0.
            expect(code === 15 || code === 0, `k=${k} n=${n} code ${code} err ${err} scale ${scale} zp ${zp}`).toBe(true);
            expect(err).toBeLessThanOrEqual(scale + slack);
            extremes++;
          }
        }
      }
    }
    const stats = quantizeStats(source, K, N, blockSize, symmetric, dtype);
    expect(stats.count).toBe(K * N);
    expect(stats.maxAbs).toBeGreaterThan(0);
    expect(stats.relativeFrobenius).toBeGreaterThan(0.01);
    expect(stats.relativeFrobenius).toBeLessThan(0.2);
    expect(extremes).toBeLessThan(K * N * 0.1);
  });

  it('reports error statistics that agree with a direct computation', () => {
    const K = 64;
    const N = 9;
    const rnd = createRandom(11);
    const w = new Float32Array(K * N).map(() => rnd.normal());
    const quantizer = new Int4Quantizer(K, N, { blockSize: 32, symmetric: true, dtype: 'float32' });
    quantizer.addRows(0, w.subarray(0, 32 * N));
    quantizer.addRows(32, w.subarray(32 * N));
    const deq = dequantizeInt4(quantizer.finish());
    let sse = 0;
    let ssw = 0;
    let maxAbs = 0;
    for (let i = 0; i < w.length; i++) {
      const e = w[i]! - deq[i]!;
      sse += e * e;
      ssw += w[i]! * w[i]!;
      maxAbs = Math.max(maxAbs, Math.abs(e));
    }
    const stats = quantizer.errorStats();
    expect(stats.maxAbs).toBeCloseTo(maxAbs, 12);
    expect(stats.rmse).toBeCloseTo(Math.sqrt(sse / w.length), 12);
    expect(stats.relativeFrobenius).toBeCloseTo(Math.sqrt(sse / ssw), 12);
  });
});

describe('int4 streaming and validation', () => {
  it('stripes of any whole-block size give the same bytes as one pass', () => {
    const K = 100;
    const N = 7;
    const rnd = createRandom(5);
    const w = new Float32Array(K * N).map(() => rnd.normal());
    const whole = quantizeInt4(w, K, N, { blockSize: 16, symmetric: false, dtype: 'float32' });
    const streamed = new Int4Quantizer(K, N, { blockSize: 16, symmetric: false, dtype: 'float32' });
    for (const [start, end] of [[0, 16], [16, 64], [64, 80], [80, 100]] as const) streamed.addRows(start, w.slice(start * N, end * N));
    const result = streamed.finish();
    expect(hex(result.packed)).toBe(hex(whole.packed));
    expect(floatBytes(result.scales as Float32Array)).toBe(floatBytes(whole.scales as Float32Array));
    expect(hex(result.zeroPoints!)).toBe(hex(whole.zeroPoints!));
  });

  it('rejects out-of-order or partial stripes', () => {
    const q = new Int4Quantizer(64, 2, { blockSize: 32, symmetric: true, dtype: 'float32' });
    expect(() => q.addRows(32, new Float32Array(64))).toThrow(/in order/);
    expect(() => q.addRows(0, new Float32Array(20))).toThrow(/whole blocks/);
    q.addRows(0, new Float32Array(64));
    expect(() => q.finish()).toThrow(/32 of 64 rows/);
  });

  it('names the allowed block sizes', () => {
    for (const bad of [8, 48, 512]) {
      expect(() => quantizeInt4(new Float32Array(64), 64, 1, { blockSize: bad, symmetric: true, dtype: 'float32' })).toThrow(
        /invalid block size .*16, 32, 64, 128, 256/,
      );
    }
  });

  it('rejects NaN and Inf weights with a ModelscoutError', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const w = new Float32Array(32);
      w[3] = bad;
      let caught: unknown;
      try {
        quantizeInt4(w, 32, 1, { blockSize: 32, symmetric: true, dtype: 'float32' });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ModelscoutError);
      expect(String(caught)).toMatch(/non-finite|NaN/);
    }
  });
});

describe('float16 conversion', () => {
  it('rounds to nearest even, handles subnormals, overflow and signed zero', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00); // rounds up to Inf
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(toFloat16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(Number.isNaN(fromFloat16Bits(toFloat16Bits(Number.NaN)))).toBe(true);
    for (let bits = 0; bits < 0x7c00; bits += 37) expect(toFloat16Bits(fromFloat16Bits(bits))).toBe(bits);
  });
});

function quantizeStats(source: Float32Array | Uint16Array, K: number, N: number, blockSize: number, symmetric: boolean, dtype: 'float32' | 'float16') {
  const quantizer = new Int4Quantizer(K, N, { blockSize, symmetric, dtype });
  quantizer.addRows(0, source);
  return quantizer.errorStats();
}

describe('int4 quantization of an embedding table (rows of Wᵀ)', () => {
  it('gives the same bytes as quantizing the transposed weight by rows', () => {
    for (const [rows, cols, blockSize] of [[11, 64, 32], [7, 40, 16], [5, 33, 16]] as const) {
      const rnd = createRandom(rows * cols);
      const table = new Float32Array(rows * cols).map(() => rnd.normal());
      const transposed = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) transposed[c * rows + r] = table[r * cols + c]!;
      for (const symmetric of [true, false]) {
        const a = quantizeInt4Rows(table, rows, cols, { blockSize, symmetric, dtype: 'float32' });
        const b = quantizeInt4(transposed, cols, rows, { blockSize, symmetric, dtype: 'float32' });
        expect(hex(a.packed)).toBe(hex(b.packed));
        expect(floatBytes(a.scales as Float32Array)).toBe(floatBytes(b.scales as Float32Array));
        expect(a.zeroPoints && hex(a.zeroPoints)).toBe(b.zeroPoints && hex(b.zeroPoints));
        const data = packGatherData(a);
        expect(data.length).toBe(rows * Math.ceil(cols / 2));
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const byte = data[r * Math.ceil(cols / 2) + (c >> 1)]!;
            expect((c & 1) === 0 ? byte & 15 : byte >> 4).toBe(readInt4Code(a, c, r));
          }
        }
      }
    }
  });
});
