import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { modelSpecFromGguf } from '../catalog/gguf-config.js';
import { modelSpecFromHfConfig } from '../catalog/hf-config.js';
import { findModel } from '../catalog/index.js';
import type { ModelSpec } from '../catalog/model-spec.js';
import { ModelscoutError, errorMessage, jsonSyntaxReason, isModelscoutError } from '../errors.js';
import type { GgufTensorBytes } from '../catalog/ggml-types.js';
import { writeJsonAtomic } from '../util/atomic-write.js';
import { readRef, repoCacheDir, repoFolderName, snapshotDir } from './cache.js';
import { readGgufHeader, ggufTensorBytes, type GgufHeader } from './gguf.js';
import { HubHttp, type RequestContext } from './http.js';
import type { FetchLike } from './types.js';
import { isCommitHash, parseModelRef } from './model-ref.js';
import { createProxiedFetch } from './proxy.js';
import { headerLength, mergeSummaries, readSafetensorsHeader, summarizeHeader, type DtypeShare, type SafetensorsSummary } from './safetensors.js';
import type { HubSettings } from './settings.js';

/**
 * Any model reference → a `ModelSpec` with where it came from: a catalog id, a Hub repo id (`org/name[@rev]`
 * or URL: `config.json` plus the safetensors headers by range requests), a local folder (`config.json`,
 * `*.safetensors`), a `config.json` path, or a `.gguf` file (header and tensor infos). Where stored weights
 * were read (headers), the parameter count is theirs, exactly, and the stored dtypes are listed.
 */
export type ModelSourceKind = 'catalog' | 'hub' | 'local-folder' | 'config' | 'gguf';

export interface StoredWeights {
  basis: 'safetensors' | 'gguf';
  files: number;
  tensors: number;
  params: number;
  bytes: number;
  dtypes: DtypeShare[];
}

export interface GgufSummary {
  file: string;
  fileBytes: number;
  version: number;
  architecture: string;
  fileType: string | null;
  /** Header bytes up to the aligned start of the tensor data. */
  dataOffset: number;
  tensorBytes: number;
  contextLength: number | null;
  /** Every tensor with its type and bytes (the estimator's `ggufWeightsFromTensors` sums them). */
  tensors: GgufTensorBytes[];
  engine: 'llama.cpp';
}

export interface ResolvedModel {
  reference: string;
  kind: ModelSourceKind;
  spec: ModelSpec;
  source: { repo?: string; revision?: string; commit?: string; endpoint?: string; path?: string; fromCache?: boolean };
  stored: StoredWeights | null;
  gguf: GgufSummary | null;
  notes: string[];
  /** The parsed config.json where one was read (Hub, folder, config path): keys the spec does not carry. */
  config?: Record<string, unknown>;
}

export interface ResolveModelDeps {
  settings: HubSettings;
  fetch: FetchLike;
  userAgent: string;
  catalog: ModelSpec[];
  /** Where Hub look-ups are kept so the next one works offline (`$XDG_CACHE_HOME/modelscout/hub-models`). */
  metaCacheDir: string;
  signal?: AbortSignal;
  retry?: ConstructorParameters<typeof HubHttp>[0]['retry'];
}

/** A stored count within this share of the architecture's replaces it; beyond, the difference is explained. */
const EXACT_TOLERANCE = 0.05;

