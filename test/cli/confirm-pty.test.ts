import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyInputs } from '../pipeline/helpers.js';
import { spawnCli } from '../wizard/pty.js';

/** `recommend --confirm` on a real terminal: each step with its prediction, and a bar with the time left. */
let dir: string;
let inputs: { catalogFile: string; treeFile: string };
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-confirm-pty-'));
  inputs = await writeTinyInputs(dir);
  // The pty helper passes this process's environment to the CLI: no network, caches in the temp dir.
  for (const [key, value] of Object.entries({ HF_HUB_OFFLINE: '1', XDG_CACHE_HOME: join(dir, 'cache'), MODELSCOUT_CALIBRATION: join(dir, 'calibration.json') })) {
    saved[key] = process.env[key];
    process.env[key] = value;
  }
});

afterAll(async () => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await rm(dir, { recursive: true, force: true });
});

describe('recommend --confirm on a terminal', () => {
  it('announces each step with the predicted seconds and draws a bar with an ETA while it runs', async () => {
    const args = ['recommend', '--tree', inputs.treeFile, '--catalog', inputs.catalogFile, '--context', '64', '--confirm', '--quick', '--candidates', '1', '--work-dir', join(dir, 'work'), '--out', join(dir, 'report.json')];
    const session = spawnCli(args, 120);
    await session.waitFor(/step 1\/2: building Tiny-\S+ \(predicted (\d+ s|< 1 s)\)/, 120_000);
    // The benchmark's bar: elapsed against the prediction, and the time left.
    await session.waitFor(/step 2\/\d+: benchmarking Tiny-\S+ (q4|fp32) pp64\+tg16 \(predicted \d+ s\)/, 120_000);
    await session.waitFor(/step 2\/\d+ \[[#-]+\]\s+\d+%\s+\d+ s of ≈ \d+ s\s+ETA \d+ s/, 120_000);
    expect(await session.exit).toBe(0);
    const text = session.text();
    expect(text).toMatch(/✓ Confirmed: /);
    // Every line and every redrawn frame fits the 120-column terminal.
    expect(session.frames().filter((line) => [...line].length > 120)).toEqual([]);
  }, 240_000);
});
