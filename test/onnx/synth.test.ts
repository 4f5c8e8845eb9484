import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelscoutError } from '../../src/errors.js';
import { detectDecoderSignature } from '../../src/onnx/decoder-signature.js';
import { readModelscoutMetadata } from '../../src/onnx/metadata.js';
import { readModel, readTensorBytes, writeModel } from '../../src/onnx/model-io.js';
import { checkDecoderRuns } from '../../src/runtime/verify.js';
import { fillSyntheticWeight, syntheticWeight, synthesizeModel } from '../../src/onnx/synth/index.js';
import { float16ToFloat32 } from '../../src/util/float16.js';
import { TINY_CONFIGS, buildTinyModel, type TinyArch, type TinyModel } from '../helpers/tiny-model.js';
import { referenceConfig, referenceLogits } from './reference-forward.js';

let dir: string;
const models = new Map<string, TinyModel>();
const SEED = 7;
const LAYERS = 2;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-synth-'));
  for (const arch of ['llama', 'qwen2', 'gpt2'] as const) {
    for (const dtype of ['fp32', 'fp16'] as const) {
      models.set(`${arch}-${dtype}`, await buildTinyModel({ arch, dtype, layers: LAYERS, seed: SEED, dir: join(dir, `${arch}-${dtype}`) }));
    }
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Step {
  tokens: number[][];
  mask: number[][];
  positions: number[][];
}

/** Runs one forward step; returns logits [batch][seq][vocab] as float64 plus the present tensors. */
class Runner {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly layers: number,
    private readonly kvHeads: number,
    private readonly headDim: number,
    private readonly fp16: boolean,
  ) {}

  static async open(model: TinyModel): Promise<Runner> {
    const loaded = await readModel(model.modelFile);
    const sig = detectDecoderSignature(loaded.model);
    const session = await ort.InferenceSession.create(model.modelFile);
    return new Runner(session, sig.numLayers, sig.numKvHeads!, sig.headDim!, sig.kvDtype === 'float16');
  }

  emptyPast(batch: number): Record<string, ort.Tensor> {
    const past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.layers; i++) {
      for (const kind of ['key', 'value']) {
        past[`past_key_values.${i}.${kind}`] = this.fp16
          ? new ort.Tensor('float16', new Uint16Array(0), [batch, this.kvHeads, 0, this.headDim])
          : new ort.Tensor('float32', new Float32Array(0), [batch, this.kvHeads, 0, this.headDim]);
      }
    }
    return past;
  }

  async run(step: Step, past: Record<string, ort.Tensor>): Promise<{ logits: Float64Array[][]; present: Record<string, ort.Tensor> }> {
    const B = step.tokens.length;
    const S = step.tokens[0]!.length;
    const int64 = (rows: number[][]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]!.length]);
    const out = await this.session.run({ input_ids: int64(step.tokens), attention_mask: int64(step.mask), position_ids: int64(step.positions), ...past });
    const tensor = out.logits!;
    const V = tensor.dims[2]!;
    const flat = this.fp16 ? float16ToFloat32(tensor.data as Uint16Array) : (tensor.data as Float32Array);
    const logits = Array.from({ length: B }, (_, b) => Array.from({ length: S }, (_, s) => Float64Array.from(flat.subarray((b * S + s) * V, (b * S + s + 1) * V))));
    const present: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.layers; i++) {
      present[`past_key_values.${i}.key`] = out[`present.${i}.key`]!;
      present[`past_key_values.${i}.value`] = out[`present.${i}.value`]!;
    }
    return { logits, present };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const TOKENS = [3, 17, 42, 99, 5, 64, 127, 8];

