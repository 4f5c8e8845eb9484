import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ModelscoutError, errorMessage, jsonSyntaxReason } from '../errors.js';
import type { ModelSpec } from './model-spec.js';
import { catalogFileSchema, modelSpecFromCatalogEntry } from './schema.js';
import { countParams } from './tensors.js';
import { mergeCatalogs, readUserCatalog, type CatalogInfo } from './user-catalog.js';

export type { ModelSpec, MoeSpec, MlaSpec, AttentionKind, QualityScore, OnnxRepoStatus } from './model-spec.js';
export { modelSpecFromHfConfig, readModelSpecFromConfigFile, SUPPORTED_MODEL_TYPES } from './hf-config.js';
export type { ConfigMeta, SupportedModelType } from './hf-config.js';
export { listWeightTensors, countParams, groupElements, withParamCounts } from './tensors.js';
export type { WeightTensorGroup, TensorRole, ParamCount } from './tensors.js';
export { catalogEntrySchema, catalogFileSchema, modelSpecFromCatalogEntry } from './schema.js';
export type { CatalogEntry } from './schema.js';
export { readUserCatalog, mergeCatalogs, USER_CATALOG_KIND } from './user-catalog.js';
export type { CatalogInfo, UserCatalogFile, UserCatalogList } from './user-catalog.js';

/**
 * The built-in catalog ships in the package's `data/` folder. The path is resolved from this module's own
 * location (`src/catalog/` or `dist/catalog/`, both two levels below the package root), so it works from a
 * clone, from `dist/` and from an `npx` install alike, whatever the working directory.
 */
export const BUILTIN_CATALOG_PATH = fileURLToPath(new URL('../../data/catalog.json', import.meta.url));

export interface LoadCatalogOptions {
  /** A JSON or YAML file of extra models (same schema); an entry with a built-in id replaces it. */
  extraCatalogFile?: string;
  /** Override of the built-in catalog path (tests). */
  builtinCatalogFile?: string;
}

let builtinCache: { path: string; specs: ModelSpec[] } | null = null;

/** The built-in catalog plus any extra file, validated, with parameter counts computed. */
export function loadCatalog(options: LoadCatalogOptions = {}): ModelSpec[] {
  const builtinPath = options.builtinCatalogFile ?? BUILTIN_CATALOG_PATH;
  if (!builtinCache || builtinCache.path !== builtinPath) {
    builtinCache = { path: builtinPath, specs: readCatalogFile(builtinPath) };
  }
  const models = [...builtinCache.specs];
  return options.extraCatalogFile === undefined ? models : withExtraFile(models, options.extraCatalogFile);
}

/** `models` with the entries of an extra catalog file: an entry with an id already there replaces it. */
function withExtraFile(models: ModelSpec[], path: string): ModelSpec[] {
  for (const extra of readCatalogFile(path)) {
    const index = models.findIndex((m) => m.id === extra.id);
    if (index >= 0) models[index] = extra;
    else models.push(extra);
  }
  return models;
}

export interface CatalogInUseOptions extends LoadCatalogOptions {
  /** The user catalog `models update` writes (used when the file exists). */
  userCatalogFile?: string;
}

/**
 * The catalog commands rank and look up: the user catalog (when `models update` wrote one) with the built-in
 * models it does not list, else the built-in catalog; then any extra file. Says which one it is.
 */
export function loadCatalogInUse(options: CatalogInUseOptions = {}): { models: ModelSpec[]; info: CatalogInfo } {
  const { userCatalogFile, extraCatalogFile, ...rest } = options;
  const builtin = loadCatalog(rest);
  const user = userCatalogFile === undefined ? null : readUserCatalog(userCatalogFile);
  const merged = user ? mergeCatalogs(builtin, user.models) : { models: builtin, userModels: 0 };
  const models = extraCatalogFile === undefined ? merged.models : withExtraFile(merged.models, extraCatalogFile);
  const info: CatalogInfo = user
    ? { kind: 'user', file: userCatalogFile ?? null, updatedAt: user.updatedAt, endpoint: user.endpoint, userModels: merged.userModels, builtinModels: builtin.length }
    : { kind: 'built-in', file: null, updatedAt: null, endpoint: null, userModels: 0, builtinModels: builtin.length };
  return { models, info };
}

