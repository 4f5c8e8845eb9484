import { hostname } from 'node:os';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Cross-process exclusive lock: an exclusive-create lock file holding the owner's pid and host. Node
 * cannot take `flock`, so a lock whose process is gone (a crash, kill -9, a second Ctrl-C) is detected by
 * its pid and taken over; a lock from another host (a shared network folder) is respected.
 */
export interface LockOwner {
  pid: number;
  host: string;
}

export interface AcquireOptions {
  signal?: AbortSignal | undefined;
  /** Sleeps between polls (default: a timer that the signal cuts short). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called once when another live process holds the lock (or a process of another host: see `LockWait`). */
  onWait?: (wait: LockWait) => void;
  pollMs?: number;
}

/** Who holds a lock this process waits for. */
export interface LockWait extends LockOwner {
  /** The lock file: the one to remove by hand when `otherHost` and that run is known to be gone. */
  lockPath: string;
  /** Held from another machine (a shared folder): whether that process still runs cannot be told from here. */
  otherHost: boolean;
  /** What the lock guards, where it guards an output (util/atomic-write.ts's `withOutputLock`). */
  target?: string;
}

/**
 * The one line that says why a run waits: `doing` says what the other run does (default: `is writing
 * <target>`).
 */
export function lockWaitMessage(wait: LockWait, doing = `is writing ${wait.target ?? wait.lockPath}`): string {
  if (!wait.otherHost) return `Waiting for another modelscout run (pid ${wait.pid}) that ${doing}; this one goes on when it ends.`;
  return `Waiting for a modelscout run on ${wait.host} (pid ${wait.pid}) that ${doing}; this machine cannot tell whether it still runs: if it does not, remove ${wait.lockPath}.`;
}

const STALE_UNREADABLE_MS = 60_000;

/** Waits until this process holds the lock at `path`; returns its release. */
export async function acquireFileLock(path: string, options: AcquireOptions = {}): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  const me: LockOwner = { pid: process.pid, host: hostname() };
  const sleep = options.sleep ?? defaultSleep;
  let announced = false;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    try {
      await createExclusive(path, me);
      // A takeover guard whose process died midway would otherwise stay for good.
      if ((await readOwner(guardPath(path))) === 'stale') await rm(guardPath(path), { force: true });
      return async () => {
        await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(path);
    if (owner === 'stale') {
      if (await removeGuarded(path)) continue;
    } else if (!announced && owner) {
      options.onWait?.({ ...owner, lockPath: path, otherHost: owner.host !== hostname() });
      announced = true;
    }
    await sleep(options.pollMs ?? 200, options.signal);
  }
}

/** Runs `fn` holding the lock at `lockPath`; the lock is released however `fn` ends. */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: AcquireOptions = {}): Promise<T> {
  const release = await acquireFileLock(lockPath, options);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/**
 * Removes the lock at `path` if the process that held it is gone; false when it is held by a live process
 * or another process is taking it over right now. Taking over is guarded: of several processes that see
 * the same stale lock at once, only the one that creates `<lock>.takeover` may remove it, and only after
 * reading it again — otherwise one of them could delete the fresh lock another had just created in its
 * place, and both would hold it.
 */
export async function removeStaleLock(path: string): Promise<boolean> {
  // Most calls find no lock, or a live one: no guard is needed to see that.
  return (await readOwner(path)) === 'stale' && removeGuarded(path);
}

/** Removes the lock at `path`, seen stale, under the takeover guard (see `removeStaleLock`). */
async function removeGuarded(path: string): Promise<boolean> {
  const guard = guardPath(path);
  try {
    await createExclusive(guard, { pid: process.pid, host: hostname() });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
    // Another process is taking over; or one died doing so, and its guard goes (the next call tries again).
    if ((await readOwner(guard)) === 'stale') await rm(guard, { force: true });
    return false;
  }
  try {
    // Only a guard holder removes a lock whose owner is gone, so the file read here is the one removed.
    if ((await readOwner(path)) !== 'stale') return false;
    await rm(path, { force: true });
    return true;
  } finally {
    await rm(guard, { force: true });
  }
}

/** Creates `path` holding `owner`; EEXIST when it is there already. */
async function createExclusive(path: string, owner: LockOwner): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(JSON.stringify(owner));
  } finally {
    await handle.close();
  }
}

function guardPath(lockPath: string): string {
  return `${lockPath}.takeover`;
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
  if (owner.host !== hostname()) return owner;
  return isProcessAlive(owner.pid) ? owner : 'stale';
}

/** Whether a process with this pid exists on this machine (EPERM: it exists but belongs to another user). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
