import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModel } from '../../src/onnx/model-io.js';
import { encodeModel } from '../../src/onnx/proto.js';
import { TINY_CONFIGS } from '../helpers/tiny-model.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[]) {
  return execa('node', ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
}

let dir: string;
let configPath: string;
let modelDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-onnx-cli-'));
  configPath = join(dir, 'qwen2-tiny', 'config.json');
  await mkdir(join(dir, 'qwen2-tiny'));
  await writeFile(configPath, JSON.stringify(TINY_CONFIGS.qwen2));
  modelDir = join(dir, 'model');
  const result = await run(['synth', configPath, '--layers', '3', '--seed', '5', '--out', modelDir, '--json']);
  expect(result.exitCode, String(result.stderr)).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Exit 2, one "Error:" line that matches, no stack trace. */
function expectInputError(result: Awaited<ReturnType<typeof run>>, pattern: RegExp): void {
  expect(result.exitCode).toBe(2);
  const lines = String(result.stderr).split('\n').filter(Boolean);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(pattern);
  expect(lines.slice(1).every((l) => l.startsWith('  Try this: '))).toBe(true);
  expect(String(result.stderr)).not.toMatch(/\n\s+at /);
}

describe('modelscout synth', () => {
  it('builds a model folder and reports it as JSON', async () => {
    const again = await run(['synth', configPath, '--layers', '3', '--seed', '5', '--out', join(dir, 'again'), '--json']);
    expect(again.exitCode).toBe(0);
    const data = JSON.parse(String(again.stdout)) as Record<string, unknown>;
    expect(data).toMatchObject({ id: 'qwen2-tiny', layers_built: 3, layers_full: 4, dtype: 'fp32', seed: 5, kept_files: [], schema_version: '1', kind: 'modelscout.synthesis' });
    expect((await readdir(join(dir, 'again', 'onnx'))).sort()).toEqual(['model.onnx', 'model.onnx_data']);
    expect((await readFile(join(dir, 'again', 'onnx', 'model.onnx_data'))).equals(await readFile(join(modelDir, 'onnx', 'model.onnx_data')))).toBe(true);
  });

  it('keeps the other variant when the fp16 model joins the same folder', async () => {
    const result = await run(['synth', configPath, '--layers', '3', '--seed', '5', '--out', modelDir, '--dtype', 'fp16']);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(String(result.stdout)).toMatch(/Synthesized qwen2-tiny: 3 of 4 layers, fp16, seed 5/);
    expect(String(result.stdout)).toMatch(/kept: onnx\/model\.onnx, onnx\/model\.onnx_data/);
    expect((await readdir(join(modelDir, 'onnx'))).sort()).toEqual(['model.onnx', 'model.onnx_data', 'model_fp16.onnx', 'model_fp16.onnx_data']);
    const config = JSON.parse(await readFile(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config['transformers.js_config']).toEqual({ use_external_data_format: { 'model.onnx': true, 'model_fp16.onnx': true } });
  });

  it('rejects a config.json with missing keys, an unknown id and an unsupported architecture, writing nothing', async () => {
    const bad = join(dir, 'bad.json');
    const config: Record<string, unknown> = { ...TINY_CONFIGS.llama };
    delete config.num_attention_heads;
    await writeFile(bad, JSON.stringify(config));
    const out = join(dir, 'bad-out');
    expectInputError(await run(['synth', bad, '--out', out]), /bad\.json: invalid llama config: missing num_attention_heads/);
    await expect(stat(out)).rejects.toThrow();
    expectInputError(await run(['synth', 'no-such-model-xyz', '--out', out]), /unknown model "no-such-model-xyz"/);
    expectInputError(await run(['synth', 'gemma-2-2b', '--out', out]), /cannot synthesize gemma-2-2b \(gemma2\): the builder lacks Gemma 2's extra/);
    expectInputError(await run(['synth', configPath, '--layers', '9', '--out', out]), /invalid --layers 9: qwen2-tiny has 4 layers/);
    await expect(stat(out)).rejects.toThrow();
  });
});

describe('modelscout inspect', () => {
  it('reports the decoder layout, KV bytes per token and the synthetic marker', async () => {
    const result = await run(['inspect', modelDir, '--json']);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const report = JSON.parse(String(result.stdout)) as {
      schema_version: string;
      kind: string;
      file: string;
      variants: { variant: string }[];
      synthetic: boolean;
      decoder: { num_layers: number; num_kv_heads: number; head_dim: number; kv_bytes_per_token: number; kv_bytes_per_token_fp16: number; kv_dtype: string };
      weight_format: { kind: string };
      inputs: { name: string; dtype: string; shape: (string | number)[] }[];
      opsets: { domain: string; version: number }[];
      ops: { op: string; count: number }[];
      by_dtype: { dtype: string; parameters: number }[];
      metadata: { seed: number; num_layers_built: number };
    };
    expect(report).toMatchObject({ schema_version: '1', kind: 'modelscout.inspection' });
    expect(report.file).toBe(join(modelDir, 'onnx', 'model.onnx'));
    expect(report.variants.map((v) => v.variant)).toEqual(['fp32', 'fp16']);
    expect(report.synthetic).toBe(true);
    expect(report.metadata).toMatchObject({ seed: 5, num_layers_built: 3 });
    // 2 (K and V) × 3 layers × 2 KV heads × head dim 16 × 4 bytes.
    expect(report.decoder).toMatchObject({ num_layers: 3, num_kv_heads: 2, head_dim: 16, kv_dtype: 'float32', kv_bytes_per_token: 768, kv_bytes_per_token_fp16: 384 });
    expect(report.weight_format.kind).toBe('fp32');
    expect(report.inputs[0]).toEqual({ name: 'input_ids', dtype: 'int64', shape: ['batch_size', 'sequence_length'] });
    expect(report.opsets).toEqual([{ domain: 'ai.onnx', version: 17 }]);
    expect(report.ops.find((o) => o.op === 'Softmax')!.count).toBe(3);

    const fp16 = await run(['inspect', modelDir, '--variant', 'fp16']);
    expect(fp16.exitCode).toBe(0);
    expect(String(fp16.stdout)).toMatch(/SYNTHETIC/);
    expect(String(fp16.stdout)).toMatch(/Decoder: 3 layers, 2 KV heads, head dim 16, KV cache float16/);
    expect(String(fp16.stdout)).toMatch(/KV cache per token: 384 bytes at float16/);
    expect(String(fp16.stdout)).toMatch(/past_key_values\.\{0\.\.2\}\.key\|value {2}float16 \[batch_size, 2, past_sequence_length, 16\]/);
    expect(String(fp16.stdout)).toMatch(/Weights: fp16 weights on 22 weight MatMuls/);
  });

  it('rejects a truncated or corrupt .onnx, a missing data file and an escaping location, naming the file', async () => {
    const broken = join(dir, 'broken');
    await mkdir(join(broken, 'onnx'), { recursive: true });
    const file = join(broken, 'onnx', 'model.onnx');
    await copyFile(join(modelDir, 'onnx', 'model.onnx'), file);
    await truncate(file, 1000);
    expectInputError(await run(['inspect', file]), /broken\/onnx\/model\.onnx is not a valid ONNX model \(truncated or corrupt/);
    await writeFile(file, 'garbage that is not protobuf');
    expectInputError(await run(['inspect', broken]), /model\.onnx is not a valid ONNX model/);

    await copyFile(join(modelDir, 'onnx', 'model.onnx'), file);
    expectInputError(await run(['inspect', file]), /model\.onnx: external data file model\.onnx_data not found/);

    // The same graph with one tensor pointing outside its folder (as a malicious download could).
    const loaded = await readModel(join(modelDir, 'onnx', 'model.onnx'));
    const tensor = loaded.model.graph!.initializer.find((t) => t.data_location === 1)!;
    tensor.external_data = tensor.external_data.map((e) => (e.key === 'location' ? { key: 'location', value: '../../model/onnx/model.onnx_data' } : e));
    const escaping = join(broken, 'onnx', 'escaping.onnx');
    await writeFile(escaping, encodeModel(loaded.model));
    expectInputError(await run(['inspect', escaping]), /escaping\.onnx: external data location "\.\.\/\.\.\/model\/onnx\/model\.onnx_data" must be a relative path inside the model folder/);
  });

  it('asks for --variant when a folder holds several models but no model.onnx', async () => {
    const multi = join(dir, 'multi');
    await mkdir(join(multi, 'onnx'), { recursive: true });
    for (const f of ['model_fp16.onnx', 'model_fp16.onnx_data']) await copyFile(join(modelDir, 'onnx', f), join(multi, 'onnx', f));
    await copyFile(join(modelDir, 'onnx', 'model_fp16.onnx'), join(multi, 'onnx', 'model_q4.onnx'));
    expectInputError(await run(['inspect', multi]), /holds several models \(fp16, q4\): choose one with --variant/);
    expectInputError(await run(['inspect', multi, '--variant', 'int8']), /model .*multi has no int8 variant \(model_int8\.onnx\); it has fp16, q4/);
    expect((await run(['inspect', multi, '--variant', 'fp16'])).exitCode).toBe(0);
  });
});
