/**
 * One model in full (`models show`): parameter counts, the KV cache per token, weight bytes per format and
 * per llama.cpp preset, and where the facts came from. Pure: the command resolves the reference first.
 */
import { countParams, type ModelSpec } from '../catalog/index.js';
import { GGUF_PRESETS, ggufPresetWeights, ggufWeightsFromTensors, type GgufWeights } from '../estimate/gguf.js';
import { kvCacheBreakdown, kvCacheBytesPerToken } from '../estimate/kv-cache.js';
import { WEIGHT_FORMATS, weightBytes, type WeightBreakdown, type WeightFormat } from '../estimate/weights.js';
import type { GgufSummary, ResolvedModel } from '../hub/resolve-model.js';
import type { ModelTopology } from './model-topology.js';

export interface ModelShowResult {
  model: ModelSpec;
  params: { total: number; active: number; embedding: number; published: number | null; deviationFromPublished: number | null };
  kvCache: {
    bytesPerTokenFp16: number;
    /** fp16 KV bytes of one sequence at the model's maximum context (sliding layers capped at their window). */
    bytesAtMaxContextFp16: number;
    formula: string;
    slidingLayers: number;
  };
  weights: Record<WeightFormat, WeightBreakdown>;
  /** With --gpus / --nodes / --gpu: each GPU format laid out on that cluster. */
  topology?: ModelTopology;
  /** Where the facts came from: the reference as given, its kind, and the Hub commit or file read. */
  source: { reference: string; kind: ResolvedModel['kind']; repo?: string; revision?: string; commit?: string; path?: string; fromCache?: boolean };
  /** Exact figures of the stored weights (safetensors headers or GGUF tensor infos), when they were read. */
  stored: ResolvedModel['stored'];
  /** A GGUF file's header: file type, the bytes of each ggml type, what llama.cpp runs. */
  gguf: (Omit<GgufSummary, 'tensors'> & { weights: GgufWeights }) | null;
  /** The bytes llama.cpp's quantizer would write in each preset (its mix rules applied to this architecture). */
  llamaCpp: Record<string, GgufWeights>;
  notes: string[];
}

export function describeModel(spec: ModelSpec, resolved?: ResolvedModel): ModelShowResult {
  const counts = countParams(spec);
  const kvMax = kvCacheBreakdown(spec, { tokens: spec.maxContext, dtype: 'fp16' });
  const weights = Object.fromEntries(WEIGHT_FORMATS.map((f) => [f, weightBytes(spec, f)])) as Record<WeightFormat, WeightBreakdown>;
  const llamaCpp = Object.fromEntries(LLAMA_CPP_SHOWN.map((p) => [p, ggufPresetWeights(spec, p)]));
  const { source = {}, stored = null, gguf = null, notes = [], kind = 'catalog', reference = spec.id } = resolved ?? {};
  return {
    model: spec,
    params: {
      total: spec.paramsTotal,
      active: spec.paramsActive,
      embedding: counts.embedding,
      published: spec.paramsPublished,
      deviationFromPublished: spec.paramsPublished ? (spec.paramsTotal - spec.paramsPublished) / spec.paramsPublished : null,
    },
    kvCache: { bytesPerTokenFp16: kvCacheBytesPerToken(spec, 'fp16'), bytesAtMaxContextFp16: kvMax.totalBytes, formula: kvMax.formula, slidingLayers: kvMax.slidingLayers },
    weights,
    source: { reference, kind, ...source },
    stored,
    gguf: gguf ? { ...withoutTensors(gguf), weights: ggufWeightsOf(gguf, spec) } : null,
    llamaCpp,
    notes,
  };
}

function withoutTensors(gguf: GgufSummary): Omit<GgufSummary, 'tensors'> {
  const { tensors: _tensors, ...rest } = gguf;
  return rest;
}

/** The llama.cpp presets `models show` lists. */
const LLAMA_CPP_SHOWN = GGUF_PRESETS.filter((p) => ['Q8_0', 'Q6_K', 'Q5_K_M', 'Q4_K_M', 'Q4_0'].includes(p));

/** The bytes of a GGUF file's weights by ggml type, as the estimator counts them. */
export function ggufWeightsOf(gguf: GgufSummary, spec: ModelSpec): GgufWeights {
  return ggufWeightsFromTensors(gguf.tensors, {
    preset: gguf.fileType ?? 'mixed',
    activeExpertFraction: spec.moe ? spec.moe.activeExperts / spec.moe.experts : 1,
    tiedEmbeddings: spec.tieWordEmbeddings,
    vocabSize: spec.vocabSize,
  });
}