export async function resolveModel(reference: string, deps: ResolveModelDeps): Promise<ResolvedModel> {
  const text = reference.trim();
  if (/\.gguf$/i.test(text)) return resolveGguf(text);
  const ref = parseModelRef(text, {
    pathExists: (p) => existsSync(p),
    isCatalogId: (id) => deps.catalog.some((m) => m.id === id.toLowerCase()),
    endpoint: deps.settings.endpoint,
  });
  if (ref.kind === 'catalog') return { reference: text, kind: 'catalog', spec: findModel(ref.id, deps.catalog), source: {}, stored: null, gguf: null, notes: [] };
  if (ref.kind === 'local') return resolveLocal(ref.path);
  // A bare name that is no catalog id: the catalog's "did you mean" (legacy namespace-less Hub repos are
  // reached by URL).
  if (!ref.repo.includes('/') && !ref.endpoint) return { reference: text, kind: 'catalog', spec: findModel(ref.repo, deps.catalog), source: {}, stored: null, gguf: null, notes: [] };
  if (!ref.revisionGiven && !ref.endpoint) {
    // A catalog model named by its Hub repo (e.g. Qwen/Qwen2.5-0.5B) keeps its curated facts.
    const known = deps.catalog.find((m) => m.hfRepo?.toLowerCase() === ref.repo.toLowerCase());
    if (known) return { reference: text, kind: 'catalog', spec: known, source: { repo: ref.repo }, stored: null, gguf: null, notes: [] };
  }
  return resolveHub({ repo: ref.repo, revision: ref.revision, endpoint: ref.endpoint ?? deps.settings.endpoint }, text, deps);
}

// ---------------------------------------------------------------- local files

async function resolveLocal(path: string): Promise<ResolvedModel> {
  const full = resolve(path);
  let info;
  try {
    info = await stat(full);
  } catch {
    throw new ModelscoutError('E_FILE', `no such file or folder: ${path}`, { suggestions: ['Give a catalog id, a Hub repo id (org/name), a folder holding config.json, a config.json or a .gguf file.'] });
  }
  if (info.isFile()) {
    if (/\.gguf$/i.test(full)) return resolveGguf(path);
    const config = await readJson(full);
    const spec = modelSpecFromHfConfig(config, { source: path });
    return { reference: path, kind: 'config', spec, source: { path: full }, stored: null, gguf: null, notes: [], ...configOf(config) };
  }
  const entries = await readdir(full);
  if (!entries.includes('config.json')) {
    const ggufs = entries.filter((e) => /\.gguf$/i.test(e));
    if (ggufs.length === 1) return resolveGguf(join(path, ggufs[0]!));
    throw new ModelscoutError('E_MODEL', `${path} holds no config.json${ggufs.length > 1 ? ` and ${ggufs.length} .gguf files` : ''}`, {
      suggestions: [ggufs.length > 1 ? `Name one of them: ${ggufs.slice(0, 3).map((g) => join(path, g)).join(', ')}.` : 'Give the folder of a transformers checkpoint (config.json, *.safetensors) or a .gguf file.'],
    });
  }
  const configPath = join(full, 'config.json');
  const config = await readJson(configPath);
  const spec = modelSpecFromHfConfig(config, { source: join(path, 'config.json'), id: basename(full).toLowerCase() });
  const shards = await localShards(full, entries);
  const summaries: SafetensorsSummary[] = [];
  for (const shard of shards) summaries.push(await readSafetensorsHeader(join(full, shard), join(path, shard)));
  const stored = summaries.length > 0 ? { basis: 'safetensors' as const, ...mergeSummaries(summaries) } : null;
  return withStored({ reference: path, kind: 'local-folder', spec, source: { path: full }, stored, gguf: null, notes: [], ...configOf(config) });
}

function configOf(config: unknown): { config?: Record<string, unknown> } {
  return typeof config === 'object' && config !== null && !Array.isArray(config) ? { config: config as Record<string, unknown> } : {};
}

async function localShards(dir: string, entries: string[]): Promise<string[]> {
  if (entries.includes('model.safetensors.index.json')) return shardsFromIndex(await readJson(join(dir, 'model.safetensors.index.json')), join(dir, 'model.safetensors.index.json'));
  return entries.filter((e) => e.endsWith('.safetensors')).sort();
}

