import { float32ToFloat16 } from '../../util/float16.js';
import { fillSyntheticWeight, syntheticWeight } from '../synth/weights.js';

/**
 * Packed projections for the fused graph, built from the same seeded Hugging Face parameters as the
 * standard graph (so both graphs hold bit-identical weights).
 *
 * A packed MatMul weight is the column-wise concatenation of several `nn.Linear` weights stored
 * transposed (`[in, out]`, as MatMul wants it): row r of the packed `[in, Σ out]` matrix is row r of each
 * part's transpose, one after the other. It is produced in row stripes, so only a stripe is in memory.
 */

export interface LinearPart {
  /** Hugging Face name of the `nn.Linear` weight, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  hfName: string;
  /** Output features of this part (the HF weight is `[out, in]`). */
  outFeatures: number;
}

export type PackedDtype = 'fp32' | 'fp16';

function toBytes(values: Float32Array, dtype: PackedDtype): Uint8Array {
  if (dtype === 'fp16') {
    const half = float32ToFloat16(values);
    return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
  }
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * Chunks of the packed `[inFeatures, Σ outFeatures]` matrix (row-major) in the model dtype, a stripe of
 * rows at a time (about `chunkElements` values per chunk).
 */
export function* packedLinearChunks(
  seed: number,
  parts: readonly LinearPart[],
  inFeatures: number,
  dtype: PackedDtype,
  chunkElements = 1 << 22,
): Generator<Uint8Array> {
  const total = parts.reduce((s, p) => s + p.outFeatures, 0);
  const rowsPerStripe = Math.max(1, Math.floor(chunkElements / total));
  for (let r0 = 0; r0 < inFeatures; r0 += rowsPerStripe) {
    const rows = Math.min(rowsPerStripe, inFeatures - r0);
    const stripe = new Float32Array(rows * total);
    let column = 0;
    for (const part of parts) {
      // Rows r0..r0+rows of this part's [in, out] transpose, contiguous in its own layout.
      const piece = fillSyntheticWeight(seed, part.hfName, [part.outFeatures, inFeatures], new Float32Array(rows * part.outFeatures), r0 * part.outFeatures, 'transposed');
      for (let r = 0; r < rows; r++) stripe.set(piece.subarray(r * part.outFeatures, (r + 1) * part.outFeatures), r * total + column);
      column += part.outFeatures;
    }
    yield toBytes(stripe, dtype);
  }
}

/** Concatenation of 1-D parameters (packed biases), in the model dtype. */
export function packedVectorBytes(seed: number, parts: readonly LinearPart[], dtype: PackedDtype): Uint8Array {
  const total = parts.reduce((s, p) => s + p.outFeatures, 0);
  const out = new Float32Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(syntheticWeight(seed, part.hfName, [part.outFeatures]), at);
    at += part.outFeatures;
  }
  return toBytes(out, dtype);
}
