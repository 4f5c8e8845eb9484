import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[]) {
  return execa('node', ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
}

function expectUsageError(result: { exitCode?: number | undefined; stdout: unknown; stderr: unknown }, pattern: RegExp): void {
  expect(result.exitCode).toBe(2);
  expect(String(result.stdout)).toBe('');
  const lines = String(result.stderr).trim().split('\n');
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(pattern);
  expect(String(result.stderr)).not.toMatch(/\n\s+at /); // no stack trace
}

describe('modelscout models', () => {
  it('lists the catalog as JSON', async () => {
    const result = await run(['models', '--json']);
    expect(result.exitCode).toBe(0);
    const data = JSON.parse(String(result.stdout)) as { kind: string; count: number; models: { id: string; params_total: number; kv_bytes_per_token_fp16: number }[] };
    expect(data.kind).toBe('modelscout.model-listing');
    expect(data.count).toBeGreaterThanOrEqual(25);
    expect(data.models.find((m) => m.id === 'llama-3.1-8b')?.kv_bytes_per_token_fp16).toBe(131_072);
    // Sorted by size.
    const sizes = data.models.map((m) => m.params_total);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
  });

  it('filters by family and maximum parameters', async () => {
    const result = await run(['models', '--family', 'qwen3', '--max-params', '14B', '--json']);
    expect(result.exitCode).toBe(0);
    const data = JSON.parse(String(result.stdout)) as { models: { id: string; family: string; params_total: number }[] };
    expect(data.models.map((m) => m.id)).toEqual(['qwen3-0.6b', 'qwen3-4b', 'qwen3-8b']);
  });

  it('prints a table', async () => {
    const result = await run(['models', '--max-params', '200M']);
    expect(result.exitCode).toBe(0);
    expect(String(result.stdout)).toMatch(/smollm2-135m\s*│ 135M/);
    expect(String(result.stdout)).toContain('2 models.');
  });

  it('adds models from --catalog', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelscout-cli-'));
    const file = join(dir, 'extra.yaml');
    await writeFile(file, 'models:\n  - id: my-tiny\n    family: mine\n    modelType: llama\n    hiddenSize: 64\n    numLayers: 2\n    numHeads: 4\n    numKvHeads: 4\n    intermediateSize: 128\n    vocabSize: 1000\n    maxContext: 256\n');
    const result = await run(['models', '--catalog', file, '--family', 'mine', '--json']);
    expect(result.exitCode).toBe(0);
    expect((JSON.parse(String(result.stdout)) as { models: { id: string }[] }).models.map((m) => m.id)).toEqual(['my-tiny']);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ models: [{ id: 'x', modelType: 'llama' }] }));
    expectUsageError(await run(['models', '--catalog', bad]), /bad\.json is invalid: models\[0\]\.hiddenSize/);
  });

  it('rejects bad filters with one line and exit 2', async () => {
    expectUsageError(await run(['models', '--family', 'nope']), /invalid --family "nope": expected deepseek-v3, gemma2/);
    expectUsageError(await run(['models', '--max-params', 'huge']), /invalid --max-params "huge"/);
    expectUsageError(await run(['models', '--catalog', '/nonexistent/file.json']), /cannot read catalog file \/nonexistent\/file\.json: no such file/);
  });
});

describe('modelscout models show', () => {
  it('shows a catalog model in full', async () => {
    const result = await run(['models', 'show', 'llama-3.1-8b', '--json']);
    expect(result.exitCode).toBe(0);
    const data = JSON.parse(String(result.stdout)) as {
      schema_version: string;
      model: { id: string; head_dim: number };
      params: { total: number; published: number };
      kv_cache: { bytes_per_token_fp16: number };
      weights: Record<string, { total_bytes: number; float_tensors: string[] }>;
    };
    expect(data.schema_version).toBe('1');
    expect(data.model.id).toBe('llama-3.1-8b');
    expect(data.params.total).toBe(8_030_261_248);
    expect(data.kv_cache.bytes_per_token_fp16).toBe(131_072);
    expect(Object.keys(data.weights)).toEqual(['fp32', 'fp16', 'bf16', 'int8', 'q4', 'q4f16']);
    expect(data.weights.fp16!.total_bytes).toBe(8_030_261_248 * 2);
    // The int4 formats store the token embedding in int4 too (what `quantize` writes by default).
    expect(data.weights.q4!.float_tensors).not.toContain('embed_tokens');
    expect(data.weights.q4!.float_tensors).toContain('norms');
  });

  it('reads any config.json with --config', async () => {
    const result = await run(['models', 'show', '--config', 'fixtures/configs/qwen3-32b.json', '--json']);
    expect(result.exitCode).toBe(0);
    const data = JSON.parse(String(result.stdout)) as { model: { head_dim: number }; kv_cache: { bytes_per_token_fp16: number } };
    expect(data.model.head_dim).toBe(128);
    expect(data.kv_cache.bytes_per_token_fp16).toBe(262_144);
    const human = await run(['models', 'show', '--config', 'fixtures/configs/gemma-2-2b.json']);
    expect(human.exitCode).toBe(0);
    expect(String(human.stdout)).toContain('head_dim 256 (explicit; hidden/heads would be 288)');
    expect(String(human.stdout)).toContain('4096 tokens on every other layer');
  });

  it('rejects unknown ids, missing and malformed configs with exit 2', async () => {
    expectUsageError(await run(['models', 'show', 'llama-3.1-9b']), /unknown model "llama-3\.1-9b": did you mean llama-3\.1-8b/);
    expectUsageError(await run(['models', 'show', '--config', 'nope/config.json']), /cannot read config file nope\/config\.json: no such file/);
    const dir = await mkdtemp(join(tmpdir(), 'modelscout-cli-'));
    const broken = join(dir, 'config.json');
    await writeFile(broken, JSON.stringify({ model_type: 'llama', hidden_size: 64 }));
    expectUsageError(await run(['models', 'show', '--config', broken]), /invalid llama config: missing num_hidden_layers/);
    expectUsageError(await run(['models', 'show']), /give a model id or --config FILE/);
    expectUsageError(await run(['models', 'show', 'gpt2', '--config', broken]), /not both/);
  });

  it('puts the error object on stdout with --json', async () => {
    const result = await run(['models', 'show', 'nope', '--json']);
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(String(result.stdout))).toMatchObject({ error: { code: 'E_NOT_FOUND', exit_code: 2 } });
  });
});
