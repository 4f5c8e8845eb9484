import type { ModelSpec } from '../catalog/model-spec.js';
import { listWeightTensors, type WeightTensorGroup } from '../catalog/tensors.js';
import { ggmlTensorBytes, ggmlType, type GgmlType, type GgufTensorBytes } from '../catalog/ggml-types.js';

export { GGML_TYPES, GGUF_FILE_TYPES, ggmlBitsPerWeight, ggmlTensorBytes, ggmlType, ggmlTypeById } from '../catalog/ggml-types.js';
export type { GgmlType, GgufTensorBytes } from '../catalog/ggml-types.js';

/**
 * llama.cpp's file types (`llama-quantize … Q4_K_M`): the default type of the quantized matrices. The mix
 * rules applied on top (which tensors get more bits) are in `ggufPresetWeights`.
 * Source: `src/llama-quant.cpp` (`llama_ftype_get_default_type`), `gguf-py` `LlamaFileType`.
 */
export const GGUF_PRESETS = ['F16', 'BF16', 'Q8_0', 'Q6_K', 'Q5_K_M', 'Q5_K_S', 'Q4_K_M', 'Q4_K_S', 'Q5_0', 'Q4_0'] as const;
export type GgufPreset = (typeof GGUF_PRESETS)[number];

const PRESET_DEFAULT: Record<GgufPreset, string> = {
  F16: 'F16', BF16: 'BF16', Q8_0: 'Q8_0', Q6_K: 'Q6_K', Q5_K_M: 'Q5_K', Q5_K_S: 'Q5_K', Q4_K_M: 'Q4_K', Q4_K_S: 'Q4_K', Q5_0: 'Q5_0', Q4_0: 'Q4_0',
};

/** Bytes of one ggml type in a model's weights. */
export interface GgufTypeShare {
  type: string;
  tensors: number;
  elements: number;
  bytes: number;
}

/**
 * The weights of a model as llama.cpp stores them: bytes per ggml type, what one decode step streams, and
 * the engine that runs them. From a GGUF file's tensor infos (exact) or from a spec and a preset (estimated).
 */
export interface GgufWeights {
  /** The file type (e.g. `Q4_K_M`), or `mixed` when a file does not say. */
  preset: string;
  basis: 'file' | 'preset-rules';
  totalBytes: number;
  /** Bytes of tensors stored in a block-quantized type. */
  quantizedBytes: number;
  /** Bytes of tensors stored as F32 / F16 / BF16. */
  floatBytes: number;
  /** Bytes one decode step reads for one token (active experts only, one row of an untied embedding table). */
  streamedBytesPerToken: number;
  /** Bytes of the routed experts (all of them). */
  routedExpertBytes: number;
  params: number;
  bitsPerParam: number;
  types: GgufTypeShare[];
}

/** What a decode step reads of a model's tensors: a routed expert its active share, an untied embedding table one row; the rest in full. */
export function ggufWeightsFromTensors(tensors: readonly GgufTensorBytes[], options: { preset: string; activeExpertFraction: number; tiedEmbeddings: boolean; vocabSize: number }): GgufWeights {
  const byType = new Map<string, GgufTypeShare>();
  let total = 0;
  let quantized = 0;
  let float = 0;
  let streamed = 0;
  let routed = 0;
  let params = 0;
  for (const t of tensors) {
    total += t.bytes;
    params += t.elements;
    if (FLOAT_TYPES.has(t.type)) float += t.bytes;
    else quantized += t.bytes;
    const share = byType.get(t.type) ?? { type: t.type, tensors: 0, elements: 0, bytes: 0 };
    share.tensors += 1;
    share.elements += t.elements;
    share.bytes += t.bytes;
    byType.set(t.type, share);
    if (t.kind === 'routed-expert') {
      routed += t.bytes;
      streamed += t.bytes * options.activeExpertFraction;
    } else if (t.kind === 'embedding' && !options.tiedEmbeddings) streamed += t.bytes / Math.max(1, options.vocabSize);
    else streamed += t.bytes;
  }
  return {
    preset: options.preset,
    basis: 'file',
    totalBytes: total,
    quantizedBytes: quantized,
    floatBytes: float,
    streamedBytesPerToken: Math.round(streamed),
    routedExpertBytes: routed,
    params,
    bitsPerParam: params > 0 ? (total * 8) / params : 0,
    types: [...byType.values()].sort((a, b) => b.bytes - a.bytes),
  };
}

