import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { ModelscoutError, errorMessage, jsonSyntaxReason } from '../errors.js';
import type { AttentionKind, MlaSpec, ModelSpec, MoeSpec } from './model-spec.js';
import { withParamCounts } from './tensors.js';

/** The `model_type` values whose config keys and tensor layout we know. */
export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma2', 'gemma3_text', 'phi3', 'mixtral', 'qwen3_moe', 'deepseek_v2', 'deepseek_v3', 'gpt2'] as const;
export type SupportedModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/**
 * `tie_word_embeddings` when the config omits it: the default of each transformers config class
 * (Gemma2Config and GPT-2's PretrainedConfig tie; the others default to untied).
 */
const TIE_DEFAULT: Record<SupportedModelType, boolean> = {
  llama: false,
  mistral: false,
  qwen2: false,
  qwen3: false,
  gemma2: true,
  gemma3_text: true,
  phi3: false,
  mixtral: false,
  qwen3_moe: false,
  deepseek_v2: false,
  deepseek_v3: false,
  gpt2: true,
};

export interface ConfigMeta {
  /** Id to give the spec; derived from `_name_or_path` or the source when absent. */
  id?: string;
  /** Where the config came from (file path or URL), kept in `sources` and named in errors. */
  source: string;
  family?: string;
  hfRepo?: string | null;
}

type Json = Record<string, unknown>;

/** Collects key problems so one error names all of them. */
/**
 * Upper bounds on config values, far above any published model (the largest have ~130 layers, hidden
 * sizes near 25k, vocabularies near 260k, contexts of 10M): a config beyond them is a mistake or an
 * attack, and would make synth write terabytes or build a graph that exhausts memory.
 */
const MAX_CONFIG_VALUE: Record<string, number> = {
  num_hidden_layers: 1024,
  n_layer: 1024,
  max_position_embeddings: 1 << 27,
  n_positions: 1 << 27,
  n_ctx: 1 << 27,
  vocab_size: 1 << 23,
  sliding_window: 1 << 27,
  sliding_window_size: 1 << 27,
};
const MAX_CONFIG_DIMENSION = 1 << 18;

class KeyReader {
  readonly problems: string[] = [];
  constructor(private readonly config: Json) {}

  has(key: string): boolean {
    return this.config[key] !== undefined && this.config[key] !== null;
  }

  raw(key: string): unknown {
    return this.config[key];
  }

  /** A positive integer under the first of `keys` present; records a problem when none is. */
  int(keys: string | string[], options: { optional?: false } | { optional: true } = {}): number {
    const list = Array.isArray(keys) ? keys : [keys];
    for (const key of list) {
      const value = this.config[key];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
        this.problems.push(`${key} must be a positive integer (got ${JSON.stringify(value)})`);
        // NaN, not a stand-in value: checks derived from it (divisibility, ratios) must stay silent
        // instead of reporting a second, contradicting problem about a number the file never held.
        return Number.NaN;
      }
      const max = MAX_CONFIG_VALUE[key] ?? MAX_CONFIG_DIMENSION;
      if (value > max) {
        this.problems.push(`${key} ${value} is larger than any real model's (at most ${max})`);
        return 1;
      }
      return value;
    }
    if (!options.optional) this.problems.push(`missing ${list.join(' or ')}`);
    return Number.NaN;
  }

  optionalInt(keys: string | string[]): number | null {
    const before = this.problems.length;
    const value = this.int(keys, { optional: true });
    // An invalid value is recorded as a problem above; answering null would pass it off as absent.
    if (Number.isNaN(value) && this.problems.length > before) return Number.NaN;
    return Number.isNaN(value) ? null : value;
  }

  number(key: string, fallback: number): number {
    const value = this.config[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.problems.push(`${key} must be a number (got ${JSON.stringify(value)})`);
      return fallback;
    }
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.config[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      this.problems.push(`${key} must be true or false (got ${JSON.stringify(value)})`);
      return fallback;
    }
    return value;
  }

  string(keys: string[], fallback: string): string {
    for (const key of keys) {
      const value = this.config[key];
      if (typeof value === 'string' && value.length > 0) return value;
    }
    return fallback;
  }
}

/**
 * Turns a Hugging Face `config.json` (parsed) into a `ModelSpec`. Handles the traps of real configs: an
 * explicit `head_dim` that differs from hidden / heads (Qwen3, Gemma 2), `sliding_window` set while
 * `use_sliding_window` is false (Qwen2.5), Gemma 2's alternating sliding layers, windows longer than the
 * context (Phi-3.5), DeepSeek-V3's MLA, dense first layers and shared experts, and GPT-2's own key names.
 * Throws `E_CONFIG` naming every missing or invalid key, `E_UNSUPPORTED` for an unknown `model_type`.
 */
