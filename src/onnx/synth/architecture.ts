import type { ModelSpec } from '../../catalog/index.js';
import { ModelscoutError } from '../../errors.js';

/**
 * What the synthetic-model builder needs to know about an architecture, resolved from a `ModelSpec`
 * (and, when the user passed a config.json, the raw config for keys the spec does not carry). Anything
 * the builder cannot reproduce exactly is rejected here with a message naming what is missing.
 */

export type SynthFamily = 'llama' | 'gpt2';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

export interface SynthArchitecture {
  family: SynthFamily;
  /** config.json model_type (llama, mistral, qwen2, gpt2). */
  modelType: string;
  hiddenSize: number;
  /** Layers of the real architecture. */
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  /** Bias on the q/k/v projections (Qwen2; Llama with attention_bias). */
  qkvBias: boolean;
  /** Bias on the attention output projection (Llama with attention_bias; GPT-2). */
  outputBias: boolean;
  normEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** GPT-2 `scale_attn_by_inverse_layer_idx`: scores of layer i also divided by i + 1. */
  scaleAttnByInverseLayerIdx: boolean;
}

const LLAMA_TYPES = new Set(['llama', 'mistral', 'qwen2']);

const WHAT_IS_MISSING: Record<string, string> = {
  qwen3: "Qwen3's per-head q/k RMSNorm (q_norm, k_norm)",
  qwen3_moe: "mixture-of-experts layers and Qwen3's per-head q/k RMSNorm",
  mixtral: 'mixture-of-experts layers',
  deepseek_v3: 'multi-head latent attention (MLA) and mixture-of-experts layers',
  gemma2: "Gemma 2's extra pre/post feed-forward norms, logit soft-capping, scaled embeddings and alternating sliding-window attention",
  phi3: "Phi-3's fused qkv/gate_up projections and long-RoPE scaling",
};

function unsupported(spec: ModelSpec, what: string): ModelscoutError {
  return new ModelscoutError('E_UNSUPPORTED', `cannot synthesize ${spec.id} (${spec.modelType}): the builder lacks ${what}`, {
    suggestions: ['Pick a Llama-family (llama, mistral, qwen2/Qwen2.5, SmolLM) or GPT-2 model: `modelscout models`.', 'Benchmark a real ONNX export instead: `modelscout pull <repo>`.'],
  });
}

/**
 * Resolves the builder's view of an architecture. `rawConfig` (the parsed config.json, when there is one)
 * supplies `rope_scaling`, `mlp_bias` and GPT-2's attention-scaling switches.
 */
