import { ModelscoutError } from '../../errors.js';
import { float32ToFloat16 } from '../../util/float16.js';
import { GraphBuilder, attr, type AttrValue, type BuiltModel } from '../graph-builder.js';
import { METADATA_KEYS } from '../metadata.js';
import { DataType } from '../proto.js';
import type { SynthArchitecture } from '../synth/architecture.js';
import { FP16_LOWEST, FP32_LOWEST, onnxWeightName, type SynthDtype } from '../synth/build-decoder.js';
import { syntheticWeightChunks, type WeightLayout } from '../synth/weights.js';
import { packedLinearChunks, packedVectorBytes, type LinearPart } from './packed-weights.js';
import { computeRopeCaches } from './rope-cache.js';

/**
 * Builds the Llama-family decoder (Llama, Mistral, Qwen2/2.5, SmolLM) as ONNX Runtime's fused CPU kernels
 * want it, the way onnxruntime-genai's model builder lays it out:
 *
 *   embed (Gather) → [SimplifiedLayerNormalization | SkipSimplifiedLayerNormalization] per layer
 *     → packed q/k/v MatMul (+ packed bias) → GroupQueryAttention (rotary inside, KV cache in/out)
 *     → o_proj MatMul → SkipSimplifiedLayerNormalization (residual add + RMSNorm in one op)
 *     → packed gate/up MatMul → Split → QuickGelu(α=1) = SiLU → Mul → down MatMul → …
 *   → final SkipSimplifiedLayerNormalization → [last positions only] → LM head MatMul → logits
 *
 * Projections stay float `MatMul`s so `modelscout quantize` turns them into `MatMulNBits` exactly as in the
 * standard graph. Weights are the same seeded Hugging Face parameters as the standard graph's (same seed →
 * bit-identical values); the packed q/k/v and gate/up weights are their column-wise concatenations. Packing
 * gate and up makes one int4 product per layer out of two over the same input (one quantization of the row,
 * one longer pass over the weights): SmolLM2-135M's one-row decode a few per cent faster (docs/benchmarks.md).
 *
 * I/O keeps the optimum / genai names: `input_ids`, `attention_mask`, `past_key_values.{i}.key|value` in;
 * `logits`, `present.{i}.key|value` out; plus `num_logits_to_keep` (int64 scalar: logits for the last k
 * positions only, 0 = all), which spares the prefill the LM head over every prompt position.
 * No `position_ids`: GroupQueryAttention derives positions from its sequence lengths.
 *
 * How the attention mask drives GroupQueryAttention (computed in the graph):
 *   total_sequence_length = width of attention_mask (int32 scalar)
 *   seqlens_k             = total_sequence_length − 1 for every row (int32 [batch])
 *   attention_bias        = 0 where attention_mask is 1, the dtype's lowest value where it is 0
 *                           ([batch, 1, sequence, total])
 * Unlike onnxruntime-genai (seqlens_k = ReduceSum(mask) − 1, which assumes right padding), every row keeps
 * its full padded length and the padding is masked by the bias, so the left-padded batches the optimum
 * convention uses work. Rotary positions are then buffer indices (a row's first real token sits at its
 * pad count, not 0); attention scores depend only on position differences, so the logits equal the
 * standard graph's (which counts real tokens only) up to float rounding.
 *
 * KV cache: with growing caches (past of length P in, present of length P + S out) it runs like any
 * optimum export. With a preallocated cache the caller passes one buffer of the maximum length as
 * `past_key_values.{i}.*` and the same buffer as the pre-allocated `present.{i}.*` output: ONNX Runtime then
 * sees past and present at one address and GroupQueryAttention writes the new keys/values in place
 * (`past_present_share_buffer`), copying nothing.
 *
 * Limits (ONNX Runtime's GroupQueryAttention): head_dim a multiple of 16; batches of more than one row
 * cannot feed a second multi-token chunk on top of a cache (prefill in one chunk, then one token per step).
 */