function shardsFromIndex(index: unknown, source: string): string[] {
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null) throw new ModelscoutError('E_MODEL', `${source} has no weight_map`);
  return [...new Set(Object.values(map as Record<string, unknown>).filter((v): v is string => typeof v === 'string'))].sort();
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ModelscoutError('E_FILE', `cannot read ${path}: ${errorMessage(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelscoutError('E_CONFIG', `${path} is not valid JSON: ${jsonSyntaxReason(error)}`);
  }
}

// ---------------------------------------------------------------- GGUF

export async function resolveGguf(path: string): Promise<ResolvedModel> {
  if (!existsSync(path)) throw new ModelscoutError('E_FILE', `no such file: ${path}`, { suggestions: ['Give the path of a .gguf file (Ollama keeps them as blobs under ~/.ollama/models/blobs).'] });
  const header = await readGgufHeader(path);
  const spec = modelSpecFromGguf({ metadata: header.metadata, tensors: header.tensors, source: path });
  const gguf = summarizeGguf(header);
  const byType = new Map<string, DtypeShare>();
  for (const t of gguf.tensors) {
    const share = byType.get(t.type) ?? { dtype: t.type, tensors: 0, params: 0, bytes: 0 };
    share.tensors += 1;
    share.params += t.elements;
    share.bytes += t.bytes;
    byType.set(t.type, share);
  }
  const stored: StoredWeights = {
    basis: 'gguf',
    files: 1,
    tensors: header.tensors.length,
    params: header.tensors.reduce((s, t) => s + t.elements, 0),
    bytes: header.tensorBytes,
    dtypes: [...byType.values()].sort((a, b) => b.bytes - a.bytes),
  };
  const notes = [`runs in llama.cpp (${gguf.fileType ?? 'mixed types'}); the bytes are the file's own tensors`];
  return withStored({ reference: path, kind: 'gguf', spec: { ...spec, id: basename(path).replace(/\.gguf$/i, '').toLowerCase() }, source: { path: resolve(path) }, stored, gguf, notes });
}

function summarizeGguf(header: GgufHeader): GgufSummary {
  const context = header.metadata.get(`${header.architecture}.context_length`);
  return {
    file: header.path,
    fileBytes: header.fileBytes,
    version: header.version,
    architecture: header.architecture,
    fileType: header.fileType,
    dataOffset: header.dataOffset,
    tensorBytes: header.tensorBytes,
    contextLength: typeof context === 'number' ? context : null,
    tensors: ggufTensorBytes(header),
    engine: 'llama.cpp',
  };
}

/** Puts the stored parameter count in the spec when it describes the same decoder; explains it otherwise. */
function withStored(model: ResolvedModel): ResolvedModel {
  const { stored, spec } = model;
  if (!stored) return model;
  const computed = spec.paramsTotal;
  const deviation = (stored.params - computed) / computed;
  if (Math.abs(deviation) <= EXACT_TOLERANCE) {
    const delta = stored.params - computed;
    const next: ModelSpec = { ...spec, paramsTotal: stored.params, paramsActive: spec.paramsActive + delta };
    return { ...model, spec: next };
  }
  const note = `the stored weights hold ${stored.params.toLocaleString('en-US')} parameters, ${(deviation * 100).toFixed(1)}% from the ${computed.toLocaleString('en-US')} of the decoder its config describes (other towers, draft heads or a different layout); estimates use the decoder's count`;
  return { ...model, notes: [...model.notes, note], spec: { ...spec, notes: [...(spec.notes ?? []), note] } };
}

// ---------------------------------------------------------------- Hub

interface HubTarget {
  repo: string;
  revision: string;
  endpoint: string;
}

/** What is kept of one Hub look-up (JSON in the modelscout cache). */
interface HubRecord {
  repo: string;
  revision: string;
  commit: string;
  endpoint: string;
  config: unknown;
  safetensors: SafetensorsSummary[];
  fetchedAt: string;
}

function recordPath(dir: string, target: HubTarget): string {
  return join(dir, repoFolderName(target.repo), `${encodeURIComponent(target.revision)}.json`);
}

