import { listModels } from '@huggingface/hub';
import type { ModelSpec } from '../catalog/model-spec.js';
import { USER_CATALOG_KIND, type UserCatalogFile, type UserCatalogList } from '../catalog/user-catalog.js';
import { ModelscoutError, errorMessage, isModelscoutError } from '../errors.js';
import { openHubHttp, resolveModel, type ResolveModelDeps } from './resolve-model.js';

/**
 * `models update`: reads the Hub's listing — the most-downloaded text-generation repos, and the most-downloaded
 * onnx-community exports — and resolves each repo like any Hub reference (config.json and the safetensors
 * headers, cached), into a user catalog. An export whose name is a listed repo's plus `-ONNX` becomes that
 * model's `onnxRepo`; an export of a model not listed is a model of its own (its config is the model's).
 */
export interface CatalogUpdateOptions {
  /** Text-generation repos to take, most downloaded first. */
  limit: number;
  /** onnx-community exports to take, most downloaded first (0: none). */
  onnxLimit: number;
  /** Repos resolved at once. */
  concurrency?: number;
  /** The wall-clock time of the listing. */
  now: () => Date;
  /** The listing once (`listed`), then each repo as it is resolved or skipped (`resolved`, done of total). */
  onProgress?: (event: CatalogUpdateEvent) => void;
}

export type CatalogUpdateEvent = { type: 'listed'; message: string } | { type: 'resolved'; done: number; total: number; repo: string };

export const ONNX_COMMUNITY = 'onnx-community';

export async function buildUserCatalog(deps: Omit<ResolveModelDeps, 'catalog'>, options: CatalogUpdateOptions): Promise<UserCatalogFile> {
  const { settings } = deps;
  if (settings.offline) {
    throw new ModelscoutError('E_OFFLINE', 'models update reads the Hub listing, and HF_HUB_OFFLINE is set', {
      suggestions: ['Unset HF_HUB_OFFLINE (or set HF_ENDPOINT to a reachable mirror) and run it again; the catalog in use stays as it is.'],
    });
  }
  const updatedAt = options.now().toISOString();
  const lists: UserCatalogList[] = [];
  const listed = async (name: string, search: { task: 'text-generation'; owner?: string }, limit: number): Promise<string[]> => {
    if (limit <= 0) return [];
    const { http, close } = openHubHttp(deps, settings.endpoint);
    const repos: string[] = [];
    try {
      const context = { repo: search.owner ?? 'models', revision: 'main' };
      for await (const entry of listModels({ search, sort: 'downloads', limit, hubUrl: http.endpoint, fetch: http.fetchFor(context, deps.signal) })) {
        if (!entry.private) repos.push(entry.name);
      }
    } catch (error) {
      if (isModelscoutError(error)) throw error;
      throw new ModelscoutError('E_NETWORK', `the Hub listing at ${settings.endpoint} failed: ${errorMessage(error)}`, { suggestions: ['Check HF_ENDPOINT and the network, then run `modelscout models update` again.'] });
    } finally {
      await close();
    }
    const query = new URLSearchParams({ pipeline_tag: search.task, ...(search.owner ? { author: search.owner } : {}), sort: 'downloads', limit: String(limit) }).toString();
    lists.push({ name, query, repos: repos.length });
    return repos;
  };
  const textRepos = await listed('text-generation, most downloaded', { task: 'text-generation' }, options.limit);
  const onnxRepos = await listed(`${ONNX_COMMUNITY} exports, most downloaded`, { task: 'text-generation', owner: ONNX_COMMUNITY }, options.onnxLimit);
  options.onProgress?.({ type: 'listed', message: `listed ${textRepos.length} text-generation repos and ${onnxRepos.length} ${ONNX_COMMUNITY} exports from ${settings.endpoint}` });

  // An export pairs with the listed model of the same name; the others are resolved as models of their own.
  const baseName = (repo: string): string => (repo.split('/').pop() ?? repo).replace(/[-_]onnx$/i, '').toLowerCase();
  const isExport = (repo: string): boolean => repo.startsWith(`${ONNX_COMMUNITY}/`);
  const byName = new Map(textRepos.filter((r) => !isExport(r)).map((r) => [baseName(r), r] as const));
  const exportOf = new Map<string, string>();
  const paired = new Set<string>();
  for (const repo of [...new Set([...onnxRepos, ...textRepos.filter(isExport)])]) {
    const base = byName.get(baseName(repo));
    if (base && !exportOf.has(base)) {
      exportOf.set(base, repo);
      paired.add(repo);
    }
  }
  // The listed models, then the exports of models not listed (their config is the model's), each once.
  const toResolve = [...new Set([...textRepos, ...onnxRepos])].filter((r) => !paired.has(r));

  const models = new Map<string, ModelSpec>();
  const skipped: { repo: string; reason: string }[] = [];
  let done = 0;
  await eachLimited(toResolve, options.concurrency ?? 4, async (repo) => {
    try {
      const resolved = await resolveModel(repo, { ...deps, catalog: [] });
      let spec = resolved.spec;
      const onnx = repo.startsWith(`${ONNX_COMMUNITY}/`) ? repo : exportOf.get(repo);
      if (onnx) spec = { ...spec, onnxRepo: onnx, onnxStatus: 'confirmed' };
      spec = { ...spec, sources: [...spec.sources, `${settings.endpoint}/api/models (${updatedAt.slice(0, 10)})`] };
      models.set(repo, spec);
    } catch (error) {
      if (isModelscoutError(error) && (error.code === 'E_INTERRUPTED' || error.code === 'E_OFFLINE')) throw error;
      skipped.push({ repo, reason: isModelscoutError(error) ? error.message : errorMessage(error) });
    }
    done += 1;
    options.onProgress?.({ type: 'resolved', done, total: toResolve.length, repo });
  });
  return {
    schemaVersion: 1,
    kind: USER_CATALOG_KIND,
    updatedAt,
    endpoint: settings.endpoint,
    lists,
    // The listing's order (most downloaded first), whatever order the look-ups finished in.
    models: toResolve.flatMap((repo) => (models.has(repo) ? [models.get(repo)!] : [])),
    skipped: skipped.sort((a, b) => toResolve.indexOf(a.repo) - toResolve.indexOf(b.repo)),
  };
}

async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
