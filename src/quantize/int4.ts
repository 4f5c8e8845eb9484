import { ModelscoutError } from '../errors.js';
import { fromFloat16Bits, toFloat16Bits } from '../util/float16.js';

/**
 * Block-wise 4-bit round-to-nearest quantization along K of a `[K, N]` MatMul weight, byte-compatible
 * with ONNX Runtime's MLAS quantizer (`BlockwiseQuantizer<T, bs, 4, Columnwise=true>::quantizeAndTranspose`
 * in `onnxruntime/core/mlas/lib/q4_dq.cpp`) and the `com.microsoft::MatMulNBits` layout:
 *
 * - B `[N, kb, bs/2]` uint8: code of `W[k][n]` in byte `n*kb*bs/2 + floor(k/2)`, low nibble for even k.
 * - scales `[N, kb]` in the weight's dtype (fp32 or fp16 bit patterns).
 * - zero points (asymmetric only) `[N, ceil(kb/2)]` uint8, low nibble for even blocks, each column starting
 *   on a fresh byte, pad nibble 8.
 *
 * Every arithmetic step is rounded to float32 (`Math.fround`) so codes and scales match MLAS bit for bit.
 * Rows arrive in stripes of whole blocks (`addRows`), so a large tensor never has to be resident at once:
 * a stripe of `bs` rows is contiguous in a row-major `[K, N]` tensor and is all one block needs.
 */

export const INT4_BLOCK_SIZES = [16, 32, 64, 128, 256] as const;
export type Int4BlockSize = (typeof INT4_BLOCK_SIZES)[number];

/** Weight dtypes the quantizer accepts (ONNX TensorProto FLOAT and FLOAT16). */
export type Int4WeightDType = 'float32' | 'float16';

export interface Int4QuantizerOptions {
  blockSize: number;
  /** true: no zero points (implicit 8), scale = m/-8; false: scale = (max-min)/15 with a per-block zero point. */
  symmetric: boolean;
  /** dtype of the source weight; the scales get the same dtype (MatMulNBits requires scales of A's dtype). */
  dtype: Int4WeightDType;
}

export interface Int4Layout {
  K: number;
  N: number;
  blockSize: number;
  /** ceil(K / blockSize) */
  kBlocks: number;
  /** bytes per block: blockSize / 2 */
  blobSize: number;
  /** bytes of B per output column: kBlocks * blobSize */
  columnBytes: number;
  /** bytes of packed zero points per output column: ceil(kBlocks / 2) */
  zeroPointBytesPerColumn: number;
}

/** Error of the dequantized weight against the source, accumulated while quantizing. */
export interface Int4ErrorStats {
  count: number;
  maxAbs: number;
  /** sqrt(mean((w - deq)^2)) */
  rmse: number;
  /** ||W - deq||_F / ||W||_F (0 for an all-zero weight) */
  relativeFrobenius: number;
}

export interface Int4Weight extends Int4Layout {
  symmetric: boolean;
  dtype: Int4WeightDType;
  /** B, `[N, kBlocks, blobSize]` */
  packed: Uint8Array;
  /** `[N, kBlocks]`: float32 values, or float16 bit patterns when dtype is float16 */
  scales: Float32Array | Uint16Array;
  /** `[N, ceil(kBlocks/2)]`, present only when asymmetric */
  zeroPoints?: Uint8Array;
}

export function describeInt4Layout(K: number, N: number, blockSize: number): Int4Layout {
  assertBlockSize(blockSize);
  if (!Number.isInteger(K) || !Number.isInteger(N) || K < 1 || N < 1) {
    throw new ModelscoutError('E_INPUT', `invalid weight shape [${K}, ${N}]: expected two positive integers`);
  }
  const kBlocks = Math.ceil(K / blockSize);
  const blobSize = blockSize / 2;
  return { K, N, blockSize, kBlocks, blobSize, columnBytes: kBlocks * blobSize, zeroPointBytesPerColumn: Math.ceil(kBlocks / 2) };
}

export function assertBlockSize(blockSize: number): asserts blockSize is Int4BlockSize {
  if (!(INT4_BLOCK_SIZES as readonly number[]).includes(blockSize)) {
    throw new ModelscoutError('E_INPUT', `invalid block size ${JSON.stringify(blockSize)}: expected one of ${INT4_BLOCK_SIZES.join(', ')}`, {
      suggestions: ['Use --block-size 32 (the default) or 128.'],
    });
  }
}

