import { hostname } from 'node:os';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { repoFolderName } from './cache.js';

/**
 * One downloader per blob across processes (two terminals pulling the same model would otherwise
 * append to the same `.incomplete` file). huggingface_hub uses `flock` on `.locks/<repo>/<etag>.lock`,
 * which Node cannot take, so this is an exclusive-create lock file beside it, holding the owner's pid
 * and host: a lock whose process is gone (a crash, a second Ctrl-C) is taken over.
 */
export interface LockOwner {
  pid: number;
  host: string;
}

export interface AcquireOptions {
  signal?: AbortSignal | undefined;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called once when another live process holds the lock. */
  onWait?: (owner: LockOwner) => void;
  pollMs?: number;
}

const STALE_UNREADABLE_MS = 60_000;

export function blobLockPath(cacheDir: string, repo: string, etag: string): string {
  return join(cacheDir, '.locks', repoFolderName(repo), `${etag}.modelscout-lock`);
}

/** Waits until this process holds the lock; returns its release. */
export async function acquireBlobLock(path: string, options: AcquireOptions): Promise<() => Promise<void>> {
  await mkdir(join(path, '..'), { recursive: true });
  const me: LockOwner = { pid: process.pid, host: hostname() };
  let announced = false;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(me));
      } finally {
        await handle.close();
      }
      return async () => {
        await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(path);
    if (owner === 'stale') {
      await rm(path, { force: true });
      continue;
    }
    if (!announced && owner) {
      options.onWait?.(owner);
      announced = true;
    }
    await options.sleep(options.pollMs ?? 500, options.signal);
  }
}

/** The live owner of a lock, `stale` when it can be taken over, null when it vanished meanwhile. */
async function readOwner(path: string): Promise<LockOwner | 'stale' | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  let owner: LockOwner | undefined;
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') owner = { pid: parsed.pid, host: parsed.host };
  } catch {
    owner = undefined;
  }
  if (!owner) {
    // Being written right now, or left half-written by a crash long ago.
    const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
    return age > STALE_UNREADABLE_MS ? 'stale' : null;
  }
  // A lock from another machine (a shared network cache) cannot be checked: it is respected.
  if (owner.host !== hostname()) return owner;
  return isAlive(owner.pid) ? owner : 'stale';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as { code?: unknown }).code === 'EPERM';
  }
}
