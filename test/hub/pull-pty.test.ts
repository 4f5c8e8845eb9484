import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, spawnCli } from '../wizard/pty.js';
import { fillerBytes } from './fixture-repo.js';
import { HubServer } from './hub-server.js';
import { makeTempDir, removeDir } from './helpers.js';

/** `pull` on a real terminal: one redrawn progress bar on stderr, and Ctrl-C typed as a user types it. */
const REPO = 'onnx-community/progress-test';
const SIZE = 8 * 1024 * 1024;

let server: HubServer;
let home: string;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  server = await new HubServer({ throttleBytesPerSec: 2 * 1024 * 1024 }).start();
  await server.addRepo(REPO, [
    { path: 'config.json', data: Buffer.from('{"model_type":"llama"}\n') },
    { path: 'onnx/model.onnx', data: fillerBytes('pty-graph', 20_000) },
    { path: 'onnx/model.onnx_data', data: fillerBytes('pty-data', SIZE) },
  ]);
  home = await makeTempDir('hf-pty');
  // The pty helper passes this process's environment to the CLI.
  for (const [key, value] of Object.entries({ HF_ENDPOINT: server.endpoint, HF_HOME: home, HF_TOKEN: '', HF_HUB_OFFLINE: '' })) {
    saved[key] = process.env[key];
    process.env[key] = value;
  }
});

afterAll(async () => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await server.stop();
  await removeDir(home);
});

describe('pull on a terminal', () => {
  it('draws one aggregate progress bar, and Ctrl-C exits 130 leaving a resumable partial file', async () => {
    const session = spawnCli(['pull', REPO, '--variant', 'fp32']);
    await session.waitFor(/files to download/);
    await session.waitFor(/\[#+-+\]\s+\d+%\s+[\d.]+ (KiB|MiB) \/ 8\.0 MiB/);
    // The progress module's bar: the rate and the time left at that rate (8 MiB at 2 MiB/s: a few seconds).
    await session.waitFor(/\[#+-+\]\s+\d+%\s+[\d.]+ (KiB|MiB) \/ 8\.0 MiB\s+[\d.]+ [kM]B\/s\s+ETA \d+ s\s+\d\/\d files/);
    session.type(KEYS.ctrlC);
    expect(await session.exit).toBe(130);
    const text = session.text();
    expect(text).toContain('Error: interrupted: partial downloads of onnx-community/progress-test are kept');
    expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
    const blobs = await readdir(join(home, 'hub', 'models--onnx-community--progress-test', 'blobs'));
    // The big file is certainly partial; the 20 KB graph file, downloaded in parallel, may or may not have
    // finished before Ctrl-C. Partials are kept for resuming, and nothing unverified is in a snapshot.
    const partial = blobs.filter((b) => b.endsWith('.incomplete'));
    expect(partial.length).toBeGreaterThanOrEqual(1);
    expect(partial.length).toBeLessThanOrEqual(2);
    const snapshots = await readdir(join(home, 'hub', 'models--onnx-community--progress-test', 'snapshots')).catch(() => []);
    expect(snapshots).toEqual([]);
  });
});
