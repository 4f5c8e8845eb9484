import { execFileSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { synthesizeModel } from '../../src/onnx/synth/index.js';
import { HubServer } from '../hub/hub-server.js';
import { writeTinyInputs } from '../pipeline/helpers.js';
import { TINY_LLAMA, cli, leftovers, removeDir, tempDir } from './helpers.js';


// CLI runs take seconds each on a loaded machine: generous per-test bounds (each run has its own timeout).
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
/**
 * Class 8: interrupts. SIGINT/SIGTERM clean up and exit 130/143 (killing the bench child); kill -9 at
 * random points leaves temporary files that the next run writing there removes (bounded rounds).
 */
let root: string;
let mediumConfig: string;
let medium: string;

/** ~60 M parameters (240 MB fp32): long enough to be interrupted, short enough for CI. */
const MEDIUM = { ...TINY_LLAMA, hidden_size: 512, intermediate_size: 1536, num_attention_heads: 8, num_key_value_heads: 2, num_hidden_layers: 8, vocab_size: 32000, max_position_embeddings: 512 };

beforeAll(async () => {
  root = await tempDir('interrupt');
  mediumConfig = join(root, 'medium.json');
  await writeFile(mediumConfig, JSON.stringify(MEDIUM));
  medium = join(root, 'medium');
  await synthesizeModel({ source: mediumConfig, dtype: 'fp32', seed: 1, outDir: medium });
}, 180_000);
afterAll(async () => {
  expect(await leftovers(root)).toEqual([]);
  await removeDir(root);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `probe` holds (polling), at most `ms`. */
async function until(probe: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return true;
    await sleep(50);
  }
  return false;
}

const tempEntries = async (dir: string): Promise<string[]> => (await readdir(dir).catch((): string[] => [])).filter((n) => /\.tmp-\d+[.-]/.test(n));

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('class 8: SIGINT / SIGTERM', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`quantize: ${signal} while writing removes its temporary files and exits ${signal === 'SIGINT' ? 130 : 143}`, async () => {
      const run = cli(['quantize', medium, '--no-fidelity']);
      const onnx = join(medium, 'onnx');
      expect(await until(async () => (await tempEntries(onnx)).length > 0, 60_000)).toBe(true);
      run.kill(signal);
      const result = await run;
      expect(result.exitCode, String(result.stderr)).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(String(result.stderr)).toMatch(/^Error: interrupted/m);
      expect(await tempEntries(onnx)).toEqual([]);
      expect(await readdir(onnx)).not.toContain('model_q4.onnx');
    });
  }

  it('bench: SIGINT (as a CI supervisor sends it to the parent only) kills its worker and exits 130', async () => {
    const run = cli(['bench', medium, '--tests', 'tg64', '--repetitions', '50', '--warmup', '0']);
    let workers: number[] = [];
    expect(await until(() => (workers = childrenOf(run.pid!)).length > 0, 60_000)).toBe(true);
    await sleep(500);
    process.kill(run.pid!, 'SIGINT');
    const result = await run;
    expect(result.exitCode, String(result.stderr)).toBe(130);
    expect(await until(() => workers.every((w) => !alive(w)), 5_000)).toBe(true);
  });
});

