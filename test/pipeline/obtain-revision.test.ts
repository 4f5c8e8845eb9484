/**
 * A cached synthetic model built by an earlier layout of the fused graph is rebuilt, not measured again:
 * the manifest beside it records the fused graph's revision.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/index.js';
import { FUSED_GRAPH_REVISION } from '../../src/onnx/fused/build-fused-decoder.js';
import { readModel } from '../../src/onnx/model-io.js';
import { buildSyntheticModel, type BuildRequest } from '../../src/pipeline/obtain.js';
import { writeTinyInputs } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('buildSyntheticModel and the fused graph revision', () => {
  it('reuses a model of the current revision and rebuilds one whose manifest predates it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ms-obtain-'));
    dirs.push(dir);
    const { catalogFile } = await writeTinyInputs(dir);
    const catalog = loadCatalog({ extraCatalogFile: catalogFile });
    const spec = catalog.find((s) => s.id === 'tiny-llama-d')!;
    const request: BuildRequest = {
      spec,
      catalog,
      layers: 2,
      seed: 1,
      workDir: join(dir, 'work'),
      needFloat: false,
      keepFloat: false,
      graph: 'fused',
      fidelity: false,
      threads: 1,
      producerVersion: 'test',
      now: () => performance.now(),
    };
    const first = await buildSyntheticModel(request);
    expect([first.synthesized, first.quantized]).toEqual([true, true]);
    const manifestPath = join(first.dir, 'modelscout-confirm.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
    expect(manifest.graphRevision).toBe(FUSED_GRAPH_REVISION);
    const ops = (await readModel(join(first.dir, 'onnx', 'model_q4.onnx'))).model.graph!.node.map((n) => n.op_type);
    expect(ops.filter((o) => o === 'Split')).toHaveLength(2);

    const again = await buildSyntheticModel(request);
    expect([again.synthesized, again.quantized]).toEqual([false, false]);

    // A manifest written before the revision was recorded: the model is built again.
    delete manifest.graphRevision;
    await writeFile(manifestPath, JSON.stringify(manifest));
    const rebuilt = await buildSyntheticModel(request);
    expect([rebuilt.synthesized, rebuilt.quantized]).toEqual([true, true]);
    expect((JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>).graphRevision).toBe(FUSED_GRAPH_REVISION);
  });
});