export interface BuildFusedDecoderOptions {
  arch: SynthArchitecture;
  /** Decoder layers to build (≤ arch.numLayers). */
  layers: number;
  dtype: SynthDtype;
  seed: number;
  /**
   * Longest sequence the model accepts (past + new tokens, left padding included): rows of the rotary
   * cos/sin tables. Default: the architecture's `max_position_embeddings`.
   */
  maxLength?: number;
  /** One MatMul for q, k and v (default true). */
  packQkv?: boolean;
  /** One MatMul for gate and up, split after the product (default true). */
  packGateUp?: boolean;
  /** Add the `num_logits_to_keep` input (default true). */
  logitsToKeep?: boolean;
  /** Extra metadata_props entries. */
  metadata?: Record<string, string>;
  producerVersion?: string;
}

/**
 * The fused graph's layout revision: 2 since gate and up are one packed product. A model built by an earlier
 * revision still runs; a cache of built models rebuilds it so that what it measures is today's graph.
 */
export const FUSED_GRAPH_REVISION = 2;

/** Symbolic dim names as onnxruntime-genai writes them. */
export const FUSED_DIM = {
  batch: 'batch_size',
  seq: 'sequence_length',
  past: 'past_sequence_length',
  total: 'total_sequence_length',
  logits: 'logits_length',
} as const;

export const MS_DOMAIN = 'com.microsoft';

/** GroupQueryAttention's attributes as the fused graphs set them: rotary inside, no sliding window. */
export function groupQueryAttentionAttributes(heads: number, kvHeads: number, headDim: number): Record<string, AttrValue> {
  return {
    num_heads: attr.int(heads),
    kv_num_heads: attr.int(kvHeads),
    scale: attr.float(1 / Math.sqrt(headDim)),
    do_rotary: attr.int(1),
    rotary_interleaved: attr.int(0),
    local_window_size: attr.int(-1),
  };
}

/**
 * The packed gate/up product of a layer's MLP (`scope`, e.g. `/model/layers.0/mlp`) split into its gate and up
 * halves of `intermediate` values each; returns their names.
 */
export function splitGateUp(b: GraphBuilder, scope: string, product: string, intermediate: number): [string, string] {
  return b.addNode({
    name: `${scope}/gate_up_proj/Split`,
    op: 'Split',
    inputs: [product, b.int64([intermediate, intermediate])],
    outputs: [`${scope}/gate_proj/output_0`, `${scope}/up_proj/output_0`],
    attributes: { axis: attr.int(-1) },
  }) as [string, string];
}

const INT64_MAX = Number.MAX_SAFE_INTEGER;

function unsupported(arch: SynthArchitecture, what: string): ModelscoutError {
  return new ModelscoutError('E_UNSUPPORTED', `cannot build a fused graph for ${arch.modelType}: ${what}`, {
    suggestions: ['Build the standard graph instead (`--graph standard`).'],
  });
}

/** Checks what ONNX Runtime's fused kernels accept; throws E_UNSUPPORTED naming the obstacle. */
export function checkFusedSupport(arch: SynthArchitecture): void {
  if (arch.family !== 'llama') throw unsupported(arch, 'the fused graph covers the Llama family (llama, mistral, qwen2, SmolLM) only');
  if (arch.headDim % 16 !== 0) throw unsupported(arch, `GroupQueryAttention's rotary embedding needs a head dim that is a multiple of 16 (got ${arch.headDim})`);
  if (arch.numHeads % arch.numKvHeads !== 0) throw unsupported(arch, `${arch.numHeads} heads over ${arch.numKvHeads} KV heads (not a multiple)`);
}

