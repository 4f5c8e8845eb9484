import type { ModelSpec } from './model-spec.js';

/**
 * The weight tensors of a decoder LLM, grouped by shape, derived from its `ModelSpec`. Parameter counts and
 * the bytes of every weight format are sums over this one inventory, so they cannot disagree.
 *
 * Shapes follow the Hugging Face modules (`nn.Linear(in, out)` → rows = in = K, cols = out = N), which is the
 * orientation the int4 `MatMulNBits` blocks run along (blocks of K).
 */
export type TensorRole =
  | 'embedding'
  | 'position-embedding'
  | 'lm-head'
  | 'attention'
  | 'mlp'
  | 'routed-expert'
  | 'shared-expert'
  | 'router'
  | 'norm'
  | 'bias';

export interface WeightTensorGroup {
  /** Path-like name with `*` for the layer / expert index, e.g. `layers.*.self_attn.q_proj.weight`. */
  name: string;
  role: TensorRole;
  /** Matrices: input features (K) for linear layers, table rows for embeddings; vectors: 1. */
  rows: number;
  /** Matrices: output features (N) for linear layers, table width for embeddings; vectors: length. */
  cols: number;
  /** How many tensors of this shape the model holds (layers × experts). */
  count: number;
  /**
   * True for the weight of a matrix multiplication (`MatMul` in ONNX): what int8 / int4 weight-only
   * quantization rewrites. Embedding tables (`Gather`), norms and biases stay float.
   */
  quantizable: boolean;
  /** Fraction of `count` a token actually uses (routed experts: active / experts; everything else 1). */
  activeFraction: number;
  /**
   * True when a token reads only one row of the table (input embeddings), so decode streams `cols` values,
   * not the whole tensor. A tied table is also the LM head and is streamed in full.
   */
  gathered: boolean;
}

/** Elements of one tensor group (all `count` tensors). */
export function groupElements(group: WeightTensorGroup): number {
  return group.rows * group.cols * group.count;
}

interface Linear {
  name: string;
  in: number;
  out: number;
  bias: boolean;
}

/** Lists every weight tensor of the model, grouped by shape. */
export function listWeightTensors(spec: ModelSpec): WeightTensorGroup[] {
  const groups: WeightTensorGroup[] = [];
  const h = spec.hiddenSize;
  const L = spec.numLayers;
  const normVectors = spec.norm === 'layernorm' ? 2 : 1; // LayerNorm has weight and bias

  const add = (g: Omit<WeightTensorGroup, 'activeFraction' | 'gathered'> & Partial<Pick<WeightTensorGroup, 'activeFraction' | 'gathered'>>): void => {
    if (g.count <= 0 || g.rows <= 0 || g.cols <= 0) return;
    groups.push({ activeFraction: 1, gathered: false, ...g });
  };
  const addLinear = (prefix: string, role: TensorRole, count: number, linear: Linear, activeFraction = 1): void => {
    add({ name: `${prefix}.${linear.name}.weight`, role, rows: linear.in, cols: linear.out, count, quantizable: true, activeFraction });
    if (linear.bias) add({ name: `${prefix}.${linear.name}.bias`, role: 'bias', rows: 1, cols: linear.out, count, quantizable: false, activeFraction });
  };
  const addNorm = (name: string, width: number, count: number): void => {
    add({ name: `${name}.weight`, role: 'norm', rows: 1, cols: width * normVectors, count, quantizable: false });
  };

  // Embeddings. A tied table also serves as the LM head, so every decode step streams all of it.
  add({ name: 'embed_tokens.weight', role: 'embedding', rows: spec.vocabSize, cols: h, count: 1, quantizable: false, gathered: !spec.tieWordEmbeddings });
  if (spec.position === 'learned') {
    add({ name: 'embed_positions.weight', role: 'position-embedding', rows: spec.maxContext, cols: h, count: 1, quantizable: false, gathered: true });
  }

  // Attention.
  const attention = attentionLinears(spec);
  for (const linear of attention) addLinear('layers.*.self_attn', 'attention', L, linear);
  if (spec.mla) {
    if (spec.mla.qLoraRank !== null) addNorm('layers.*.self_attn.q_a_layernorm', spec.mla.qLoraRank, L);
    addNorm('layers.*.self_attn.kv_a_layernorm', spec.mla.kvLoraRank, L);
  }
  if (spec.modelType === 'qwen3' || spec.modelType === 'qwen3_moe' || spec.modelType === 'gemma3_text') {
    // Qwen3 and Gemma 3 normalise q and k per head (q_norm / k_norm over head_dim).
    addNorm('layers.*.self_attn.q_norm', spec.headDim, L);
    addNorm('layers.*.self_attn.k_norm', spec.headDim, L);
  }

  // Norms around the blocks: Gemma 2 has four per layer (pre/post attention, pre/post feed-forward).
  const normsPerLayer = spec.modelType === 'gemma2' || spec.modelType === 'gemma3_text' ? 4 : 2;
  add({ name: 'layers.*.norms.weight', role: 'norm', rows: 1, cols: h * normVectors, count: L * normsPerLayer, quantizable: false });
  addNorm('norm', h, 1);

  // Feed-forward: dense layers, then MoE layers.
  const moe = spec.moe;
  const denseLayers = moe ? moe.denseLayers : L;
  const moeLayers = L - denseLayers;
  for (const linear of mlpLinears(spec, spec.intermediateSize)) addLinear('layers.*.mlp', 'mlp', denseLayers, linear);
  if (moe && moeLayers > 0) {
    const expertLinears = mlpLinears(spec, moe.expertIntermediateSize);
    const active = moe.activeExperts / moe.experts;
    for (const linear of expertLinears) addLinear('layers.*.mlp.experts.*', 'routed-expert', moeLayers * moe.experts, linear, active);
    if (moe.sharedExperts > 0) {
      for (const linear of expertLinears) addLinear('layers.*.mlp.shared_experts', 'shared-expert', moeLayers * moe.sharedExperts, linear);
    }
    add({ name: 'layers.*.mlp.gate.weight', role: 'router', rows: h, cols: moe.experts, count: moeLayers, quantizable: true });
    if (spec.modelType === 'deepseek_v3') {
      // DeepSeek-V3's aux-loss-free balancing keeps a per-expert bias next to the router.
      add({ name: 'layers.*.mlp.gate.e_score_correction_bias', role: 'bias', rows: 1, cols: moe.experts, count: moeLayers, quantizable: false });
    }
  }

  if (!spec.tieWordEmbeddings) {
    add({ name: 'lm_head.weight', role: 'lm-head', rows: h, cols: spec.vocabSize, count: 1, quantizable: true });
  }
  return groups;
}

