import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyModel } from '../helpers/tiny-model.js';
import { HubServer, type ServedFile } from './hub-server.js';
import { makeTempDir, removeDir } from './helpers.js';

/**
 * End to end: a real (tiny, synthetic) ONNX decoder with external data is published on the local Hub,
 * pulled by the CLI into the HF cache, and the snapshot (symlinks into blobs/) runs through `inspect`
 * and `bench`: external data must resolve next to the graph's link, not next to its blob.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPO = 'onnx-community/tiny-llama-synthetic';

let server: HubServer;
let work: string;

beforeAll(async () => {
  work = await makeTempDir('pulled-model');
  const model = await buildTinyModel({ arch: 'llama', dir: join(work, 'model') });
  const files: ServedFile[] = [];
  for (const rel of ['config.json', 'generation_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data']) {
    files.push({ path: rel, data: await readFile(join(model.outDir, rel)) });
  }
  server = await new HubServer().start();
  await server.addRepo(REPO, files);
});

afterAll(async () => {
  await server.stop();
  await removeDir(work);
});

const run = (args: string[]) => execa(process.execPath, ['bin/run.js', ...args], {
  cwd: ROOT,
  reject: false,
  env: { HF_ENDPOINT: server.endpoint, HF_HOME: join(work, 'hf'), HF_TOKEN: '', HF_HUB_OFFLINE: '' },
});

describe('a pulled synthetic model', () => {
  it('runs through inspect and bench', async () => {
    const pulled = await run(['pull', REPO, '--json']);
    expect(pulled.exitCode, String(pulled.stderr)).toBe(0);
    const result = JSON.parse(String(pulled.stdout));
    expect(result.variants).toEqual(['fp32']);
    expect(result.files.map((f: { path: string }) => f.path)).toContain('onnx/model.onnx_data');

    const inspected = await run(['inspect', result.path, '--json']);
    expect(inspected.exitCode, String(inspected.stderr)).toBe(0);
    const report = JSON.parse(String(inspected.stdout));
    expect(report.synthetic).toBe(true);
    expect(report.external_data.map((e: { location: string }) => e.location)).toEqual(['model.onnx_data']);

    const bench = await run(['bench', result.path, '--tests', 'tg4', '--repetitions', '1', '--warmup', '0', '--json']);
    expect(bench.exitCode, String(bench.stderr)).toBe(0);
    const benchReport = JSON.parse(String(bench.stdout));
    expect(benchReport.results[0].status).toBe('ok');
    expect(benchReport.results[0].model.files_sha256['onnx/model.onnx_data']).toBe(server.fileOf(REPO, 'onnx/model.onnx_data').lfs?.sha256);
  });
});
