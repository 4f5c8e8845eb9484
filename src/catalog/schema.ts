import { z } from 'zod';
import type { ModelSpec } from './model-spec.js';
import { SUPPORTED_MODEL_TYPES } from './hf-config.js';
import { withParamCounts } from './tensors.js';
import type { Assignable, Expect } from '../util/type-checks.js';

/**
 * The catalog file format (`data/catalog.json`, and any `--catalog FILE` in JSON or YAML): the architecture
 * facts of each model as its config.json states them, in ModelSpec's camelCase names. Parameter counts are
 * not stored: they are computed from the architecture at load time and checked against `paramsPublished`.
 * Unknown keys are rejected so a typo does not silently fall back to a default.
 */
const positiveInt = z.number().int().positive();

export const moeSchema = z.strictObject({
  experts: positiveInt,
  activeExperts: positiveInt,
  sharedExperts: z.number().int().nonnegative().default(0),
  expertIntermediateSize: positiveInt,
  denseLayers: z.number().int().nonnegative().default(0),
});

export const mlaSchema = z.strictObject({
  kvLoraRank: positiveInt,
  qLoraRank: positiveInt.nullable(),
  qkRopeHeadDim: positiveInt,
  qkNopeHeadDim: positiveInt,
  vHeadDim: positiveInt,
});

export const qualitySchema = z.strictObject({
  metric: z.string().min(1),
  score: z.number().min(0).max(100),
  source: z.string().regex(/https?:\/\//, 'a source with its URL'),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD'),
});

export const catalogEntrySchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" and "-"'),
    name: z.string().min(1).optional(),
    hfRepo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name').nullable().default(null),
    family: z.string().min(1).optional(),
    modelType: z.enum(SUPPORTED_MODEL_TYPES),
    hiddenSize: positiveInt,
    numLayers: positiveInt,
    numHeads: positiveInt,
    numKvHeads: positiveInt,
    /** Defaults to hiddenSize / numHeads (or qk_nope + qk_rope for MLA). */
    headDim: positiveInt.optional(),
    intermediateSize: positiveInt,
    vocabSize: positiveInt,
    maxContext: positiveInt,
    tieWordEmbeddings: z.boolean().default(false),
    slidingWindow: positiveInt.nullable().default(null),
    slidingWindowPattern: z.enum(['all', 'alternate']).nullable().default(null),
    attentionBias: z.boolean().default(false),
    norm: z.enum(['rmsnorm', 'layernorm']).default('rmsnorm'),
    normEps: z.number().positive().default(1e-6),
    position: z.enum(['rope', 'learned']).default('rope'),
    ropeTheta: z.number().positive().nullable().default(10000),
    hiddenAct: z.string().min(1).default('silu'),
    moe: moeSchema.nullable().default(null),
    mla: mlaSchema.nullable().default(null),
    paramsPublished: positiveInt.nullable().default(null),
    paramsActivePublished: positiveInt.nullable().default(null),
    paramsPublishedNote: z.string().optional(),
    license: z.string().nullable().default(null),
    onnxRepo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name').nullable().default(null),
    onnxStatus: z.enum(['confirmed', 'sibling', 'unconfirmed']).optional(),
    scores: z.array(qualitySchema).optional(),
    sources: z.array(z.string().min(1)).default([]),
    notes: z.array(z.string()).optional(),
  })
  .superRefine((entry, ctx) => {
    if (entry.numHeads % entry.numKvHeads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['numKvHeads'], message: `numHeads ${entry.numHeads} must be a multiple of numKvHeads ${entry.numKvHeads}` });
    }
    if (entry.headDim === undefined && !entry.mla && entry.hiddenSize % entry.numHeads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['headDim'], message: 'required when hiddenSize is not a multiple of numHeads' });
    }
    if ((entry.slidingWindow === null) !== (entry.slidingWindowPattern === null)) {
      ctx.addIssue({ code: 'custom', path: ['slidingWindowPattern'], message: 'slidingWindow and slidingWindowPattern are set together (both null when attention is global)' });
    }
    if (entry.moe && entry.moe.activeExperts > entry.moe.experts) {
      ctx.addIssue({ code: 'custom', path: ['moe', 'activeExperts'], message: 'cannot exceed experts' });
    }
    if (entry.moe && entry.moe.denseLayers > entry.numLayers) {
      ctx.addIssue({ code: 'custom', path: ['moe', 'denseLayers'], message: 'cannot exceed numLayers' });
    }
  });

export type CatalogEntry = z.infer<typeof catalogEntrySchema>;

export const catalogFileSchema = z.union([
  z.strictObject({ schemaVersion: z.literal(1).optional(), models: z.array(catalogEntrySchema) }),
  z.array(catalogEntrySchema),
]);

