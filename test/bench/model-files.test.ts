import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { locateModel } from '../../src/bench/model-files.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-model-files-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A model as `pull` leaves it: <cache>/models--owner--name/snapshots/<commit>/onnx/model.onnx. */
async function pulledSnapshot(): Promise<string> {
  const snapshot = join(dir, 'hub', 'models--onnx-community--SmolLM2-135M-Instruct', 'snapshots', 'a'.repeat(40));
  await mkdir(join(snapshot, 'onnx'), { recursive: true });
  await writeFile(join(snapshot, 'onnx', 'model.onnx'), '');
  await writeFile(join(snapshot, 'config.json'), '{}');
  return snapshot;
}

describe('locateModel labels', () => {
  it('a pulled snapshot is labelled by its Hub repo id, not the commit hash of its folder', async () => {
    const snapshot = await pulledSnapshot();
    expect((await locateModel(snapshot)).id).toBe('onnx-community/SmolLM2-135M-Instruct');
    expect((await locateModel(join(snapshot, 'onnx', 'model.onnx'))).id).toBe('onnx-community/SmolLM2-135M-Instruct');
  });

  it('any other folder keeps its name; a lone file in onnx/ takes the folder above', async () => {
    const folder = join(dir, 'my-model');
    await mkdir(join(folder, 'onnx'), { recursive: true });
    await writeFile(join(folder, 'onnx', 'model.onnx'), '');
    expect((await locateModel(folder)).id).toBe('my-model');
    expect((await locateModel(join(folder, 'onnx', 'model.onnx'))).id).toBe('my-model');
    // A folder named like a commit but outside a Hub cache stays as it is.
    const hashy = join(dir, 'snapshots', 'b'.repeat(40));
    await mkdir(hashy, { recursive: true });
    await writeFile(join(hashy, 'model.onnx'), '');
    expect((await locateModel(hashy)).id).toBe('b'.repeat(40));
  });
});
