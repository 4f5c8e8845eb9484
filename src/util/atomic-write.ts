import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { ModelscoutError } from '../errors.js';
import { isProcessAlive, withFileLock, type AcquireOptions } from './file-lock.js';

/**
 * Atomic file output: everything is written to a temporary sibling and renamed into place, so a crash or
 * Ctrl-C never leaves a half-written model or report (rename is atomic within one file system).
 *
 * Temporary siblings carry the writer's pid and a tag of its host (`.<name>.tmp-<pid>.<host tag>-<hex>`): a
 * run killed with SIGKILL cannot clean up after itself, so every writer first sweeps the folder it writes
 * into and removes the temporary entries of processes of this host that no longer exist
 * (`sweepStaleTemps`). The host tag keeps a sweep off another machine's entries in a shared folder, where
 * this machine cannot tell whether their process still runs (the same rule as the locks, file-lock.ts).
 */
export function temporarySibling(path: string, kind: 'tmp' | 'link' = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${kind}-${process.pid}.${HOST_TAG}-${randomBytes(4).toString('hex')}`);
}

/** Six hex digits of this host's name: enough to tell the machines sharing a folder apart. */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 6);

/**
 * Names of temporary entries this project creates: `.<name>.tmp-<pid>.<host tag>-<8 hex>` (+ `.old`) and
 * `.<name>.link-…`; entries without a host tag come from earlier versions and are taken as this host's
 * (so are their `cache rm` folders, `.<name>.deleting-<pid>-<8 hex>`).
 */
const TEMP_ENTRY = /^\..+\.(?:tmp|link|deleting)-(\d+)(?:\.([0-9a-f]{6}))?-[0-9a-f]{8}(?:\.old)?$/;

/**
 * Removes the temporary entries in `dir` left by this host's processes that no longer exist (kill -9, power
 * loss). Entries of live processes (another run writing right now) and of other hosts are left alone.
 * Returns the names removed.
 */
export async function sweepStaleTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_ENTRY.exec(name);
    if (!match || (match[2] !== undefined && match[2] !== HOST_TAG) || isProcessAlive(Number(match[1]))) continue;
    await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await sweepStaleTemps(dirname(path));
  const tmp = temporarySibling(path);
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** The lock file that serializes writers of one output path (a sibling, so the path itself may not exist yet). */
export function outputLockPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.modelscout-lock`);
}

/** Runs `fn` while this process is the only modelscout writer of `path` (other writers wait). */
export function withOutputLock<T>(path: string, fn: () => Promise<T>, options: AcquireOptions = {}): Promise<T> {
  const target = resolve(path);
  const { onWait } = options;
  return withFileLock(outputLockPath(target), fn, onWait ? { ...options, onWait: (wait) => onWait({ ...wait, target }) } : options);
}

/** The file that marks a folder as published by modelscout (and so safe for modelscout to replace). */
export const OUTPUT_MANIFEST = '.modelscout-output.json';

/** A publish target that holds something modelscout did not write: one line, exit 2, nothing changed. */
export function outputRefused(target: string, reason: string): ModelscoutError {
  return new ModelscoutError('E_FILE', `refusing to write to ${target}: it ${reason}; nothing was changed`, {
    suggestions: ['Pass a new or empty folder as the output (--out DIR), or remove that folder yourself if you mean to replace it.'],
  });
}

export interface PublishOptions extends AcquireOptions {
  /** What the folder holds (recorded in its manifest), e.g. `synth`. */
  kind: string;
  /** Recognizes folders written by earlier versions (before manifests) as replaceable. */
  isOwnFolder?: (dir: string) => Promise<boolean>;
  /** Folders that must never be replaced, nor any folder holding them (default: the working directory). */
  protectedPaths?: readonly string[];
}

/**
 * Publishes a folder as one unit, and never deletes what modelscout did not create:
 * - the target is locked, so concurrent writers of one folder run one after the other (each sees the
 *   previous one's result, see `build`'s `current` argument);
 * - a target that exists must be an empty folder or one modelscout published (its manifest, or
 *   `isOwnFolder`); anything else (a file, a project folder, a folder of other models) is refused
 *   (E_FILE, exit 2) before any work;
 * - `build` fills a fresh temporary sibling folder; when it resolves, the manifest is written and the
 *   folder is swapped in by renames (the old folder is removed only after the new one is in place).
 */
export async function publishDirectory<T>(path: string, options: PublishOptions, build: (tmpDir: string, current: string | null) => Promise<T>): Promise<T> {
  const target = resolve(path);
  for (const guarded of options.protectedPaths ?? [process.cwd()]) {
    const rel = relative(target, resolve(guarded));
    if (rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith('/'))) {
      throw outputRefused(target, rel === '' ? 'is the current folder (replacing it would delete its files)' : `holds ${guarded} (replacing it would delete its files)`);
    }
  }
  const interrupted = (): ModelscoutError => new ModelscoutError('E_INTERRUPTED', `interrupted: ${target} was left as it was`);
  if (options.signal?.aborted) throw interrupted();
  await mkdir(dirname(target), { recursive: true });
  return withOutputLock(
    target,
    async () => {
      await sweepStaleTemps(dirname(target));
      const current = await checkReplaceable(target, options);
      const tmp = temporarySibling(target);
      await mkdir(tmp, { recursive: true });
      try {
        const result = await build(tmp, current);
        await writeFile(join(tmp, OUTPUT_MANIFEST), `${JSON.stringify({ tool: 'modelscout', kind: options.kind, published: new Date().toISOString() }, null, 2)}\n`);
        const old = `${tmp}.old`;
        let hadOld = false;
        try {
          await rename(target, old);
          hadOld = true;
        } catch {
          // No previous output: nothing to move aside.
        }
        await rename(tmp, target);
        if (hadOld) await rm(old, { recursive: true, force: true });
        return result;
      } catch (error) {
        await rm(tmp, { recursive: true, force: true });
        throw error;
      }
    },
    options,
  ).catch((error: unknown) => {
    throw options.signal?.aborted && !(error instanceof ModelscoutError) ? interrupted() : error;
  });
}

/** The existing folder that may be replaced, null when there is none; throws E_FILE otherwise. */
async function checkReplaceable(target: string, options: PublishOptions): Promise<string | null> {
  let info;
  try {
    info = await lstat(target);
  } catch {
    return null;
  }
  if (info.isSymbolicLink()) throw outputRefused(target, 'is a symbolic link (pass the folder itself)');
  if (!info.isDirectory()) throw outputRefused(target, 'exists and is not a folder');
  const entries = await readdir(target);
  if (entries.length === 0) return null;
  if (entries.includes(OUTPUT_MANIFEST)) return target;
  if (options.isOwnFolder && (await options.isOwnFolder(target))) return target;
  throw outputRefused(target, `already holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} that modelscout did not write`);
}
