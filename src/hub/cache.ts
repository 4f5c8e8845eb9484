import { copyFile, lstat, mkdir, readFile, readdir, readlink, realpath, rename, rm, stat, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { sweepStaleTemps, temporarySibling, writeFileAtomic } from '../util/atomic-write.js';
import { z } from 'zod';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import { ModelscoutError } from '../errors.js';
import type { RepoFile } from './select-files.js';
import type { Assignable, Expect } from '../util/type-checks.js';

/**
 * The Hugging Face cache layout, shared with huggingface_hub (Python), transformers and
 * huggingface-cli, so that each reuses what the others downloaded:
 *
 *   <cache>/models--<org>--<name>/
 *     blobs/<etag>                 file contents, named by LFS sha256 or git blob sha1
 *     blobs/<etag>.incomplete      a download in progress (resumed with HTTP Range)
 *     snapshots/<commit>/<path>    relative symlinks to ../../blobs/<etag>
 *     refs/<revision>              the commit a branch or tag pointed to (no trailing newline)
 *
 * Written by hand: `@huggingface/hub`'s `scanCacheDir` skips files in snapshot subfolders (every
 * `onnx/…` file of a transformers.js repo) and has no notion of partial downloads.
 */
export const REPO_SEPARATOR = '--';

export function repoFolderName(repo: string): string {
  return ['models', ...repo.split('/')].join(REPO_SEPARATOR);
}

/** `models--org--name` → `org/name`; null for datasets, spaces and anything else. */
export function repoFromFolderName(folder: string): string | null {
  const parts = folder.split(REPO_SEPARATOR);
  if (parts[0] !== 'models' || parts.length < 2 || parts.length > 3 || parts.some((p) => !p)) return null;
  return parts.slice(1).join('/');
}

export function repoCacheDir(cacheDir: string, repo: string): string {
  return join(cacheDir, repoFolderName(repo));
}

export function blobPath(repoDir: string, etag: string): string {
  assertBlobName(etag);
  return join(repoDir, 'blobs', etag);
}

/**
 * Blob names come from the server's file listing (`lfs.oid`, `oid`) and become file names in the cache:
 * only a sha256 (64 hex digits) or a git object id (40 hex digits) is accepted, so a hostile Hub or
 * mirror cannot name a path outside the cache (`../../…`) or an existing file there.
 */
export function isBlobName(name: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(name);
}

export function assertBlobName(name: string, file?: string): void {
  if (!isBlobName(name)) {
    throw new ModelscoutError('E_NETWORK', `the Hub listing gives ${file === undefined ? 'a file' : JSON.stringify(file)} the checksum ${JSON.stringify(name.slice(0, 80))}, which is not a sha256 or git object id; refusing to use it as a cache file name`, {
      suggestions: ['Check HF_ENDPOINT points at a real Hugging Face Hub or mirror, then pull again.'],
    });
  }
}

export function incompletePath(repoDir: string, etag: string): string {
  return `${blobPath(repoDir, etag)}.incomplete`;
}

export function snapshotDir(repoDir: string, commit: string): string {
  return join(repoDir, 'snapshots', commit);
}

/** The blob name huggingface_hub gives a file: its LFS sha256, else its git blob id. */
export function blobName(file: RepoFile): string {
  const name = file.sha256 ?? file.gitOid;
  assertBlobName(name, file.path);
  return name;
}

/** Rejects repo paths that would escape the snapshot folder (huggingface_hub guards the same way). */
export function assertSafeRepoPath(path: string): void {
  const parts = path.split('/');
  if (!path || path.startsWith('/') || path.includes('\\') || parts.some((p) => p === '..' || p === '.' || p === '')) {
    throw new ModelscoutError('E_MODEL', `refusing repo file path ${JSON.stringify(path)}: it would leave the cache folder`);
  }
}

export async function readRef(repoDir: string, revision: string): Promise<string | undefined> {
  try {
    const commit = (await readFile(join(repoDir, 'refs', revision), 'utf8')).trim();
    return /^[0-9a-f]{40}$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

export async function writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
  const path = join(repoDir, 'refs', revision);
  let current: string | undefined;
  try {
    current = await readFile(path, 'utf8');
  } catch {
    current = undefined;
  }
  // Same content as huggingface_hub writes: the bare commit hash.
  if (current !== commit) await writeFileAtomic(path, commit);
}

/**
 * Points `snapshots/<commit>/<path>` at the blob with a relative symlink, replacing any previous entry
 * atomically (a new link is renamed over the old one). Where symlinks are not allowed (Windows without
 * developer mode) the blob is copied, as huggingface_hub does.
 */
export async function linkSnapshotFile(repoDir: string, commit: string, path: string, etag: string): Promise<string> {
  assertSafeRepoPath(path);
  const target = join(snapshotDir(repoDir, commit), ...path.split('/'));
  const blob = blobPath(repoDir, etag);
  await mkdir(dirname(target), { recursive: true });
  const linkText = relative(dirname(target), blob);
  try {
    if ((await readlink(target)) === linkText) return target;
  } catch {
    // Not a link yet (or not a link at all): create it below.
  }
  const tmp = temporarySibling(target, 'link');
  try {
    await symlink(linkText, tmp);
  } catch (error) {
    if (!isCode(error, 'EPERM') && !isCode(error, 'EACCES') && !isCode(error, 'ENOTSUP')) throw error;
    await copyFile(blob, tmp);
  }
  try {
    await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return target;
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/**
 * The files of a cached snapshot, as repo files (the blob name gives back the checksum: 64 hex digits
 * are a sha256, 40 a git blob id). Entries whose blob is missing are left out.
 */
export async function listSnapshotFiles(repoDir: string, commit: string): Promise<RepoFile[]> {
  const root = snapshotDir(repoDir, commit);
  const out: RepoFile[] = [];
  for (const rel of await walkFiles(root)) {
    const full = join(root, rel);
    let real: string;
    let size: number;
    try {
      real = await realpath(full);
      size = (await stat(real)).size;
    } catch {
      continue;
    }
    const name = basename(real);
    const repoPath = rel.split(sep).join('/');
    if (/^[0-9a-f]{64}$/.test(name)) out.push({ path: repoPath, size, gitOid: '', sha256: name });
    else out.push({ path: repoPath, size, gitOid: /^[0-9a-f]{40}$/.test(name) ? name : '' });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Relative paths of all non-directory entries below `root` (symlinks included), skipping our temp files. */
async function walkFiles(root: string, prefix = ''): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(join(root, prefix), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries) {
    const rel = prefix ? join(prefix, entry.name) : entry.name;
    if (entry.isDirectory()) out.push(...(await walkFiles(root, rel)));
    else if (!entry.name.startsWith('.')) out.push(rel);
  }
  return out;
}

export interface CachedRevision {
  commit: string;
  refs: string[];
  files: number;
  sizeBytes: number;
  path: string;
}

export interface CachedModel {
  repo: string;
  path: string;
  /** Bytes of complete blobs (what deleting the model frees, besides partial downloads). */
  sizeBytes: number;
  blobs: number;
  /** Bytes held by partial downloads (`*.incomplete`), resumable by pulling again. */
  incompleteBytes: number;
  revisions: CachedRevision[];
  /** Newest blob modification time, ISO 8601. */
  lastModified: string | null;
}

export interface CacheListing {
  cacheDir: string;
  exists: boolean;
  models: CachedModel[];
  totalBytes: number;
  /** Folders that look like cache entries but could not be read. */
  warnings: string[];
}

export async function scanHubCache(cacheDir: string): Promise<CacheListing> {
  let entries;
  try {
    entries = await readdir(cacheDir, { withFileTypes: true });
  } catch (error) {
    if (isCode(error, 'ENOENT')) return { cacheDir, exists: false, models: [], totalBytes: 0, warnings: [] };
    throw new ModelscoutError('E_FILE', `cannot read the cache folder ${cacheDir}: ${(error as Error).message}`);
  }
  const models: CachedModel[] = [];
  const warnings: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const repo = repoFromFolderName(entry.name);
    if (!repo) continue;
    try {
      models.push(await scanCachedModel(join(cacheDir, entry.name), repo));
    } catch (error) {
      warnings.push(`${entry.name}: ${(error as Error).message}`);
    }
  }
  models.sort((a, b) => a.repo.localeCompare(b.repo));
  return { cacheDir, exists: true, models, totalBytes: models.reduce((s, m) => s + m.sizeBytes + m.incompleteBytes, 0), warnings };
}

export async function scanCachedModel(repoDir: string, repo: string): Promise<CachedModel> {
  let sizeBytes = 0;
  let incompleteBytes = 0;
  let blobs = 0;
  let newest = 0;
  const blobSizes = new Map<string, number>();
  const blobEntries = await readdir(join(repoDir, 'blobs')).catch((): string[] => []);
  for (const name of blobEntries) {
    const info = await lstat(join(repoDir, 'blobs', name)).catch(() => undefined);
    if (!info?.isFile()) continue;
    if (name.endsWith('.incomplete')) {
      incompleteBytes += info.size;
      continue;
    }
    blobs += 1;
    sizeBytes += info.size;
    blobSizes.set(name, info.size);
    newest = Math.max(newest, info.mtimeMs);
  }
  const refsByCommit = new Map<string, string[]>();
  for (const ref of await walkFiles(join(repoDir, 'refs'))) {
    const commit = await readRef(repoDir, ref);
    if (!commit) continue;
    const name = ref.split(sep).join('/');
    refsByCommit.set(commit, [...(refsByCommit.get(commit) ?? []), name]);
  }
  const revisions: CachedRevision[] = [];
  const commits = await readdir(join(repoDir, 'snapshots'), { withFileTypes: true })
    .then((entries) => entries.filter((e) => e.isDirectory()).map((e) => e.name), (): string[] => []);
  for (const commit of commits) {
    const files = await listSnapshotFiles(repoDir, commit);
    const unique = new Map<string, number>();
    for (const f of files) unique.set(f.sha256 ?? (f.gitOid || f.path), f.size);
    revisions.push({
      commit,
      refs: (refsByCommit.get(commit) ?? []).sort(),
      files: files.length,
      sizeBytes: [...unique.values()].reduce((s, n) => s + n, 0),
      path: snapshotDir(repoDir, commit),
    });
  }
  revisions.sort((a, b) => b.refs.length - a.refs.length || a.commit.localeCompare(b.commit));
  return { repo, path: repoDir, sizeBytes, blobs, incompleteBytes, revisions, lastModified: newest ? new Date(newest).toISOString() : null };
}

/** Deletes a model's folder (blobs, snapshots, refs, partial downloads) and its lock folder. */
export async function removeCachedModel(cacheDir: string, repo: string): Promise<CachedModel> {
  const dir = repoCacheDir(cacheDir, repo);
  if (!(await pathExists(dir))) {
    throw new ModelscoutError('E_NOT_FOUND', `${repo} is not in the cache (${cacheDir})`, {
      suggestions: ['List cached models with `modelscout cache ls`.'],
    });
  }
  const info = await scanCachedModel(dir, repo);
  // Rename first so that a half-finished delete never looks like a usable (but incomplete) model; a delete
  // killed midway leaves a temporary entry, which the next one removes.
  await sweepStaleTemps(cacheDir);
  const doomed = temporarySibling(dir);
  await rename(dir, doomed);
  await rm(doomed, { recursive: true, force: true });
  await rm(join(cacheDir, '.locks', repoFolderName(repo)), { recursive: true, force: true });
  return info;
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/**
 * `…/models--org--name/snapshots/<commit>[/sub/path]` → `{ repo, commit }`: lets reports name a pulled
 * model by its repo rather than by the commit hash its folder is called.
 */
export function describeSnapshotPath(path: string): { repo: string; commit: string } | null {
  const parts = path.split(/[\\/]+/);
  for (let i = parts.length - 3; i >= 0; i -= 1) {
    const commit = parts[i + 2];
    if (parts[i + 1] !== 'snapshots' || !commit || !/^[0-9a-f]{40}$/.test(commit)) continue;
    const repo = repoFromFolderName(parts[i] ?? '');
    if (repo) return { repo, commit };
  }
  return null;
}

// ------------------------------------------------------------------------------------------- --json reports

const cachedRevisionSchema = z.strictObject({ commit: z.string(), refs: z.array(z.string()), files: z.number().int().min(0), sizeBytes: z.number().min(0), path: z.string() });
const cacheListingSchema = z.strictObject({
  cacheDir: z.string(),
  exists: z.boolean(),
  models: z.array(
    z.strictObject({
      repo: z.string(),
      path: z.string(),
      sizeBytes: z.number().min(0),
      blobs: z.number().int().min(0),
      incompleteBytes: z.number().min(0),
      revisions: z.array(cachedRevisionSchema),
      lastModified: z.string().nullable(),
    }),
  ),
  totalBytes: z.number().min(0),
  warnings: z.array(z.string()),
});

/** `cache rm --json`: what was removed. */
export interface CacheRemoval {
  repo: string;
  path: string;
  freedBytes: number;
  revisions: string[];
}
const cacheRemovalSchema = z.strictObject({ repo: z.string(), path: z.string(), freedBytes: z.number().min(0), revisions: z.array(z.string()) });

export const CACHE_LISTING_KIND = 'modelscout.cache-listing';
export const CACHE_REMOVAL_KIND = 'modelscout.cache-removal';

/** `cache ls --json`: snake_case keys, `schema_version` and `kind`. */
export function cacheListingReport(listing: CacheListing): Record<string, unknown> {
  return toJsonReport(cacheListingSchema, listing, CACHE_LISTING_KIND, '1');
}

export function cacheRemovalReport(removal: CacheRemoval): Record<string, unknown> {
  return toJsonReport(cacheRemovalSchema, removal, CACHE_REMOVAL_KIND, '1');
}

export function buildCacheJsonSchemas(): { listing: Record<string, unknown>; removal: Record<string, unknown> } {
  return { listing: jsonReportSchema(cacheListingSchema, CACHE_LISTING_KIND, '1'), removal: jsonReportSchema(cacheRemovalSchema, CACHE_REMOVAL_KIND, '1') };
}

export type CacheSchemaChecks = [
  Expect<Assignable<z.infer<typeof cacheListingSchema>, CacheListing>>,
  Expect<Assignable<CacheListing, z.infer<typeof cacheListingSchema>>>,
  Expect<Assignable<z.infer<typeof cacheRemovalSchema>, CacheRemoval>>,
  Expect<Assignable<CacheRemoval, z.infer<typeof cacheRemovalSchema>>>,
];
