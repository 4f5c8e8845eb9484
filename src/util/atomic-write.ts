import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Atomic file output: everything is written to a temporary sibling and renamed into place, so a crash or
 * Ctrl-C never leaves a half-written model or report (rename is atomic within one file system).
 */
export function temporarySibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
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

/**
 * Builds a directory atomically: `build` fills a temporary sibling directory, which is renamed to
 * `path` only when `build` resolves. An existing `path` is replaced only after the new one is complete.
 */
export async function writeDirectoryAtomic<T>(path: string, build: (tmpDir: string) => Promise<T>): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = temporarySibling(path);
  await mkdir(tmp, { recursive: true });
  try {
    const result = await build(tmp);
    const old = `${tmp}.old`;
    let hadOld = false;
    try {
      await rename(path, old);
      hadOld = true;
    } catch {
      // No previous output: nothing to move aside.
    }
    await rename(tmp, path);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return result;
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