const fround = Math.fround;
const FLT_MAX = 3.4028234663852886e38;

/**
 * Streaming quantizer for one weight. Feed the rows of W in order, in stripes that start on a block
 * boundary and hold whole blocks (the last stripe may end at K), then call `finish()`.
 */
export class Int4Quantizer {
  readonly layout: Int4Layout;
  private readonly options: Int4QuantizerOptions;
  private readonly packed: Uint8Array;
  private readonly scales: Float32Array | Uint16Array;
  private readonly zeroPoints: Uint8Array | undefined;
  private nextRow = 0;
  private nextColumn = 0;
  private readonly column: Float32Array;
  /** Running error sums: [sum of squared errors, sum of squared weights, max abs error]. */
  private readonly errors = new Float64Array(3);

  constructor(K: number, N: number, options: Int4QuantizerOptions) {
    this.layout = describeInt4Layout(K, N, options.blockSize);
    if (options.dtype !== 'float32' && options.dtype !== 'float16') {
      throw new ModelscoutError('E_UNSUPPORTED', `unsupported weight dtype ${JSON.stringify(options.dtype)}: expected float32 or float16`);
    }
    this.options = options;
    const { kBlocks, columnBytes, zeroPointBytesPerColumn } = this.layout;
    // Padding bytes (rows K..kb*bs) stay 0x00, as in ORT's Python quantizer.
    this.packed = new Uint8Array(N * columnBytes);
    this.scales = options.dtype === 'float16' ? new Uint16Array(N * kBlocks) : new Float32Array(N * kBlocks);
    this.zeroPoints = options.symmetric ? undefined : new Uint8Array(N * zeroPointBytesPerColumn);
    this.column = new Float32Array(options.blockSize);
  }

  /** Rows consumed so far. */
  get rowsDone(): number {
    return this.nextRow;
  }

  /**
   * Quantizes rows `[rowStart, rowStart + rows.length / N)` of W (row-major, float32 values or float16 bit
   * patterns per `dtype`).
   */
  addRows(rowStart: number, rows: Float32Array | Uint16Array): void {
    const { K, N, blockSize } = this.layout;
    if (rowStart !== this.nextRow) throw new Error(`rows must arrive in order: expected row ${this.nextRow}, got ${rowStart}`);
    if (rows.length % N !== 0) throw new Error(`a stripe must hold whole rows of ${N} values, got ${rows.length}`);
    const rowCount = rows.length / N;
    const rowEnd = rowStart + rowCount;
    if (rowEnd > K) throw new Error(`stripe ends at row ${rowEnd}, beyond K = ${K}`);
    if (rowCount % blockSize !== 0 && rowEnd !== K) throw new Error(`a stripe must hold whole blocks of ${blockSize} rows unless it ends at K`);
    if (this.nextColumn !== 0) throw new Error('a weight is fed either by rows or by columns, not both');
    this.assertSourceType(rows);
    for (let blockStart = rowStart; blockStart < rowEnd; blockStart += blockSize) {
      this.quantizeBlockRow(rows, (blockStart - rowStart) * N, blockStart / blockSize, Math.min(blockSize, K - blockStart));
    }
    this.nextRow = rowEnd;
  }

  /** Returns the packed weight; all K rows (or all N columns) must have been added. */
  finish(): Int4Weight {
    if (this.nextRow !== this.layout.K && this.nextColumn !== this.layout.N) {
      throw new Error(`only ${this.nextRow} of ${this.layout.K} rows were added`);
    }
    const result: Int4Weight = {
      ...this.layout,
      symmetric: this.options.symmetric,
      dtype: this.options.dtype,
      packed: this.packed,
      scales: this.scales,
    };
    if (this.zeroPoints) result.zeroPoints = this.zeroPoints;
    return result;
  }

  /** Error of the dequantized weight, over the rows added so far. */
  errorStats(): Int4ErrorStats {
    const count = this.nextRow * this.layout.N + this.nextColumn * this.layout.K;
    const [sumSqError, sumSqWeight, maxAbs] = this.errors as unknown as [number, number, number];
    return {
      count,
      maxAbs,
      rmse: count === 0 ? 0 : Math.sqrt(sumSqError / count),
      relativeFrobenius: sumSqWeight === 0 ? 0 : Math.sqrt(sumSqError / sumSqWeight),
    };
  }