function attentionLinears(spec: ModelSpec): Linear[] {
  const h = spec.hiddenSize;
  const heads = spec.numHeads;
  if (spec.mla) {
    const m = spec.mla;
    const qHead = m.qkNopeHeadDim + m.qkRopeHeadDim;
    const q: Linear[] = m.qLoraRank === null
      ? [{ name: 'q_proj', in: h, out: heads * qHead, bias: false }]
      : [
          { name: 'q_a_proj', in: h, out: m.qLoraRank, bias: false },
          { name: 'q_b_proj', in: m.qLoraRank, out: heads * qHead, bias: false },
        ];
    return [
      ...q,
      { name: 'kv_a_proj_with_mqa', in: h, out: m.kvLoraRank + m.qkRopeHeadDim, bias: false },
      { name: 'kv_b_proj', in: m.kvLoraRank, out: heads * (m.qkNopeHeadDim + m.vHeadDim), bias: false },
      { name: 'o_proj', in: heads * m.vHeadDim, out: h, bias: false },
    ];
  }
  const qOut = heads * spec.headDim;
  const kvOut = spec.numKvHeads * spec.headDim;
  if (spec.modelType === 'gpt2') {
    // GPT-2 fuses q, k and v into `c_attn` (Conv1D, with bias) and biases its output projection too.
    return [
      { name: 'c_attn', in: h, out: qOut + 2 * kvOut, bias: true },
      { name: 'c_proj', in: qOut, out: h, bias: true },
    ];
  }
  const bias = spec.attentionBias;
  return [
    { name: 'q_proj', in: h, out: qOut, bias },
    { name: 'k_proj', in: h, out: kvOut, bias },
    { name: 'v_proj', in: h, out: kvOut, bias },
    { name: 'o_proj', in: qOut, out: h, bias: false },
  ];
}

function mlpLinears(spec: ModelSpec, width: number): Linear[] {
  const h = spec.hiddenSize;
  if (spec.modelType === 'gpt2') {
    return [
      { name: 'c_fc', in: h, out: width, bias: true },
      { name: 'c_proj', in: width, out: h, bias: true },
    ];
  }
  // Gated MLP (SwiGLU / GeGLU): gate, up, down.
  return [
    { name: 'gate_proj', in: h, out: width, bias: false },
    { name: 'up_proj', in: h, out: width, bias: false },
    { name: 'down_proj', in: width, out: h, bias: false },
  ];
}

export interface ParamCount {
  /** Every weight the model holds (all experts resident). */
  total: number;
  /** Weights a token uses: the total less the routed experts it does not visit. */
  active: number;
  /** Token and position embedding tables (the "embedding parameters" model cards list apart). */
  embedding: number;
}

/** Parameter counts computed from the architecture (MTP / draft heads not included). */
export function countParams(spec: ModelSpec): ParamCount {
  let total = 0;
  let active = 0;
  let embedding = 0;
  for (const group of listWeightTensors(spec)) {
    const n = groupElements(group);
    total += n;
    active += n * group.activeFraction;
    if (group.role === 'embedding' || group.role === 'position-embedding') embedding += n;
  }
  return { total, active: Math.round(active), embedding };
}

/** Fills `paramsTotal` / `paramsActive` from the architecture. */
export function withParamCounts(spec: ModelSpec): ModelSpec {
  const counts = countParams(spec);
  return { ...spec, paramsTotal: counts.total, paramsActive: counts.active };
}