describe('class 8: kill -9 at random points, then a clean rerun leaves nothing behind', () => {
  it('synth (3 rounds)', async () => {
    const out = join(root, 'synth-killed');
    for (let round = 0; round < 3; round += 1) {
      const run = cli(['synth', mediumConfig, '--seed', String(round), '--out', out]);
      await until(async () => (await tempEntries(root)).length > 0, 60_000);
      await sleep(100 + Math.floor(Math.random() * 900));
      run.kill('SIGKILL');
      await run;
      const rerun = await cli(['synth', mediumConfig, '--seed', String(round), '--out', out]);
      expect(rerun.exitCode, String(rerun.stderr)).toBe(0);
      expect(await leftovers(root)).toEqual([]);
    }
  }, 300_000);

  it('quantize (2 rounds)', async () => {
    for (let round = 0; round < 2; round += 1) {
      const run = cli(['quantize', medium, '--no-fidelity', '--block-size', '64']);
      await until(async () => (await tempEntries(join(medium, 'onnx'))).length > 0, 60_000);
      await sleep(Math.floor(Math.random() * 400));
      run.kill('SIGKILL');
      await run;
      const rerun = await cli(['quantize', medium, '--no-fidelity', '--block-size', '64']);
      expect(rerun.exitCode, String(rerun.stderr)).toBe(0);
      expect(await leftovers(root)).toEqual([]);
    }
  }, 300_000);

  it('pull (2 rounds): the killed download resumes and the stale lock is taken over', async () => {
    const server = await new HubServer().start();
    try {
      const repo = 'onnx-community/kill-test';
      await server.addRepo(repo, [
        { path: 'config.json', data: Buffer.from('{"model_type":"llama"}\n') },
        { path: 'onnx/model.onnx', data: Buffer.alloc(5000, 1) },
        { path: 'onnx/model.onnx_data', data: Buffer.alloc(4 << 20, 2) },
      ]);
      server.throttleBytesPerSec = 2 << 20;
      for (let round = 0; round < 2; round += 1) {
        const home = join(root, `hf-${round}`);
        const env = { HF_ENDPOINT: server.endpoint, HF_HOME: home, HF_TOKEN: '', HF_HUB_OFFLINE: '', HF_HUB_CACHE: '' };
        const run = cli(['pull', repo], { env });
        await sleep(1200 + Math.floor(Math.random() * 600));
        run.kill('SIGKILL');
        await run;
        server.throttleBytesPerSec = undefined;
        const rerun = await cli(['pull', repo], { env });
        server.throttleBytesPerSec = 2 << 20;
        expect(rerun.exitCode, String(rerun.stderr)).toBe(0);
        expect(await leftovers(home)).toEqual([]);
      }
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('recommend --confirm (2 rounds), and two confirms sharing one work dir both succeed', async () => {
    const dir = join(root, 'confirm');
    const inputs = await writeTinyInputs(dir);
    const env = { HF_HUB_OFFLINE: '1', XDG_CACHE_HOME: join(dir, 'cache'), MODELSCOUT_CALIBRATION: join(dir, 'calibration.json') };
    const work = join(dir, 'work');
    const args = (out: string): string[] => ['recommend', '--tree', inputs.treeFile, '--catalog', inputs.catalogFile, '--context', '64', '--confirm', '--quick', '--candidates', '1', '--work-dir', work, '--out', join(dir, out)];
    for (let round = 0; round < 2; round += 1) {
      const run = cli(args(`killed-${round}.json`), { env });
      await sleep(1500 + Math.floor(Math.random() * 2500));
      run.kill('SIGKILL');
      await run;
      // Remove what the killed run built, so the rerun writes (and sweeps) the same folders again.
      if (round === 0) await removeDir(work);
      const rerun = await cli(args(`rerun-${round}.json`), { env });
      expect(rerun.exitCode, String(rerun.stderr)).not.toBe(2);
      expect(String(rerun.stderr)).not.toMatch(/unexpected failure|\n\s+at .+:\d+:\d+/);
      expect(await leftovers(dir)).toEqual([]);
    }
    const [a, b] = await Promise.all([cli(args('a.json'), { env }), cli(args('b.json'), { env })]);
    for (const r of [a, b]) {
      expect(String(r.stderr)).not.toMatch(/unexpected failure|\n\s+at .+:\d+:\d+/);
      expect(r.exitCode, String(r.stderr)).toBe(rerunExit(r));
    }
    expect(await leftovers(dir)).toEqual([]);
  }, 400_000);
});

/** A confirm that measured exits 0 (all confirmed) or 1 (a candidate rejected); never 2 or a crash. */
function rerunExit(result: { exitCode?: number | undefined }): number {
  return result.exitCode === 1 ? 1 : 0;
}

