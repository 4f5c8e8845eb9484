import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelscoutError } from '../../src/errors.js';
import { buildFusedDecoderModel } from '../../src/onnx/fused/build-fused-decoder.js';
import type { BuiltModel } from '../../src/onnx/graph-builder.js';
import { readModelscoutMetadata } from '../../src/onnx/metadata.js';
import { checkDecoderRuns } from '../../src/runtime/verify.js';
import { writeModel } from '../../src/onnx/model-io.js';
import type { SynthArchitecture } from '../../src/onnx/synth/architecture.js';
import { buildDecoderModel } from '../../src/onnx/synth/build-decoder.js';
import { tinyArch } from '../helpers/tiny-model.js';
import { SPARE_POSITIONS, drive, maxAbs, maxAbsDiff, prefillDiff, type DriveOptions } from './drive.js';

const LAYERS = 2;
const SEED = 11;
/** Prompts of different lengths: the batch is left-padded (row 1 by 3, row 2 by 5). */
const PROMPTS = [
  [5, 17, 42, 99, 3, 64, 8],
  [12, 7, 120, 33],
  [90, 1],
];
const STEPS = 5;
/** fp32 logits of two graphs computing the same function in a different op order. */
const TOLERANCE = 2e-5;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-fused-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function session(file: string, built: BuiltModel): Promise<ort.InferenceSession> {
  const path = join(dir, file);
  await writeModel(path, built.model, { tensorData: built.tensorData });
  return ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
}

function driveOptions(arch: SynthArchitecture, extra: Partial<DriveOptions> = {}): DriveOptions {
  return { layers: LAYERS, kvHeads: arch.numKvHeads, headDim: arch.headDim, vocab: arch.vocabSize, steps: STEPS, ...extra };
}

describe.each(['llama', 'qwen2'] as const)('fused graph vs standard graph (%s)', (name) => {
  const arch = tinyArch(name);
  let standard: ort.InferenceSession;
  let fused: ort.InferenceSession;
  let unpacked: ort.InferenceSession;

  beforeAll(async () => {
    standard = await session(`${name}-standard.onnx`, buildDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: SEED }));
    fused = await session(`${name}-fused.onnx`, buildFusedDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: SEED, maxLength: 64 }));
    unpacked = await session(`${name}-fused-unpacked.onnx`, buildFusedDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: SEED, maxLength: 64, packQkv: false, packGateUp: false }));
  });

  it('gives the same logits on a left-padded prefill and on every decode step, and the same greedy tokens', async () => {
    const opts = driveOptions(arch);
    const ref = await drive(standard, PROMPTS, opts);
    const got = await drive(fused, PROMPTS, opts);
    const scale = maxAbs(ref.prefill);
    expect(scale).toBeGreaterThan(0.1);
    expect(prefillDiff(ref, got, arch.vocabSize)).toBeLessThan(TOLERANCE * Math.max(1, scale));
    for (let s = 0; s < STEPS; s++) expect(maxAbsDiff(ref.steps[s]!, got.steps[s]!)).toBeLessThan(TOLERANCE * Math.max(1, scale));
    expect(got.tokens).toEqual(ref.tokens);
    // The greedy continuation is not trivially constant (the comparison above would be weak otherwise).
    expect(new Set(ref.tokens.flat()).size).toBeGreaterThan(2);
  });

  it('computes the same with a preallocated KV buffer shared by past and present', async () => {
    const opts = driveOptions(arch);
    const growing = await drive(fused, PROMPTS, opts);
    const shared = await drive(fused, PROMPTS, { ...opts, mode: 'preallocated' });
    // The present is the whole buffer, written in place: the never-used tail kept its sentinel (a
    // separate present would have been zeroed first), so GroupQueryAttention took the shared-buffer path.
    expect(shared.presentDims[2]).toBe(growing.width + STEPS + SPARE_POSITIONS);
    expect(shared.tailIntact).toBe(true);
    expect(growing.tailIntact).toBeNull();
    const scale = Math.max(1, maxAbs(growing.prefill));
    expect(prefillDiff(growing, shared, arch.vocabSize)).toBeLessThan(TOLERANCE * scale);
    for (let s = 0; s < STEPS; s++) expect(maxAbsDiff(growing.steps[s]!, shared.steps[s]!)).toBeLessThan(TOLERANCE * scale);
    expect(shared.tokens).toEqual(growing.tokens);
  });

  it('gives the same logits with separate q/k/v and gate/up projections', async () => {
    const opts = driveOptions(arch);
    const packed = await drive(fused, PROMPTS, opts);
    const separate = await drive(unpacked, PROMPTS, opts);
    expect(prefillDiff(packed, separate, arch.vocabSize)).toBeLessThan(TOLERANCE * Math.max(1, maxAbs(packed.prefill)));
    expect(separate.tokens).toEqual(packed.tokens);
  });

  it('returns only the last positions when num_logits_to_keep asks for them', async () => {
    const ids = new ort.Tensor('int64', BigInt64Array.from([4n, 8n, 15n, 16n, 23n, 42n]), [1, 6]);
    const mask = new ort.Tensor('int64', new BigInt64Array(6).fill(1n), [1, 6]);
    const feeds: Record<string, ort.Tensor> = { input_ids: ids, attention_mask: mask };
    const empty = new ort.Tensor('float32', new Float32Array(0), [1, arch.numKvHeads, 0, arch.headDim]);
    for (let l = 0; l < LAYERS; l++) {
      feeds[`past_key_values.${l}.key`] = empty;
      feeds[`past_key_values.${l}.value`] = empty;
    }
    const all = await fused.run({ ...feeds, num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.from([0n]), []) });
    const last = await fused.run({ ...feeds, num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.from([1n]), []) });
    const allLogits = all.logits as ort.Tensor;
    const lastLogits = last.logits as ort.Tensor;
    expect(allLogits.dims).toEqual([1, 6, arch.vocabSize]);
    expect(lastLogits.dims).toEqual([1, 1, arch.vocabSize]);
    const tail = (allLogits.data as Float32Array).subarray(5 * arch.vocabSize);
    expect(maxAbsDiff(tail, lastLogits.data as Float32Array)).toBeLessThan(TOLERANCE * Math.max(1, maxAbs(tail)));
  });
});