export function buildFusedDecoderModel(options: BuildFusedDecoderOptions): BuiltModel {
  const { arch, layers, dtype, seed } = options;
  checkFusedSupport(arch);
  if (!Number.isInteger(layers) || layers < 1 || layers > arch.numLayers) {
    throw new ModelscoutError('E_USAGE', `layers ${layers} is out of range 1..${arch.numLayers}`);
  }
  const maxLength = options.maxLength ?? arch.maxPositions;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new ModelscoutError('E_USAGE', `max length ${maxLength} must be a positive integer`);
  const packQkv = options.packQkv ?? true;
  const packGateUp = options.packGateUp ?? true;
  const withKeep = options.logitsToKeep ?? true;

  const T = dtype === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
  const b = new GraphBuilder({
    opsets: { '': 17, [MS_DOMAIN]: 1 },
    irVersion: 8,
    producerName: 'modelscout',
    ...(options.producerVersion ? { producerVersion: options.producerVersion } : {}),
  });
  b.markSynthetic(seed);
  b.setMetadata({ [METADATA_KEYS.graph]: 'fused' });
  if (options.metadata) b.setMetadata(options.metadata);

  const param = (hfName: string, hfShape: number[], layout: WeightLayout = 'hf'): string => {
    const dims = layout === 'transposed' ? [hfShape[1]!, hfShape[0]!] : hfShape;
    const name = onnxWeightName(hfName, layout);
    b.addInitializer(name, T, dims, () => weightChunks(seed, hfName, hfShape, layout, dtype));
    return name;
  };
  const floatBytes = (values: Float32Array): Uint8Array => {
    if (T === DataType.FLOAT16) {
      const h = float32ToFloat16(values);
      return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    }
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  };

  const H = arch.hiddenSize;
  const D = arch.headDim;
  const nH = arch.numHeads;
  const nKV = arch.numKvHeads;
  const V = arch.vocabSize;
  const I = arch.intermediateSize;

  // ---- inputs / outputs
  const inputIds = b.addInput('input_ids', DataType.INT64, [FUSED_DIM.batch, FUSED_DIM.seq]);
  const attentionMask = b.addInput('attention_mask', DataType.INT64, [FUSED_DIM.batch, FUSED_DIM.total]);
  for (let i = 0; i < layers; i++) {
    b.addInput(`past_key_values.${i}.key`, T, [FUSED_DIM.batch, nKV, FUSED_DIM.past, D]);
    b.addInput(`past_key_values.${i}.value`, T, [FUSED_DIM.batch, nKV, FUSED_DIM.past, D]);
  }
  const keep = withKeep ? b.addInput('num_logits_to_keep', DataType.INT64, []) : null;
  b.addOutput('logits', T, [FUSED_DIM.batch, withKeep ? FUSED_DIM.logits : FUSED_DIM.seq, V]);
  for (let i = 0; i < layers; i++) {
    b.addOutput(`present.${i}.key`, T, [FUSED_DIM.batch, nKV, FUSED_DIM.total, D]);
    b.addOutput(`present.${i}.value`, T, [FUSED_DIM.batch, nKV, FUSED_DIM.total, D]);
  }

  // ---- embeddings (same layout as the standard graph, so the quantizer treats both alike)
  const embedHf = 'model.embed_tokens.weight';
  let embedTable: string;
  let hidden: string;
  if (arch.tieWordEmbeddings) {
    embedTable = param(embedHf, [V, H], 'transposed');
    const gathered = b.op('/model/embed_tokens/Gather', 'Gather', [embedTable, inputIds], { axis: attr.int(1) });
    hidden = b.op('/model/embed_tokens/Transpose', 'Transpose', [gathered], { perm: attr.ints([1, 2, 0]) });
  } else {
    embedTable = param(embedHf, [V, H]);
    hidden = b.op('/model/embed_tokens/Gather', 'Gather', [embedTable, inputIds], { axis: attr.int(0) });
  }

  // ---- GroupQueryAttention's scalars and the padding bias, from attention_mask (shared by every layer)
  const m = '/model/attn_mask_reformat';
  const maskShape = b.op(`${m}/Shape`, 'Shape', [attentionMask]);
  const total64 = b.op(`${m}/Gather_total`, 'Gather', [maskShape, b.scalarInt64(1)], { axis: attr.int(0) });
  const totalSeqLen = b.op(`${m}/Cast_total`, 'Cast', [total64], { to: attr.int(DataType.INT32) });
  const lastIndex = b.op(`${m}/Sub`, 'Sub', [totalSeqLen, b.constant(DataType.INT32, [], [1])]);
  const batchDim = b.op(`${m}/Slice_batch`, 'Slice', [maskShape, b.int64([0]), b.int64([1])]);
  const seqlensK = b.op(`${m}/Expand_seqlens`, 'Expand', [lastIndex, batchDim]);
  const keepBool = b.op(`${m}/Cast_bool`, 'Cast', [attentionMask], { to: attr.int(DataType.BOOL) });
  const bias2d = b.op(`${m}/Where_bias`, 'Where', [keepBool, b.scalarFloat(0, T), b.scalarFloat(T === DataType.FLOAT16 ? FP16_LOWEST : FP32_LOWEST, T)]);
  const bias4d = b.op(`${m}/Unsqueeze_bias`, 'Unsqueeze', [bias2d, b.int64([1, 2])]);
  const idsShape = b.op(`${m}/Shape_ids`, 'Shape', [inputIds]);
  const seqDim = b.op(`${m}/Slice_seq`, 'Slice', [idsShape, b.int64([1]), b.int64([2])]);
  const totalDim = b.op(`${m}/Slice_total`, 'Slice', [maskShape, b.int64([1]), b.int64([2])]);
  const biasShape = b.op(`${m}/Concat_bias_shape`, 'Concat', [batchDim, b.int64([1]), seqDim, totalDim], { axis: attr.int(0) });
  const attentionBias = b.op(`${m}/Expand_bias`, 'Expand', [bias4d, biasShape]);

  // ---- rotary tables (rows = positions, padding included)
  const rope = computeRopeCaches(arch, maxLength);
  const cosCache = b.addInitializer('/model/rotary_emb/cos_cache', T, [rope.positions, rope.halfDim], () => floatBytes(rope.cos));
  const sinCache = b.addInitializer('/model/rotary_emb/sin_cache', T, [rope.positions, rope.halfDim], () => floatBytes(rope.sin));

  /** x @ Wᵀ (+ b) for an nn.Linear stored transposed, as the standard graph stores it. */
  const linear = (scope: string, x: string, hfPrefix: string, outFeatures: number, inFeatures: number, bias: boolean): string => {
    const y = b.op(`${scope}/MatMul`, 'MatMul', [x, param(`${hfPrefix}.weight`, [outFeatures, inFeatures], 'transposed')]);
    return bias ? b.op(`${scope}/Add`, 'Add', [y, param(`${hfPrefix}.bias`, [outFeatures])]) : y;
  };

  const eps = attr.float(arch.normEps);
  /** Residual stream so far (the running sum) and the branch output still to be added to it. */
  let residual = hidden;
  let pending: string | null = null;
  const norm = (scope: string, hfWeight: string): string => {
    const weight = param(hfWeight, [H]);
    if (pending === null) {
      return b.op(`${scope}/SimplifiedLayerNormalization`, 'SimplifiedLayerNormalization', [residual, weight], { axis: attr.int(-1), epsilon: eps, stash_type: attr.int(1) });
    }
    const [normed, , , sum] = b.addNode({
      name: `${scope}/SkipSimplifiedLayerNormalization`,
      op: 'SkipSimplifiedLayerNormalization',
      domain: MS_DOMAIN,
      inputs: [residual, pending, weight],
      outputs: [`${scope}/output_0`, '', '', `${scope}/output_3`],
      attributes: { epsilon: eps },
    }) as [string, string, string, string];
    residual = sum;
    pending = null;
    return normed;
  };

  for (let i = 0; i < layers; i++) {
    const s = `/model/layers.${i}`;
    const hf = `model.layers.${i}`;
    const x = norm(`${s}/input_layernorm`, `${hf}.input_layernorm.weight`);

    let query: string;
    let key = '';
    let value = '';
    if (packQkv) {
      const parts: LinearPart[] = [
        { hfName: `${hf}.self_attn.q_proj.weight`, outFeatures: nH * D },
        { hfName: `${hf}.self_attn.k_proj.weight`, outFeatures: nKV * D },
        { hfName: `${hf}.self_attn.v_proj.weight`, outFeatures: nKV * D },
      ];
      const width = (nH + 2 * nKV) * D;
      const w = b.addInitializer(`${hf}.self_attn.qkv_proj.weight.T`, T, [H, width], () => packedLinearChunks(seed, parts, H, dtype), 'q_proj, k_proj and v_proj weights, transposed and concatenated');
      query = b.op(`${s}/attn/qkv_proj/MatMul`, 'MatMul', [x, w]);
      if (arch.qkvBias) {
        const biasParts = parts.map((p) => ({ hfName: p.hfName.replace(/\.weight$/, '.bias'), outFeatures: p.outFeatures }));
        const bias = b.addInitializer(`${hf}.self_attn.qkv_proj.bias`, T, [width], () => packedVectorBytes(seed, biasParts, dtype));
        query = b.op(`${s}/attn/qkv_proj/Add`, 'Add', [query, bias]);
      }
    } else {
      query = linear(`${s}/attn/q_proj`, x, `${hf}.self_attn.q_proj`, nH * D, H, arch.qkvBias);
      key = linear(`${s}/attn/k_proj`, x, `${hf}.self_attn.k_proj`, nKV * D, H, arch.qkvBias);
      value = linear(`${s}/attn/v_proj`, x, `${hf}.self_attn.v_proj`, nKV * D, H, arch.qkvBias);
    }

    const [context] = b.addNode({
      name: `${s}/attn/GroupQueryAttention`,
      op: 'GroupQueryAttention',
      domain: MS_DOMAIN,
      inputs: [query, key, value, `past_key_values.${i}.key`, `past_key_values.${i}.value`, seqlensK, totalSeqLen, cosCache, sinCache, '', attentionBias],
      outputs: [`${s}/attn/GroupQueryAttention/output_0`, `present.${i}.key`, `present.${i}.value`],
      attributes: groupQueryAttentionAttributes(nH, nKV, D),
    }) as [string];
    pending = linear(`${s}/attn/o_proj`, context, `${hf}.self_attn.o_proj`, H, nH * D, arch.outputBias);

    const y = norm(`${s}/post_attention_layernorm`, `${hf}.post_attention_layernorm.weight`);
    let gate: string;
    let up: string;
    if (packGateUp) {
      const parts: LinearPart[] = [
        { hfName: `${hf}.mlp.gate_proj.weight`, outFeatures: I },
        { hfName: `${hf}.mlp.up_proj.weight`, outFeatures: I },
      ];
      const w = b.addInitializer(`${hf}.mlp.gate_up_proj.weight.T`, T, [H, 2 * I], () => packedLinearChunks(seed, parts, H, dtype), 'gate_proj and up_proj weights, transposed and concatenated');
      const both = b.op(`${s}/mlp/gate_up_proj/MatMul`, 'MatMul', [y, w]);
      [gate, up] = splitGateUp(b, `${s}/mlp`, both, I);
    } else {
      gate = linear(`${s}/mlp/gate_proj`, y, `${hf}.mlp.gate_proj`, I, H, false);
      up = linear(`${s}/mlp/up_proj`, y, `${hf}.mlp.up_proj`, I, H, false);
    }
    // QuickGelu(x) = x·sigmoid(α·x): with α = 1 it is SiLU, in one kernel.
    const silu = b.op(`${s}/mlp/act_fn/QuickGelu`, 'QuickGelu', [gate], { alpha: attr.float(1) }, MS_DOMAIN);
    const prod = b.op(`${s}/mlp/Mul`, 'Mul', [silu, up]);
    pending = linear(`${s}/mlp/down_proj`, prod, `${hf}.mlp.down_proj`, H, I, false);
  }

  // Final norm: the last residual add fused in; only output 0 is needed.
  const finalNorm = b.addNode({
    name: '/model/norm/SkipSimplifiedLayerNormalization',
    op: 'SkipSimplifiedLayerNormalization',
    domain: MS_DOMAIN,
    inputs: [residual, pending ?? '', param('model.norm.weight', [H])],
    outputs: ['/model/norm/output_0'],
    attributes: { epsilon: eps },
  })[0]!;

  let headInput = finalNorm;
  if (keep) {
    // hidden[:, -k:, :] (k = 0 keeps every position: Slice from 0).
    const keep1 = b.op('/lm_head/keep/Unsqueeze', 'Unsqueeze', [keep, b.int64([0])]);
    const start = b.op('/lm_head/keep/Neg', 'Neg', [keep1]);
    headInput = b.op('/lm_head/keep/Slice', 'Slice', [finalNorm, start, b.int64([INT64_MAX]), b.int64([1])]);
  }
  const head = arch.tieWordEmbeddings ? embedTable : param('lm_head.weight', [V, H], 'transposed');
  b.addNode({ name: '/lm_head/MatMul', op: 'MatMul', inputs: [headInput, head], outputs: ['logits'] });
  return b.build();
}

/** Chunks of a synthetic parameter as raw bytes in the model dtype. */
function* weightChunks(seed: number, hfName: string, hfShape: number[], layout: WeightLayout, dtype: SynthDtype): Generator<Uint8Array> {
  for (const chunk of syntheticWeightChunks(seed, hfName, hfShape, layout)) {
    if (dtype === 'fp16') {
      const half = float32ToFloat16(chunk);
      yield new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
    } else {
      yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  }
}
