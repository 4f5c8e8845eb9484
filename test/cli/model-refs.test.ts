import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubServer } from '../hub/hub-server.js';
import { runAgainstHub } from '../helpers/hub-cli.js';
import { makeTempDir, removeDir } from '../hub/helpers.js';
import { TINY_CONFIGS, safetensorsRepoFiles } from '../hub/safetensors-repo.js';
import { llamaMetadata, llamaTensors, writeGguf } from '../helpers/gguf-writer.js';
import { parseRecommendation } from '../helpers/recommendation.js';

/** `models show` and `recommend --model` as a new user runs them: subprocesses against a local Hub. */
const SHAPE = { hidden: 256, layers: 4, heads: 4, kvHeads: 2, inter: 768, vocab: 2000, context: 8192, tied: false };
let server: HubServer;
let home: string;
let hubParams: number;

/** `models show --json` validated against the committed schema: the Hub (stored, commit) and GGUF (gguf) parts are filled here. */
const validateShown = new Ajv2020({ allErrors: true, strict: false }).compile(
  JSON.parse(readFileSync(fileURLToPath(new URL('../../schemas/model-description.schema.json', import.meta.url)), 'utf8')) as object,
);
function expectValidShown(data: unknown): void {
  expect(validateShown(data), JSON.stringify(validateShown.errors?.slice(0, 3))).toBe(true);
}

beforeAll(async () => {
  server = await new HubServer().start();
  const repo = safetensorsRepoFiles(TINY_CONFIGS.qwen3!, { extra: { 'lm_head.extra': [4, 4] } });
  hubParams = repo.params;
  await server.addRepo('acme/tiny-qwen3', repo.files);
  await server.addRepo('acme/gated', safetensorsRepoFiles(TINY_CONFIGS.llama!).files, { gated: true });
});

afterAll(async () => {
  await server.stop();
});

beforeEach(async () => {
  home = await makeTempDir('cli-refs');
});

afterEach(async () => {
  await removeDir(home);
});

function run(args: string[], extra: Record<string, string> = {}) {
  return runAgainstHub(server.endpoint, home, args, extra);
}

function expectOneLineError(result: { exitCode?: number | undefined; stderr: unknown }, code: number, pattern: RegExp): void {
  expect(result.exitCode).toBe(code);
  const lines = String(result.stderr).trim().split('\n');
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(pattern);
  expect(String(result.stderr)).not.toMatch(/\n\s+at /);
}

describe('models show <reference>', () => {
  it('a Hub repo id: exact parameters from the headers, then again offline from the cache', async () => {
    const online = await run(['models', 'show', 'acme/tiny-qwen3', '--json']);
    expect(online.exitCode).toBe(0);
    const data = JSON.parse(String(online.stdout)) as { params: { total: number }; source: { kind: string; commit: string }; stored: { params: number; dtypes: { dtype: string }[] } };
    expectValidShown(data);
    expect(data.source.kind).toBe('hub');
    expect(data.stored.params).toBe(hubParams);
    expect(data.params.total).toBe(hubParams);
    const offline = await run(['models', 'show', 'acme/tiny-qwen3'], { HF_HUB_OFFLINE: '1' });
    expect(offline.exitCode).toBe(0);
    expect(String(offline.stdout)).toMatch(/source {6}Hub acme\/tiny-qwen3@main \(commit [0-9a-f]{12}, from the cache\)/);
    expect(String(offline.stdout)).toMatch(/exact, from the safetensors headers/);
  });

  it('a gated repo is one line, exit 2', async () => {
    expectOneLineError(await run(['models', 'show', 'acme/gated']), 2, /acme\/gated is gated \(HTTP 401\): set HF_TOKEN/);
  });

  it('a GGUF file: its quantization mix and bytes; truncated, one line and exit 2', async () => {
    const path = join(home, 'tiny-q4_k_m.gguf');
    const written = await writeGguf(path, llamaMetadata(SHAPE, 15), llamaTensors(SHAPE, 'Q4_K', { 'attn_v.weight': 'Q6_K', 'output.weight': 'Q6_K' }));
    const result = await run(['models', 'show', path, '--json']);
    expect(result.exitCode).toBe(0);
    const data = JSON.parse(String(result.stdout)) as { gguf: { file_type: string; tensor_bytes: number; file_bytes: number; engine: string }; llama_cpp: Record<string, { total_bytes: number }> };
    expectValidShown(data);
    expect(data.gguf).toMatchObject({ file_type: 'Q4_K_M', tensor_bytes: written.tensorBytes, file_bytes: written.bytes.length, engine: 'llama.cpp' });
    expect(Object.keys(data.llama_cpp)).toEqual(['Q8_0', 'Q6_K', 'Q5_K_M', 'Q4_K_M', 'Q4_0']);

    const cut = join(home, 'cut.gguf');
    await writeFile(cut, written.bytes.subarray(0, 3000));
    expectOneLineError(await run(['models', 'show', cut]), 2, /cut\.gguf is not a readable GGUF file: truncated header/);
  });
});

describe('recommend --model', () => {
  it('ranks a GGUF (in llama.cpp) beside a Hub model, and says which models ranked', async () => {
    const path = join(home, 'tiny-q8_0.gguf');
    const written = await writeGguf(path, llamaMetadata(SHAPE, 7), llamaTensors(SHAPE, 'Q8_0'));
    const result = await run(['recommend', '--model', path, '--model', 'acme/tiny-qwen3', '--device', 'cpu', '--ram', '16GiB', '--json']);
    expect(result.exitCode).toBe(0);
    const rec = parseRecommendation(String(result.stdout)) as unknown as { candidatesFrom: string; candidates: { id: string; engine?: string; variant?: string; memory: { weightBytes: number; kvDtype: string } }[]; notes: string[] };
    expect(rec.candidatesFrom).toBe('models');
    expect(rec.candidates).toHaveLength(2);
    const gguf = rec.candidates.find((c) => c.engine === 'llama.cpp');
    expect(gguf).toMatchObject({ id: 'tiny-q8_0', variant: 'Q8_0', memory: { weightBytes: written.tensorBytes, kvDtype: 'fp16' } });
    expect(rec.candidates.find((c) => c.id === 'acme/tiny-qwen3')?.engine).toBeUndefined();
    expect(rec.notes[0]).toMatch(/Ranked the models given with --model only/);
  });

  it('an unknown reference is one line, exit 2', async () => {
    expectOneLineError(await run(['recommend', '--model', './no-such-model.gguf']), 2, /no such file: \.\/no-such-model\.gguf/);
  });
});
