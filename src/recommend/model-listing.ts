import { z } from 'zod';
import type { CatalogInfo } from '../catalog/user-catalog.js';
import type { ModelSpec } from '../catalog/model-spec.js';
import { kvCacheBytesPerToken } from '../estimate/kv-cache.js';
import { weightBytes } from '../estimate/weights.js';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import type { Assignable, Expect } from '../util/type-checks.js';

/** One row of `modelscout models`: a catalog model with its size, KV cache per token and weight bytes. */
export interface ModelRow {
  id: string;
  name: string;
  family: string;
  modelType: string;
  hfRepo: string | null;
  paramsTotal: number;
  paramsActive: number;
  paramsPublished: number | null;
  moe: boolean;
  attentionKind: ModelSpec['attentionKind'];
  maxContext: number;
  kvBytesPerTokenFp16: number;
  fp16Bytes: number;
  q4Bytes: number;
  license: string | null;
  onnxRepo: string | null;
  onnxStatus: string | null;
  /** Which catalog the entry comes from: the built-in one or the user catalog `models update` wrote. */
  catalog: 'built-in' | 'user';
}

export interface ModelListing {
  filters: { family: string | null; maxParams: number | null; catalogFile: string | null };
  /** The catalog listed: the built-in one, or the user catalog (with its date) plus the built-in models it lacks. */
  catalog: CatalogInfo;
  count: number;
  models: ModelRow[];
}

export function modelRow(spec: ModelSpec, catalog: ModelRow['catalog']): ModelRow {
  return {
    id: spec.id,
    name: spec.name,
    family: spec.family,
    modelType: spec.modelType,
    hfRepo: spec.hfRepo,
    paramsTotal: spec.paramsTotal,
    paramsActive: spec.paramsActive,
    paramsPublished: spec.paramsPublished,
    moe: spec.moe !== null,
    attentionKind: spec.attentionKind,
    maxContext: spec.maxContext,
    kvBytesPerTokenFp16: kvCacheBytesPerToken(spec, 'fp16'),
    fp16Bytes: weightBytes(spec, 'fp16').totalBytes,
    q4Bytes: weightBytes(spec, 'q4').totalBytes,
    license: spec.license,
    onnxRepo: spec.onnxRepo,
    onnxStatus: spec.onnxStatus ?? null,
    catalog,
  };
}

const count = z.number().int().min(0);
const modelListingSchema = z.strictObject({
  filters: z.strictObject({ family: z.string().nullable(), maxParams: z.number().nullable(), catalogFile: z.string().nullable() }),
  catalog: z.strictObject({ kind: z.enum(['built-in', 'user']), file: z.string().nullable(), updatedAt: z.string().nullable(), endpoint: z.string().nullable(), userModels: count, builtinModels: count }),
  count,
  models: z.array(
    z.strictObject({
      id: z.string(),
      name: z.string(),
      family: z.string(),
      modelType: z.string(),
      hfRepo: z.string().nullable(),
      paramsTotal: z.number(),
      paramsActive: z.number(),
      paramsPublished: z.number().nullable(),
      moe: z.boolean(),
      attentionKind: z.enum(['mha', 'gqa', 'mqa', 'mla']),
      maxContext: z.number(),
      kvBytesPerTokenFp16: z.number(),
      fp16Bytes: z.number(),
      q4Bytes: z.number(),
      license: z.string().nullable(),
      onnxRepo: z.string().nullable(),
      onnxStatus: z.string().nullable(),
      catalog: z.enum(['built-in', 'user']),
    }),
  ),
});

export const MODEL_LISTING_KIND = 'modelscout.model-listing';

/** `models --json`: the listing with snake_case keys, `schema_version` and `kind`. */
export function modelListingReport(listing: ModelListing): Record<string, unknown> {
  return toJsonReport(modelListingSchema, listing, MODEL_LISTING_KIND, '1');
}

export function buildModelListingJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(modelListingSchema, MODEL_LISTING_KIND, '1');
}

export type ModelListingSchemaChecks = [Expect<Assignable<z.infer<typeof modelListingSchema>, ModelListing>>, Expect<Assignable<ModelListing, z.infer<typeof modelListingSchema>>>];