export function modelSpecFromHfConfig(configJson: unknown, meta: ConfigMeta): ModelSpec {
  if (typeof configJson !== 'object' || configJson === null || Array.isArray(configJson)) {
    throw new ModelscoutError('E_CONFIG', `${meta.source}: expected a JSON object (a Hugging Face config.json)`, {
      suggestions: ['Pass the config.json of a transformers model (it has model_type, hidden_size, num_hidden_layers, ...).'],
    });
  }
  const outer = configJson as Json;
  // Multimodal wrappers (Gemma 3, Mistral 3) keep the decoder's facts in `text_config`.
  const textConfig = outer.text_config;
  const wrapped = typeof textConfig === 'object' && textConfig !== null && !Array.isArray(textConfig) && outer.hidden_size === undefined;
  const config: Json = wrapped ? { ...(textConfig as Json), _name_or_path: outer._name_or_path, tie_word_embeddings: (textConfig as Json).tie_word_embeddings ?? outer.tie_word_embeddings } : outer;
  const rawType = wrapped ? (config.model_type ?? outer.model_type) : config.model_type;
  if (typeof rawType !== 'string') {
    throw new ModelscoutError('E_CONFIG', `${meta.source}: missing model_type (expected one of ${SUPPORTED_MODEL_TYPES.join(', ')})`, {
      suggestions: ['Check that the file is a transformers config.json, not a generation_config.json or tokenizer config.'],
    });
  }
  const modelType = MODEL_TYPE_ALIASES[rawType] ?? rawType;
  const known = (SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType);
  if (!known) {
    const missing = GENERIC_KEYS.filter((key) => config[key] === undefined || config[key] === null);
    if (missing.length > 0) {
      throw new ModelscoutError('E_UNSUPPORTED', `${meta.source}: unknown model_type "${rawType}" and no generic estimate: missing ${missing.join(', ')}`, {
        suggestions: [`Known types: ${SUPPORTED_MODEL_TYPES.join(', ')}. Or add the model to a catalog file with --catalog, giving its architecture facts directly.`],
      });
    }
  }
  // An unknown decoder is read as a Llama-style one (gated MLP, RMSNorm, RoPE) from the generic keys, and says so.
  const type = (known ? modelType : 'llama') as SupportedModelType;
  const keys = new KeyReader(config);
  const isGpt2 = type === 'gpt2';

  const hiddenSize = keys.int(isGpt2 ? ['n_embd', 'hidden_size'] : 'hidden_size');
  const numLayers = keys.int(isGpt2 ? ['n_layer', 'num_hidden_layers'] : 'num_hidden_layers');
  const numHeads = keys.int(isGpt2 ? ['n_head', 'num_attention_heads'] : 'num_attention_heads');
  const vocabSize = keys.int('vocab_size');
  const maxContext = keys.int(isGpt2 ? ['n_positions', 'n_ctx', 'max_position_embeddings'] : 'max_position_embeddings');
  const numKvHeads = isGpt2 ? numHeads : keys.optionalInt('num_key_value_heads') ?? numHeads;

  // Intermediate size: GPT-2's n_inner may be null (→ 4 × hidden).
  const intermediateSize = isGpt2 ? keys.optionalInt('n_inner') ?? 4 * hiddenSize : keys.int('intermediate_size');

  const mla = type === 'deepseek_v3' || type === 'deepseek_v2' ? readMla(keys) : null;
  const explicitHeadDim = keys.optionalInt('head_dim');
  let headDim: number;
  if (mla) headDim = mla.qkNopeHeadDim + mla.qkRopeHeadDim;
  else headDim = explicitHeadDim ?? hiddenSize / numHeads;
  if (!mla && explicitHeadDim === null && Number.isFinite(headDim) && !Number.isInteger(headDim)) {
    keys.problems.push(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads} and no head_dim is given`);
  }
  if (Number.isFinite(numKvHeads) && Number.isFinite(numHeads) && numHeads % numKvHeads !== 0) {
    keys.problems.push(`num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }

  const moe = readMoe(type, keys, numLayers, intermediateSize);
  const { slidingWindow, slidingWindowPattern, slidingLayers, notes } = readSlidingWindow(type, keys, maxContext, numLayers);

  if (keys.problems.length > 0) {
    throw new ModelscoutError('E_CONFIG', `${meta.source}: invalid ${type} config: ${keys.problems.join('; ')}`, {
      suggestions: ['Fix or add the named keys; they come from the model\'s config.json on the Hugging Face Hub.'],
    });
  }

  let attentionKind: AttentionKind;
  if (mla) attentionKind = 'mla';
  else if (numKvHeads === numHeads) attentionKind = 'mha';
  else if (numKvHeads === 1) attentionKind = 'mqa';
  else attentionKind = 'gqa';

  const nameOrPath = typeof config._name_or_path === 'string' && config._name_or_path.includes('/') ? config._name_or_path : null;
  const id = meta.id ?? deriveId(nameOrPath, meta.source);
  const spec: ModelSpec = {
    id,
    name: nameOrPath ? nameOrPath.split('/').pop() ?? id : id,
    hfRepo: meta.hfRepo ?? nameOrPath,
    family: meta.family ?? (known ? type : rawType),
    modelType: known ? type : rawType,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize,
    vocabSize,
    maxContext,
    tieWordEmbeddings: keys.bool('tie_word_embeddings', TIE_DEFAULT[type]),
    slidingWindow,
    slidingWindowPattern,
    ...(slidingLayers !== undefined ? { slidingLayers } : {}),
    attentionKind,
    // Qwen2 always biases q/k/v (no config key); GPT-2 biases every linear layer.
    attentionBias: type === 'qwen2' || isGpt2 ? true : keys.bool('attention_bias', false),
    norm: isGpt2 ? 'layernorm' : 'rmsnorm',
    normEps: keys.number(isGpt2 ? 'layer_norm_epsilon' : 'rms_norm_eps', isGpt2 ? 1e-5 : 1e-6),
    position: isGpt2 ? 'learned' : 'rope',
    ropeTheta: isGpt2 ? null : keys.number('rope_theta', 10000),
    hiddenAct: keys.string(['hidden_activation', 'hidden_act', 'activation_function'], isGpt2 ? 'gelu_new' : 'silu'),
    moe,
    mla,
    paramsTotal: 0,
    paramsActive: 0,
    paramsPublished: null,
    license: null,
    onnxRepo: null,
    sources: [meta.source],
  };
  if (!known) {
    notes.push(`model_type "${rawType}" is not one modelscout knows: estimated as a Llama-style decoder (gated MLP, RMSNorm, RoPE) from its generic fields; parameter counts and bytes may differ from the real layout`);
  }
  if (notes.length > 0) spec.notes = notes;
  return withParamCounts(spec);
}

