import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { listFiles, modelInfo } from '@huggingface/hub';
import { ModelscoutError, isModelscoutError } from '../errors.js';
import {
  assertSafeRepoPath, blobName, blobPath, linkSnapshotFile, listSnapshotFiles, pathExists, readRef, repoCacheDir, snapshotDir, writeRef,
} from './cache.js';
import { downloadBlob } from './download.js';
import { acquireBlobLock, blobLockPath, removeStaleBlobLock } from './lock.js';
import type { FetchLike } from './types.js';
import type { LockWait } from '../util/file-lock.js';
import { assertWritableDir } from '../util/output-path.js';
import { HubHttp, defaultSleep, type RequestContext, type RetryNotice, type RetryPolicy } from './http.js';
import { isCommitHash, parseModelRef, type ModelRef } from './model-ref.js';
import { createProxiedFetch, type ProxyRoute } from './proxy.js';
import { selectFiles, type RepoFile, type VariantChoice } from './select-files.js';
import type { HubSettings } from './settings.js';

/**
 * `pull`: from a repo id, Hub URL, catalog id or local path to ONNX files on disk. Hub models land in
 * the shared Hugging Face cache (see cache.ts); the snapshot links appear only once every selected
 * file is downloaded and verified, so a snapshot never holds a graph without its external data.
 *
 * `@huggingface/hub` does the Hub listing (`modelInfo` for the commit of a revision, `listFiles` for
 * the recursive tree with sizes and LFS sha256, following the `Link` pagination); everything after
 * that (resume, verification, cache writes, offline mode) is in download.ts and cache.ts.
 */
/** What pull needs to know of a catalog model: its id and the repos that hold it. */
export interface CatalogRepos {
  id: string;
  onnxRepo: string | null;
  hfRepo?: string | null;
}

export interface PullRequest {
  /** What the user typed: `org/name[@revision]`, a Hub URL, a catalog id or a local path. */
  model: string;
  variant: VariantChoice;
  include: readonly string[];
}

