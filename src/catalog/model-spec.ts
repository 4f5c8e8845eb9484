/**
 * `ModelSpec`: the architecture facts of one decoder-only LLM, as read from its Hugging Face config.json.
 * One shape serves the catalog, `models show --config`, the estimator and the synthetic-model builder.
 * Counts are plain numbers (all realistic values are far below 2^53).
 */
export type AttentionKind = 'mha' | 'gqa' | 'mqa' | 'mla';
export type NormKind = 'rmsnorm' | 'layernorm';
export type PositionKind = 'rope' | 'learned';

export interface MoeSpec {
  /** Routed experts per MoE layer (all resident in memory). */
  experts: number;
  /** Routed experts used per token. */
  activeExperts: number;
  /** Always-on shared experts (DeepSeek); 0 when none. */
  sharedExperts: number;
  /** FFN width of one expert (`moe_intermediate_size`, or `intermediate_size` for Mixtral). */
  expertIntermediateSize: number;
  /** Leading layers that stay dense (DeepSeek-V3 `first_k_dense_replace`); 0 when none. */
  denseLayers: number;
}

export interface MlaSpec {
  kvLoraRank: number;
  qLoraRank: number | null;
  qkRopeHeadDim: number;
  qkNopeHeadDim: number;
  vHeadDim: number;
}

export interface ModelSpec {
  /** Catalog id, lower-case (e.g. `qwen2.5-0.5b`), or a name derived from a config file. */
  id: string;
  /** Display name (e.g. `Qwen2.5-0.5B`). */
  name: string;
  /** Hugging Face repo of the original weights (e.g. `Qwen/Qwen2.5-0.5B`), when known. */
  hfRepo: string | null;
  /** Family for filtering (e.g. `qwen2.5`, `llama3.1`, `smollm2`). */
  family: string;
  /** config.json `model_type` (llama, mistral, qwen2, qwen3, gemma2, gemma3_text, phi3, mixtral, qwen3_moe, deepseek_v2, deepseek_v3, gpt2), or an unknown one estimated as Llama-style. */
  modelType: string;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Per-head dimension: the explicit `head_dim` when the config sets it, else hidden / heads. */
  headDim: number;
  /** Dense FFN width (`intermediate_size`; GPT-2: `n_inner` or 4 × hidden). */
  intermediateSize: number;
  vocabSize: number;
  /** `max_position_embeddings` (GPT-2: `n_positions`). */
  maxContext: number;
  tieWordEmbeddings: boolean;
  /** Effective sliding window in tokens, or null when attention is global (Qwen2.5 sets one but disables it). */
  slidingWindow: number | null;
  /**
   * Which layers use the window: every layer, every other one starting at layer 0 (Gemma 2), or
   * `slidingLayers` of them interleaved with global layers (Gemma 3: five local to one global).
   */
  slidingWindowPattern: 'all' | 'alternate' | 'interleaved' | null;
  /** With the `interleaved` pattern: how many layers attend within the window. */
  slidingLayers?: number;
  attentionKind: AttentionKind;
  /** Bias on the q/k/v projections (Qwen2/2.5). */
  attentionBias: boolean;
  norm: NormKind;
  normEps: number;
  position: PositionKind;
  /** RoPE base, null for learned positions. */
  ropeTheta: number | null;
  /** Activation of the MLP (`silu` for SwiGLU models, `gelu_new` for GPT-2, `gelu_pytorch_tanh` for Gemma). */
  hiddenAct: string;
  moe: MoeSpec | null;
  mla: MlaSpec | null;
  /** Parameter counts computed from the architecture. */
  paramsTotal: number;
  paramsActive: number;
  /** Published total parameter count, when known (checked against `paramsTotal` within 2%). */
  paramsPublished: number | null;
  license: string | null;
  /** Hub repo holding an ONNX export (transformers.js / onnx-community layout), when one exists. */
  onnxRepo: string | null;
  /** Where the facts come from (a URL or a citation per field group). */
  sources: string[];
  /** Published active parameter count of a MoE model, when known (checked like `paramsPublished`). */
  paramsActivePublished?: number | null;
  /** The published count as the model card words it (e.g. `671B (685B on HF incl. 14B MTP module)`). */
  paramsPublishedNote?: string;
  /** How sure we are that `onnxRepo` holds this model's ONNX export (see `OnnxRepoStatus`). */
  onnxStatus?: OnnxRepoStatus;
  /** Published benchmark scores, each with its setting, source and date; absent or empty when none is recorded. */
  scores?: QualityScore[];
  /** Caveats about the facts (e.g. a context length the model card states lower than the config). */
  notes?: string[];
}

/**
 * `confirmed`: the export repo of exactly this model was seen; `sibling`: only the Instruct sibling has an
 * export (the repo named is that sibling's); `unconfirmed`: named by third-party code only.
 */
export type OnnxRepoStatus = 'confirmed' | 'sibling' | 'unconfirmed';

/**
 * A published benchmark score (0-100) with where and when it was published. Scores are compared only with
 * scores of the same `metric`, which names the benchmark, its setting and whose evaluation it is: settings
 * differ between publishers, and mixing them would rank noise.
 */
export interface QualityScore {
  /** Benchmark, setting and evaluator, e.g. `MMLU-Pro, 5-shot, base model (Qwen2.5 Technical Report evaluation)`. */
  metric: string;
  score: number;
  /** Where it is published: a URL, with the table or section. */
  source: string;
  /** When the source was published (YYYY-MM-DD). */
  date: string;
}