/** Hub `model_type`s that share a known layout. */
const MODEL_TYPE_ALIASES: Readonly<Record<string, string>> = { gemma3: 'gemma3_text', qwen2_5: 'qwen2', mistral3: 'mistral', ministral: 'mistral' };

/** What an unknown `model_type` must have for the generic (Llama-style) estimate. */
const GENERIC_KEYS = ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'vocab_size', 'max_position_embeddings'] as const;

function readMla(keys: KeyReader): MlaSpec {
  return {
    kvLoraRank: keys.int('kv_lora_rank'),
    qLoraRank: keys.optionalInt('q_lora_rank'),
    qkRopeHeadDim: keys.int('qk_rope_head_dim'),
    qkNopeHeadDim: keys.int('qk_nope_head_dim'),
    vHeadDim: keys.int('v_head_dim'),
  };
}

function readMoe(type: SupportedModelType, keys: KeyReader, numLayers: number, intermediateSize: number): MoeSpec | null {
  if (type === 'mixtral') {
    // Mixtral: every layer is MoE and `intermediate_size` is the width of one expert.
    return { experts: keys.int('num_local_experts'), activeExperts: keys.int('num_experts_per_tok'), sharedExperts: 0, expertIntermediateSize: intermediateSize, denseLayers: 0 };
  }
  if (type === 'qwen3_moe') {
    const step = keys.optionalInt('decoder_sparse_step') ?? 1;
    const mlpOnly = keys.raw('mlp_only_layers');
    // Layer i is MoE when it is not listed in mlp_only_layers and (i + 1) % step == 0 (transformers' Qwen3MoE).
    let dense = 0;
    for (let i = 0; i < numLayers; i += 1) {
      const listed = Array.isArray(mlpOnly) && mlpOnly.includes(i);
      if (listed || (i + 1) % step !== 0) dense += 1;
    }
    return {
      experts: keys.int('num_experts'),
      activeExperts: keys.int('num_experts_per_tok'),
      sharedExperts: 0,
      expertIntermediateSize: keys.int('moe_intermediate_size'),
      denseLayers: dense,
    };
  }
  if (type === 'deepseek_v3' || type === 'deepseek_v2') {
    const freq = keys.optionalInt('moe_layer_freq') ?? 1;
    if (freq !== 1) keys.problems.push(`moe_layer_freq ${freq} is not supported (expected 1)`);
    return {
      experts: keys.int('n_routed_experts'),
      activeExperts: keys.int('num_experts_per_tok'),
      sharedExperts: keys.optionalInt('n_shared_experts') ?? 0,
      expertIntermediateSize: keys.int('moe_intermediate_size'),
      denseLayers: keys.optionalInt('first_k_dense_replace') ?? 0,
    };
  }
  return null;
}

