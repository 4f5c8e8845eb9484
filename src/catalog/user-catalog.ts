import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ModelscoutError, errorMessage, jsonSyntaxReason } from '../errors.js';
import type { ModelSpec } from './model-spec.js';

/**
 * The user catalog: models refreshed from the Hub's listing by `models update` (most-downloaded
 * text-generation repos and onnx-community exports), each resolved from its config.json and safetensors
 * headers, kept in the modelscout cache. When it is present, `recommend` and `models` rank its models
 * together with the built-in ones it does not list (a built-in entry keeps its curated facts); when it is
 * absent, the built-in catalog alone is the offline default.
 */
export const USER_CATALOG_KIND = 'modelscout.user-catalog';

export interface UserCatalogList {
  /** What was listed, e.g. `text-generation, most downloaded`. */
  name: string;
  /** The listing request's query (`pipeline_tag=text-generation&sort=downloads&limit=40`). */
  query: string;
  /** Repos the listing returned. */
  repos: number;
}

export interface UserCatalogFile {
  schemaVersion: 1;
  kind: typeof USER_CATALOG_KIND;
  /** When the listing was read (RFC 3339). */
  updatedAt: string;
  /** The Hub it was read from (HF_ENDPOINT). */
  endpoint: string;
  lists: UserCatalogList[];
  models: ModelSpec[];
  /** Listed repos that could not be resolved, each with the one-line reason. */
  skipped: { repo: string; reason: string }[];
}

/** Which catalog ranked: the built-in one, or the user catalog (with its date) plus the built-in models it lacks. */
export interface CatalogInfo {
  kind: 'built-in' | 'user';
  /** The user catalog file, when one is in use. */
  file: string | null;
  /** When the user catalog was refreshed (RFC 3339), when one is in use. */
  updatedAt: string | null;
  endpoint: string | null;
  /** Models from the user catalog and from the built-in one in the catalog in use. */
  userModels: number;
  builtinModels: number;
}

const positiveInt = z.number().int().positive();

/** The fields every consumer of a spec reads; the rest of `ModelSpec` is kept as written. */
const storedSpecSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().min(1),
  hfRepo: z.string().nullable(),
  family: z.string().min(1),
  modelType: z.string().min(1),
  hiddenSize: positiveInt,
  numLayers: positiveInt,
  numHeads: positiveInt,
  numKvHeads: positiveInt,
  headDim: positiveInt,
  intermediateSize: positiveInt,
  vocabSize: positiveInt,
  maxContext: positiveInt,
  paramsTotal: positiveInt,
  paramsActive: positiveInt,
  attentionKind: z.enum(['mha', 'gqa', 'mqa', 'mla']),
  sources: z.array(z.string()),
});

export const userCatalogSchema = z.object({
  schemaVersion: z.literal(1),
  kind: z.literal(USER_CATALOG_KIND),
  updatedAt: z.string().min(1),
  endpoint: z.string().min(1),
  lists: z.array(z.object({ name: z.string(), query: z.string(), repos: z.number().int().nonnegative() })),
  models: z.array(storedSpecSchema),
  skipped: z.array(z.object({ repo: z.string(), reason: z.string() })),
});

/** The user catalog at `path`, or null when there is none; a damaged file is one line saying how to drop it. */
export function readUserCatalog(path: string): UserCatalogFile | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ModelscoutError('E_CATALOG', `cannot read the user catalog ${path}: ${errorMessage(error)}`, { suggestions: ['Drop it with `modelscout models update --reset` (the built-in catalog is used again).'] });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw damaged(path, `not valid JSON (${jsonSyntaxReason(error)})`);
  }
  const result = userCatalogSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw damaged(path, `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data as unknown as UserCatalogFile;
}

function damaged(path: string, why: string): ModelscoutError {
  return new ModelscoutError('E_CATALOG', `the user catalog ${path} is damaged: ${why}`, {
    suggestions: ['Refresh it with `modelscout models update`, or drop it with `modelscout models update --reset`.'],
  });
}

/** The user catalog's models first, then every built-in model it does not list (same id or Hub repo): built-in facts win. */
export function mergeCatalogs(builtin: readonly ModelSpec[], user: readonly ModelSpec[]): { models: ModelSpec[]; userModels: number } {
  const builtinKeys = new Set(builtin.flatMap((m) => [m.id, ...(m.hfRepo ? [m.hfRepo.toLowerCase()] : [])]));
  const fromUser = user.filter((m) => !builtinKeys.has(m.id) && !(m.hfRepo && builtinKeys.has(m.hfRepo.toLowerCase())));
  return { models: [...builtin, ...fromUser], userModels: fromUser.length };
}
