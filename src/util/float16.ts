/**
 * Array conversions between float32 and IEEE 754 binary16 (bit patterns in a Uint16Array).
 *
 * float32 → float16 rounds to nearest, ties to even (ONNX Runtime MLFloat16 / numpy semantics); overflow
 * goes to ±Inf, NaN stays a quiet NaN with its sign. float16 → float32 is exact and uses a 64 Ki-entry
 * table (256 KiB, built on first use) because one indexed load beats any bit-fiddling in JS.
 */

/** Converts one float32 bit pattern to the float16 bit pattern (RNE). */
function convertBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x47800000) {
    // |x| >= 65536 (beyond the last value that rounds to 65504), Inf or NaN.
    if (abs > 0x7f800000) return sign | 0x7e00 | ((abs >>> 13) & 0x3ff);
    return sign | 0x7c00;
  }
  if (abs >= 0x38800000) {
    // Normal half range (|x| >= 2^-14): rebias the exponent, round the 13 dropped mantissa bits.
    const kept = (abs - 0x38000000) >>> 13;
    const rest = abs & 0x1fff;
    // A carry propagates from the mantissa into the exponent (and to Inf at 65520), as it should.
    return sign | (rest > 0x1000 || (rest === 0x1000 && (kept & 1) === 1) ? kept + 1 : kept);
  }
  const exponent = abs >>> 23;
  if (exponent < 102) return sign; // below 2^-25: rounds to zero (exactly 2^-25 is a tie → even → 0)
  // Subnormal half: one unit is 2^-24; shift the full significand into place and round.
  const mantissa = (abs & 0x7fffff) | 0x800000;
  const shift = 126 - exponent;
  const kept = mantissa >>> shift;
  const rest = mantissa & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  return sign | (rest > halfway || (rest === halfway && (kept & 1) === 1) ? kept + 1 : kept);
}

/** float32 values → float16 bit patterns. `out` may be given to avoid an allocation. */
export function float32ToFloat16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (out.length < src.length) throw new RangeError('float32ToFloat16: output too small');
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) out[i] = convertBits(bits[i]!);
  return out;
}

let halfTable: Float32Array | undefined;

function getHalfTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfBitsToNumber(h);
  }
  return halfTable;
}

function halfBitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa !== 0 ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** float16 bit patterns → float32 values (exact). */
export function float16ToFloat32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  if (out.length < src.length) throw new RangeError('float16ToFloat32: output too small');
  const table = getHalfTable();
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** One value: float → float16 bit pattern (RNE), without allocating (the int4 kernels call it per block). */
export function toFloat16Bits(value: number): number {
  scratch[0] = value;
  return convertBits(scratchBits[0]!);
}

/** One value: float16 bit pattern → number (exact). */
export function fromFloat16Bits(bits: number): number {
  return getHalfTable()[bits & 0xffff]!;
}