const FLOAT_TYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** llama-quant.cpp's `use_more_bits`: the first and last eighth of the layers, and every third one between. */
function useMoreBits(layer: number, layers: number): boolean {
  const eighth = Math.trunc(layers / 8);
  return layer < eighth || layer >= Math.trunc((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

/** Number of the `layers` layers `use_more_bits` picks. */
function moreBitsLayers(layers: number): number {
  let n = 0;
  for (let i = 0; i < layers; i += 1) if (useMoreBits(i, layers)) n += 1;
  return n;
}

/** llama-quant.cpp's `tensor_type_fallback`: a row that is not whole blocks of a k-quant gets a 32-block type. */
function withFallback(typeName: string, rowLength: number): GgmlType {
  let type = ggmlType(typeName);
  if (rowLength % type.blockSize === 0) return type;
  const fallback: Record<string, string> = { Q2_K: 'Q4_0', Q3_K: 'Q4_0', Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0', IQ4_XS: 'IQ4_NL' };
  type = ggmlType(fallback[type.name] ?? 'F16');
  return rowLength % type.blockSize === 0 ? type : ggmlType('F16');
}

/** The llama.cpp tensor a weight group becomes (for the mix rules), by its Hugging Face name. */
function llamaCategory(group: WeightTensorGroup): 'token_embd' | 'output' | 'attn_v' | 'attn_qkv' | 'ffn_down' | 'router' | 'other' {
  if (group.role === 'embedding') return 'token_embd';
  if (group.role === 'lm-head') return 'output';
  if (group.role === 'router') return 'router';
  if (/\.v_proj\.weight$/.test(group.name)) return 'attn_v';
  if (/\.c_attn\.weight$/.test(group.name)) return 'attn_qkv';
  if (/\.(down_proj|c_proj)\.weight$/.test(group.name) && group.role !== 'attention') return 'ffn_down';
  return 'other';
}

/**
 * The bytes `llama-quantize` would write for a model in a preset, from its spec: matrices in the preset's
 * type with llama.cpp's mix rules (`llama_tensor_get_type_impl` in `src/llama-quant.cpp`) — the output
 * matrix (or a tied `token_embd`) in Q6_K (Q8_0 for Q8_0 files, or when its rows are not whole 256-blocks);
 * for Q4_K_M / Q5_K_M `attn_v` and `ffn_down` in Q6_K on the `use_more_bits` layers and a fused QKV one step
 * up; a row that is not whole blocks falls back to a 32-block type (`tensor_type_fallback`). Vectors (norms,
 * biases) and the MoE router stay F32, as `convert_hf_to_gguf.py` writes them. Accurate to a fraction of a
 * percent for the dense families; MoE mixes vary more with the converter.
 */
export function ggufPresetWeights(spec: ModelSpec, preset: GgufPreset): GgufWeights {
  const defaultType = PRESET_DEFAULT[preset];
  const quantizedPreset = !['F16', 'BF16'].includes(preset);
  const km = preset === 'Q4_K_M' || preset === 'Q5_K_M';
  const tensors: GgufTensorBytes[] = [];
  const layers = spec.numLayers;
  let kind: GgufTensorBytes['kind'] = 'other';
  const push = (name: string, type: GgmlType, elements: number, rowLength: number, count: number): void => {
    if (count <= 0) return;
    const bytes = ggmlTensorBytes(type, elements, rowLength) ?? elements * 2;
    for (let i = 0; i < count; i += 1) tensors.push({ name, kind, type: type.name, elements, bytes });
  };
  for (const group of listWeightTensors(spec)) {
    const isMatrix = group.rows > 1;
    const category = llamaCategory(group);
    // ne[0] (the row ggml quantizes along) is K, the input width, for a linear layer; the hidden width for a table.
    const rowLength = group.role === 'embedding' || group.role === 'position-embedding' ? group.cols : group.rows;
    const elements = group.rows * group.cols;
    const name = group.name;
    kind = group.role === 'routed-expert' ? 'routed-expert' : group.role === 'embedding' ? 'embedding' : 'other';
    if (!isMatrix || category === 'router' || group.role === 'position-embedding' || !quantizedPreset) {
      const floatType = !isMatrix || category === 'router' ? 'F32' : preset === 'BF16' ? 'BF16' : 'F16';
      push(name, ggmlType(floatType), elements, 1, group.count);
      continue;
    }
    const asOutput = category === 'output' || (category === 'token_embd' && spec.tieWordEmbeddings);
    if (asOutput) {
      const dflt = ggmlType(defaultType);
      const type = rowLength % dflt.blockSize !== 0 ? 'Q8_0' : defaultType === 'Q8_0' ? 'Q8_0' : 'Q6_K';
      push(name, withFallback(type, rowLength), elements, rowLength, group.count);
      continue;
    }
    if (km && (category === 'attn_v' || category === 'ffn_down')) {
      // Per layer: the use_more_bits layers get Q6_K. Experts of a MoE layer share their layer's choice.
      const perLayer = group.count / layers;
      const more = moreBitsLayers(layers) * perLayer;
      push(name, withFallback('Q6_K', rowLength), elements, rowLength, more);
      push(name, withFallback(defaultType, rowLength), elements, rowLength, group.count - more);
      continue;
    }
    if (km && category === 'attn_qkv') {
      push(name, withFallback(preset === 'Q4_K_M' ? 'Q5_K' : 'Q6_K', rowLength), elements, rowLength, group.count);
      continue;
    }
    if (preset === 'Q4_K_S' && (category === 'attn_v' || category === 'ffn_down')) {
      const perLayer = group.count / layers;
      const more = Math.min(category === 'attn_v' ? 4 : Math.trunc(layers / 8), layers) * perLayer;
      push(name, withFallback('Q5_K', rowLength), elements, rowLength, more);
      push(name, withFallback(defaultType, rowLength), elements, rowLength, group.count - more);
      continue;
    }
    push(name, withFallback(defaultType, rowLength), elements, rowLength, group.count);
  }
  const weights = ggufWeightsFromTensors(tensors, {
    preset,
    activeExpertFraction: spec.moe ? spec.moe.activeExperts / spec.moe.experts : 1,
    tiedEmbeddings: spec.tieWordEmbeddings,
    vocabSize: spec.vocabSize,
  });
  return { ...weights, basis: 'preset-rules' };
}