export interface PullDeps {
  settings: HubSettings;
  /** The fetch for direct connections; URLs that `settings.proxy` sends through a proxy use undici's. */
  fetch: FetchLike;
  userAgent: string;
  lookupCatalog?: ((id: string) => CatalogRepos | undefined) | undefined;
  /** Synchronous existence check, to tell a local folder from a repo id. */
  localPathExists: (path: string) => boolean;
  signal?: AbortSignal | undefined;
  onEvent?: ((event: PullEvent) => void) | undefined;
  /** Files downloaded at once. */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** Resumptions per file within one run after a dropped connection or stall. */
  maxResumes?: number;
  resumeDelayMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export type PullEvent =
  | { type: 'resolved'; repo: string; revision: string; commit: string; files: number; cachedFiles: number; downloadFiles: number; downloadBytes: number }
  | { type: 'progress'; doneBytes: number; totalBytes: number; filesDone: number; filesTotal: number }
  | { type: 'file-done'; path: string; size: number; transferredBytes: number }
  | { type: 'retry'; notice: RetryNotice }
  | { type: 'resume'; file: string; offset: number; reason: string }
  | ({ type: 'waiting'; file: string } & LockWait)
  /** Once, before the first request, when the Hub is reached through a proxy. */
  | { type: 'proxy'; proxy: string; variable: string; endpoint: string };

export interface PulledFile {
  path: string;
  size: number;
  /** sha256 for LFS files, otherwise the git blob id. */
  checksum: string | null;
  /** Where the file is readable (a snapshot link, or the local file). */
  localPath: string;
  /** Fetched by this run (false: it was already in the cache, or the model is local). */
  downloaded: boolean;
  transferredBytes: number;
  resumedFromBytes: number;
}

export interface PullResult {
  source: 'hub' | 'cache' | 'local';
  /** The catalog id the model came from, when one was given. */
  catalogId: string | null;
  repo: string | null;
  revision: string | null;
  commit: string | null;
  endpoint: string | null;
  /** The folder to load from: the snapshot (Hub, cache) or the local folder. */
  path: string;
  cacheDir: string | null;
  variants: string[];
  /** Absolute paths of the selected ONNX graphs. */
  onnx: string[];
  files: PulledFile[];
  /** Bytes received over the network by this run. */
  transferredBytes: number;
  /** Bytes of selected files that were already complete in the cache. */
  reusedBytes: number;
  totalBytes: number;
}

const DEFAULT_CONCURRENCY = 4;

export async function pullModel(request: PullRequest, deps: PullDeps): Promise<PullResult> {
  const { settings } = deps;
  const ref = parseModelRef(request.model, {
    pathExists: deps.localPathExists,
    isCatalogId: (id) => deps.lookupCatalog?.(id) !== undefined,
    endpoint: settings.endpoint,
  });
  if (ref.kind === 'local') return useLocalModel(ref.path, request);
  const { repo, revision, endpoint, catalogId } = resolveRepo(ref, deps);
  const target: RepoTarget = { repo, revision, endpoint, catalogId };
  try {
    if (settings.offline) return await pullFromCache(target, request, deps);
    return await pullFromHub(target, request, deps);
  } catch (error) {
    throw asInterruption(error, deps.signal, target);
  }
}

interface RepoTarget {
  repo: string;
  revision: string;
  endpoint: string;
  catalogId: string | null;
}

function resolveRepo(ref: Exclude<ModelRef, { kind: 'local' }>, deps: PullDeps): RepoTarget {
  if (ref.kind === 'hub') return { repo: ref.repo, revision: ref.revision, endpoint: ref.endpoint ?? deps.settings.endpoint, catalogId: null };
  const entry = deps.lookupCatalog?.(ref.id);
  if (!entry) throw new ModelscoutError('E_CATALOG', `unknown catalog id ${JSON.stringify(ref.id)}`);
  if (!entry.onnxRepo) {
    const original = entry.hfRepo ? ` (${entry.hfRepo})` : '';
    throw new ModelscoutError('E_MODEL', `catalog model ${entry.id}${original} has no ONNX export on the Hub to pull`, {
      suggestions: [
        `Run \`modelscout synth ${entry.id}\` to build an ONNX model with its architecture and synthetic weights (for speed and memory, not quality).`,
        entry.hfRepo
          ? `Or export the real weights: \`optimum-cli export onnx --model ${entry.hfRepo} ./${entry.id}-onnx\`, then \`modelscout pull ./${entry.id}-onnx\`.`
          : 'Or export the real weights with `optimum-cli export onnx` and pass the folder to `modelscout pull`.',
      ],
    });
  }
  return { repo: entry.onnxRepo, revision: ref.revision, endpoint: deps.settings.endpoint, catalogId: entry.id };
}

/** With proxy variables set, requests go through the proxy they name (see proxy.ts); otherwise `deps.fetch` as is. */
async function pullFromHub(target: RepoTarget, request: PullRequest, deps: PullDeps): Promise<PullResult> {
  if (!deps.settings.proxy) return pullThrough(deps.fetch, undefined, target, request, deps);
  const proxied = createProxiedFetch(deps.settings.proxy, deps.fetch);
  const route = proxied.routeFor(target.endpoint);
  if (route) deps.onEvent?.({ type: 'proxy', proxy: route.display, variable: route.variable, endpoint: target.endpoint });
  try {
    return await pullThrough(proxied.fetch, (url) => proxied.routeFor(url), target, request, deps);
  } finally {
    await proxied.close();
  }
}

async function pullThrough(fetch: FetchLike, proxyFor: ((url: string) => ProxyRoute | null) | undefined, target: RepoTarget, request: PullRequest, deps: PullDeps): Promise<PullResult> {
  const { settings } = deps;
  const { repo, revision, endpoint } = target;
  const http = new HubHttp({
    fetch,
    proxyFor,
    endpoint,
    // The token belongs to the configured Hub: it is not sent to a different host given as a URL.
    token: endpoint === settings.endpoint ? settings.token : undefined,
    tokenSource: settings.tokenSource,
    userAgent: deps.userAgent,
    retry: deps.retry ?? {},
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    onRetry: (notice) => deps.onEvent?.({ type: 'retry', notice }),
  });
  // A cache folder that cannot be written is one line before any request, not a raw EROFS/ENOENT later.
  await assertWritableDir(settings.cacheDir, 'the Hub cache folder');
  const repoDir = repoCacheDir(settings.cacheDir, repo);
  const context: RequestContext = { repo, revision };

  let commit: string;
  let listing: RepoFile[];
  try {
    commit = await resolveCommit(http, context, deps.signal);
    listing = await listRepoFiles(http, { repo, revision: commit }, deps.signal);
  } catch (error) {
    if (isModelscoutError(error) && error.code === 'E_NETWORK') throw await withCacheHint(error, repoDir, target);
    throw error;
  }
  const label = `${repo}@${revision}`;
  const selection = selectFiles(listing, { variant: request.variant, include: request.include, label });
  for (const file of selection.files) {
    assertSafeRepoPath(file.path);
    blobName(file); // a listing's checksum must be a hex digest before it names a cache file
  }

  // One download per blob: two paths with the same content share it.
  const pending = new Map<string, RepoFile>();
  const cached = new Set<string>();
  for (const file of selection.files) {
    const name = blobName(file);
    if (cached.has(name) || pending.has(name)) continue;
    if (await pathExists(blobPath(repoDir, name))) {
      cached.add(name);
      await removeStaleBlobLock(settings.cacheDir, repo, name);
    } else pending.set(name, file);
  }
  const downloadBytes = [...pending.values()].reduce((s, f) => s + f.size, 0);
  deps.onEvent?.({ type: 'resolved', repo, revision, commit, files: selection.files.length, cachedFiles: selection.files.length - [...selection.files].filter((f) => pending.has(blobName(f))).length, downloadFiles: pending.size, downloadBytes });

  const outcomes = await downloadAll([...pending.values()], { http, cacheDir: settings.cacheDir, repoDir, repo, commit, endpoint, revision }, deps, downloadBytes);

  // Everything is verified: now make the snapshot visible, then move the ref.
  const snapshot = snapshotDir(repoDir, commit);
  const files: PulledFile[] = [];
  for (const file of selection.files) {
    const localPath = await linkSnapshotFile(repoDir, commit, file.path, blobName(file));
    const outcome = outcomes.get(blobName(file));
    files.push({
      path: file.path,
      size: file.size,
      checksum: file.sha256 ?? file.gitOid,
      localPath,
      downloaded: outcome !== undefined,
      transferredBytes: outcome?.transferredBytes ?? 0,
      resumedFromBytes: outcome?.resumedFromBytes ?? 0,
    });
    // A later file with the same blob was not downloaded again.
    if (outcome) outcomes.delete(blobName(file));
  }
  if (!isCommitHash(revision)) await writeRef(repoDir, revision, commit);
  return buildResult('hub', target, commit, snapshot, settings.cacheDir, selection, files);
}

async function resolveCommit(http: HubHttp, context: RequestContext, signal: AbortSignal | undefined): Promise<string> {
  const info = await modelInfo({
    name: context.repo,
    revision: context.revision,
    hubUrl: http.endpoint,
    additionalFields: ['sha'],
    fetch: http.fetchFor(context, signal),
  });
  const sha = (info as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !isCommitHash(sha)) {
    throw new ModelscoutError('E_NETWORK', `${http.endpoint} gave no commit for ${context.repo}@${context.revision}`, {
      suggestions: [`Check that HF_ENDPOINT (now ${http.endpoint}) is a Hugging Face Hub or a complete mirror of it.`],
    });
  }
  return sha;
}

async function listRepoFiles(http: HubHttp, context: RequestContext, signal: AbortSignal | undefined): Promise<RepoFile[]> {
  const out: RepoFile[] = [];
  for await (const entry of listFiles({
    repo: { type: 'model', name: context.repo },
    revision: context.revision,
    recursive: true,
    hubUrl: http.endpoint,
    fetch: http.fetchFor(context, signal),
  })) {
    if (entry.type !== 'file') continue;
    // For LFS files the top-level size is sometimes the pointer's: the lfs block has the object's.
    out.push({ path: entry.path, size: entry.lfs?.size ?? entry.size, gitOid: entry.oid ?? '', sha256: entry.lfs?.oid });
  }
  return out;
}

interface DownloadScope {
  http: HubHttp;
  cacheDir: string;
  repoDir: string;
  repo: string;
  revision: string;
  commit: string;
  endpoint: string;
}

interface BlobOutcome {
  transferredBytes: number;
  resumedFromBytes: number;
}

/** Downloads with a small worker pool and one aggregate progress; the first failure stops the others. */
async function downloadAll(files: RepoFile[], scope: DownloadScope, deps: PullDeps, totalBytes: number): Promise<Map<string, BlobOutcome>> {
  const outcomes = new Map<string, BlobOutcome>();
  if (files.length === 0) return outcomes;
  const stop = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, stop.signal]) : stop.signal;
  let doneBytes = 0;
  let filesDone = 0;
  const report = (): void => deps.onEvent?.({ type: 'progress', doneBytes, totalBytes, filesDone, filesTotal: files.length });
  report();
  const queue = [...files].sort((a, b) => b.size - a.size);
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    for (let file = queue.shift(); file && !signal.aborted; file = queue.shift()) {
      let release: (() => Promise<void>) | undefined;
      try {
        const etag = blobName(file);
        release = await acquireBlobLock(blobLockPath(scope.cacheDir, scope.repo, etag), {
          signal,
          sleep: deps.sleep ?? defaultSleep,
          onWait: (wait) => deps.onEvent?.({ type: 'waiting', file: file.path, ...wait }),
        });
        // Another process may have finished this blob while we waited for its lock.
        if (await pathExists(blobPath(scope.repoDir, etag))) {
          doneBytes += file.size;
          filesDone += 1;
          report();
          continue;
        }
        const outcome = await downloadBlob(scope.http, {
          url: resolveUrl(scope.endpoint, scope.repo, scope.commit, file.path),
          file,
          repoDir: scope.repoDir,
          context: { repo: scope.repo, revision: scope.commit },
        }, {
          signal,
          idleTimeoutMs: deps.settings.downloadTimeoutSec * 1000,
          maxResumes: deps.maxResumes ?? 5,
          resumeDelayMs: deps.resumeDelayMs ?? 1000,
          ...(deps.sleep ? { sleep: deps.sleep } : {}),
          onBytes: (delta) => {
            doneBytes += delta;
            report();
          },
          onResume: (info) => deps.onEvent?.({ type: 'resume', ...info }),
        });
        outcomes.set(blobName(file), outcome);
        filesDone += 1;
        report();
        deps.onEvent?.({ type: 'file-done', path: file.path, size: file.size, transferredBytes: outcome.transferredBytes });
      } catch (error) {
        if (firstError === undefined) firstError = error;
        stop.abort(error);
        return;
      } finally {
        await release?.();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? DEFAULT_CONCURRENCY, files.length) }, worker));
  if (firstError !== undefined) throw firstError;
  if (deps.signal?.aborted) throw deps.signal.reason;
  return outcomes;
}

