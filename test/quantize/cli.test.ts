import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyModel } from '../helpers/tiny-model.js';
import { writeDoubleWeightModel, writeMixedModel, writeNoWeightModel } from './helpers/graphs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[]) {
  return execa('node', ['bin/run.js', 'quantize', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
}

async function listTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

/** Exit 2, nothing on stdout, one `Error:` line (plus suggestions), no stack trace. */
function expectInputError(result: Awaited<ReturnType<typeof run>>, pattern: RegExp): void {
  expect(result.exitCode, String(result.stderr)).toBe(2);
  expect(String(result.stdout)).toBe('');
  const stderr = String(result.stderr);
  const errorLines = stderr.split('\n').filter((l) => l.startsWith('Error:'));
  expect(errorLines).toHaveLength(1);
  expect(errorLines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

let root: string;
let tiny: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelscout-quantize-cli-'));
  tiny = join(root, 'tiny');
  await buildTinyModel({ arch: 'qwen2', dir: tiny, layers: 2 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('modelscout quantize', () => {
  it('quantizes a model folder next to its float model and prints the report', async () => {
    const before = await listTree(tiny);
    const result = await run([tiny, '--threads', '1']);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const out = String(result.stdout);
    expect(out).toMatch(/Quantized .*model\.onnx \(synthetic weights\)/);
    expect(out).toMatch(/rtn int4, block 128, symmetric, accuracy level 4/);
    expect(out).toMatch(/15 of 19 MatMul → MatMulNBits/);
    // The tiny model's 64-wide rows are padded to one 128-weight block: 8 bits of codes + the scale per weight.
    expect(out).toMatch(/│ size +│ [\d.]+ KiB +│ [\d.]+ KiB +│ [\d.]+× +│ [\d.]+% +│ 8\.\d\d +│/);
    expect(out).toMatch(/worst tensors/);
    expect(out).toMatch(/fidelity \(32 seeded tokens.*\): PASS/);
    // Not a terminal: no progress bar, no carriage return, nothing on stderr at all.
    expect(String(result.stderr)).toBe('');
    expect(await listTree(tiny)).toEqual([...before, 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data'].sort());
  });

  it('--json returns the report object', async () => {
    const out = join(root, 'json-out');
    const result = await run([tiny, '--json', '--block-size', '64', '--asymmetric', '--accuracy-level', '0', '--embeddings', '--keep-lm-head', '--out', out, '--threads', '1']);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const report = JSON.parse(String(result.stdout)) as Record<string, Record<string, unknown>>;
    expect(String(result.stderr)).toBe('');
    expect(Object.keys(report).sort()).toEqual(['error', 'fidelity', 'input', 'kind', 'nodes', 'output', 'performance', 'schema_version', 'settings', 'size', 'tensors', 'worst_tensors']);
    expect(report.settings).toEqual({
      method: 'rtn',
      bits: 4,
      block_size: 64,
      symmetric: false,
      accuracy_level: 0,
      embeddings: true,
      keep_lm_head: true,
      exclude: [],
      excluded_nodes: ['/lm_head/MatMul'],
    });
    expect(report.input).toMatchObject({ synthetic: true, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(report.output).toMatchObject({ folder: out, model: join(out, 'onnx', 'model_q4.onnx'), data: join(out, 'onnx', 'model_q4.onnx_data'), copied: ['config.json', 'generation_config.json'] });
    expect(report.nodes).toMatchObject({ mat_mul: 19, quantized_mat_mul: 14, quantized_gather: 1, lm_head: '/lm_head/MatMul', embedding: '/model/embed_tokens/Gather' });
    // 4-bit codes + one fp32 scale per 64 weights + a zero-point nibble per block, padded to a byte per column.
    const shapes = (report.tensors as unknown as { k: number; n: number }[]).map((t) => ({ K: t.k, N: t.n }));
    const bytes = shapes.reduce((sum, t) => sum + t.N * (t.K / 2 + (t.K / 64) * 4 + Math.ceil(t.K / 64 / 2)), 0);
    const weights = shapes.reduce((sum, t) => sum + t.K * t.N, 0);
    expect(report.size!.bits_per_weight).toBeCloseTo((bytes * 8) / weights, 9);
    expect(report.size!.ratio).toBeGreaterThan(1);
    expect(report.fidelity).toMatchObject({ ran: true, pass: true, sequence_length: 32 });
    const tensors = report.tensors as unknown as { name: string; kind: string; max_abs: number; rmse: number; relative_frobenius: number }[];
    expect(tensors).toHaveLength(15);
    for (const t of tensors) expect(t.relative_frobenius).toBeGreaterThan(0);
    expect((report.worst_tensors as unknown as unknown[]).length).toBe(5);
    expect(await listTree(out)).toEqual(['.modelscout-output.json', 'config.json', 'generation_config.json', 'onnx', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data']);
  });

  it('refuses an already-quantized model', async () => {
    const src = join(root, 'twice');
    await writeMixedModel(src);
    expect((await run([src, '--no-fidelity'])).exitCode).toBe(0);
    const before = await listTree(src);
    expectInputError(await run([join(src, 'onnx', 'model_q4.onnx')]), /is already quantized \(\d+ int4 node\(s\), modelscout\.quantization metadata\)/);
    expect(await listTree(src)).toEqual(before);
  });

  it('refuses a model without an eligible MatMul and writes nothing', async () => {
    const src = join(root, 'none');
    await writeNoWeightModel(src);
    const before = await listTree(src);
    expectInputError(await run([src, '--out', join(root, 'none-out')]), /no eligible MatMul in .*model\.onnx: 1 × weight is not a constant initializer; nothing was written/);
    expect(await listTree(src)).toEqual(before);
    await expect(readdir(join(root, 'none-out'))).rejects.toThrow();
  });

  it('names the allowed dtypes, block sizes and accuracy levels', async () => {
    const doubles = join(root, 'double');
    await writeDoubleWeightModel(doubles);
    const before = await listTree(tiny);
    const [dtype, block, level, both, missing] = await Promise.all([
      run([doubles]),
      run([tiny, '--block-size', '48']),
      run([tiny, '--accuracy-level', '9']),
      run([tiny, '--symmetric', '--asymmetric']),
      run([join(root, 'missing')]),
    ]);
    expectInputError(dtype, /weights are float64 \(supported: float32, float16\)/);
    expectInputError(block, /invalid block size 48: expected one of 16, 32, 64, 128, 256/);
    expectInputError(level, /invalid accuracy level 9: expected 0, 1, 2, 3 or 4/);
    expectInputError(both, /--asymmetric|--symmetric/);
    expectInputError(missing, /model .*missing not found/);
    expect(await listTree(tiny)).toEqual(before);
  });
});