async function resolveHub(target: HubTarget, reference: string, deps: ResolveModelDeps): Promise<ResolvedModel> {
  const fromCache = async (): Promise<ResolvedModel | null> => {
    const record = (await readRecord(recordPath(deps.metaCacheDir, target))) ?? (await recordFromHfCache(target, deps.settings.cacheDir));
    return record ? fromRecord(record, reference, true) : null;
  };
  if (deps.settings.offline) {
    const cached = await fromCache();
    if (cached) return cached;
    throw new ModelscoutError('E_OFFLINE', `${target.repo}@${target.revision} is not in the cache and HF_HUB_OFFLINE is set`, {
      suggestions: [`Run the same command once online (unset HF_HUB_OFFLINE) to cache its config and headers, or pull it: modelscout pull ${target.repo}.`],
    });
  }
  let record: HubRecord;
  try {
    record = await fetchRecord(target, deps);
  } catch (error) {
    if (isModelscoutError(error) && error.code === 'E_NETWORK') {
      const cached = await fromCache();
      if (cached) return { ...cached, notes: [...cached.notes, `the Hub could not be reached (${error.message}); facts from the cache`] };
    }
    throw error;
  }
  await writeJsonAtomic(recordPath(deps.metaCacheDir, target), record);
  return fromRecord(record, reference, false);
}

function fromRecord(record: HubRecord, reference: string, cached: boolean): ResolvedModel {
  const source = `${record.endpoint}/${record.repo}/blob/${record.commit}/config.json`;
  const spec = modelSpecFromHfConfig(record.config, { source, id: record.repo.toLowerCase(), hfRepo: record.repo });
  const named: ModelSpec = { ...spec, name: record.repo.split('/').pop() ?? record.repo };
  const stored = record.safetensors.length > 0 ? { basis: 'safetensors' as const, ...mergeSummaries(record.safetensors) } : null;
  return withStored({
    reference,
    kind: 'hub',
    spec: named,
    source: { repo: record.repo, revision: record.revision, commit: record.commit, endpoint: record.endpoint, fromCache: cached },
    stored,
    gguf: null,
    notes: cached ? ['read from the cache (no network)'] : [],
    ...configOf(record.config),
  });
}

async function readRecord(path: string): Promise<HubRecord | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as HubRecord;
  } catch {
    return null;
  }
}

/** A repo already in the Hugging Face cache (pulled, or downloaded by transformers): its config and shard headers. */
async function recordFromHfCache(target: HubTarget, cacheDir: string): Promise<HubRecord | null> {
  const repoDir = repoCacheDir(cacheDir, target.repo);
  const commit = isCommitHash(target.revision) ? target.revision : await readRef(repoDir, target.revision);
  if (!commit) return null;
  const snapshot = snapshotDir(repoDir, commit);
  const configPath = join(snapshot, 'config.json');
  if (!existsSync(configPath)) return null;
  const entries = await readdir(snapshot).catch(() => [] as string[]);
  const shards = await localShards(snapshot, entries).catch(() => [] as string[]);
  const safetensors: SafetensorsSummary[] = [];
  for (const shard of shards) {
    if (existsSync(join(snapshot, shard))) safetensors.push(await readSafetensorsHeader(join(snapshot, shard), shard));
  }
  return { repo: target.repo, revision: target.revision, commit, endpoint: target.endpoint, config: await readJson(configPath), safetensors, fetchedAt: '' };
}

/**
 * A Hub client for `endpoint` with the user's settings (the token only for the configured endpoint, the
 * proxy, retries); `close` ends the proxy's connections.
 */
export function openHubHttp(deps: Pick<ResolveModelDeps, 'settings' | 'fetch' | 'userAgent' | 'retry'>, endpoint: string): { http: HubHttp; close: () => Promise<void> } {
  const { settings } = deps;
  const proxied = settings.proxy ? createProxiedFetch(settings.proxy, deps.fetch) : null;
  const http = new HubHttp({
    fetch: proxied?.fetch ?? deps.fetch,
    proxyFor: proxied ? (url) => proxied.routeFor(url) : undefined,
    endpoint,
    token: endpoint === settings.endpoint ? settings.token : undefined,
    tokenSource: settings.tokenSource,
    userAgent: deps.userAgent,
    retry: deps.retry ?? {},
  });
  return { http, close: async () => proxied?.close() };
}

