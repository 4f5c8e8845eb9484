import { z } from 'zod';
import type { UserCatalogFile } from '../catalog/user-catalog.js';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import type { Assignable, Expect } from '../util/type-checks.js';

/** What `models update` did: the user catalog written (or dropped with --reset) and the models it holds. */
export interface CatalogUpdate {
  /** The user catalog file (written, or dropped with --reset). */
  file: string;
  action: 'updated' | 'reset';
  /** With --reset: whether there was a user catalog to drop. */
  removed?: boolean;
  updatedAt: string | null;
  endpoint: string | null;
  lists: UserCatalogFile['lists'];
  models: { id: string; hfRepo: string | null; modelType: string; paramsTotal: number; onnxRepo: string | null; builtin: boolean }[];
  skipped: UserCatalogFile['skipped'];
}

/** The listing's models as `models update` reports them, each marked when a built-in entry has the same repo. */
export function catalogUpdateModels(catalog: UserCatalogFile, builtinRepos: readonly (string | null)[]): CatalogUpdate['models'] {
  const builtin = new Set(builtinRepos.flatMap((r) => (r === null ? [] : [r.toLowerCase()])));
  return catalog.models.map((m) => ({ id: m.id, hfRepo: m.hfRepo, modelType: m.modelType, paramsTotal: m.paramsTotal, onnxRepo: m.onnxRepo, builtin: m.hfRepo !== null && builtin.has(m.hfRepo.toLowerCase()) }));
}

const catalogUpdateSchema = z.strictObject({
  file: z.string(),
  action: z.enum(['updated', 'reset']),
  removed: z.boolean().exactOptional(),
  updatedAt: z.string().nullable(),
  endpoint: z.string().nullable(),
  lists: z.array(z.strictObject({ name: z.string(), query: z.string(), repos: z.number().int().min(0) })),
  models: z.array(z.strictObject({ id: z.string(), hfRepo: z.string().nullable(), modelType: z.string(), paramsTotal: z.number(), onnxRepo: z.string().nullable(), builtin: z.boolean() })),
  skipped: z.array(z.strictObject({ repo: z.string(), reason: z.string() })),
});

export const CATALOG_UPDATE_KIND = 'modelscout.catalog-update';

/** `models update --json`: snake_case keys, `schema_version` and `kind`. */
export function catalogUpdateReport(update: CatalogUpdate): Record<string, unknown> {
  return toJsonReport(catalogUpdateSchema, update, CATALOG_UPDATE_KIND, '1');
}

export function buildCatalogUpdateJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(catalogUpdateSchema, CATALOG_UPDATE_KIND, '1');
}

export type CatalogUpdateSchemaChecks = [Expect<Assignable<z.infer<typeof catalogUpdateSchema>, CatalogUpdate>>, Expect<Assignable<CatalogUpdate, z.infer<typeof catalogUpdateSchema>>>];
