import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countParams } from '../../src/catalog/tensors.js';
import { modelSpecFromHfConfig } from '../../src/catalog/hf-config.js';
import { HubServer } from '../hub/hub-server.js';
import { runAgainstHub } from '../helpers/hub-cli.js';
import { makeTempDir, removeDir } from '../hub/helpers.js';
import { TINY_CONFIGS, safetensorsRepoFiles } from '../hub/safetensors-repo.js';
import { llamaMetadata, llamaTensors, writeGguf } from '../helpers/gguf-writer.js';
import { parseRecommendation } from '../helpers/recommendation.js';

/** `synth` and `recommend --confirm` of models named by Hub id or GGUF file, as a new user runs them. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LLAMA3_ROPE = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
const SHAPE = { hidden: 128, layers: 2, heads: 4, kvHeads: 2, inter: 256, vocab: 512, context: 4096, tied: false };
let server: HubServer;
let home: string;
let ggufPath: string;

beforeAll(async () => {
  server = await new HubServer().start();
  await server.addRepo('acme/tiny-llama', safetensorsRepoFiles(TINY_CONFIGS.llama!).files);
  await server.addRepo('acme/tiny-qwen3', safetensorsRepoFiles(TINY_CONFIGS.qwen3!).files);
  // A Llama 3.1-style config: its RoPE scaling is not in the model spec, only in config.json.
  await server.addRepo('acme/tiny-llama3', safetensorsRepoFiles({ ...TINY_CONFIGS.llama!, rope_scaling: LLAMA3_ROPE }).files);
  home = await makeTempDir('synth-refs');
  ggufPath = join(home, 'tiny-q8_0.gguf');
  await writeGguf(ggufPath, llamaMetadata(SHAPE, 7), llamaTensors(SHAPE, 'Q8_0'));
});

afterAll(async () => {
  await server.stop();
  await removeDir(home);
});

function run(args: string[], extra: Record<string, string> = {}) {
  return runAgainstHub(server.endpoint, home, args, { MODELSCOUT_CALIBRATION: join(home, 'calibration.json'), ...extra });
}

interface SynthJson {
  id: string;
  source: string;
  layers_built: number;
  parameters: number;
  out_dir: string;
}

describe('synth <any model reference>', () => {
  it('a Hub repo id: builds the architecture of its config.json, records the reference; offline from the cache', async () => {
    const out = join(home, 'hub-llama');
    const result = await run(['synth', 'acme/tiny-llama', '--out', out, '--json']);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const data = JSON.parse(String(result.stdout)) as SynthJson;
    const spec = modelSpecFromHfConfig(TINY_CONFIGS.llama!, { source: 'fixture' });
    expect(data).toMatchObject({ id: 'acme/tiny-llama', source: 'acme/tiny-llama', layers_built: 3, parameters: countParams(spec).total });
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'llama', hidden_size: 64, num_hidden_layers: 3, num_key_value_heads: 2, intermediate_size: 160, vocab_size: 300 });
    expect((config.modelscout as { source: string }).source).toBe('acme/tiny-llama');

    // The look-up was cached: the same build works with the Hub unreachable.
    const offline = await run(['synth', 'acme/tiny-llama', '--out', join(home, 'hub-llama-2'), '--layers', '1'], { HF_HUB_OFFLINE: '1' });
    expect(offline.exitCode, String(offline.stderr)).toBe(0);
    expect(String(offline.stdout)).toMatch(/^Synthesized acme\/tiny-llama: 1 of 3 layers, fp32, seed 0/);
  });

  it('the default folder of a Hub id is one folder (org--name-synthetic)', async () => {
    const cwd = await makeTempDir('synth-cwd');
    try {
      const result = await execa('node', [join(ROOT, 'bin/run.js'), 'synth', 'acme/tiny-llama', '--layers', '1', '--json'], {
        cwd,
        reject: false,
        stdin: 'ignore',
        env: { HF_ENDPOINT: server.endpoint, HF_HOME: join(home, 'hf'), XDG_CACHE_HOME: join(home, 'cache'), HF_TOKEN: '', HF_HUB_OFFLINE: '' },
      });
      expect(result.exitCode, String(result.stderr)).toBe(0);
      expect((JSON.parse(String(result.stdout)) as SynthJson).out_dir).toBe(join(cwd, 'models', 'acme--tiny-llama-synthetic'));
      expect(existsSync(join(cwd, 'models', 'acme--tiny-llama-synthetic', 'onnx', 'model.onnx'))).toBe(true);
    } finally {
      await removeDir(cwd);
    }
  });

  it('a .gguf file: builds the architecture in its header', async () => {
    const out = join(home, 'gguf-llama');
    const result = await run(['synth', ggufPath, '--out', out, '--json']);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const data = JSON.parse(String(result.stdout)) as SynthJson;
    expect(data).toMatchObject({ source: ggufPath, layers_built: SHAPE.layers });
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'llama', hidden_size: SHAPE.hidden, num_hidden_layers: SHAPE.layers, num_attention_heads: SHAPE.heads, num_key_value_heads: SHAPE.kvHeads, intermediate_size: SHAPE.inter, vocab_size: SHAPE.vocab, tie_word_embeddings: false });
  });

  it('an architecture the builder lacks is refused in one line, exit 2, before anything is written', async () => {
    const out = join(home, 'qwen3');
    const result = await run(['synth', 'acme/tiny-qwen3', '--out', out]);
    expect(result.exitCode).toBe(2);
    const lines = String(result.stderr).trim().split('\n');
    expect(lines[0]).toBe("Error: cannot synthesize acme/tiny-qwen3 (qwen3): the builder lacks Qwen3's per-head q/k RMSNorm (q_norm, k_norm)");
    expect(lines.slice(1).every((l) => l.startsWith('  Try this: '))).toBe(true);
    expect(existsSync(out)).toBe(false);
  });

  it('a Hub repo that does not exist is one line, exit 2', async () => {
    const result = await run(['synth', 'acme/no-such-model']);
    expect(result.exitCode).toBe(2);
    expect(String(result.stderr).split('\n')[0]).toMatch(/^Error: .*acme\/no-such-model/);
    expect(String(result.stderr)).not.toMatch(/\n\s+at /);
  });
});

describe('recommend --confirm --model <Hub id> --model <gguf>', () => {
  it('synthesizes both named architectures, labelled synthetic, and measures them', async () => {
    const out = join(home, 'report.json');
    const result = await run(
      ['recommend', '--model', 'acme/tiny-llama3', '--model', ggufPath, '--device', 'cpu', '--context', '64', '--confirm', '--quick', '--candidates', '2', '--work-dir', join(home, 'work'), '--out', out, '--json'],
    );
    expect([0, 1], String(result.stderr)).toContain(result.exitCode);
    const rec = parseRecommendation(String(result.stdout));
    const confirmed = rec.confirm!.candidates;
    expect(confirmed.map((c) => c.id).sort()).toEqual(['acme/tiny-llama3', 'tiny-q8_0']);
    for (const c of confirmed) {
      expect(c.source.synthetic).toBe(true);
      expect(c.measurements.length).toBeGreaterThan(0);
      expect(c.verdict.status).not.toBe('estimate-only');
    }
    const gguf = confirmed.find((c) => c.id === 'tiny-q8_0')!;
    expect(gguf.notes.join(' ')).toMatch(/a GGUF file \(Q8_0, runs in llama\.cpp\): measured here is its architecture, synthesized with random weights as an ONNX int4 model/);
    // --json keeps stderr free of progress; what was built is in the report.
    expect(String(result.stderr)).not.toMatch(/synthesizing/);
    expect(confirmed.find((c) => c.id === 'acme/tiny-llama3')!.source.kind).toBe('synthetic');
    // The synthetic build took what only config.json says (RoPE scaling): its model is the named architecture exactly.
    const builtConfigs = (await readdir(join(home, 'work', 'models'))).filter((d) => d.includes('tiny-llama3'));
    expect(builtConfigs.length).toBeGreaterThan(0);
    for (const d of builtConfigs) {
      expect((JSON.parse(await readFile(join(home, 'work', 'models', d, 'config.json'), 'utf8')) as { rope_scaling?: unknown }).rope_scaling).toEqual(LLAMA3_ROPE);
    }
    expect(existsSync(join(home, 'work', 'models'))).toBe(true);
  });
});