/** Completes a validated entry into a ModelSpec (derived head dim, attention kind, parameter counts). */
export function modelSpecFromCatalogEntry(entry: CatalogEntry): ModelSpec {
  const headDim = entry.headDim ?? (entry.mla ? entry.mla.qkNopeHeadDim + entry.mla.qkRopeHeadDim : entry.hiddenSize / entry.numHeads);
  let attentionKind: ModelSpec['attentionKind'];
  if (entry.mla) attentionKind = 'mla';
  else if (entry.numKvHeads === entry.numHeads) attentionKind = 'mha';
  else if (entry.numKvHeads === 1) attentionKind = 'mqa';
  else attentionKind = 'gqa';
  const spec: ModelSpec = {
    id: entry.id,
    name: entry.name ?? entry.id,
    hfRepo: entry.hfRepo,
    family: entry.family ?? entry.modelType,
    modelType: entry.modelType,
    hiddenSize: entry.hiddenSize,
    numLayers: entry.numLayers,
    numHeads: entry.numHeads,
    numKvHeads: entry.numKvHeads,
    headDim,
    intermediateSize: entry.intermediateSize,
    vocabSize: entry.vocabSize,
    maxContext: entry.maxContext,
    tieWordEmbeddings: entry.tieWordEmbeddings,
    slidingWindow: entry.slidingWindow,
    slidingWindowPattern: entry.slidingWindowPattern,
    attentionKind,
    attentionBias: entry.attentionBias,
    norm: entry.norm,
    normEps: entry.normEps,
    position: entry.position,
    ropeTheta: entry.position === 'learned' ? null : entry.ropeTheta,
    hiddenAct: entry.hiddenAct,
    moe: entry.moe,
    mla: entry.mla,
    paramsTotal: 0,
    paramsActive: 0,
    paramsPublished: entry.paramsPublished,
    paramsActivePublished: entry.paramsActivePublished,
    license: entry.license,
    onnxRepo: entry.onnxRepo,
    sources: entry.sources,
  };
  if (entry.paramsPublishedNote !== undefined) spec.paramsPublishedNote = entry.paramsPublishedNote;
  if (entry.onnxStatus !== undefined) spec.onnxStatus = entry.onnxStatus;
  if (entry.notes !== undefined) spec.notes = entry.notes;
  if (entry.scores !== undefined && entry.scores.length > 0) spec.scores = entry.scores;
  return withParamCounts(spec);
}

/**
 * A ModelSpec as the code holds it (what `models show --json` prints under `model`): the catalog entry's
 * facts completed with the derived head dim, attention kind and parameter counts.
 */
export const modelSpecSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  hfRepo: z.string().nullable(),
  family: z.string(),
  modelType: z.string(),
  hiddenSize: z.number(),
  numLayers: z.number(),
  numHeads: z.number(),
  numKvHeads: z.number(),
  headDim: z.number(),
  intermediateSize: z.number(),
  vocabSize: z.number(),
  maxContext: z.number(),
  tieWordEmbeddings: z.boolean(),
  slidingWindow: z.number().nullable(),
  slidingWindowPattern: z.enum(['all', 'alternate', 'interleaved']).nullable(),
  slidingLayers: z.number().exactOptional(),
  attentionKind: z.enum(['mha', 'gqa', 'mqa', 'mla']),
  attentionBias: z.boolean(),
  norm: z.enum(['rmsnorm', 'layernorm']),
  normEps: z.number(),
  position: z.enum(['rope', 'learned']),
  ropeTheta: z.number().nullable(),
  hiddenAct: z.string(),
  moe: z.strictObject({ experts: z.number(), activeExperts: z.number(), sharedExperts: z.number(), expertIntermediateSize: z.number(), denseLayers: z.number() }).nullable(),
  mla: z.strictObject({ kvLoraRank: z.number(), qLoraRank: z.number().nullable(), qkRopeHeadDim: z.number(), qkNopeHeadDim: z.number(), vHeadDim: z.number() }).nullable(),
  paramsTotal: z.number(),
  paramsActive: z.number(),
  paramsPublished: z.number().nullable(),
  license: z.string().nullable(),
  onnxRepo: z.string().nullable(),
  sources: z.array(z.string()),
  paramsActivePublished: z.number().nullable().exactOptional(),
  paramsPublishedNote: z.string().exactOptional(),
  onnxStatus: z.enum(['confirmed', 'sibling', 'unconfirmed']).exactOptional(),
  scores: z.array(z.strictObject({ metric: z.string(), score: z.number(), source: z.string(), date: z.string() })).exactOptional(),
  notes: z.array(z.string()).exactOptional(),
});

export type ModelSpecSchemaChecks = [Expect<Assignable<z.infer<typeof modelSpecSchema>, ModelSpec>>, Expect<Assignable<ModelSpec, z.infer<typeof modelSpecSchema>>>];