describe.each(['llama', 'qwen2', 'gpt2'] as const)('synthetic %s', (arch: TinyArch) => {
  it('matches the TypeScript reference forward pass within 1e-4 (fp32)', async () => {
    const model = models.get(`${arch}-fp32`)!;
    const runner = await Runner.open(model);
    const positions = TOKENS.map((_, i) => i);
    const mask = TOKENS.map(() => 1);
    const { logits } = await runner.run({ tokens: [TOKENS], mask: [mask], positions: [positions] }, runner.emptyPast(1));
    const expected = referenceLogits(referenceConfig(TINY_CONFIGS[arch], LAYERS), SEED, TOKENS, mask, positions);
    let worst = 0;
    let spread = 0;
    for (let t = 0; t < TOKENS.length; t++) {
      worst = Math.max(worst, maxAbsDiff(logits[0]![t]!, expected[t]!));
      spread = Math.max(spread, ...Array.from(expected[t]!, Math.abs));
    }
    expect(worst).toBeLessThan(1e-4);
    // The comparison means something only if logits are far from zero and differ between positions.
    expect(spread).toBeGreaterThan(0.5);
    expect(maxAbsDiff(expected[0]!, expected[1]!)).toBeGreaterThan(0.1);
    await runner.release();
  });

  it('decodes incrementally with the KV cache exactly like recomputing the sequence', async () => {
    const runner = await Runner.open(models.get(`${arch}-fp32`)!);
    const full = await runner.run({ tokens: [TOKENS], mask: [TOKENS.map(() => 1)], positions: [TOKENS.map((_, i) => i)] }, runner.emptyPast(1));
    const prefix = 4;
    let state = await runner.run(
      { tokens: [TOKENS.slice(0, prefix)], mask: [Array(prefix).fill(1)], positions: [Array.from({ length: prefix }, (_, i) => i)] },
      runner.emptyPast(1),
    );
    for (let t = 0; t < prefix; t++) expect(maxAbsDiff(state.logits[0]![t]!, full.logits[0]![t]!)).toBeLessThan(1e-4);
    for (let t = prefix; t < TOKENS.length; t++) {
      state = await runner.run({ tokens: [[TOKENS[t]!]], mask: [Array(t + 1).fill(1)], positions: [[t]] }, state.present);
      expect(maxAbsDiff(state.logits[0]![0]!, full.logits[0]![t]!)).toBeLessThan(1e-4);
    }
    expect(state.present['past_key_values.0.key']!.dims[2]).toBe(TOKENS.length);
    await runner.release();
  });

  it('gives each sequence of a left-padded batch the logits it gets alone, before and after a decode step', async () => {
    const runner = await Runner.open(models.get(`${arch}-fp32`)!);
    const short = [11, 22, 33, 44];
    const pad = TOKENS.length - short.length;
    const batch: Step = {
      tokens: [TOKENS, [...Array(pad).fill(0), ...short]],
      mask: [TOKENS.map(() => 1), [...Array(pad).fill(0), ...short.map(() => 1)]],
      // As transformers.js does: cumsum(mask) - 1, padding positions filled with 1.
      positions: [TOKENS.map((_, i) => i), [...Array(pad).fill(1), ...short.map((_, i) => i)]],
    };
    const together = await runner.run(batch, runner.emptyPast(2));
    const aloneLong = await runner.run({ tokens: [TOKENS], mask: [batch.mask[0]!], positions: [batch.positions[0]!] }, runner.emptyPast(1));
    const aloneShort = await runner.run({ tokens: [short], mask: [short.map(() => 1)], positions: [short.map((_, i) => i)] }, runner.emptyPast(1));
    for (let t = 0; t < TOKENS.length; t++) expect(maxAbsDiff(together.logits[0]![t]!, aloneLong.logits[0]![t]!)).toBeLessThan(1e-4);
    for (let t = 0; t < short.length; t++) expect(maxAbsDiff(together.logits[1]![pad + t]!, aloneShort.logits[0]![t]!)).toBeLessThan(1e-4);
    for (const rows of together.logits) for (const row of rows) expect(row.every(Number.isFinite)).toBe(true);

    const nextTokens = [7, 9];
    const stepBatch = await runner.run(
      { tokens: [[nextTokens[0]!], [nextTokens[1]!]], mask: [[...batch.mask[0]!, 1], [...batch.mask[1]!, 1]], positions: [[TOKENS.length], [short.length]] },
      together.present,
    );
    const stepShort = await runner.run({ tokens: [[nextTokens[1]!]], mask: [Array(short.length + 1).fill(1)], positions: [[short.length]] }, aloneShort.present);
    const stepLong = await runner.run({ tokens: [[nextTokens[0]!]], mask: [Array(TOKENS.length + 1).fill(1)], positions: [[TOKENS.length]] }, aloneLong.present);
    expect(maxAbsDiff(stepBatch.logits[1]![0]!, stepShort.logits[0]![0]!)).toBeLessThan(1e-4);
    expect(maxAbsDiff(stepBatch.logits[0]![0]!, stepLong.logits[0]![0]!)).toBeLessThan(1e-4);
    await runner.release();
  });

  it('runs in fp16 with float16 caches, close to the fp32 model', async () => {
    const fp16 = models.get(`${arch}-fp16`)!;
    const loaded = await readModel(fp16.modelFile);
    const sig = detectDecoderSignature(loaded.model);
    expect(sig.kvDtype).toBe('float16');
    expect(sig.logits.dtype).toBe('float16');
    const r16 = await Runner.open(fp16);
    const r32 = await Runner.open(models.get(`${arch}-fp32`)!);
    const step: Step = { tokens: [TOKENS], mask: [TOKENS.map(() => 1)], positions: [TOKENS.map((_, i) => i)] };
    const a = await r16.run(step, r16.emptyPast(1));
    const b = await r32.run(step, r32.emptyPast(1));
    for (let t = 0; t < TOKENS.length; t++) expect(maxAbsDiff(a.logits[0]![t]!, b.logits[0]![t]!)).toBeLessThan(0.05);
    await r16.release();
    await r32.release();
  });
});