/** Reads and validates one catalog file (JSON, or YAML by extension `.yaml` / `.yml`). */
export function readCatalogFile(path: string): ModelSpec[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : errorMessage(error);
    throw new ModelscoutError('E_FILE', `cannot read catalog file ${path}: ${reason}`, {
      suggestions: ['Pass a JSON or YAML file holding {"models": [...]} (see data/catalog.json for the format).'],
    });
  }
  let parsed: unknown;
  const isYaml = ['.yaml', '.yml'].includes(extname(path).toLowerCase());
  try {
    parsed = isYaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ModelscoutError('E_CATALOG', `catalog file ${path} is not valid ${isYaml ? 'YAML' : 'JSON'}: ${isYaml ? (errorMessage(error).split('\n')[0] ?? '') : jsonSyntaxReason(error)}`, {
      suggestions: ['Fix the syntax; JSON files must end in .json, YAML files in .yaml or .yml.'],
    });
  }
  const result = catalogFileSchema.safeParse(parsed);
  if (!result.success) {
    throw new ModelscoutError('E_CATALOG', `catalog file ${path} is invalid: ${describeIssues(result.error, parsed)}`, {
      suggestions: ['Each model needs id, modelType, hiddenSize, numLayers, numHeads, numKvHeads, intermediateSize, vocabSize and maxContext (see data/catalog.json).'],
    });
  }
  const entries = Array.isArray(result.data) ? result.data : result.data.models;
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.id)) {
      throw new ModelscoutError('E_CATALOG', `catalog file ${path} lists model id "${entry.id}" twice`, { suggestions: ['Give every model a unique id.'] });
    }
    seen.add(entry.id);
  }
  return entries.map(modelSpecFromCatalogEntry);
}

/** `models[3].numKvHeads: expected number` — the first three issues, each with its path and model id. */
function describeIssues(error: z.ZodError, parsed: unknown): string {
  const describeOne = (issue: z.core.$ZodIssue): string => {
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    const idHint = modelIdAt(parsed, issue.path);
    return `${path || '(root)'}${idHint ? ` (model "${idHint}")` : ''}: ${issue.message}`;
  };
  // A union failure reports both branches; the object branch ({models: [...]}) says most.
  const issues = error.issues.flatMap((issue) => (issue.code === 'invalid_union' && issue.errors.length > 0 ? (issue.errors[0] ?? []) : [issue]));
  const shown = issues.slice(0, 3).map(describeOne);
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return shown.join('; ') + more;
}

function modelIdAt(parsed: unknown, path: readonly PropertyKey[]): string | null {
  const list = Array.isArray(parsed) ? parsed : (parsed as { models?: unknown } | null)?.models;
  const index = Array.isArray(parsed) ? path[0] : path[0] === 'models' ? path[1] : undefined;
  if (!Array.isArray(list) || typeof index !== 'number') return null;
  const entry = list[index] as { id?: unknown } | undefined;
  return typeof entry?.id === 'string' ? entry.id : null;
}

/** Finds a model by id (case-insensitive; also matches the HF repo or display name). */
export function findModel(id: string, catalog: ModelSpec[] = loadCatalog()): ModelSpec {
  const wanted = id.trim().toLowerCase();
  const found = catalog.find((m) => m.id === wanted || m.hfRepo?.toLowerCase() === wanted || m.name.toLowerCase() === wanted);
  if (found) return found;
  const suggestions = closeMatches(wanted, catalog.map((m) => m.id));
  throw new ModelscoutError('E_NOT_FOUND', `unknown model "${id}"${suggestions.length > 0 ? `: did you mean ${suggestions.join(', ')}?` : ''}`, {
    suggestions: ['Run `modelscout models` to list the catalog, or name any other model by its Hub repo id (org/name), a local folder, a config.json or a .gguf file.'],
  });
}

/** Up to three ids close to `wanted`: substring matches first, then by edit distance. */
export function closeMatches(wanted: string, ids: string[], limit = 3): string[] {
  const scored = ids.map((id) => {
    const contains = id.includes(wanted) || wanted.includes(id);
    return { id, score: contains ? 0 : editDistance(wanted, id) / Math.max(wanted.length, id.length) };
  });
  return scored
    .filter((s) => s.score <= 0.5)
    .sort((a, b) => a.score - b.score || a.id.localeCompare(b.id))
    .slice(0, limit)
    .map((s) => s.id);
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

/** Total and active parameters computed from the architecture. */
export function paramCount(spec: ModelSpec): { total: number; active: number } {
  const { total, active } = countParams(spec);
  return { total, active };
}
