import { float32ToFloat16 } from '../../util/float16.js';
import { GraphBuilder, attr, type BuiltModel } from '../graph-builder.js';
import { DataType } from '../proto.js';
import { ropeInverseFrequencies, type SynthArchitecture } from './architecture.js';
import { syntheticWeightChunks, type WeightLayout } from './weights.js';

/**
 * Builds a decoder-only LLM graph with standard ONNX ops (opset 17) in the Hugging Face optimum /
 * transformers.js convention:
 *   inputs  input_ids [batch, seq] int64, attention_mask [batch, past+seq] int64, position_ids [batch, seq],
 *           past_key_values.{i}.key|value [batch, kv_heads, past, head_dim]
 *   outputs logits [batch, seq, vocab], present.{i}.key|value [batch, kv_heads, past+seq, head_dim]
 * The first step feeds empty past tensors (past = 0).
 *
 * Attention: scores = (q·scale)·kᵀ over the concatenated cache; masked entries are *replaced* (Where) by the
 * dtype's lowest value rather than added to, so nothing overflows to -Inf in fp16 and a fully masked row
 * (a left-pad query) gives a uniform row instead of NaN. Masked keys get exactly zero weight, so a
 * left-padded sequence produces the same logits as alone. GQA folds the query heads of one KV head into
 * the sequence axis ([b, kv, rep·seq, d]) so K and V are never repeated in memory.
 *
 * Weights are initializers named after the Hugging Face parameter; a `.T` suffix marks one stored
 * transposed ([in, out], as MatMul wants it). A tied LM head shares the embedding: one [hidden, vocab]
 * initializer feeds both the LM-head MatMul and the token lookup (Gather on axis 1 + Transpose).
 */

export type SynthDtype = 'fp32' | 'fp16';

export interface BuildDecoderOptions {
  arch: SynthArchitecture;
  /** Decoder layers to build (≤ arch.numLayers). */
  layers: number;
  dtype: SynthDtype;
  seed: number;
  /** Extra metadata_props entries. */
  metadata?: Record<string, string>;
  producerVersion?: string;
}

/** Symbolic dim names as optimum writes them. */
const DIM = {
  batch: 'batch_size',
  seq: 'sequence_length',
  past: 'past_sequence_length',
  total: 'past_sequence_length + sequence_length',
  presentSeq: 'past_sequence_length + 1',
} as const;

/** The lowest finite float16 / float32: the additive bias that masks a position out. */
export const FP16_LOWEST = -65504;
export const FP32_LOWEST = -3.4028234663852886e38;

/** ONNX initializer name of a Hugging Face parameter stored in the given layout. */
export function onnxWeightName(hfName: string, layout: WeightLayout): string {
  return layout === 'transposed' ? `${hfName}.T` : hfName;
}