export function resolveSynthArchitecture(spec: ModelSpec, rawConfig?: Record<string, unknown>): SynthArchitecture {
  const family: SynthFamily | null = LLAMA_TYPES.has(spec.modelType) ? 'llama' : spec.modelType === 'gpt2' ? 'gpt2' : null;
  if (family === null) throw unsupported(spec, WHAT_IS_MISSING[spec.modelType] ?? `the ${spec.modelType} architecture`);
  if (spec.moe) throw unsupported(spec, `mixture-of-experts layers (${spec.moe.experts} experts)`);
  if (spec.mla) throw unsupported(spec, 'multi-head latent attention (MLA)');
  if (spec.slidingWindow !== null) throw unsupported(spec, `sliding-window attention (window ${spec.slidingWindow} tokens)`);
  if (family === 'llama' && spec.hiddenAct !== 'silu') throw unsupported(spec, `the ${spec.hiddenAct} activation (only SwiGLU with silu)`);
  if (family === 'gpt2' && spec.hiddenAct !== 'gelu_new' && spec.hiddenAct !== 'gelu_pytorch_tanh') {
    throw unsupported(spec, `the ${spec.hiddenAct} activation (only gelu_new, the tanh approximation)`);
  }
  if (spec.numHeads % spec.numKvHeads !== 0) throw unsupported(spec, `${spec.numHeads} heads over ${spec.numKvHeads} KV heads (not a multiple)`);
  if (family === 'llama' && spec.headDim % 2 !== 0) throw unsupported(spec, `RoPE on an odd head dim ${spec.headDim}`);
  if (family === 'gpt2' && spec.numHeads * spec.headDim !== spec.hiddenSize) throw unsupported(spec, 'a head dim other than hidden / heads');
  const raw = rawConfig ?? {};
  if (raw.mlp_bias === true) throw unsupported(spec, 'biases on the MLP projections (mlp_bias)');
  if (family === 'gpt2' && raw.scale_attn_weights === false) throw unsupported(spec, 'unscaled attention (scale_attn_weights false)');
  const ropeScaling = family === 'llama' ? readRopeScaling(spec, raw.rope_scaling) : null;
  const llamaBias = spec.modelType !== 'qwen2' && spec.attentionBias;
  return {
    family,
    modelType: spec.modelType,
    hiddenSize: spec.hiddenSize,
    numLayers: spec.numLayers,
    numHeads: spec.numHeads,
    numKvHeads: spec.numKvHeads,
    headDim: spec.headDim,
    intermediateSize: spec.intermediateSize,
    vocabSize: spec.vocabSize,
    maxPositions: spec.maxContext,
    tieWordEmbeddings: family === 'gpt2' ? true : spec.tieWordEmbeddings,
    qkvBias: family === 'gpt2' || spec.attentionBias,
    outputBias: family === 'gpt2' || llamaBias,
    normEps: spec.normEps,
    ropeTheta: spec.ropeTheta ?? 10000,
    ropeScaling,
    scaleAttnByInverseLayerIdx: family === 'gpt2' && raw.scale_attn_by_inverse_layer_idx === true,
  };
}

function readRopeScaling(spec: ModelSpec, value: unknown): RopeScaling | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw unsupported(spec, `rope_scaling ${JSON.stringify(value)}`);
  const scaling = value as Record<string, unknown>;
  const type = scaling.rope_type ?? scaling.type;
  const num = (key: string, fallback?: number): number => {
    const v = scaling[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw unsupported(spec, `rope_scaling.${key} ${JSON.stringify(scaling[key])}`);
    return v;
  };
  if (type === 'default') return null;
  if (type === 'linear') return { type: 'linear', factor: num('factor') };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: num('factor'),
      lowFreqFactor: num('low_freq_factor', 1),
      highFreqFactor: num('high_freq_factor', 4),
      originalMaxPositionEmbeddings: num('original_max_position_embeddings', 8192),
    };
  }
  throw unsupported(spec, `RoPE scaling of type ${JSON.stringify(type)} (supported: linear, llama3)`);
}

/**
 * RoPE inverse frequencies (D/2 values) with the configured scaling, as transformers computes them
 * (`1 / theta^(2j/D)`, then the llama3 band-wise rescaling).
 */
export function ropeInverseFrequencies(arch: Pick<SynthArchitecture, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = arch.headDim / 2;
  const inv = new Float64Array(half);
  for (let j = 0; j < half; j++) inv[j] = 1 / arch.ropeTheta ** ((2 * j) / arch.headDim);
  const scaling = arch.ropeScaling;
  if (scaling?.type === 'linear') {
    for (let j = 0; j < half; j++) inv[j] = inv[j]! / scaling.factor;
  } else if (scaling?.type === 'llama3') {
    const lowWavelen = scaling.originalMaxPositionEmbeddings / scaling.lowFreqFactor;
    const highWavelen = scaling.originalMaxPositionEmbeddings / scaling.highFreqFactor;
    for (let j = 0; j < half; j++) {
      const freq = inv[j]!;
      const wavelen = (2 * Math.PI) / freq;
      if (wavelen < highWavelen) continue;
      if (wavelen > lowWavelen) {
        inv[j] = freq / scaling.factor;
        continue;
      }
      const smooth = (scaling.originalMaxPositionEmbeddings / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
      inv[j] = (1 - smooth) * (freq / scaling.factor) + smooth * freq;
    }
  }
  return inv;
}
