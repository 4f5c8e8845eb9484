import { ropeInverseFrequencies, type SynthArchitecture } from '../synth/architecture.js';

/**
 * The cos/sin tables `GroupQueryAttention` reads when it applies the rotary embedding itself
 * (`do_rotary = 1`): `[positions, head_dim / 2]`, row p holding cos(p·θ_j) / sin(p·θ_j) for the
 * half-split (non-interleaved) rotation transformers uses.
 *
 * The angle is rounded to float32 the way the standard graph computes it (`Cast(position) · inv_freq`
 * in float32), so both graphs rotate by the same angles; only the cos/sin of it differ, by ONNX Runtime's
 * float32 cos/sin against Math.cos rounded once.
 */
export interface RopeCaches {
  /** Rows (positions) in each table. */
  positions: number;
  /** Columns: head_dim / 2. */
  halfDim: number;
  cos: Float32Array;
  sin: Float32Array;
}

export function computeRopeCaches(arch: Pick<SynthArchitecture, 'headDim' | 'ropeTheta' | 'ropeScaling'>, positions: number): RopeCaches {
  const inv = ropeInverseFrequencies(arch);
  const halfDim = inv.length;
  const invF32 = Float32Array.from(inv);
  const cos = new Float32Array(positions * halfDim);
  const sin = new Float32Array(positions * halfDim);
  for (let p = 0; p < positions; p++) {
    const pos = Math.fround(p);
    for (let j = 0; j < halfDim; j++) {
      const angle = Math.fround(pos * (invF32[j] as number));
      cos[p * halfDim + j] = Math.cos(angle);
      sin[p * halfDim + j] = Math.sin(angle);
    }
  }
  return { positions, halfDim, cos, sin };
}
