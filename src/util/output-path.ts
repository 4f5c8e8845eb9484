import { constants } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ModelscoutError } from '../errors.js';

/**
 * Output locations are checked before any work (a benchmark, a download, a model build), so a bad
 * `--out` or `--cache-dir` costs nothing and reads as one line: which path, why, what to do.
 */

/** A file the command will write: not a folder, and in a folder that exists (or can be made) and is writable. */
export async function assertWritableFile(path: string, what: string): Promise<void> {
  const target = resolve(path);
  const info = await stat(target).catch(() => null);
  if (info?.isDirectory()) throw notWritable(what, path, 'is a folder', 'Pass a file path, e.g. DIR/report.json.');
  if (info && !info.isFile()) throw notWritable(what, path, 'is not a regular file', 'Pass the path of a regular file.');
  if (info) {
    await access(target, constants.W_OK).catch((error: unknown) => {
      throw notWritable(what, path, `is not writable (${reasonOf(error)})`, 'Pass a path you can write to.');
    });
    return;
  }
  await assertCreatable(dirname(target), what, path);
}

/** A folder the command will write into: a folder (or a path that can be created) that is writable. */
export async function assertWritableDir(path: string, what: string): Promise<void> {
  const target = resolve(path);
  const info = await stat(target).catch(() => null);
  if (info && !info.isDirectory()) throw notWritable(what, path, 'exists and is not a folder', 'Pass a folder path.');
  if (info) {
    await access(target, constants.W_OK | constants.X_OK).catch((error: unknown) => {
      throw notWritable(what, path, `is not writable (${reasonOf(error)})`, 'Pass a folder you can write to.');
    });
    return;
  }
  await assertCreatable(dirname(target), what, path);
}

/** The nearest existing ancestor must be a writable folder (the rest is created with mkdir -p). */
async function assertCreatable(parent: string, what: string, path: string): Promise<void> {
  let dir = parent;
  for (;;) {
    const info = await stat(dir).catch(() => null);
    if (info) {
      if (!info.isDirectory()) throw notWritable(what, path, `cannot be created: ${dir} is not a folder`, 'Pass a path under an existing folder.');
      await access(dir, constants.W_OK | constants.X_OK).catch((error: unknown) => {
        throw notWritable(what, path, `cannot be created in ${dir} (${reasonOf(error)})`, 'Pass a path you can write to.');
      });
      return;
    }
    const up = dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return typeof code === 'string' ? code : 'not writable';
}

function notWritable(what: string, path: string, reason: string, suggestion: string): ModelscoutError {
  return new ModelscoutError('E_FILE', `cannot write ${what} ${path}: it ${reason}`, { suggestions: [suggestion] });
}

/**
 * Refuses to start writing `bytes` under `path` when its file system has less free space (plus a margin
 * of 64 MiB + 1 %): the check runs before the first byte, not when the disk is full halfway through.
 */
export async function assertFreeSpace(path: string, bytes: number, what: string): Promise<void> {
  let dir = resolve(path);
  let info: Awaited<ReturnType<typeof statfs>> | null;
  for (;;) {
    info = await statfs(dir).catch(() => null);
    const up = dirname(dir);
    if (info || up === dir) break;
    dir = up;
  }
  if (!info) return;
  const free = Number(info.bavail) * Number(info.bsize);
  const needed = bytes + (64 << 20) + bytes / 100;
  if (needed > free) {
    throw new ModelscoutError('E_FILE', `${what} needs about ${formatGiB(bytes)} in ${dir}, which has ${formatGiB(free)} free; nothing was written`, {
      suggestions: ['Free space, pass --out on a larger disk, or build fewer layers (--layers N).'],
    });
  }
}

function formatGiB(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