describe('synth output', () => {
  it('lays the folder out like an onnx-community repo with the synthetic marker', async () => {
    const model = models.get('qwen2-fp32')!;
    const config = JSON.parse(await readFile(join(model.outDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.num_hidden_layers).toBe(LAYERS);
    expect(config.modelscout).toEqual({ synthetic: true, seed: SEED, source: model.configPath, num_layers_built: LAYERS, num_layers_full: 4, graph: 'standard' });
    expect(JSON.parse(await readFile(join(model.outDir, 'generation_config.json'), 'utf8'))).toMatchObject({ do_sample: false });
    const loaded = await readModel(model.modelFile);
    expect(readModelscoutMetadata(loaded.model)).toMatchObject({ synthetic: true, seed: SEED, numLayersBuilt: LAYERS, numLayersFull: 4, graph: 'standard', source: model.configPath });
    expect(model.modelFile).toBe(join(model.outDir, 'onnx', 'model.onnx'));
    expect(models.get('qwen2-fp16')!.modelFile).toBe(join(models.get('qwen2-fp16')!.outDir, 'onnx', 'model_fp16.onnx'));
    // Initializers of at least 1 KiB live in the aligned external data file.
    expect(model.dataFile).toBe(join(model.outDir, 'onnx', 'model.onnx_data'));
    const external = loaded.model.graph!.initializer.filter((t) => t.data_location === 1);
    expect(external.length).toBeGreaterThan(10);
    for (const t of external) expect(Number(t.external_data.find((e) => e.key === 'offset')!.value) % 4096).toBe(0);
  });

  it('is deterministic: the same seed gives the same bytes, another seed other weights', async () => {
    const first = models.get('llama-fp32')!;
    // Same source path too: it is recorded in the metadata.
    const again = await synthesizeModel({ source: first.configPath, dtype: 'fp32', layers: LAYERS, seed: SEED, outDir: join(dir, 'again') });
    expect((await readFile(again.modelFile)).equals(await readFile(first.modelFile))).toBe(true);
    expect((await readFile(again.dataFile!)).equals(await readFile(first.dataFile!))).toBe(true);
    const other = await buildTinyModel({ arch: 'llama', layers: LAYERS, seed: SEED + 1, dir: join(dir, 'other') });
    expect((await readFile(other.dataFile!)).equals(await readFile(first.dataFile!))).toBe(false);
  });

  it('builds a shallower model of the same width with the same weights in the layers it keeps', async () => {
    const one = await buildTinyModel({ arch: 'qwen2', layers: 1, seed: SEED, dir: join(dir, 'one') });
    const a = await readModel(one.modelFile);
    const b = await readModel(models.get('qwen2-fp32')!.modelFile);
    expect(detectDecoderSignature(a.model).numLayers).toBe(1);
    const name = 'model.layers.0.self_attn.q_proj.weight.T';
    const ta = a.model.graph!.initializer.find((t) => t.name === name)!;
    const tb = b.model.graph!.initializer.find((t) => t.name === name)!;
    expect(Buffer.from(await readTensorBytes(a, ta)).equals(Buffer.from(await readTensorBytes(b, tb)))).toBe(true);
    expect(a.model.graph!.initializer.some((t) => t.name?.startsWith('model.layers.1.'))).toBe(false);
  });

  it('stores each weight as syntheticWeight(seed, hf name, shape), transposed for MatMul', async () => {
    const model = models.get('llama-fp32')!;
    const loaded = await readModel(model.modelFile);
    const tensor = loaded.model.graph!.initializer.find((t) => t.name === 'model.layers.1.mlp.down_proj.weight.T')!;
    expect(tensor.dims).toEqual([96, 64]);
    const stored = new Float32Array(Uint8Array.from(await readTensorBytes(loaded, tensor)).buffer);
    const hf = syntheticWeight(SEED, 'model.layers.1.mlp.down_proj.weight', [64, 96]);
    for (let o = 0; o < 64; o += 7) for (let i = 0; i < 96; i += 5) expect(stored[i * 64 + o]).toBe(hf[o * 96 + i]);
    const norm = loaded.model.graph!.initializer.find((t) => t.name === 'model.norm.weight')!;
    expect(Array.from(new Float32Array(Uint8Array.from(await readTensorBytes(loaded, norm)).buffer))).toEqual(Array(64).fill(1));
  });
});

describe('round trip of a synthetic model', () => {
  it('read → write → read keeps the graph and every tensor byte, and the copy still runs', async () => {
    const a = await readModel(models.get('qwen2-fp16')!.modelFile);
    const copyPath = join(dir, 'copy', 'onnx', 'model_fp16.onnx');
    await writeModel(copyPath, a.model, { source: a });
    const b = await readModel(copyPath);
    const strip = (m: typeof a.model): unknown =>
      JSON.stringify(m.graph, (key, value: unknown) => (key === 'external_data' || key === 'raw_data' ? undefined : value));
    expect(strip(b.model)).toBe(strip(a.model));
    expect(b.model.metadata_props).toEqual(a.model.metadata_props);
    expect(b.model.opset_import).toEqual(a.model.opset_import);
    const inits = a.model.graph!.initializer;
    expect(inits.length).toBeGreaterThan(30);
    for (let i = 0; i < inits.length; i++) {
      const x = await readTensorBytes(a, inits[i]!);
      const y = await readTensorBytes(b, b.model.graph!.initializer[i]!);
      expect(Buffer.from(y).equals(Buffer.from(x)), inits[i]!.name).toBe(true);
    }
    expect(await checkDecoderRuns(copyPath)).toEqual({ logitsDims: [1, 3, 128], presentLength: 3 });
  });
});

describe('checkDecoderRuns', () => {
  it('loads a written model in ONNX Runtime and runs one step from an empty cache', async () => {
    for (const key of ['gpt2-fp32', 'llama-fp16']) {
      expect(await checkDecoderRuns(models.get(key)!.modelFile)).toEqual({ logitsDims: [1, 3, 128], presentLength: 3 });
    }
  });
});

describe('syntheticWeight', () => {
  it('is a pure function of seed, name and shape, consistent across chunks and layouts', () => {
    const shape = [37, 53];
    const full = syntheticWeight(5, 'model.layers.0.self_attn.q_proj.weight', shape);
    expect(syntheticWeight(5, 'model.layers.0.self_attn.q_proj.weight', shape)).toEqual(full);
    expect(syntheticWeight(6, 'model.layers.0.self_attn.q_proj.weight', shape)).not.toEqual(full);
    expect(syntheticWeight(5, 'model.layers.1.self_attn.q_proj.weight', shape)).not.toEqual(full);
    expect(syntheticWeight(5, 'model.layers.0.self_attn.q_proj.weight', [53, 37])).not.toEqual(full);
    const part = fillSyntheticWeight(5, 'model.layers.0.self_attn.q_proj.weight', shape, new Float32Array(100), 250);
    expect(Array.from(part)).toEqual(Array.from(full.subarray(250, 350)));
    const transposedPart = fillSyntheticWeight(5, 'model.layers.0.self_attn.q_proj.weight', shape, new Float32Array(90), 1000, 'transposed');
    for (let j = 0; j < 90; j++) {
      const p = 1000 + j;
      const c = Math.floor(p / 37);
      const r = p % 37;
      expect(transposedPart[j]).toBe(full[r * 53 + c]);
    }
    // Scaled so activations stay sane: σ ≈ 1/√fan_in.
    const big = syntheticWeight(1, 'model.layers.0.mlp.up_proj.weight', [256, 1024]);
    const mean = big.reduce((a, v) => a + v, 0) / big.length;
    const std = Math.sqrt(big.reduce((a, v) => a + (v - mean) ** 2, 0) / big.length);
    expect(Math.abs(mean)).toBeLessThan(1e-3);
    expect(std).toBeGreaterThan(0.95 / 32);
    expect(std).toBeLessThan(1.05 / 32);
  });
});

describe('synth bad input', () => {
  const rejects = async (config: Record<string, unknown>, code: string, pattern: RegExp): Promise<void> => {
    const configPath = join(dir, `bad-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(configPath, JSON.stringify(config));
    const outDir = join(dir, `bad-out-${Math.random().toString(36).slice(2)}`);
    const error = await synthesizeModel({ source: configPath, dtype: 'fp32', seed: 1, outDir }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ModelscoutError);
    expect((error as ModelscoutError).code).toBe(code);
    expect((error as ModelscoutError).exitCode).toBe(2);
    expect((error as ModelscoutError).message).toMatch(pattern);
    await expect(stat(outDir)).rejects.toThrow();
  };

  it('names what the builder lacks for unsupported architectures', async () => {
    await rejects({ ...TINY_CONFIGS.qwen2, model_type: 'qwen3', head_dim: 16 }, 'E_UNSUPPORTED', /lacks Qwen3's per-head q\/k RMSNorm/);
    await rejects({ ...TINY_CONFIGS.llama, model_type: 'mixtral', num_local_experts: 8, num_experts_per_tok: 2 }, 'E_UNSUPPORTED', /mixture-of-experts/);
    await rejects({ ...TINY_CONFIGS.llama, model_type: 'mistral', sliding_window: 64 }, 'E_UNSUPPORTED', /sliding-window attention \(window 64 tokens\)/);
    await rejects({ ...TINY_CONFIGS.llama, rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'E_UNSUPPORTED', /RoPE scaling of type "yarn"/);
    await rejects({ ...TINY_CONFIGS.llama, mlp_bias: true }, 'E_UNSUPPORTED', /MLP projections/);
  });

  it('names the missing keys of a config.json', async () => {
    const config: Record<string, unknown> = { ...TINY_CONFIGS.llama };
    delete config.hidden_size;
    delete config.vocab_size;
    await rejects(config, 'E_CONFIG', /missing hidden_size.*missing vocab_size/);
  });
});
