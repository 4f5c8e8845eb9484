/**
 * One model in full (`models show`): parameter counts, the KV cache per token, weight bytes per format and
 * per llama.cpp preset, and where the facts came from. Pure: the command resolves the reference first.
 */
import { z } from 'zod';
import { countParams, type ModelSpec } from '../catalog/index.js';
import { modelSpecSchema } from '../catalog/schema.js';
import { GGUF_PRESETS, ggufPresetWeights, ggufWeightsFromTensors, type GgufWeights } from '../estimate/gguf.js';
import { kvCacheBreakdown, kvCacheBytesPerToken } from '../estimate/kv-cache.js';
import { WEIGHT_FORMATS, weightBytes, type WeightBreakdown, type WeightFormat } from '../estimate/weights.js';
import type { GgufSummary, ResolvedModel } from '../hub/resolve-model.js';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import type { ModelTopology } from './model-topology.js';
import { candidateTopologySchema } from './schema.js';
import type { Assignable, Expect } from '../util/type-checks.js';

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
  source: { reference: string; kind: ResolvedModel['kind']; repo?: string; revision?: string; commit?: string; endpoint?: string; path?: string; fromCache?: boolean };
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

// ------------------------------------------------------------------------------------------------ the JSON report

const count = z.number().int().min(0);
const weightFormatSchema = z.enum(WEIGHT_FORMATS);

const weightBreakdownSchema = z.strictObject({
  format: weightFormatSchema,
  totalBytes: z.number(),
  quantizedBytes: z.number(),
  floatBytes: z.number(),
  floatDtype: z.enum(['fp32', 'fp16', 'bf16']),
  floatTensors: z.array(z.string()),
  streamedBytesPerToken: z.number(),
  bitsPerParam: z.number(),
  int4: z.strictObject({ blockSize: z.number(), symmetric: z.boolean(), scaleDtype: z.enum(['fp32', 'fp16']), quantizeEmbeddings: z.boolean(), bitsPerWeight: z.number() }).nullable(),
});

const ggufWeightsSchema = z
  .strictObject({
    preset: z.string(),
    basis: z.enum(['file', 'preset-rules']),
    totalBytes: z.number(),
    quantizedBytes: z.number(),
    floatBytes: z.number(),
    streamedBytesPerToken: z.number(),
    routedExpertBytes: z.number(),
    params: z.number(),
    bitsPerParam: z.number(),
    types: z.array(z.strictObject({ type: z.string(), tensors: count, elements: z.number(), bytes: z.number() })),
  })
  .meta({ id: 'GgufWeights', description: 'Weights as llama.cpp stores them: bytes per ggml type (type names such as Q4_K are values), what one decode step streams.' });

const modelTopologySchema = z
  .strictObject({
    device: z.string(),
    gpusPerNode: z.number(),
    nodes: z.number(),
    context: z.number(),
    concurrency: z.number(),
    formats: z.array(
      z.strictObject({
        format: weightFormatSchema,
        fits: z.boolean(),
        topology: candidateTopologySchema.nullable(),
        decodeTokPerSec: z.number().nullable(),
        ttftMs: z.number().nullable(),
        reason: z.string().nullable(),
        invalid: z.array(z.string()),
      }),
    ),
  })
  .meta({ description: 'With --gpus / --nodes / --gpu: each GPU format laid out on that cluster (null topology and a reason when none fits).' });

const modelShowSchema = z.strictObject({
  model: modelSpecSchema,
  params: z.strictObject({ total: z.number(), active: z.number(), embedding: z.number(), published: z.number().nullable(), deviationFromPublished: z.number().nullable() }),
  kvCache: z.strictObject({ bytesPerTokenFp16: z.number(), bytesAtMaxContextFp16: z.number(), formula: z.string(), slidingLayers: z.number() }),
  weights: z.record(weightFormatSchema, weightBreakdownSchema).meta({ description: 'Weight bytes per weight format (the keys are format names).' }),
  topology: modelTopologySchema.exactOptional(),
  source: z.strictObject({
    reference: z.string(),
    kind: z.enum(['catalog', 'hub', 'local-folder', 'config', 'gguf']),
    repo: z.string().exactOptional(),
    revision: z.string().exactOptional(),
    commit: z.string().exactOptional(),
    endpoint: z.string().exactOptional(),
    path: z.string().exactOptional(),
    fromCache: z.boolean().exactOptional(),
  }),
  stored: z
    .strictObject({
      basis: z.enum(['safetensors', 'gguf']),
      files: count,
      tensors: count,
      params: z.number(),
      bytes: z.number(),
      dtypes: z.array(z.strictObject({ dtype: z.string(), tensors: count, params: z.number(), bytes: z.number() })),
    })
    .nullable(),
  gguf: z
    .strictObject({
      file: z.string(),
      fileBytes: z.number(),
      version: z.number(),
      architecture: z.string(),
      fileType: z.string().nullable(),
      dataOffset: z.number(),
      tensorBytes: z.number(),
      contextLength: z.number().nullable(),
      engine: z.literal('llama.cpp'),
      weights: ggufWeightsSchema,
    })
    .nullable(),
  llamaCpp: z.record(z.string(), ggufWeightsSchema).meta({ description: "The bytes llama.cpp's quantizer would write in each preset (the keys are preset names such as Q4_K_M)." }),
  notes: z.array(z.string()),
});

export const MODEL_SHOW_KIND = 'modelscout.model-description';

/** `models show --json`: the description with snake_case keys, `schema_version` and `kind` (format and preset names stay keys). */
export function modelShowReport(result: ModelShowResult): Record<string, unknown> {
  return toJsonReport(modelShowSchema, result, MODEL_SHOW_KIND, '1');
}

export function buildModelShowJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(modelShowSchema, MODEL_SHOW_KIND, '1');
}

export type ModelShowSchemaChecks = [
  Expect<Assignable<z.infer<typeof modelShowSchema>, ModelShowResult>>,
  Expect<Assignable<ModelShowResult, z.infer<typeof modelShowSchema>>>,
  Expect<Assignable<z.infer<typeof modelTopologySchema>, ModelTopology>>,
  Expect<Assignable<ModelTopology, z.infer<typeof modelTopologySchema>>>,
];
