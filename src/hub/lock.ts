import { join } from 'node:path';
import { acquireFileLock, removeStaleLock, type AcquireOptions } from '../util/file-lock.js';
import { repoFolderName } from './cache.js';

export type { AcquireOptions, LockOwner } from '../util/file-lock.js';

/**
 * One downloader per blob across processes (two terminals pulling the same model would otherwise
 * append to the same `.incomplete` file). huggingface_hub uses `flock` on `.locks/<repo>/<etag>.lock`,
 * which Node cannot take, so this is the project's lock file beside it (see util/file-lock.ts).
 */
export function blobLockPath(cacheDir: string, repo: string, etag: string): string {
  return join(cacheDir, '.locks', repoFolderName(repo), `${etag}.modelscout-lock`);
}

/** Waits until this process holds the lock; returns its release. */
export function acquireBlobLock(path: string, options: AcquireOptions): Promise<() => Promise<void>> {
  return acquireFileLock(path, options);
}

/** A blob already in the cache: the lock a killed downloader left for it is removed (no one will take it over). */
export async function removeStaleBlobLock(cacheDir: string, repo: string, etag: string): Promise<void> {
  await removeStaleLock(blobLockPath(cacheDir, repo, etag));
}