  /**
   * Quantizes whole columns `[columnStart, columnStart + columns.length / K)` of W given transposed: each
   * column's K values contiguous (i.e. rows of Wᵀ). This is how a `[vocab, hidden]` embedding table is laid
   * out, whose GatherBlockQuantized blocks run along hidden, exactly like MatMulNBits blocks along K.
   */
  addColumns(columnStart: number, columns: Float32Array | Uint16Array): void {
    const { K, N, blockSize, kBlocks } = this.layout;
    if (this.nextRow !== 0) throw new Error('a weight is fed either by rows or by columns, not both');
    if (columnStart !== this.nextColumn) throw new Error(`columns must arrive in order: expected column ${this.nextColumn}, got ${columnStart}`);
    if (columns.length % K !== 0) throw new Error(`a column stripe must hold whole columns of ${K} values, got ${columns.length}`);
    const columnEnd = columnStart + columns.length / K;
    if (columnEnd > N) throw new Error(`stripe ends at column ${columnEnd}, beyond N = ${N}`);
    this.assertSourceType(columns);
    const halfTable = columns instanceof Uint16Array ? halfBitsToFloatTable() : undefined;
    const buffer = this.column;
    for (let n = columnStart; n < columnEnd; n++) {
      const base = (n - columnStart) * K;
      for (let block = 0; block < kBlocks; block++) {
        const first = block * blockSize;
        const len = Math.min(blockSize, K - first);
        let min = FLT_MAX;
        let max = -FLT_MAX;
        for (let i = 0; i < len; i++) {
          const raw = columns[base + first + i]!;
          const v = halfTable ? halfTable[raw]! : raw;
          buffer[i] = v;
          if (v < min) min = v;
          if (v > max) max = v;
        }
        this.encodeBlock(n, block, len, min, max);
      }
    }
    this.nextColumn = columnEnd;
  }

  private assertSourceType(values: Float32Array | Uint16Array): void {
    const isHalf = this.options.dtype === 'float16';
    if (isHalf !== values instanceof Uint16Array) throw new Error(`values must be ${isHalf ? 'a Uint16Array (float16 bits)' : 'a Float32Array'}`);
  }

  /**
   * One block row: for every column n, the `len` values `W[b*bs + i][n]` (stride N in the stripe, starting
   * at `offset`). The column block is gathered into a small contiguous buffer first; B bytes are then
   * written contiguously per column, which keeps both reads and writes cache-friendly for wide weights.
   */
  private quantizeBlockRow(rows: Float32Array | Uint16Array, offset: number, block: number, len: number): void {
    const N = this.layout.N;
    const buffer = this.column;
    const halfTable = rows instanceof Uint16Array ? halfBitsToFloatTable() : undefined;
    for (let n = 0; n < N; n++) {
      // min/max start as in MLAS (FLT_MAX / -FLT_MAX).
      let min = FLT_MAX;
      let max = -FLT_MAX;
      let src = offset + n;
      if (halfTable) {
        for (let i = 0; i < len; i++, src += N) {
          const v = halfTable[rows[src]!]!;
          buffer[i] = v;
          if (v < min) min = v;
          if (v > max) max = v;
        }
      } else {
        for (let i = 0; i < len; i++, src += N) {
          const v = rows[src]!;
          buffer[i] = v;
          if (v < min) min = v;
          if (v > max) max = v;
        }
      }
      this.encodeBlock(n, block, len, min, max);
    }
  }