export function resolveUrl(endpoint: string, repo: string, commit: string, path: string): string {
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** `HF_HUB_OFFLINE=1`: the snapshot a revision points to in the cache, or a message saying it is not there. */
async function pullFromCache(target: RepoTarget, request: PullRequest, deps: PullDeps): Promise<PullResult> {
  const { repo, revision } = target;
  const cacheDir = deps.settings.cacheDir;
  const repoDir = repoCacheDir(cacheDir, repo);
  const commit = isCommitHash(revision) ? revision : await readRef(repoDir, revision);
  const snapshot = commit ? snapshotDir(repoDir, commit) : undefined;
  if (!commit || !snapshot || !(await pathExists(snapshot))) {
    throw new ModelscoutError('E_OFFLINE', `${repo}@${revision} is not in the cache (${cacheDir}) and HF_HUB_OFFLINE is set`, {
      suggestions: [
        `Run \`modelscout pull ${repo}${revision === 'main' ? '' : `@${revision}`}\` once with network access (unset HF_HUB_OFFLINE).`,
        'Or point HF_HOME, HF_HUB_CACHE or --cache-dir at the cache that holds it; `modelscout cache ls` lists what is there.',
      ],
    });
  }
  const listing = await listSnapshotFiles(repoDir, commit);
  let selection;
  try {
    selection = selectFiles(listing, { variant: request.variant, include: request.include, label: `the cached ${repo}@${revision}` });
  } catch (error) {
    if (isModelscoutError(error)) {
      throw new ModelscoutError('E_OFFLINE', `${error.message} (HF_HUB_OFFLINE is set, so only the cache is used)`, {
        suggestions: ['Unset HF_HUB_OFFLINE and pull again to fetch it.', ...error.suggestions],
      });
    }
    throw error;
  }
  const files: PulledFile[] = selection.files.map((f) => ({
    path: f.path,
    size: f.size,
    checksum: f.sha256 ?? (f.gitOid || null),
    localPath: join(snapshot, ...f.path.split('/')),
    downloaded: false,
    transferredBytes: 0,
    resumedFromBytes: 0,
  }));
  return buildResult('cache', target, commit, snapshot, cacheDir, selection, files);
}

/** A local folder (or .onnx file) used in place: checked, never copied. */
async function useLocalModel(path: string, request: PullRequest): Promise<PullResult> {
  const absolute = resolve(path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path);
  let info;
  try {
    info = await stat(absolute);
  } catch {
    throw new ModelscoutError('E_FILE', `local model ${path} does not exist`, {
      suggestions: ['Give a folder holding .onnx files (and their external data), an .onnx file, a Hub repo id or a catalog id.'],
    });
  }
  const root = info.isDirectory() ? absolute : resolve(absolute, '..');
  let listing: RepoFile[];
  if (info.isDirectory()) listing = await listLocalFiles(absolute);
  else {
    if (!absolute.toLowerCase().endsWith('.onnx')) {
      throw new ModelscoutError('E_FILE', `local model ${path} is not an .onnx file or a folder`, { suggestions: ['Give a folder holding .onnx files, or the .onnx file itself.'] });
    }
    listing = (await listLocalFiles(root)).filter((f) => !f.path.endsWith('.onnx') || join(root, f.path) === absolute);
  }
  const selection = selectFiles(listing, { variant: request.variant, include: request.include, label: `local folder ${path}` });
  const files: PulledFile[] = selection.files.map((f) => ({
    path: f.path, size: f.size, checksum: null, localPath: join(root, ...f.path.split('/')), downloaded: false, transferredBytes: 0, resumedFromBytes: 0,
  }));
  return {
    source: 'local', catalogId: null, repo: null, revision: null, commit: null, endpoint: null,
    path: root, cacheDir: null, variants: selection.variants,
    onnx: selection.onnx.map((p) => join(root, ...p.split('/'))),
    files, transferredBytes: 0, reusedBytes: 0, totalBytes: files.reduce((s, f) => s + f.size, 0),
  };
}

/** Files of a local model folder, two levels deep (the root and `onnx/`), as repo-relative paths. */
async function listLocalFiles(root: string, prefix = '', depth = 0): Promise<RepoFile[]> {
  const out: RepoFile[] = [];
  const entries = await readdir(join(root, prefix), { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (depth < 1 && !entry.name.startsWith('.')) out.push(...(await listLocalFiles(root, rel, depth + 1)));
      continue;
    }
    const size = await stat(join(root, rel)).then((s) => (s.isFile() ? s.size : -1)).catch(() => -1);
    if (size >= 0) out.push({ path: rel, size, gitOid: '' });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function buildResult(source: 'hub' | 'cache', target: RepoTarget, commit: string, snapshot: string, cacheDir: string, selection: { variants: string[]; onnx: string[] }, files: PulledFile[]): PullResult {
  const transferredBytes = files.reduce((s, f) => s + f.transferredBytes, 0);
  return {
    source,
    catalogId: target.catalogId,
    repo: target.repo,
    revision: target.revision,
    commit,
    endpoint: source === 'hub' ? target.endpoint : null,
    path: snapshot,
    cacheDir,
    variants: selection.variants,
    onnx: selection.onnx.map((p) => join(snapshot, ...p.split('/'))),
    files,
    transferredBytes,
    reusedBytes: files.filter((f) => !f.downloaded).reduce((s, f) => s + f.size, 0),
    totalBytes: files.reduce((s, f) => s + f.size, 0),
  };
}

/** On a network failure, say whether a cached copy could be used instead. */
async function withCacheHint(error: ModelscoutError, repoDir: string, target: RepoTarget): Promise<ModelscoutError> {
  const commit = isCommitHash(target.revision) ? target.revision : await readRef(repoDir, target.revision);
  if (!commit || !(await pathExists(snapshotDir(repoDir, commit)))) return error;
  return new ModelscoutError(error.code, `${error.message}; a cached copy of ${target.repo}@${target.revision} exists: set HF_HUB_OFFLINE=1 to use it`, {
    suggestions: error.suggestions,
    exitCode: error.exitCode,
    cause: error,
  });
}

/** Ctrl-C (the caller's signal) becomes exit 130 with a note that the partial files resume. */
function asInterruption(error: unknown, signal: AbortSignal | undefined, target: RepoTarget): unknown {
  if (!signal?.aborted) return error;
  if (isModelscoutError(error) && error.code !== 'E_NETWORK') return error;
  return new ModelscoutError('E_INTERRUPTED', `interrupted: partial downloads of ${target.repo} are kept in the cache and resume on the next pull`, {
    suggestions: [],
  });
}