describe('fused graph in fp16', () => {
  it('loads in ONNX Runtime and runs a step with finite logits', async () => {
    const arch = tinyArch('qwen2');
    const built = buildFusedDecoderModel({ arch, layers: LAYERS, dtype: 'fp16', seed: SEED, maxLength: 32 });
    const path = join(dir, 'qwen2-fused-fp16.onnx');
    await writeModel(path, built.model, { tensorData: built.tensorData });
    const check = await checkDecoderRuns(path, 4);
    expect(check.logitsDims).toEqual([1, 4, arch.vocabSize]);
    expect(check.presentLength).toBe(4);
  });
});

describe('fused graph structure', () => {
  it('uses the fused kernels: one GroupQueryAttention, packed q/k/v and gate/up MatMuls and skip-norms per layer, no Softmax', () => {
    const arch = tinyArch('qwen2');
    const { model } = buildFusedDecoderModel({ arch, layers: 3, dtype: 'fp32', seed: 1, maxLength: 32 });
    const ops = new Map<string, number>();
    for (const n of model.graph!.node) ops.set(n.op_type!, (ops.get(n.op_type!) ?? 0) + 1);
    expect(ops.get('GroupQueryAttention')).toBe(3);
    expect(ops.get('SimplifiedLayerNormalization')).toBe(1);
    // 2 per layer minus the first (plain) one, plus the final norm.
    expect(ops.get('SkipSimplifiedLayerNormalization')).toBe(2 * 3 - 1 + 1);
    expect(ops.get('QuickGelu')).toBe(3);
    // qkv + o + gate/up + down per layer, plus the LM head; gate/up split after the product.
    expect(ops.get('MatMul')).toBe(4 * 3 + 1);
    expect(ops.get('Split')).toBe(3);
    const split = model.graph!.node.find((n) => n.op_type === 'Split')!;
    const sizes = model.graph!.initializer.find((t) => t.name === split.input[1]);
    expect(sizes?.raw_data && Array.from(new BigInt64Array(new Uint8Array(sizes.raw_data).buffer), Number)).toEqual([arch.intermediateSize, arch.intermediateSize]);
    const unpackedOps = buildFusedDecoderModel({ arch, layers: 3, dtype: 'fp32', seed: 1, maxLength: 32, packGateUp: false }).model.graph!.node;
    expect(unpackedOps.filter((n) => n.op_type === 'MatMul')).toHaveLength(5 * 3 + 1);
    expect(unpackedOps.some((n) => n.op_type === 'Split')).toBe(false);
    expect(ops.has('Softmax')).toBe(false);
    expect(ops.has('Concat') && model.graph!.node.some((n) => n.op_type === 'Concat' && n.name?.includes('layers'))).toBe(false);
    const meta = readModelscoutMetadata(model);
    expect(meta.graph).toBe('fused');
    expect(meta.synthetic).toBe(true);
    expect(model.opset_import.some((o) => o.domain === 'com.microsoft')).toBe(true);
    const inputs = model.graph!.input.map((v) => v.name);
    expect(inputs).toContain('num_logits_to_keep');
    expect(inputs).not.toContain('position_ids');
  });

  it('rejects what GroupQueryAttention cannot run, naming the reason', () => {
    const gpt2Arch = tinyArch('gpt2');
    expect(() => buildFusedDecoderModel({ arch: gpt2Arch, layers: 1, dtype: 'fp32', seed: 1 })).toThrow(/Llama family/);
    const odd = { ...tinyArch('llama'), headDim: 24 };
    try {
      buildFusedDecoderModel({ arch: odd, layers: 1, dtype: 'fp32', seed: 1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ModelscoutError);
      expect((error as ModelscoutError).code).toBe('E_UNSUPPORTED');
      expect((error as ModelscoutError).message).toMatch(/multiple of 16/);
    }
  });
});
