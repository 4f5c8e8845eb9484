import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fixtureRepoFiles } from '../hub/fixture-repo.js';
import { HubServer } from '../hub/hub-server.js';
import { cli, expectOneLineError, leftovers, removeDir, tempDir } from './helpers.js';


// CLI runs take seconds each on a loaded machine: generous per-test bounds (each run has its own timeout).
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
/** Class 2: a hostile Hub or mirror cannot reach outside the cache through the blob names of its listing. */
const REPO = 'onnx-community/tiny-llama-test';
let server: HubServer;
let root: string;

beforeAll(async () => {
  server = await new HubServer().start();
  await server.addRepo(REPO, fixtureRepoFiles());
  root = await tempDir('hub');
});
afterAll(async () => {
  await server.stop();
  expect(await leftovers(root)).toEqual([]);
  await removeDir(root);
});

const env = (home: string): Record<string, string> => ({ HF_ENDPOINT: server.endpoint, HF_HOME: home, HF_TOKEN: '', HF_HUB_OFFLINE: '', HF_HUB_CACHE: '' });

describe('class 2: hostile listings', () => {
  const cases: [string, (victim: string) => string][] = [
    ['an lfs.oid that climbs out of the cache to an existing file', (victim) => `../../../../../../../..${victim}`],
    ['an lfs.oid naming a new path outside the cache', () => '../../../outside/new-blob'],
    ['an lfs.oid that is absolute', (victim) => victim],
    ['an lfs.oid with the right length but not hex', () => 'z'.repeat(64)],
  ];
  for (const [label, oidFor] of cases) {
    it(`refuses ${label}: one line, nothing linked, nothing written outside the cache`, async () => {
      const home = join(root, label.replace(/\W+/g, '-'));
      const victim = join(root, `victim-${label.length}.bin`);
      await writeFile(victim, 'the user file');
      server.treeEntryTransform = (entry) => (entry.lfs ? { ...entry, lfs: { ...(entry.lfs as object), oid: oidFor(victim) } } : entry);
      try {
        const result = await cli(['pull', REPO], { env: env(home) });
        expectOneLineError(result, /not a sha256 or git object id; refusing to use it as a cache file name/, 1);
      } finally {
        server.treeEntryTransform = undefined;
      }
      expect(await readFile(victim, 'utf8')).toBe('the user file');
      // Nothing beside the HF home and the victim appeared in the test root, nothing was linked into a snapshot.
      expect((await readdir(root)).filter((n) => n.startsWith('outside'))).toEqual([]);
      const snapshots = join(home, 'hub', `models--${REPO.replace('/', '--')}`, 'snapshots');
      const linked = await readdir(snapshots, { recursive: true }).catch((): string[] => []);
      expect(linked.filter((n) => String(n).endsWith('.onnx') || String(n).endsWith('.onnx_data'))).toEqual([]);
      await expect(stat(join(root, 'outside'))).rejects.toThrow();
    });
  }

  it('a git oid that is a path is refused the same way', async () => {
    const home = join(root, 'git-oid');
    server.treeEntryTransform = (entry) => (entry.lfs ? entry : { ...entry, oid: '../../../../escape' });
    try {
      expectOneLineError(await cli(['pull', REPO], { env: env(home) }), /not a sha256 or git object id/, 1);
    } finally {
      server.treeEntryTransform = undefined;
    }
  });

  it('the same pull against an honest listing succeeds (the check is not a blanket refusal)', async () => {
    const home = join(root, 'honest');
    const result = await cli(['pull', REPO, '--json'], { env: env(home) });
    expect(result.exitCode, String(result.stderr)).toBe(0);
  });
});
