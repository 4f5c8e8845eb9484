/**
 * Seeded synthetic weights. Every logical parameter's values are a pure function of
 * (seed, Hugging Face parameter name, shape): element `i` (row-major in the Hugging Face layout) is a
 * counter-based hash of (key(seed, name, shape), i). So any layout (e.g. the [in, out] transpose a MatMul
 * wants) and any chunk can be produced directly, without holding the whole tensor, and another graph
 * builder gets bit-identical weights from the same name.
 *
 * Distribution: Irwin–Hall of the four bytes of a 32-bit hash (bell-shaped, bounded at ±3.45σ), scaled so
 * activations stay sane: 2-D weights σ = 1/√fan_in (each projection roughly preserves the variance of its
 * input; embeddings and tied heads use the hidden size), biases σ = 0.1, norm weights 1, LayerNorm
 * biases 0. Speed and memory of the model are those of the real architecture; its text is noise.
 */

export type WeightInit = { kind: 'ones' } | { kind: 'zeros' } | { kind: 'normal'; std: number };

/** GPT-2's Conv1D layers store [in, out]: the fan-in is the first dim. */
const CONV1D = /(^|\.)(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;
const NORM_WEIGHT = /(norm|(^|\.)ln_[a-z0-9]+)\.weight$/;
const NORM_BIAS = /(norm|(^|\.)ln_[a-z0-9]+)\.bias$/;

/** How a parameter is initialised, from its Hugging Face name and shape. */
export function weightInit(hfName: string, shape: readonly number[]): WeightInit {
  if (NORM_WEIGHT.test(hfName)) return { kind: 'ones' };
  if (NORM_BIAS.test(hfName)) return { kind: 'zeros' };
  if (shape.length === 1) return { kind: 'normal', std: 0.1 };
  const fanIn = CONV1D.test(hfName) ? shape[0]! : shape[shape.length - 1]!;
  return { kind: 'normal', std: 1 / Math.sqrt(fanIn) };
}

/** Standard deviation of the sum of four independent uniform bytes (0..255). */
const IRWIN_HALL_4_STD = Math.sqrt((4 * (256 * 256 - 1)) / 12);

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit key of a parameter: FNV-1a over "name|d0xd1x..." then mixed with the seed. */
export function weightKey(seed: number, hfName: string, shape: readonly number[]): number {
  const text = `${hfName}|${shape.join('x')}`;
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return fmix32((h ^ fmix32(seed >>> 0)) + Math.floor(seed / 2 ** 32));
}

export type WeightLayout = 'hf' | 'transposed';

/**
 * Fills `out` with elements `[start, start + out.length)` of the parameter, in the Hugging Face layout
 * (`'hf'`) or, for a 2-D parameter [rows, cols], in its transpose [cols, rows] (`'transposed'`).
 */
export function fillSyntheticWeight(
  seed: number,
  hfName: string,
  shape: readonly number[],
  out: Float32Array,
  start = 0,
  layout: WeightLayout = 'hf',
): Float32Array {
  const init = weightInit(hfName, shape);
  if (init.kind !== 'normal') {
    out.fill(init.kind === 'ones' ? 1 : 0);
    return out;
  }
  const key = weightKey(seed, hfName, shape);
  const scale = init.std / IRWIN_HALL_4_STD;
  if (layout === 'hf') {
    fillRun(out, 0, out.length, key, start, 1, scale);
    return out;
  }
  if (shape.length !== 2) throw new RangeError(`transposed layout needs a 2-D parameter, ${hfName} has ${shape.length} dims`);
  const rows = shape[0]!;
  const cols = shape[1]!;
  // Stored element p of the [cols, rows] transpose is HF element (r, c) = (p % rows, floor(p / rows)):
  // each stored row is one HF column, i.e. HF indices c, c + cols, c + 2·cols, ...
  let c = Math.floor(start / rows);
  let r = start - c * rows;
  let j = 0;
  while (j < out.length) {
    const run = Math.min(rows - r, out.length - j);
    fillRun(out, j, run, key, r * cols + c, cols, scale);
    j += run;
    r = 0;
    c++;
  }
  return out;
}

/**
 * out[at + n] = sample(index + n·stride) for n < count. The hash is written out inline (two rounds of
 * the murmur3 finalizer over index ^ key) because this loop produces every weight of every model.
 */
function fillRun(out: Float32Array, at: number, count: number, key: number, index: number, stride: number, scale: number): void {
  const last = index + (count - 1) * stride;
  if (last > 0xffffffff) {
    // Rare (tensors over 4 Gi elements): one element at a time, folding the high index bits into the key.
    for (let n = 0; n < count; n++) {
      const i = index + n * stride;
      fillRun(out, at + n, 1, fmix32(key ^ Math.floor(i / 2 ** 32)), i >>> 0, 1, scale);
    }
    return;
  }
  const end = at + count;
  let i = index;
  for (let p = at; p < end; p++, i += stride) {
    let x = (i >>> 0) ^ key;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d);
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b);
    x ^= x >>> 16;
    x = (x + 0x9e3779b9 + key) | 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d);
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b);
    x ^= x >>> 16;
    out[p] = ((x & 255) + ((x >>> 8) & 255) + ((x >>> 16) & 255) + (x >>> 24) - 510) * scale;
  }
}

/** The whole parameter in the Hugging Face layout (float32). */
export function syntheticWeight(seed: number, hfName: string, shape: readonly number[]): Float32Array {
  let count = 1;
  for (const d of shape) count *= d;
  return fillSyntheticWeight(seed, hfName, shape, new Float32Array(count));
}

/** The parameter in chunks of at most `chunkElements` (the last may be shorter), in either layout. */
export function* syntheticWeightChunks(
  seed: number,
  hfName: string,
  shape: readonly number[],
  layout: WeightLayout = 'hf',
  chunkElements = 1 << 22,
): Generator<Float32Array> {
  let count = 1;
  for (const d of shape) count *= d;
  for (let start = 0; start < count; start += chunkElements) {
    yield fillSyntheticWeight(seed, hfName, shape, new Float32Array(Math.min(chunkElements, count - start)), start, layout);
  }
}
