import { ModelscoutError } from '../errors.js';
import { modelSpecFromHfConfig } from './hf-config.js';
import type { ModelSpec } from './model-spec.js';

/**
 * A GGUF file's metadata → `ModelSpec`, by way of the Hugging Face config keys it came from, so one mapping
 * (hf-config.ts) serves both. Key names: llama.cpp `gguf-py/gguf/constants.py` (`Keys.LLM`, `Keys.Attention`,
 * `Keys.Rope`) and `src/llama-arch.cpp` (`LLM_KV_*`), all prefixed with `general.architecture`.
 */
export interface GgufModelInput {
  /** Metadata values: numbers, strings, booleans, or arrays as `{ length, values }` (values null when long). */
  metadata: ReadonlyMap<string, unknown>;
  tensors: ReadonlyArray<{ name: string; dims: readonly number[] }>;
  source: string;
}

/** GGUF `general.architecture` → transformers `model_type` (only where the tensor layout is the same). */
const ARCH_TO_MODEL_TYPE: Readonly<Record<string, string>> = {
  llama: 'llama',
  mistral: 'mistral',
  qwen2: 'qwen2',
  qwen3: 'qwen3',
  qwen3moe: 'qwen3_moe',
  gemma2: 'gemma2',
  gemma3: 'gemma3_text',
  phi3: 'phi3',
  gpt2: 'gpt2',
  deepseek2: 'deepseek_v3',
};

export const GGUF_ARCHITECTURES = Object.keys(ARCH_TO_MODEL_TYPE);

function scalar(value: unknown): number | string | boolean | undefined {
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  // Per-layer arrays (head_count_kv of some models): the largest value is the conservative one for the KV cache.
  if (typeof value === 'object' && value !== null && 'values' in value) {
    const values = (value as { values: unknown[] | null }).values;
    const numbers = (values ?? []).filter((v): v is number => typeof v === 'number');
    return numbers.length > 0 ? Math.max(...numbers) : undefined;
  }
  return undefined;
}

function arrayLength(value: unknown): number | undefined {
  return typeof value === 'object' && value !== null && 'length' in value ? Number((value as { length: number }).length) : undefined;
}

export function modelSpecFromGguf(input: GgufModelInput): ModelSpec {
  const { metadata, tensors, source } = input;
  const arch = metadata.get('general.architecture');
  if (typeof arch !== 'string') throw new ModelscoutError('E_MODEL', `${source}: no general.architecture in the GGUF metadata`);
  const modelType = ARCH_TO_MODEL_TYPE[arch];
  const get = (key: string): number | string | boolean | undefined => scalar(metadata.get(`${arch}.${key}`));
  const tensor = (name: string): { name: string; dims: readonly number[] } | undefined => tensors.find((t) => t.name === name);
  const embedding = tensor('token_embd.weight');
  const vocab = get('vocab_size') ?? arrayLength(metadata.get('tokenizer.ggml.tokens')) ?? embedding?.dims[1];
  const heads = get('attention.head_count');
  const hidden = get('embedding_length');
  const keyLength = get('attention.key_length');
  const config: Record<string, unknown> = {
    model_type: modelType ?? arch,
    hidden_size: hidden,
    num_hidden_layers: get('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: get('attention.head_count_kv') ?? heads,
    intermediate_size: get('feed_forward_length'),
    vocab_size: vocab,
    max_position_embeddings: get('context_length'),
    rope_theta: get('rope.freq_base'),
    rms_norm_eps: get('attention.layer_norm_rms_epsilon'),
    // llama.cpp uses token_embd as the output matrix when there is no output.weight.
    tie_word_embeddings: tensor('output.weight') === undefined,
  };
  if (typeof keyLength === 'number' && typeof hidden === 'number' && typeof heads === 'number' && keyLength * heads !== hidden) config.head_dim = keyLength;
  const window = get('attention.sliding_window');
  if (typeof window === 'number') {
    config.sliding_window = window;
    if (modelType === 'qwen2' || modelType === 'qwen3') config.use_sliding_window = false;
  }
  const experts = get('expert_count');
  if (typeof experts === 'number' && experts > 0) {
    config.num_experts_per_tok = get('expert_used_count');
    if (modelType === 'llama' || modelType === 'mistral') {
      config.model_type = 'mixtral';
      config.num_local_experts = experts;
    } else {
      config.num_experts = experts;
      config.n_routed_experts = experts;
      config.moe_intermediate_size = get('expert_feed_forward_length');
      config.n_shared_experts = get('expert_shared_count');
      config.first_k_dense_replace = get('leading_dense_block_count');
    }
  }
  if (modelType === 'deepseek_v3') {
    config.kv_lora_rank = get('attention.kv_lora_rank');
    config.q_lora_rank = get('attention.q_lora_rank') || null;
    const rope = get('rope.dimension_count');
    config.qk_rope_head_dim = rope;
    // Files converted since llama.cpp runs MLA as MQA over the latent store that cache's shape in key_length
    // (kv_lora_rank + rope), value_length (kv_lora_rank) and head_count_kv (1); the per-head lengths are then
    // the `_mla` keys, and the model has as many KV heads as query heads.
    const keyMla = get('attention.key_length_mla');
    const valueMla = get('attention.value_length_mla');
    const headKey = typeof keyMla === 'number' ? keyMla : keyLength;
    config.qk_nope_head_dim = typeof headKey === 'number' && typeof rope === 'number' ? headKey - rope : undefined;
    config.v_head_dim = typeof valueMla === 'number' ? valueMla : get('attention.value_length');
    if (typeof keyMla === 'number') config.num_key_value_heads = heads;
    delete config.head_dim;
  }
  if (modelType === 'gpt2') {
    Object.assign(config, { n_embd: hidden, n_layer: config.num_hidden_layers, n_head: heads, n_positions: config.max_position_embeddings, n_inner: config.intermediate_size });
  }
  const name = metadata.get('general.name');
  return modelSpecFromHfConfig(config, {
    source,
    ...(typeof name === 'string' && name ? { id: name.toLowerCase().replace(/\s+/g, '-') } : {}),
    family: arch,
    hfRepo: null,
  });
}