  /** Scale, zero point and codes of block `block` of column `n`, whose `len` values sit in `this.column`. */
  private encodeBlock(n: number, block: number, len: number, min: number, max: number): void {
    const { kBlocks, blobSize, columnBytes, zeroPointBytesPerColumn } = this.layout;
    if (!(min >= -FLT_MAX && max <= FLT_MAX)) {
      throw new ModelscoutError('E_MODEL', `weight holds a non-finite value (Inf) in column ${n}, block ${block}: it cannot be quantized`);
    }
    // Scale and zero point (MLAS range2scale / range2scalezp), then the scale as stored in T.
    let zp = 8;
    let scaleF: number;
    if (this.options.symmetric) {
      const m = Math.abs(max) > Math.abs(min) ? max : min;
      scaleF = fround(-m / 8);
    } else {
      const lo = Math.min(min, 0);
      const hi = Math.max(max, 0);
      scaleF = fround(fround(hi - lo) / 15);
      let zpF = lo;
      if (scaleF !== 0) zpF = fround(0 - fround(lo / scaleF));
      zp = zpF < 0 ? 0 : zpF > 15 ? 15 : roundHalfAwayFromZero(zpF);
    }
    const scaleIndex = n * kBlocks + block;
    let scale: number;
    const scales = this.scales;
    if (scales instanceof Uint16Array) {
      const bits = toFloat16Bits(scaleF);
      scales[scaleIndex] = bits;
      scale = fromFloat16Bits(bits);
    } else {
      scales[scaleIndex] = scaleF;
      scale = scaleF;
    }
    const reciprocal = scale !== 0 ? fround(1 / scale) : 0;

    // Codes, two per byte, low nibble first; the error of each dequantized value is accumulated on the way.
    const errors = this.errors;
    encodeCodes(this.column, len, reciprocal, zp, scale, this.packed, n * columnBytes + block * blobSize, errors);
    // NaN slips through the min/max comparisons above but poisons the error sum.
    if (Number.isNaN(errors[0]!)) {
      throw new ModelscoutError('E_MODEL', `weight holds a NaN value in column ${n}, block ${block}: it cannot be quantized`);
    }

    if (this.zeroPoints) {
      const zpIndex = n * zeroPointBytesPerColumn + (block >> 1);
      if ((block & 1) === 0) {
        // Pad nibble 8 for the missing last block of an odd block count, as current MLAS writes.
        this.zeroPoints[zpIndex] = zp | ((block + 1 < kBlocks ? 0 : 8) << 4);
      } else {
        this.zeroPoints[zpIndex] = (this.zeroPoints[zpIndex]! & 0x0f) | (zp << 4);
      }
    }
  }
}

/**
 * The hot loop: codes of `len` values, packed two per byte from `dst`, plus the error sums. Per value, as
 * MLAS: `clamp(roundf(v * reciprocal + zp), 0, 15)` with every step in float32 and roundf rounding half
 * away from zero. A negative sum rounds to a value <= 0, which the clamp turns into 0, so only x > 0 needs
 * rounding, and there `(x + 0.5) | 0` is floor(x + 0.5). An odd tail gets the zero point as its pad nibble
 * (it dequantizes to exactly 0).
 */
function encodeCodes(column: Float32Array, len: number, reciprocal: number, zp: number, scale: number, packed: Uint8Array, dst: number, errors: Float64Array): void {
  let sumSqError = 0;
  let sumSqWeight = 0;
  let maxAbs = errors[2]!;
  let out = dst;
  for (let i = 0; i < len; i += 2) {
    const v0 = column[i]!;
    const x0 = fround(fround(v0 * reciprocal) + zp);
    let q0 = x0 > 0 ? (x0 + 0.5) | 0 : 0;
    if (q0 > 15) q0 = 15;
    const e0 = v0 - fround((q0 - zp) * scale);
    sumSqError += e0 * e0;
    sumSqWeight += v0 * v0;
    if (e0 > maxAbs) maxAbs = e0;
    else if (-e0 > maxAbs) maxAbs = -e0;
    let q1 = zp;
    if (i + 1 < len) {
      const v1 = column[i + 1]!;
      const x1 = fround(fround(v1 * reciprocal) + zp);
      q1 = x1 > 0 ? (x1 + 0.5) | 0 : 0;
      if (q1 > 15) q1 = 15;
      const e1 = v1 - fround((q1 - zp) * scale);
      sumSqError += e1 * e1;
      sumSqWeight += v1 * v1;
      if (e1 > maxAbs) maxAbs = e1;
      else if (-e1 > maxAbs) maxAbs = -e1;
    }
    packed[out++] = q0 | (q1 << 4);
  }
  errors[0] = errors[0]! + sumSqError;
  errors[1] = errors[1]! + sumSqWeight;
  errors[2] = maxAbs;
}

