import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isModelscoutError } from '../../src/errors.js';
import { floatModelFile, openModelFolder, pickModelFile, readModelConfig, variantOfFile } from '../../src/onnx/model-folder.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-model-folder-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function touch(path: string, text = ''): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

/** A model as `pull` leaves it: <cache>/models--owner--name/snapshots/<commit>/onnx/model.onnx. */
async function pulledSnapshot(): Promise<string> {
  const snapshot = join(dir, 'hub', 'models--onnx-community--SmolLM2-135M-Instruct', 'snapshots', 'a'.repeat(40));
  await touch(join(snapshot, 'onnx', 'model.onnx'));
  await touch(join(snapshot, 'config.json'), '{}');
  return snapshot;
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string; suggestions: string[] }> {
  try {
    await promise;
  } catch (error) {
    if (isModelscoutError(error)) return { code: error.code, message: error.message, suggestions: error.suggestions };
    throw error;
  }
  throw new Error('expected a rejection');
}

function thrown(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (error) {
    if (isModelscoutError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a throw');
}

describe('variantOfFile', () => {
  it('follows the transformers.js file names', () => {
    expect(variantOfFile('model.onnx')).toEqual({ dtype: 'fp32', variant: 'fp32' });
    expect(variantOfFile('onnx/model_fp16.onnx')).toEqual({ dtype: 'fp16', variant: 'fp16' });
    expect(variantOfFile('model_q4f16.onnx')).toEqual({ dtype: 'q4f16', variant: 'q4f16' });
    expect(variantOfFile('model_quantized.onnx')).toEqual({ dtype: 'q8', variant: 'int8' });
    expect(variantOfFile('decoder_model_merged_q4.onnx')).toEqual({ dtype: 'q4', variant: 'q4' });
    expect(variantOfFile('decoder_model_merged.onnx')).toEqual({ dtype: 'fp32', variant: 'fp32' });
    expect(variantOfFile('tiny_int4.onnx')).toEqual({ dtype: 'int4', variant: 'q4' });
    expect(variantOfFile('model_bnb4.onnx')).toEqual({ dtype: 'bnb4', variant: null });
    expect(variantOfFile('model_custom.onnx')).toEqual({ dtype: 'custom', variant: null });
    expect(variantOfFile('/x/tiny.onnx')).toEqual({ dtype: 'tiny', variant: null });
  });
});

describe('openModelFolder', () => {
  it('a transformers.js folder: every .onnx in onnx/, the variants by their file names, config.json', async () => {
    const folder = join(dir, 'my-model');
    for (const f of ['model.onnx', 'model_q4.onnx', 'model_quantized.onnx', 'model.onnx_data']) await touch(join(folder, 'onnx', f));
    await touch(join(folder, 'config.json'), '{}');
    const m = await openModelFolder(folder);
    expect(m).toMatchObject({ ref: folder, path: folder, folder, lone: false, id: 'my-model', configPath: join(folder, 'config.json') });
    expect(m.onnxFiles.map((f) => [f.file, f.dtype])).toEqual([
      [join(folder, 'onnx', 'model.onnx'), 'fp32'],
      [join(folder, 'onnx', 'model_q4.onnx'), 'q4'],
      [join(folder, 'onnx', 'model_quantized.onnx'), 'q8'],
    ]);
    // Only the transformers.js file of a variant is measured as it.
    expect(m.files).toEqual({ fp32: join(folder, 'onnx', 'model.onnx'), q4: join(folder, 'onnx', 'model_q4.onnx') });
  });

  it('.onnx files at the folder root, and onnx/ winning over the root on the same name', async () => {
    const flat = join(dir, 'flat');
    await touch(join(flat, 'model_fp16.onnx'));
    const m = await openModelFolder(flat);
    expect(m.files).toEqual({ fp16: join(flat, 'model_fp16.onnx') });
    expect(m.configPath).toBeNull();

    // quantize writes onnx/model_q4.onnx next to a root model.onnx: both stay visible.
    await touch(join(flat, 'onnx', 'model_fp16.onnx'));
    await touch(join(flat, 'onnx', 'model_q4.onnx'));
    const both = await openModelFolder(flat);
    expect(both.files).toEqual({ fp16: join(flat, 'onnx', 'model_fp16.onnx'), q4: join(flat, 'onnx', 'model_q4.onnx') });
  });

  it('a lone .onnx file: its own variant, the folder above onnx/, config.json next to it or one up', async () => {
    const folder = join(dir, 'my-model');
    const file = await touch(join(folder, 'onnx', 'model_fp16.onnx'));
    await touch(join(folder, 'config.json'), '{}');
    const m = await openModelFolder(file);
    expect(m).toMatchObject({ path: file, folder, lone: true, id: 'my-model', files: { fp16: file }, configPath: join(folder, 'config.json') });
    // A name that says nothing is provisionally fp32; the file name is the id outside onnx/.
    const other = await touch(join(dir, 'elsewhere', 'tiny.onnx'));
    expect(await openModelFolder(other)).toMatchObject({ id: 'tiny', folder: join(dir, 'elsewhere'), files: { fp32: other }, configPath: null });
  });

  it('a pulled snapshot is labelled by its Hub repo id, not the commit hash of its folder', async () => {
    const snapshot = await pulledSnapshot();
    expect((await openModelFolder(snapshot)).id).toBe('onnx-community/SmolLM2-135M-Instruct');
    expect((await openModelFolder(join(snapshot, 'onnx', 'model.onnx'))).id).toBe('onnx-community/SmolLM2-135M-Instruct');
    // A folder named like a commit but outside a Hub cache stays as it is.
    const hashy = join(dir, 'snapshots', 'b'.repeat(40));
    await touch(join(hashy, 'model.onnx'));
    expect((await openModelFolder(hashy)).id).toBe('b'.repeat(40));
  });

  it('a missing path, a folder without .onnx files and a file that is not .onnx: one error each, saying what to pass', async () => {
    const missing = await rejection(openModelFolder(join(dir, 'nope')));
    expect(missing.code).toBe('E_NOT_FOUND');
    expect(missing.message).toBe(`model ${join(dir, 'nope')} not found`);
    expect(missing.suggestions[0]).toMatch(/Pass a model folder .* or an \.onnx file; `modelscout synth` or `modelscout pull` create one\./);

    const empty = join(dir, 'empty');
    await touch(join(empty, 'onnx', 'model.onnx_data'));
    await touch(join(empty, 'config.json'), '{}');
    const none = await rejection(openModelFolder(empty));
    expect(none.code).toBe('E_NOT_FOUND');
    expect(none.message).toBe(`model folder ${empty} has no .onnx file (looked in ${join(empty, 'onnx')} and ${empty})`);
    expect(none.suggestions).toHaveLength(1);

    const text = await rejection(openModelFolder(join(empty, 'config.json')));
    expect(text.code).toBe('E_INPUT');
    expect(text.message).toBe(`model ${join(empty, 'config.json')} is not a model folder or an .onnx file`);
    expect(text.suggestions).toHaveLength(1);
  });
});

describe('choosing a file', () => {
  it('pickModelFile: the named dtype or file, else fp32, else the only one; several and no choice asks for --variant', async () => {
    const multi = join(dir, 'multi');
    await touch(join(multi, 'onnx', 'model_fp16.onnx'));
    await touch(join(multi, 'onnx', 'model_q4.onnx'));
    const m = await openModelFolder(multi);
    expect(pickModelFile(m, 'q4').file).toBe(join(multi, 'onnx', 'model_q4.onnx'));
    expect(pickModelFile(m, 'model_fp16.onnx').file).toBe(join(multi, 'onnx', 'model_fp16.onnx'));
    expect(thrown(() => pickModelFile(m))).toEqual({ code: 'E_USAGE', message: `model ${multi} holds several models (fp16, q4): choose one with --variant` });
    expect(thrown(() => pickModelFile(m, 'int8'))).toEqual({ code: 'E_INPUT', message: `model ${multi} has no int8 variant (model_int8.onnx); it has fp16, q4` });
    await touch(join(multi, 'onnx', 'model.onnx'));
    expect(pickModelFile(await openModelFolder(multi)).file).toBe(join(multi, 'onnx', 'model.onnx'));
  });

  it('floatModelFile: fp32, else fp16, else decoder_model_merged; a folder with none says what it has', async () => {
    const folder = join(dir, 'float');
    await touch(join(folder, 'onnx', 'model_q4.onnx'));
    const quantizedOnly = await openModelFolder(folder);
    expect(thrown(() => floatModelFile(quantizedOnly))).toEqual({
      code: 'E_INPUT',
      message: `model ${folder} has no float model (looked for model.onnx, model_fp16.onnx, decoder_model_merged.onnx); it has model_q4.onnx`,
    });
    await touch(join(folder, 'decoder_model_merged.onnx'));
    expect(floatModelFile(await openModelFolder(folder))).toBe(join(folder, 'decoder_model_merged.onnx'));
    await touch(join(folder, 'onnx', 'model_fp16.onnx'));
    expect(floatModelFile(await openModelFolder(folder))).toBe(join(folder, 'onnx', 'model_fp16.onnx'));
    await touch(join(folder, 'model.onnx'));
    expect(floatModelFile(await openModelFolder(folder))).toBe(join(folder, 'model.onnx'));
    // A file named is the file used, whatever it holds.
    expect(floatModelFile(await openModelFolder(join(folder, 'onnx', 'model_q4.onnx')))).toBe(join(folder, 'onnx', 'model_q4.onnx'));
  });
});

describe('readModelConfig', () => {
  it('no config, a malformed one and one the catalog cannot read are not errors', async () => {
    expect(await readModelConfig(null)).toEqual({ spec: null, config: null });
    expect(await readModelConfig(await touch(join(dir, 'bad.json'), '{'))).toEqual({ spec: null, config: null });
    expect(await readModelConfig(await touch(join(dir, 'odd.json'), '{"model_type":"unknown-thing"}'))).toEqual({ spec: null, config: { model_type: 'unknown-thing' } });
  });
});