export function buildDecoderModel(options: BuildDecoderOptions): BuiltModel {
  const { arch, layers, dtype, seed } = options;
  const T = dtype === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
  const b = new GraphBuilder({ opsets: { '': 17 }, irVersion: 8, producerName: 'modelscout', ...(options.producerVersion ? { producerVersion: options.producerVersion } : {}) });
  b.markSynthetic(seed);
  if (options.metadata) b.setMetadata(options.metadata);

  /** Adds a synthetic parameter (lazily generated in chunks) and returns its initializer name. */
  const param = (hfName: string, hfShape: number[], layout: WeightLayout = 'hf'): string => {
    const dims = layout === 'transposed' ? [hfShape[1]!, hfShape[0]!] : hfShape;
    const name = onnxWeightName(hfName, layout);
    b.addInitializer(name, T, dims, () => weightBytes(seed, hfName, hfShape, layout, dtype));
    return name;
  };

  const H = arch.hiddenSize;
  const D = arch.headDim;
  const nH = arch.numHeads;
  const nKV = arch.numKvHeads;
  const rep = nH / nKV;
  const V = arch.vocabSize;
  const isGpt2 = arch.family === 'gpt2';
  const root = isGpt2 ? '/transformer' : '/model';

  // ---- inputs / outputs
  const inputIds = b.addInput('input_ids', DataType.INT64, [DIM.batch, DIM.seq]);
  const attentionMask = b.addInput('attention_mask', DataType.INT64, [DIM.batch, DIM.total]);
  const positionIds = b.addInput('position_ids', DataType.INT64, [DIM.batch, DIM.seq]);
  for (let i = 0; i < layers; i++) {
    b.addInput(`past_key_values.${i}.key`, T, [DIM.batch, nKV, DIM.past, D]);
    b.addInput(`past_key_values.${i}.value`, T, [DIM.batch, nKV, DIM.past, D]);
  }
  b.addOutput('logits', T, [DIM.batch, DIM.seq, V]);
  for (let i = 0; i < layers; i++) {
    b.addOutput(`present.${i}.key`, T, [DIM.batch, nKV, DIM.presentSeq, D]);
    b.addOutput(`present.${i}.value`, T, [DIM.batch, nKV, DIM.presentSeq, D]);
  }

  // ---- embeddings
  const embedHf = isGpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight';
  let embedTable: string;
  let hidden: string;
  if (arch.tieWordEmbeddings) {
    embedTable = param(embedHf, [V, H], 'transposed');
    const gathered = b.op(`${root}/embed_tokens/Gather`, 'Gather', [embedTable, inputIds], { axis: attr.int(1) });
    hidden = b.op(`${root}/embed_tokens/Transpose`, 'Transpose', [gathered], { perm: attr.ints([1, 2, 0]) });
  } else {
    embedTable = param(embedHf, [V, H]);
    hidden = b.op(`${root}/embed_tokens/Gather`, 'Gather', [embedTable, inputIds], { axis: attr.int(0) });
  }
  if (isGpt2) {
    const wpe = param('transformer.wpe.weight', [arch.maxPositions, H]);
    const pos = b.op(`${root}/wpe/Gather`, 'Gather', [wpe, positionIds], { axis: attr.int(0) });
    hidden = b.op(`${root}/embed/Add`, 'Add', [hidden, pos]);
  }

  // ---- attention mask, shared by every layer: [batch, 1, rep·seq, total] booleans (true = attend)
  const idsShape = b.op(`${root}/attn_mask/Shape_ids`, 'Shape', [inputIds]);
  const seqLen = b.op(`${root}/attn_mask/Gather_seq`, 'Gather', [idsShape, b.scalarInt64(1)], { axis: attr.int(0) });
  const maskShape = b.op(`${root}/attn_mask/Shape_mask`, 'Shape', [attentionMask]);
  const totalLen = b.op(`${root}/attn_mask/Gather_total`, 'Gather', [maskShape, b.scalarInt64(1)], { axis: attr.int(0) });
  const pastLen = b.op(`${root}/attn_mask/Sub_past`, 'Sub', [totalLen, seqLen]);
  const keyPos = b.op(`${root}/attn_mask/Range_keys`, 'Range', [b.scalarInt64(0), totalLen, b.scalarInt64(1)]);
  const queryPos = b.op(`${root}/attn_mask/Range_queries`, 'Range', [pastLen, totalLen, b.scalarInt64(1)]);
  const keyRow = b.op(`${root}/attn_mask/Unsqueeze_keys`, 'Unsqueeze', [keyPos, b.int64([0])]);
  const queryCol = b.op(`${root}/attn_mask/Unsqueeze_queries`, 'Unsqueeze', [queryPos, b.int64([1])]);
  const causal = b.op(`${root}/attn_mask/LessOrEqual`, 'LessOrEqual', [keyRow, queryCol]); // [seq, total]
  const padBool = b.op(`${root}/attn_mask/Cast`, 'Cast', [attentionMask], { to: attr.int(DataType.BOOL) });
  const pad4 = b.op(`${root}/attn_mask/Unsqueeze_pad`, 'Unsqueeze', [padBool, b.int64([1, 2])]); // [batch, 1, 1, total]
  let allowed = b.op(`${root}/attn_mask/And`, 'And', [causal, pad4]); // [batch, 1, seq, total]
  if (rep > 1) allowed = b.op(`${root}/attn_mask/Tile`, 'Tile', [allowed, b.int64([1, 1, rep, 1])]);
  const lowest = b.scalarFloat(T === DataType.FLOAT16 ? FP16_LOWEST : FP32_LOWEST, T);

  // ---- rotary embedding tables, shared: cos/sin [batch, 1, seq, head_dim]
  let cos = '';
  let sin = '';
  if (!isGpt2) {
    const inv = ropeInverseFrequencies(arch);
    const invFreq = b.addInitializer('/model/rotary_emb/inv_freq', DataType.FLOAT, [inv.length], new Uint8Array(Float32Array.from(inv).buffer));
    const posF = b.op('/model/rotary_emb/Cast', 'Cast', [positionIds], { to: attr.int(DataType.FLOAT) });
    const pos3 = b.op('/model/rotary_emb/Unsqueeze', 'Unsqueeze', [posF, b.int64([2])]);
    const freqs = b.op('/model/rotary_emb/Mul', 'Mul', [pos3, invFreq]); // [batch, seq, D/2]
    const emb = b.op('/model/rotary_emb/Concat', 'Concat', [freqs, freqs], { axis: attr.int(-1) });
    let c = b.op('/model/rotary_emb/Cos', 'Cos', [emb]);
    let s = b.op('/model/rotary_emb/Sin', 'Sin', [emb]);
    if (T === DataType.FLOAT16) {
      c = b.op('/model/rotary_emb/Cast_cos', 'Cast', [c], { to: attr.int(T) });
      s = b.op('/model/rotary_emb/Cast_sin', 'Cast', [s], { to: attr.int(T) });
    }
    cos = b.op('/model/rotary_emb/Unsqueeze_cos', 'Unsqueeze', [c, b.int64([1])]);
    sin = b.op('/model/rotary_emb/Unsqueeze_sin', 'Unsqueeze', [s, b.int64([1])]);
  }

  const rmsNorm = (scope: string, x: string, hfWeight: string): string => {
    // The pattern ONNX Runtime fuses into SimplifiedLayerNormalization; computed in float32 like transformers.
    const xf = T === DataType.FLOAT16 ? b.op(`${scope}/Cast`, 'Cast', [x], { to: attr.int(DataType.FLOAT) }) : x;
    const sq = b.op(`${scope}/Pow`, 'Pow', [xf, b.scalarFloat(2)]);
    const mean = b.op(`${scope}/ReduceMean`, 'ReduceMean', [sq], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    const plus = b.op(`${scope}/Add`, 'Add', [mean, b.scalarFloat(arch.normEps)]);
    const root2 = b.op(`${scope}/Sqrt`, 'Sqrt', [plus]);
    let normed = b.op(`${scope}/Div`, 'Div', [xf, root2]);
    if (T === DataType.FLOAT16) normed = b.op(`${scope}/Cast_1`, 'Cast', [normed], { to: attr.int(T) });
    return b.op(`${scope}/Mul`, 'Mul', [normed, param(hfWeight, [H])]);
  };

  const layerNorm = (scope: string, x: string, hfPrefix: string): string =>
    b.op(`${scope}/LayerNormalization`, 'LayerNormalization', [x, param(`${hfPrefix}.weight`, [H]), param(`${hfPrefix}.bias`, [H])], {
      axis: attr.int(-1),
      epsilon: attr.float(arch.normEps),
    });

  /** x @ Wᵀ (+ b) for an nn.Linear [out, in] parameter stored transposed. */
  const linear = (scope: string, x: string, hfPrefix: string, outFeatures: number, inFeatures: number, bias: boolean): string => {
    const y = b.op(`${scope}/MatMul`, 'MatMul', [x, param(`${hfPrefix}.weight`, [outFeatures, inFeatures], 'transposed')]);
    return bias ? b.op(`${scope}/Add`, 'Add', [y, param(`${hfPrefix}.bias`, [outFeatures])]) : y;
  };

  /** [batch, seq, heads·D] → [batch, heads, seq, D]. */
  const splitHeads = (scope: string, x: string, heads: number): string => {
    const r = b.op(`${scope}/Reshape`, 'Reshape', [x, b.int64([0, 0, heads, D])]);
    return b.op(`${scope}/Transpose`, 'Transpose', [r], { perm: attr.ints([0, 2, 1, 3]) });
  };

  const rotary = (scope: string, x: string): string => {
    const x1 = b.op(`${scope}/Slice_1`, 'Slice', [x, b.int64([0]), b.int64([D / 2]), b.int64([3])]);
    const x2 = b.op(`${scope}/Slice_2`, 'Slice', [x, b.int64([D / 2]), b.int64([D]), b.int64([3])]);
    const neg = b.op(`${scope}/Neg`, 'Neg', [x2]);
    const rotated = b.op(`${scope}/Concat`, 'Concat', [neg, x1], { axis: attr.int(3) });
    const a = b.op(`${scope}/Mul_cos`, 'Mul', [x, cos]);
    const c = b.op(`${scope}/Mul_sin`, 'Mul', [rotated, sin]);
    return b.op(`${scope}/Add`, 'Add', [a, c]);
  };

  /** Attention core: q [b, nH, s, D], k/v [b, nKV, s, D] → context [b, s, nH·D]; writes present.{i}.*. */
  const attention = (scope: string, layer: number, q: string, k: string, v: string, scale: number): string => {
    const presentK = b.addNode({ name: `${scope}/Concat_k`, op: 'Concat', inputs: [`past_key_values.${layer}.key`, k], outputs: [`present.${layer}.key`], attributes: { axis: attr.int(2) } })[0]!;
    const presentV = b.addNode({ name: `${scope}/Concat_v`, op: 'Concat', inputs: [`past_key_values.${layer}.value`, v], outputs: [`present.${layer}.value`], attributes: { axis: attr.int(2) } })[0]!;
    const qScaled = b.op(`${scope}/Mul_scale`, 'Mul', [q, b.scalarFloat(scale, T)]);
    const qGrouped = rep > 1 ? b.op(`${scope}/Reshape_q_groups`, 'Reshape', [qScaled, b.int64([0, nKV, -1, D])]) : qScaled;
    const kT = b.op(`${scope}/Transpose_k`, 'Transpose', [presentK], { perm: attr.ints([0, 1, 3, 2]) });
    const scores = b.op(`${scope}/MatMul_qk`, 'MatMul', [qGrouped, kT]);
    const masked = b.op(`${scope}/Where_mask`, 'Where', [allowed, scores, lowest]);
    const probs = b.op(`${scope}/Softmax`, 'Softmax', [masked], { axis: attr.int(-1) });
    let ctx = b.op(`${scope}/MatMul_v`, 'MatMul', [probs, presentV]);
    if (rep > 1) ctx = b.op(`${scope}/Reshape_heads`, 'Reshape', [ctx, b.int64([0, nH, -1, D])]);
    const t = b.op(`${scope}/Transpose_out`, 'Transpose', [ctx], { perm: attr.ints([0, 2, 1, 3]) });
    return b.op(`${scope}/Reshape_out`, 'Reshape', [t, b.int64([0, 0, nH * D])]);
  };

  for (let i = 0; i < layers; i++) {
    if (isGpt2) {
      const s = `/transformer/h.${i}`;
      const hf = `transformer.h.${i}`;
      const x = layerNorm(`${s}/ln_1`, hidden, `${hf}.ln_1`);
      const qkv0 = b.op(`${s}/attn/c_attn/MatMul`, 'MatMul', [x, param(`${hf}.attn.c_attn.weight`, [H, 3 * H])]);
      const qkv = b.op(`${s}/attn/c_attn/Add`, 'Add', [qkv0, param(`${hf}.attn.c_attn.bias`, [3 * H])]);
      const [q0, k0, v0] = b.addNode({ name: `${s}/attn/Split`, op: 'Split', inputs: [qkv, b.int64([H, H, H])], outputs: 3, attributes: { axis: attr.int(-1) } }) as [string, string, string];
      const scale = 1 / Math.sqrt(D) / (arch.scaleAttnByInverseLayerIdx ? i + 1 : 1);
      const ctx = attention(`${s}/attn`, i, splitHeads(`${s}/attn/q`, q0, nH), splitHeads(`${s}/attn/k`, k0, nH), splitHeads(`${s}/attn/v`, v0, nH), scale);
      const proj0 = b.op(`${s}/attn/c_proj/MatMul`, 'MatMul', [ctx, param(`${hf}.attn.c_proj.weight`, [H, H])]);
      const proj = b.op(`${s}/attn/c_proj/Add`, 'Add', [proj0, param(`${hf}.attn.c_proj.bias`, [H])]);
      const afterAttn = b.op(`${s}/Add_attn`, 'Add', [hidden, proj]);
      const y = layerNorm(`${s}/ln_2`, afterAttn, `${hf}.ln_2`);
      const I = arch.intermediateSize;
      const fc0 = b.op(`${s}/mlp/c_fc/MatMul`, 'MatMul', [y, param(`${hf}.mlp.c_fc.weight`, [H, I])]);
      const fc = b.op(`${s}/mlp/c_fc/Add`, 'Add', [fc0, param(`${hf}.mlp.c_fc.bias`, [I])]);
      const act = geluTanh(b, `${s}/mlp/act`, fc, T);
      const out0 = b.op(`${s}/mlp/c_proj/MatMul`, 'MatMul', [act, param(`${hf}.mlp.c_proj.weight`, [I, H])]);
      const out = b.op(`${s}/mlp/c_proj/Add`, 'Add', [out0, param(`${hf}.mlp.c_proj.bias`, [H])]);
      hidden = b.op(`${s}/Add_mlp`, 'Add', [afterAttn, out]);
    } else {
      const s = `/model/layers.${i}`;
      const hf = `model.layers.${i}`;
      const x = rmsNorm(`${s}/input_layernorm`, hidden, `${hf}.input_layernorm.weight`);
      const q = splitHeads(`${s}/self_attn/q`, linear(`${s}/self_attn/q_proj`, x, `${hf}.self_attn.q_proj`, nH * D, H, arch.qkvBias), nH);
      const k = splitHeads(`${s}/self_attn/k`, linear(`${s}/self_attn/k_proj`, x, `${hf}.self_attn.k_proj`, nKV * D, H, arch.qkvBias), nKV);
      const v = splitHeads(`${s}/self_attn/v`, linear(`${s}/self_attn/v_proj`, x, `${hf}.self_attn.v_proj`, nKV * D, H, arch.qkvBias), nKV);
      const ctx = attention(`${s}/self_attn`, i, rotary(`${s}/self_attn/q_rotary`, q), rotary(`${s}/self_attn/k_rotary`, k), v, 1 / Math.sqrt(D));
      const o = linear(`${s}/self_attn/o_proj`, ctx, `${hf}.self_attn.o_proj`, H, nH * D, arch.outputBias);
      const afterAttn = b.op(`${s}/Add_attn`, 'Add', [hidden, o]);
      const y = rmsNorm(`${s}/post_attention_layernorm`, afterAttn, `${hf}.post_attention_layernorm.weight`);
      const I = arch.intermediateSize;
      const gate = linear(`${s}/mlp/gate_proj`, y, `${hf}.mlp.gate_proj`, I, H, false);
      const up = linear(`${s}/mlp/up_proj`, y, `${hf}.mlp.up_proj`, I, H, false);
      const sig = b.op(`${s}/mlp/act_fn/Sigmoid`, 'Sigmoid', [gate]);
      const silu = b.op(`${s}/mlp/act_fn/Mul`, 'Mul', [gate, sig]);
      const prod = b.op(`${s}/mlp/Mul`, 'Mul', [silu, up]);
      const down = linear(`${s}/mlp/down_proj`, prod, `${hf}.mlp.down_proj`, H, I, false);
      hidden = b.op(`${s}/Add_mlp`, 'Add', [afterAttn, down]);
    }
  }

  const finalNorm = isGpt2 ? layerNorm('/transformer/ln_f', hidden, 'transformer.ln_f') : rmsNorm('/model/norm', hidden, 'model.norm.weight');
  const head = arch.tieWordEmbeddings ? embedTable : param('lm_head.weight', [V, H], 'transposed');
  b.addNode({ name: '/lm_head/MatMul', op: 'MatMul', inputs: [finalNorm, head], outputs: ['logits'] });
  return b.build();
}

/** gelu_new / gelu_pytorch_tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function geluTanh(b: GraphBuilder, scope: string, x: string, T: number): string {
  const x2 = b.op(`${scope}/Mul_sq`, 'Mul', [x, x]);
  const x3 = b.op(`${scope}/Mul_cube`, 'Mul', [x2, x]);
  const c = b.op(`${scope}/Mul_coef`, 'Mul', [x3, b.scalarFloat(0.044715, T)]);
  const inner = b.op(`${scope}/Add_inner`, 'Add', [x, c]);
  const scaled = b.op(`${scope}/Mul_sqrt`, 'Mul', [inner, b.scalarFloat(Math.sqrt(2 / Math.PI), T)]);
  const th = b.op(`${scope}/Tanh`, 'Tanh', [scaled]);
  const one = b.op(`${scope}/Add_one`, 'Add', [th, b.scalarFloat(1, T)]);
  const half = b.op(`${scope}/Mul_half`, 'Mul', [x, b.scalarFloat(0.5, T)]);
  return b.op(`${scope}/Mul`, 'Mul', [half, one]);
}

/** Chunks of a synthetic parameter as raw bytes in the model dtype. */
function* weightBytes(seed: number, hfName: string, hfShape: number[], layout: WeightLayout, dtype: SynthDtype): Generator<Uint8Array> {
  for (const chunk of syntheticWeightChunks(seed, hfName, hfShape, layout)) {
    if (dtype === 'fp16') {
      const half = float32ToFloat16(chunk);
      yield new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
    } else {
      yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  }
}