function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** Quantizes a whole `[K, N]` weight held in memory. */
export function quantizeInt4(weight: Float32Array | Uint16Array, K: number, N: number, options: Int4QuantizerOptions): Int4Weight {
  const quantizer = new Int4Quantizer(K, N, options);
  if (weight.length !== K * N) throw new Error(`weight has ${weight.length} values, expected K*N = ${K * N}`);
  // Stripes of a few blocks keep the inner loops' working set small without changing the result.
  const stripeRows = options.blockSize * 8;
  for (let row = 0; row < K; row += stripeRows) {
    quantizer.addRows(row, weight.subarray(row * N, Math.min(K, row + stripeRows) * N));
  }
  return quantizer.finish();
}

/**
 * Quantizes a row-major `[rows, cols]` table (a token embedding) block-wise along its last axis: the
 * result is the MatMulNBits layout of its transpose (K = cols, N = rows), so `packed` row r holds the codes
 * of table row r, and scales are `[rows, kBlocks]`, as GatherBlockQuantized (uint8 data, quantize_axis 1)
 * expects. Stripes of whole table rows are fed one at a time.
 */
export function quantizeInt4Rows(table: Float32Array | Uint16Array, rows: number, cols: number, options: Int4QuantizerOptions): Int4Weight {
  if (table.length !== rows * cols) throw new Error(`table has ${table.length} values, expected ${rows * cols}`);
  const quantizer = new Int4Quantizer(cols, rows, options);
  const stripe = Math.max(1, Math.floor(65536 / cols));
  for (let r = 0; r < rows; r += stripe) quantizer.addColumns(r, table.subarray(r * cols, Math.min(rows, r + stripe) * cols));
  return quantizer.finish();
}

/**
 * GatherBlockQuantized `data` (uint8, `[rows, ceil(cols/2)]`, two codes per byte, low nibble first) from a
 * weight quantized with `quantizeInt4Rows`: the per-row block padding of the MatMulNBits layout is dropped.
 * When cols is a multiple of the block size the bytes are the same and are returned as they are.
 */
export function packGatherData(weight: Int4Weight): Uint8Array {
  const rowBytes = Math.ceil(weight.K / 2);
  if (rowBytes === weight.columnBytes) return weight.packed;
  const out = new Uint8Array(weight.N * rowBytes);
  for (let n = 0; n < weight.N; n++) out.set(weight.packed.subarray(n * weight.columnBytes, n * weight.columnBytes + rowBytes), n * rowBytes);
  return out;
}

/** Scale of column n, block b as a float (fp16 scales widened). */
export function readInt4Scale(weight: Pick<Int4Weight, 'scales' | 'kBlocks'>, n: number, b: number): number {
  const raw = weight.scales[n * weight.kBlocks + b]!;
  return weight.scales instanceof Uint16Array ? fromFloat16Bits(raw) : raw;
}

/** Zero point of column n, block b (8 when symmetric). */
export function readInt4ZeroPoint(weight: Pick<Int4Weight, 'zeroPoints' | 'zeroPointBytesPerColumn'>, n: number, b: number): number {
  if (!weight.zeroPoints) return 8;
  const byte = weight.zeroPoints[n * weight.zeroPointBytesPerColumn + (b >> 1)]!;
  return (b & 1) === 0 ? byte & 0x0f : byte >> 4;
}

/** 4-bit code of W[k][n]. */
export function readInt4Code(weight: Pick<Int4Weight, 'packed' | 'columnBytes'>, k: number, n: number): number {
  const byte = weight.packed[n * weight.columnBytes + (k >> 1)]!;
  return (k & 1) === 0 ? byte & 0x0f : byte >> 4;
}

/**
 * The logical float32 weight `[K, N]` (row-major, like the source W) that MatMulNBits multiplies by:
 * `(q - zp) * scale`, computed in float32 as MLAS does.
 */
export function dequantizeInt4(weight: Int4Weight): Float32Array {
  const { K, N, blockSize } = weight;
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b * blockSize < K; b++) {
      const scale = readInt4Scale(weight, n, b);
      const zp = readInt4ZeroPoint(weight, n, b);
      const end = Math.min(K, (b + 1) * blockSize);
      for (let k = b * blockSize; k < end; k++) out[k * N + n] = fround((readInt4Code(weight, k, n) - zp) * scale);
    }
  }
  return out;
}

/** Lazily built table of all 65536 float16 bit patterns as float32 values. */
let halfTableCache: Float32Array | undefined;
function halfBitsToFloatTable(): Float32Array {
  if (!halfTableCache) {
    halfTableCache = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) halfTableCache[bits] = fromFloat16Bits(bits);
  }
  return halfTableCache;
}
