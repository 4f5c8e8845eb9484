import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readModel, readTensorBytes, writeModel } from '../../src/onnx/model-io.js';
import { synthesizeModel } from '../../src/onnx/synth/index.js';
import { readModelscoutMetadata } from '../../src/onnx/metadata.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { GraphBuilder } from '../../src/onnx/graph-builder.js';
import { DataType } from '../../src/onnx/proto.js';
import { TINY_LLAMA, cli, expectOneLineError, leftovers, removeDir, snapshotTree, tempDir } from './helpers.js';


// CLI runs take seconds each on a loaded machine: generous per-test bounds (each run has its own timeout).
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
/**
 * Class 1 (synth --out never deletes what modelscout did not write) and class 4 (concurrent writers never
 * publish a mixed model, never lose a variant).
 */
let root: string;
let configPath: string;

beforeAll(async () => {
  root = await tempDir('publish');
  configPath = join(root, 'tiny-llama.json');
  await writeFile(configPath, JSON.stringify(TINY_LLAMA));
});
afterAll(async () => {
  expect(await leftovers(root)).toEqual([]);
  await removeDir(root);
});

describe('class 1: a user folder survives synth --out', () => {
  it('refuses a non-empty project folder, the current folder, a folder of other models and an existing file', async () => {
    const project = join(root, 'project');
    await mkdir(join(project, 'src'), { recursive: true });
    await writeFile(join(project, 'package.json'), '{"name":"mine"}\n');
    await writeFile(join(project, 'src', 'index.ts'), 'export {};\n');
    const models = join(project, 'models');
    await mkdir(join(models, 'other-model', 'onnx'), { recursive: true });
    await writeFile(join(models, 'other-model', 'onnx', 'model.onnx'), 'not really a model');
    const file = join(root, 'notes.txt');
    await writeFile(file, 'my notes\n');
    const before = await snapshotTree(project);

    expectOneLineError(await cli(['synth', configPath, '--layers', '1', '--out', project]), /refusing to write to .*project: it already holds 3 entries that modelscout did not write/);
    expectOneLineError(await cli(['synth', configPath, '--layers', '1', '--out', '.'], { cwd: project }), /refusing to write to .*project: it is the current folder/);
    expectOneLineError(await cli(['synth', configPath, '--layers', '1', '--out', 'models'], { cwd: project }), /refusing to write to .*models: it already holds 1 entry/);
    expectOneLineError(await cli(['synth', configPath, '--layers', '1', '--out', file]), /exists and is not a folder/);
    expect(await snapshotTree(project)).toEqual(before);
    expect(await readFile(file, 'utf8')).toBe('my notes\n');
  });

  it('replaces a folder it wrote itself, and an empty folder', async () => {
    const out = join(root, 'own');
    await mkdir(out);
    const first = await cli(['synth', configPath, '--layers', '1', '--out', out]);
    expect(first.exitCode, String(first.stderr)).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['.modelscout-output.json', 'config.json', 'generation_config.json', 'onnx']);
    const second = await cli(['synth', configPath, '--layers', '2', '--out', out]);
    expect(second.exitCode, String(second.stderr)).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')).num_hidden_layers).toBe(2);
  });
});

/** A one-initializer model whose bytes (all `fill`) and metadata tag say which writer wrote it. */
function taggedModel(tag: string) {
  const g = new GraphBuilder();
  const w = g.addInitializer('w', DataType.FLOAT, [64, 64], () => new Uint8Array(64 * 64 * 4));
  g.addInput('x', DataType.FLOAT, [1, 64]);
  g.addNode({ name: 'mm', op: 'MatMul', inputs: ['x', w], outputs: ['y'] });
  g.addOutput('y', DataType.FLOAT, [1, 64]);
  g.setMetadata({ tag });
  return g.build();
}

