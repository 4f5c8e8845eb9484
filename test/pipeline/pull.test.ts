import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench } from '../../src/bench/index.js';
import { synthesizeModel } from '../../src/onnx/synth/index.js';
import { confirmRecommendation } from '../../src/pipeline/confirm.js';
import { probeHub } from '../../src/pipeline/obtain.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { HubServer, type ServedFile } from '../hub/hub-server.js';
import { makeTempDir, removeDir, settingsFor } from '../hub/helpers.js';
import { TINY_CATALOG, tinyRecommendation } from './helpers.js';

/**
 * When the Hub answers, a candidate with an ONNX export is pulled (int4 file only) and benchmarked as it
 * is — nothing synthesized or quantized; a candidate without one is synthesized beside it.
 */
const REPO = 'onnx-community/Tiny-A-ONNX';

let server: HubServer | undefined;
let work: string;

beforeAll(async () => {
  work = await makeTempDir('confirm-pull');
  // The published export: a tiny model's int4 variant (as onnx-community repos ship model_q4.onnx).
  const catalog = (await tinyRecommendation(join(work, 'setup'))).catalog;
  const built = await synthesizeModel({ source: 'tiny-llama-a', catalog, dtype: 'fp32', seed: 7, outDir: join(work, 'export') });
  await quantizeModel(built.outDir, { fidelity: false });
  const files: ServedFile[] = [];
  for (const rel of ['config.json', 'generation_config.json', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data']) {
    files.push({ path: rel, data: await readFile(join(built.outDir, rel)) });
  }
  server = await new HubServer().start();
  await server.addRepo(REPO, files);
});

afterAll(async () => {
  await server?.stop();
  await removeDir(work);
});

describe('confirm with a reachable Hub', () => {
  it('says the Hub is unreachable when nothing answers, and offline without asking', async () => {
    const settings = settingsFor('http://127.0.0.1:9', join(work, 'hf'));
    expect((await probeHub({ settings, fetch: globalThis.fetch, userAgent: 'test' })).reachable).toBe(false);
    const offline = await probeHub({ settings: { ...settings, offline: true }, fetch: () => Promise.reject(new Error('no request expected')), userAgent: 'test' });
    expect(offline).toMatchObject({ reachable: false, cacheOnly: true });
    expect(offline.reason).toMatch(/HF_HUB_OFFLINE/);
  });

  it('pulls the int4 export of a candidate that has one and synthesizes the others', async () => {
    const withExport = { models: TINY_CATALOG.models.map((m) => (m.id === 'tiny-llama-a' ? { ...m, onnxRepo: REPO } : m)) };
    const setup = await tinyRecommendation(join(work, 'run'), { contextTokens: 32 }, 4, withExport);
    const lines: string[] = [];
    const report = await confirmRecommendation(
      {
        recommendation: setup.recommendation,
        requirements: setup.requirements,
        catalog: setup.catalog,
        hardware: setup.hardware,
        mode: 'quick',
        candidates: 4,
        workDir: join(work, 'run', 'work'),
        calibrationPath: join(work, 'run', 'calibration.json'),
        tool: { name: 'modelscout', version: 'test' },
        argv: [],
      },
      {
        now: () => performance.now(),
        timestamp: () => new Date().toISOString(),
        hub: { settings: settingsFor(server!.endpoint, join(work, 'hf')), fetch: globalThis.fetch, userAgent: 'modelscout-test' },
        runBench,
        onProgress: (l) => lines.push(l),
      },
    );
    expect(report.hub.reachable, report.hub.reason).toBe(true);
    const pulled = report.candidates.find((c) => c.id === 'tiny-llama-a')!;
    expect(pulled.source).toMatchObject({ kind: 'pulled', repo: REPO });
    expect(pulled.source.paths[0]).toContain(join(work, 'hf'));
    // The published model carries the synthetic marker in its metadata: the report keeps saying so.
    expect(pulled.source.synthetic).toBe(true);
    expect(pulled.measurements.map((m) => [m.variant, m.status])).toEqual([['q4', 'ok']]);
    expect(pulled.verdict.status).toBe('confirmed');
    expect(lines.some((l) => /synthesizing tiny-llama-a/.test(l))).toBe(false);
    const others = report.candidates.filter((c) => c.id !== 'tiny-llama-a');
    expect(others.every((c) => c.source.kind === 'synthetic')).toBe(true);
  });
});
