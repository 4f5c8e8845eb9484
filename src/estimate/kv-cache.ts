import type { ModelSpec } from '../catalog/model-spec.js';
import { invalidValue } from '../errors.js';

/** Element types of the KV cache. `fp32` is what ONNX Runtime keeps for fp32 and q4 (fp32-activation) models. */
export const KV_DTYPES = ['fp32', 'fp16', 'bf16', 'fp8', 'int8'] as const;
export type KvDtype = (typeof KV_DTYPES)[number];

export const KV_DTYPE_BYTES: Record<KvDtype, number> = { fp32: 4, fp16: 2, bf16: 2, fp8: 1, int8: 1 };

export function parseKvDtype(value: string): KvDtype {
  if (!(KV_DTYPES as readonly string[]).includes(value)) throw invalidValue('KV-cache dtype', value, KV_DTYPES);
  return value as KvDtype;
}

/**
 * Elements cached per token in one layer. Standard attention caches K and V for every KV head
 * (GQA/MQA: fewer KV heads than query heads); MLA (DeepSeek-V3) caches one compressed latent of
 * `kv_lora_rank` plus the shared RoPE key of `qk_rope_head_dim`, not per-head K/V.
 */
export function kvElementsPerTokenPerLayer(spec: ModelSpec): number {
  if (spec.mla) return spec.mla.kvLoraRank + spec.mla.qkRopeHeadDim;
  return 2 * spec.numKvHeads * spec.headDim;
}

/** Number of layers that attend within the sliding window (the rest attend globally). */
export function slidingLayerCount(spec: ModelSpec): number {
  if (spec.slidingWindow === null || spec.slidingWindowPattern === null) return 0;
  if (spec.slidingWindowPattern === 'interleaved') return Math.min(spec.numLayers, spec.slidingLayers ?? 0);
  // Gemma 2: even-indexed layers (0, 2, 4, ...) slide.
  return spec.slidingWindowPattern === 'all' ? spec.numLayers : Math.ceil(spec.numLayers / 2);
}

/**
 * KV-cache bytes per token while the context is within every window: Σ over layers of
 * 2 × kv_heads × head_dim × dtype bytes (MLA: (kv_lora_rank + qk_rope_head_dim) × dtype bytes).
 * Llama-3.1-8B at fp16: 2 × 32 × 8 × 128 × 2 = 131,072.
 */
export function kvCacheBytesPerToken(spec: ModelSpec, dtype: KvDtype = 'fp16'): number {
  return kvElementsPerTokenPerLayer(spec) * spec.numLayers * KV_DTYPE_BYTES[dtype];
}

export interface KvCacheOptions {
  /** Tokens held per sequence (prompt + generated). */
  tokens: number;
  dtype?: KvDtype;
  /** Sequences held at once. */
  concurrency?: number;
  /**
   * Whether sliding-window layers keep only the window (true, the default: what runtimes with a rolling
   * cache do) or a full-length cache like the global layers.
   */
  capSlidingWindow?: boolean;
}

export interface KvCacheBreakdown {
  totalBytes: number;
  bytesPerSequence: number;
  /** Bytes per token while the context fits in every window. */
  bytesPerTokenUncapped: number;
  globalLayers: number;
  slidingLayers: number;
  /** Tokens the sliding layers hold per sequence (≤ window). */
  slidingTokens: number;
  dtype: KvDtype;
  formula: string;
}

/** KV-cache bytes for `tokens` per sequence × `concurrency` sequences, sliding layers capped at the window. */
export function kvCacheBytes(spec: ModelSpec, options: KvCacheOptions): number {
  return kvCacheBreakdown(spec, options).totalBytes;
}

export function kvCacheBreakdown(spec: ModelSpec, options: KvCacheOptions): KvCacheBreakdown {
  const dtype = options.dtype ?? 'fp16';
  const concurrency = options.concurrency ?? 1;
  const tokens = Math.max(0, Math.ceil(options.tokens));
  const perLayerToken = kvElementsPerTokenPerLayer(spec) * KV_DTYPE_BYTES[dtype];
  const cap = options.capSlidingWindow ?? true;
  const sliding = cap ? slidingLayerCount(spec) : 0;
  const global = spec.numLayers - sliding;
  const slidingTokens = sliding > 0 && spec.slidingWindow !== null ? Math.min(tokens, spec.slidingWindow) : tokens;
  const bytesPerSequence = perLayerToken * (global * tokens + sliding * slidingTokens);
  const what = spec.mla
    ? `(kv_lora_rank ${spec.mla.kvLoraRank} + qk_rope ${spec.mla.qkRopeHeadDim})`
    : `2 × ${spec.numKvHeads} kv_heads × ${spec.headDim} head_dim`;
  const layers = sliding > 0
    ? `(${global} global layers × ${tokens} + ${sliding} sliding layers × ${slidingTokens}) tokens`
    : `${spec.numLayers} layers × ${tokens} tokens`;
  return {
    totalBytes: bytesPerSequence * concurrency,
    bytesPerSequence,
    bytesPerTokenUncapped: perLayerToken * spec.numLayers,
    globalLayers: global,
    slidingLayers: sliding,
    slidingTokens,
    dtype,
    formula: `${what} × ${KV_DTYPE_BYTES[dtype]} B × ${layers} × ${concurrency} sequence${concurrency === 1 ? '' : 's'}`,
  };
}