describe('class 4: concurrent writers', () => {
  it('two writers of one model file, 25 rounds: the graph always finds its own data', async () => {
    const path = join(root, 'race', 'model.onnx');
    for (let round = 0; round < 25; round += 1) {
      const a = taggedModel('A');
      const b = taggedModel('B');
      await Promise.all([
        writeModel(path, a.model, { tensorData: new Map([['w', new Uint8Array(64 * 64 * 4).fill(0xaa)]]) }),
        writeModel(path, b.model, { tensorData: new Map([['w', new Uint8Array(64 * 64 * 4).fill(0xbb)]]) }),
      ]);
      const loaded = await readModel(path);
      const tag = loaded.model.metadata_props.find((p) => p.key === 'tag')?.value;
      const bytes = await readTensorBytes(loaded, loaded.model.graph!.initializer[0]!);
      expect(bytes[0]).toBe(tag === 'A' ? 0xaa : 0xbb);
      expect(bytes[bytes.length - 1]).toBe(tag === 'A' ? 0xaa : 0xbb);
    }
  });

  it('synth fp32 and fp16 into one folder at once keeps both variants (5 rounds)', async () => {
    for (let round = 0; round < 5; round += 1) {
      const out = join(root, `variants-${round}`);
      await Promise.all([
        synthesizeModel({ source: configPath, dtype: 'fp32', layers: 1, seed: 3, outDir: out }),
        synthesizeModel({ source: configPath, dtype: 'fp16', layers: 1, seed: 3, outDir: out }),
      ]);
      expect((await readdir(join(out, 'onnx'))).sort()).toEqual(['model.onnx', 'model.onnx_data', 'model_fp16.onnx', 'model_fp16.onnx_data']);
    }
  });

  it('quantize block 32 and block 128 into one folder at once, 4 rounds: never one run\'s graph with the other\'s data', async () => {
    const model = join(root, 'q-model');
    await synthesizeModel({ source: configPath, dtype: 'fp32', layers: 2, seed: 1, outDir: model });
    // References: each block size alone, into its own folder (the quantizer is deterministic).
    const reference = new Map<number, Buffer>();
    for (const blockSize of [32, 128]) {
      const out = join(root, `q-ref-${blockSize}`);
      await quantizeModel(model, { blockSize, out, fidelity: false });
      reference.set(blockSize, await readFile(join(out, 'onnx', 'model_q4.onnx_data')));
    }
    for (let round = 0; round < 4; round += 1) {
      await Promise.all([quantizeModel(model, { blockSize: 32, fidelity: false }), quantizeModel(model, { blockSize: 128, fidelity: false })]);
      const published = await readModel(join(model, 'onnx', 'model_q4.onnx'));
      const blockSize = readModelscoutMetadata(published.model).quantization?.block_size as number;
      expect([32, 128]).toContain(blockSize);
      expect((await readFile(join(model, 'onnx', 'model_q4.onnx_data'))).equals(reference.get(blockSize)!)).toBe(true);
    }
    expect((await stat(join(model, 'onnx', 'model.onnx'))).isFile()).toBe(true);
  });

  it('synth waiting on a lock held from another machine says so, and names the file to remove', async () => {
    const out = join(root, 'shared-out');
    // A run on another host of a shared folder: this machine cannot check its pid, so it waits.
    const lock = join(root, '.shared-out.modelscout-lock');
    await writeFile(lock, JSON.stringify({ pid: 4242, host: 'gpu-node-7' }));
    const run = cli(['synth', configPath, '--layers', '1', '--out', out]);
    let stderr = '';
    run.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const deadline = Date.now() + 60_000;
    while (!stderr.includes('remove') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toContain(`Waiting for a modelscout run on gpu-node-7 (pid 4242) that is writing ${out}; this machine cannot tell whether it still runs: if it does not, remove ${lock}.`);
    // Nothing is written while it waits; removing the lock lets it go on.
    expect(await readdir(root)).not.toContain('shared-out');
    await rm(lock);
    const result = await run;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(await readdir(join(out, 'onnx'))).toContain('model.onnx');
  });
});