function readSlidingWindow(
  type: SupportedModelType,
  keys: KeyReader,
  maxContext: number,
  numLayers: number,
): { slidingWindow: number | null; slidingWindowPattern: ModelSpec['slidingWindowPattern']; slidingLayers?: number; notes: string[] } {
  const notes: string[] = [];
  const none = { slidingWindow: null, slidingWindowPattern: null, notes };
  if (type === 'gpt2' || type === 'deepseek_v3' || type === 'deepseek_v2' || type === 'llama') return none;
  const window = keys.optionalInt(type === 'gemma2' || type === 'gemma3_text' ? ['sliding_window', 'sliding_window_size'] : 'sliding_window');
  if (type === 'gemma3_text') {
    // Gemma 3: `layer_types` lists each layer's attention; older configs give `sliding_window_pattern` N
    // (every N-th layer global, the rest within the window).
    const w = window ?? 4096;
    const layerTypes = keys.raw('layer_types');
    const pattern = keys.optionalInt('sliding_window_pattern') ?? 6;
    const sliding = Array.isArray(layerTypes)
      ? layerTypes.filter((t) => t === 'sliding_attention').length
      : Array.from({ length: numLayers }, (_, i) => (i + 1) % pattern !== 0).filter(Boolean).length;
    if (w >= maxContext || sliding === 0) return none;
    return { slidingWindow: w, slidingWindowPattern: 'interleaved', slidingLayers: sliding, notes };
  }
  if (type === 'gemma2') {
    // Gemma 2 alternates: even layers attend within the window, odd layers globally (transformers' Gemma2).
    const w = window ?? 4096;
    if (w >= maxContext) return none;
    return { slidingWindow: w, slidingWindowPattern: 'alternate', notes };
  }
  if (window === null) return none;
  if (type === 'qwen2' || type === 'qwen3' || type === 'qwen3_moe') {
    if (!keys.bool('use_sliding_window', false)) {
      notes.push(`sliding_window ${window} is set but use_sliding_window is false: every layer attends globally`);
      return { ...none, notes };
    }
    // transformers' Qwen2: layer i slides when use_sliding_window and i >= max_window_layers (0 = every layer).
    const rawMaxWindow = keys.raw('max_window_layers');
    const maxWindowLayers = typeof rawMaxWindow === 'number' && Number.isInteger(rawMaxWindow) && rawMaxWindow >= 0 ? rawMaxWindow : numLayers;
    if (maxWindowLayers > 0 && maxWindowLayers < numLayers) {
      // Only layers >= max_window_layers slide; the spec cannot express that split, so stay conservative.
      notes.push(`only layers from ${maxWindowLayers} on use the ${window}-token window; KV estimates assume global attention (an upper bound)`);
      return { ...none, notes };
    }
    if (maxWindowLayers >= numLayers) {
      notes.push(`use_sliding_window is true but max_window_layers ${maxWindowLayers} covers every layer: no layer slides`);
      return { ...none, notes };
    }
  }
  if (window >= maxContext) {
    notes.push(`sliding_window ${window} is not shorter than the context ${maxContext}: it never limits attention`);
    return { ...none, notes };
  }
  return { slidingWindow: window, slidingWindowPattern: 'all', notes };
}

function deriveId(nameOrPath: string | null, source: string): string {
  if (nameOrPath) return nameOrPath.split('/').pop()!.toLowerCase();
  const file = basename(source);
  const base = file === 'config.json' ? basename(dirname(source)) : file.replace(/\.json$/i, '');
  return (base || 'custom-model').toLowerCase();
}

/** Reads and parses a config.json file into a `ModelSpec` (E_FILE when unreadable, E_CONFIG when invalid). */
export async function readModelSpecFromConfigFile(path: string, meta: Omit<ConfigMeta, 'source'> = {}): Promise<ModelSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a config.json file' : errorMessage(error);
    throw new ModelscoutError('E_FILE', `cannot read config file ${path}: ${reason}`, {
      suggestions: ['Pass the path of a Hugging Face config.json, e.g. --config ./my-model/config.json.'],
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ModelscoutError('E_CONFIG', `config file ${path} is not valid JSON: ${jsonSyntaxReason(error)}`, {
      suggestions: ['Check the file is the model\'s config.json, unmodified.'],
    });
  }
  return modelSpecFromHfConfig(parsed, { ...meta, source: path });
}
