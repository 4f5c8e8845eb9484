import { existsSync, readdirSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertSafeRepoPath, describeSnapshotPath, removeCachedModel, repoFolderName, repoFromFolderName, scanHubCache } from '../../src/hub/cache.js';
import { caught, makeTempDir, removeDir } from './helpers.js';

const COMMIT_A = 'a'.repeat(40);
const COMMIT_B = 'b'.repeat(40);
const SHA = 'c'.repeat(64);
const GIT = 'd'.repeat(40);

let cacheDir: string;

/** Lays out a model the way huggingface_hub does, with a file in a subfolder and a partial download. */
async function fakeModel(repo: string): Promise<string> {
  const dir = join(cacheDir, repoFolderName(repo));
  await mkdir(join(dir, 'blobs'), { recursive: true });
  await writeFile(join(dir, 'blobs', SHA), Buffer.alloc(1000));
  await writeFile(join(dir, 'blobs', GIT), Buffer.alloc(10));
  await writeFile(join(dir, 'blobs', `${'e'.repeat(64)}.incomplete`), Buffer.alloc(300));
  for (const commit of [COMMIT_A, COMMIT_B]) {
    await mkdir(join(dir, 'snapshots', commit, 'onnx'), { recursive: true });
    await symlink(join('..', '..', 'blobs', GIT), join(dir, 'snapshots', commit, 'config.json'));
  }
  await symlink(join('..', '..', '..', 'blobs', SHA), join(dir, 'snapshots', COMMIT_A, 'onnx', 'model.onnx'));
  await mkdir(join(dir, 'refs', 'refs', 'pr'), { recursive: true });
  await writeFile(join(dir, 'refs', 'main'), COMMIT_A);
  await writeFile(join(dir, 'refs', 'refs', 'pr', '1'), COMMIT_B);
  return dir;
}

beforeEach(async () => {
  cacheDir = await makeTempDir('cache-scan');
});

afterEach(async () => {
  await removeDir(cacheDir);
});

describe('cache layout', () => {
  it('maps repo ids to folder names and back', () => {
    expect(repoFolderName('org/name')).toBe('models--org--name');
    expect(repoFromFolderName('models--org--name')).toBe('org/name');
    expect(repoFromFolderName('models--gpt2')).toBe('gpt2');
    expect(repoFromFolderName('datasets--org--name')).toBeNull();
  });

  it('lists models with sizes, revisions, refs (subfolders included) and partial bytes', async () => {
    await fakeModel('org/name');
    await mkdir(join(cacheDir, 'datasets--org--data'));
    await mkdir(join(cacheDir, '.locks'));
    const listing = await scanHubCache(cacheDir);
    expect(listing.models).toHaveLength(1);
    const [model] = listing.models;
    expect(model).toMatchObject({ repo: 'org/name', sizeBytes: 1010, blobs: 2, incompleteBytes: 300 });
    expect(model?.revisions).toEqual([
      { commit: COMMIT_A, refs: ['main'], files: 2, sizeBytes: 1010, path: join(cacheDir, 'models--org--name', 'snapshots', COMMIT_A) },
      { commit: COMMIT_B, refs: ['refs/pr/1'], files: 1, sizeBytes: 10, path: join(cacheDir, 'models--org--name', 'snapshots', COMMIT_B) },
    ]);
    expect(listing.totalBytes).toBe(1310);
  });

  it('refuses repo paths that would leave the snapshot folder', () => {
    for (const bad of ['../evil', 'onnx/../../x', '/etc/passwd', 'a//b', 'a\\b', './x']) expect(() => assertSafeRepoPath(bad), bad).toThrow('refusing repo file path');
    expect(() => assertSafeRepoPath('onnx/model.onnx_data_1')).not.toThrow();
  });

  it('reports a missing cache folder as empty', async () => {
    const listing = await scanHubCache(join(cacheDir, 'nope'));
    expect(listing).toMatchObject({ exists: false, models: [], totalBytes: 0 });
  });

  it('removes a model and says when it is not there', async () => {
    const dir = await fakeModel('org/name');
    const removed = await removeCachedModel(cacheDir, 'org/name');
    expect(removed.sizeBytes).toBe(1010);
    expect(existsSync(dir)).toBe(false);
    const error = await caught(() => removeCachedModel(cacheDir, 'org/name'));
    expect(error.message).toContain('org/name is not in the cache');
  });

  it('finishes a removal that was killed midway when it removes the next model', async () => {
    // What `cache rm` leaves after kill -9: the model moved aside under a temporary name, half deleted.
    const killed = join(cacheDir, `.models--org--gone.tmp-${2 ** 22 + 7}-0011aabb`);
    // …and what earlier versions left.
    const killedEarlier = join(cacheDir, `.models--org--older.deleting-${2 ** 22 + 7}-0011aabb`);
    for (const dir of [killed, killedEarlier]) {
      await mkdir(join(dir, 'blobs'), { recursive: true });
      await writeFile(join(dir, 'blobs', SHA), Buffer.alloc(1000));
    }
    await fakeModel('org/name');
    await removeCachedModel(cacheDir, 'org/name');
    expect(existsSync(killed)).toBe(false);
    expect(existsSync(killedEarlier)).toBe(false);
    expect(readdirSync(cacheDir)).toEqual([]);
  });
});

describe('describeSnapshotPath', () => {
  it('names the repo and commit of a snapshot path', () => {
    expect(describeSnapshotPath(`/c/hub/models--org--name/snapshots/${COMMIT_A}/onnx/model.onnx`)).toEqual({ repo: 'org/name', commit: COMMIT_A });
    expect(describeSnapshotPath(`/c/hub/models--org--name/snapshots/${COMMIT_A}`)).toEqual({ repo: 'org/name', commit: COMMIT_A });
    expect(describeSnapshotPath('/models/qwen-synthetic/onnx/model.onnx')).toBeNull();
  });
});