async function fetchRecord(target: HubTarget, deps: ResolveModelDeps): Promise<HubRecord> {
  const { http, close } = openHubHttp(deps, target.endpoint);
  try {
    const context: RequestContext = { repo: target.repo, revision: target.revision };
    // The plain revision endpoint answers the commit and the file list in one request (no `expand`).
    const infoUrl = `${http.endpoint}/api/models/${target.repo}/revision/${encodeURIComponent(target.revision)}`;
    const info = (await (await http.get(infoUrl, { signal: deps.signal, context })).json()) as { sha?: unknown; siblings?: unknown };
    const commit = typeof info.sha === 'string' && isCommitHash(info.sha) ? info.sha : null;
    if (!commit) throw new ModelscoutError('E_NETWORK', `${http.endpoint} gave no commit for ${target.repo}@${target.revision}`);
    const files = Array.isArray(info.siblings) ? info.siblings.map((s) => (s as { rfilename?: unknown }).rfilename).filter((f): f is string => typeof f === 'string') : [];
    if (!files.includes('config.json')) {
      const ggufs = files.filter((f) => f.endsWith('.gguf'));
      throw new ModelscoutError('E_MODEL', `${target.repo} has no config.json${ggufs.length > 0 ? ` (it holds ${ggufs.length} .gguf file${ggufs.length === 1 ? '' : 's'})` : ''}`, {
        suggestions: [ggufs.length > 0 ? `Download one and pass the file: modelscout models show ./${ggufs[0]}.` : 'Give the repo of a transformers checkpoint (config.json and *.safetensors).'],
      });
    }
    const get = async (file: string, headers: Record<string, string> = {}): Promise<Response> =>
      http.get(`${http.endpoint}/${target.repo}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`, { headers, signal: deps.signal, context: { ...context, file } });
    const config = JSON.parse(await (await get('config.json')).text()) as unknown;
    let shards: string[] = [];
    if (files.includes('model.safetensors.index.json')) shards = shardsFromIndex(JSON.parse(await (await get('model.safetensors.index.json')).text()), `${target.repo}/model.safetensors.index.json`);
    else shards = files.filter((f) => f.endsWith('.safetensors') && !f.includes('/')).sort();
    const safetensors: SafetensorsSummary[] = [];
    for (const shard of shards) {
      const prefix = await readRange(await get(shard, { range: 'bytes=0-7' }), 8);
      const n = headerLength(prefix, `${target.repo}/${shard}`);
      const header = await readRange(await get(shard, { range: `bytes=8-${8 + n - 1}` }), n, 8);
      safetensors.push(summarizeHeader(shard, Buffer.from(header).toString('utf8')));
    }
    return { repo: target.repo, revision: target.revision, commit, endpoint: target.endpoint, config, safetensors, fetchedAt: new Date().toISOString() };
  } finally {
    await close();
  }
}

/**
 * The first `length` bytes a range request asked for. A server that ignores Range answers 200 with the whole
 * file: the bytes before `skip` are dropped and the body is cancelled once enough has arrived.
 */
async function readRange(response: Response, length: number, skip = 0): Promise<Uint8Array> {
  const drop = response.status === 206 ? 0 : skip;
  const out = new Uint8Array(length);
  let filled = 0;
  let dropped = 0;
  const reader = response.body?.getReader();
  if (!reader) return out.subarray(0, 0);
  while (filled < length) {
    const { done, value } = await reader.read();
    if (done) break;
    let chunk = value;
    if (dropped < drop) {
      const cut = Math.min(drop - dropped, chunk.length);
      dropped += cut;
      chunk = chunk.subarray(cut);
    }
    const take = Math.min(chunk.length, length - filled);
    out.set(chunk.subarray(0, take), filled);
    filled += take;
  }
  await reader.cancel().catch(() => undefined);
  return out.subarray(0, filled);
}

/** Where Hub look-ups are kept: `<modelscout cache>/hub-models`. */
export function hubModelCacheDir(modelscoutCache: string): string {
  return join(modelscoutCache, 'hub-models');
}
