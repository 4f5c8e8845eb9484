import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelscoutMetadata } from '../../src/onnx/metadata.js';
import { readModel } from '../../src/onnx/model-io.js';
import { TINY_CONFIGS } from '../helpers/tiny-model.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[]) {
  return execa('node', ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
}

let dir: string;
let configPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-fused-cli-'));
  configPath = join(dir, 'qwen2-tiny', 'config.json');
  await mkdir(join(dir, 'qwen2-tiny'));
  // 512 positions, so a test can decode deep enough for the direct layout.
  await writeFile(configPath, JSON.stringify({ ...TINY_CONFIGS.qwen2, max_position_embeddings: 512, bos_token_id: 1, eos_token_id: [2, 3] }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('synth --graph fused, quantize, generate', () => {
  it('builds a fused model folder with genai_config.json, which quantizes to a fused int4 model that generates what the standard one does', async () => {
    const fusedDir = join(dir, 'fused');
    const standardDir = join(dir, 'standard');
    const synth = await run(['synth', configPath, '--graph', 'fused', '--max-length', '64', '--layers', '2', '--seed', '9', '--out', fusedDir, '--json']);
    expect(synth.exitCode, String(synth.stderr)).toBe(0);
    expect(JSON.parse(String(synth.stdout))).toMatchObject({ graph: 'fused', layers_built: 2, genai_config_file: join(fusedDir, 'genai_config.json') });
    expect((await readdir(fusedDir)).sort()).toEqual(['.modelscout-output.json', 'config.json', 'genai_config.json', 'generation_config.json', 'onnx']);
    const genai = JSON.parse(await readFile(join(fusedDir, 'genai_config.json'), 'utf8')) as { model: Record<string, unknown>; search: Record<string, unknown> };
    expect(genai.model).toMatchObject({ bos_token_id: 1, eos_token_id: [2, 3], context_length: 64, type: 'qwen2', decoder: { filename: 'onnx/model.onnx', num_hidden_layers: 2 } });
    expect(genai.search).toMatchObject({ past_present_share_buffer: true, max_length: 64 });
    const config = JSON.parse(await readFile(join(fusedDir, 'config.json'), 'utf8')) as { modelscout: Record<string, unknown> };
    expect(config.modelscout.graph).toBe('fused');
    expect(readModelscoutMetadata((await readModel(join(fusedDir, 'onnx', 'model.onnx'))).model).graph).toBe('fused');

    expect((await run(['synth', configPath, '--layers', '2', '--seed', '9', '--out', standardDir, '--json'])).exitCode).toBe(0);
    for (const d of [fusedDir, standardDir]) {
      const q = await run(['quantize', d, '--json']);
      expect(q.exitCode, String(q.stderr)).toBe(0);
    }
    const q4 = await readModel(join(fusedDir, 'onnx', 'model_q4.onnx'));
    const ops = q4.model.graph!.node.map((n) => n.op_type);
    expect(ops).toContain('GroupQueryAttention');
    expect(ops).toContain('MatMulNBits');
    expect(ops).not.toContain('MatMul');
    expect(readModelscoutMetadata(q4.model).graph).toBe('fused');
    // In place, genai_config.json keeps naming the float model (still there); quantized into another folder,
    // the copy names the int4 file, the only model there.
    expect(JSON.parse(await readFile(join(fusedDir, 'genai_config.json'), 'utf8'))).toMatchObject({ model: { decoder: { filename: 'onnx/model.onnx' } } });
    const outDir = join(dir, 'fused-int4-only');
    const moved = await run(['quantize', fusedDir, '--out', outDir, '--no-fidelity', '--json']);
    expect(moved.exitCode, String(moved.stderr)).toBe(0);
    const movedGenai = JSON.parse(await readFile(join(outDir, 'genai_config.json'), 'utf8')) as { model: { decoder: { filename: string; num_hidden_layers: number } } };
    expect(movedGenai.model.decoder).toMatchObject({ filename: 'onnx/model_q4.onnx', num_hidden_layers: 2 });
    expect((await readdir(join(outDir, 'onnx'))).sort()).toEqual(['model_q4.onnx', 'model_q4.onnx_data']);

    const generated: number[][] = [];
    const layouts: string[] = [];
    for (const d of [fusedDir, standardDir]) {
      const g = await run(['generate', d, '--variant', 'q4', '--prompt-ids', '5,17,42,99', '--gen-tokens', '8', '--json']);
      expect(g.exitCode, String(g.stderr)).toBe(0);
      const out = JSON.parse(String(g.stdout)) as { ids: number[]; kv_layout: string };
      generated.push(out.ids);
      layouts.push(out.kv_layout);
    }
    expect(generated[0]).toEqual(generated[1]);
    // generate takes the fast layout of each graph, as bench --kv-layout auto does: for a generation this
    // shallow, the fused graph's appended buffers (the direct layout waits for depth 256).
    expect(layouts).toEqual(['appended', 'growing']);

    // bench: a fused graph gets the appended KV layout for a shallow test, a standard graph the growing cache.
    interface KvReport {
      results: { model: { path: string }; test: { name: string }; error: { code: string; message: string } | null; kv_cache: { layout: string; update?: string; measured_bytes: number; analytic_bytes: number; tokens_at_end: number; agrees: boolean | null } | null }[];
    }
    const bench = await run(['bench', fusedDir, standardDir, '--variant', 'q4', '--tests', 'tg4@d8', '--repetitions', '2', '--warmup', '0', '--threads', '1', '--json']);
    expect(bench.exitCode, String(bench.stderr)).toBe(0);
    const report = JSON.parse(String(bench.stdout)) as KvReport;
    const [fusedResult, standardResult] = report.results;
    expect(fusedResult!.error).toBeNull();
    expect(fusedResult!.kv_cache).toMatchObject({ layout: 'preallocated', update: 'appended', agrees: null });
    // Allocated for the whole request (8 + 4 tokens, plus the one the loop reserves), used or not.
    const perToken = fusedResult!.kv_cache!.analytic_bytes / fusedResult!.kv_cache!.tokens_at_end;
    expect(fusedResult!.kv_cache!.measured_bytes).toBe(perToken * (8 + 4 + 1));
    expect(standardResult!.kv_cache).toMatchObject({ layout: 'growing', update: 'concatenated', agrees: true });

    const refused = await run(['bench', standardDir, '--variant', 'q4', '--tests', 'tg4', '--repetitions', '1', '--warmup', '0', '--kv-layout', 'preallocated', '--json']);
    expect(refused.exitCode).toBe(1);
    const refusedReport = JSON.parse(String(refused.stdout)) as KvReport;
    expect(refusedReport.results[0]!.error?.message).toMatch(/preallocated KV layout needs a fused graph/);
    const refusedAppended = await run(['bench', standardDir, '--variant', 'q4', '--tests', 'tg4', '--repetitions', '1', '--warmup', '0', '--kv-layout', 'appended', '--json']);
    expect(refusedAppended.exitCode).toBe(1);
    expect((JSON.parse(String(refusedAppended.stdout)) as KvReport).results[0]!.error?.message).toMatch(/appended KV layout needs a modelscout fused graph/);
    // The shared buffer stays available on request.
    const shared = await run(['bench', fusedDir, '--variant', 'q4', '--tests', 'tg4@d8', '--repetitions', '1', '--warmup', '0', '--threads', '1', '--kv-layout', 'preallocated', '--json']);
    expect(shared.exitCode, String(shared.stderr)).toBe(0);
    expect((JSON.parse(String(shared.stdout)) as KvReport).results[0]!.kv_cache).toMatchObject({ layout: 'preallocated', update: 'in-place' });
  });

  it('bench --kv-layout auto gives each test its layout: direct only for a test that decodes 256 positions deep', async () => {
    const deepDir = join(dir, 'deep');
    const synth = await run(['synth', configPath, '--graph', 'fused', '--max-length', '512', '--layers', '1', '--seed', '3', '--out', deepDir, '--json']);
    expect(synth.exitCode, String(synth.stderr)).toBe(0);
    const bench = await run(['bench', deepDir, '--variant', 'fp32', '--tests', 'tg2@d400,tg4,pp8', '--repetitions', '1', '--warmup', '0', '--threads', '1', '--json']);
    expect(bench.exitCode, String(bench.stderr)).toBe(0);
    const report = JSON.parse(String(bench.stdout)) as { results: { test: { id: string }; error: unknown; kv_cache: { layout: string; update: string } | null }[] };
    // In the order asked for, though the shallow tests share one child process and the deep one another.
    expect(report.results.map((r) => [r.test.id, r.error, r.kv_cache?.layout, r.kv_cache?.update])).toEqual([
      ['tg2@d400', null, 'direct', 'appended'],
      ['tg4', null, 'preallocated', 'appended'],
      ['pp8', null, 'preallocated', 'appended'],
    ]);
  });

  it('refuses a fused graph for an architecture it cannot express, in one line with exit 2', async () => {
    const gpt2 = join(dir, 'gpt2-tiny.json');
    await writeFile(gpt2, JSON.stringify(TINY_CONFIGS.gpt2));
    const result = await run(['synth', gpt2, '--graph', 'fused', '--out', join(dir, 'gpt2')]);
    expect(result.exitCode).toBe(2);
    const lines = String(result.stderr).split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^Error: cannot build a fused graph for gpt2: .*Llama family/);
    expect(String(result.stderr)).not.toMatch(/\n\s+at /);
  });
});
