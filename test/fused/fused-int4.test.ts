import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelSpecFromHfConfig } from '../../src/catalog/index.js';
import { buildFusedDecoderModel } from '../../src/onnx/fused/build-fused-decoder.js';
import type { BuiltModel } from '../../src/onnx/graph-builder.js';
import { readModelscoutMetadata } from '../../src/onnx/metadata.js';
import { readModel, writeModel } from '../../src/onnx/model-io.js';
import { resolveSynthArchitecture } from '../../src/onnx/synth/architecture.js';
import { buildDecoderModel } from '../../src/onnx/synth/build-decoder.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { TINY_CONFIGS } from '../helpers/tiny-model.js';
import { drive, maxAbs, maxAbsDiff, prefillDiff } from './drive.js';

const LAYERS = 2;
const SEED = 5;
const PROMPTS = [
  [5, 17, 42, 99, 3, 64, 8],
  [12, 7, 120, 33],
];
const STEPS = 4;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-fused-int4-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function quantized(name: string, built: BuiltModel): Promise<string> {
  const floatPath = join(dir, name, 'onnx', 'model.onnx');
  await writeModel(floatPath, built.model, { tensorData: built.tensorData });
  const result = await quantizeModel(floatPath, { out: join(dir, `${name}-q4`), blockSize: 32, accuracyLevel: 4, fidelity: false });
  return result.output.model;
}

describe('fused graph after int4 quantization (block 32, accuracy level 4)', () => {
  const config = TINY_CONFIGS.qwen2;
  const arch = resolveSynthArchitecture(modelSpecFromHfConfig(config, { source: 'qwen2.json' }), config);
  let standardPath: string;
  let fusedPath: string;

  beforeAll(async () => {
    standardPath = await quantized('standard', buildDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: SEED }));
    fusedPath = await quantized('fused', buildFusedDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: SEED, maxLength: 64 }));
  });

  it('stays fused: every projection becomes MatMulNBits, the fused kernels are untouched', async () => {
    const { model } = await readModel(fusedPath);
    const ops = model.graph!.node.map((n) => n.op_type);
    expect(ops.filter((o) => o === 'MatMul')).toHaveLength(0);
    // q/k/v, o, the packed gate/up and down per layer, plus the LM head.
    expect(ops.filter((o) => o === 'MatMulNBits')).toHaveLength(4 * LAYERS + 1);
    expect(ops.filter((o) => o === 'Split')).toHaveLength(LAYERS);
    expect(ops.filter((o) => o === 'GroupQueryAttention')).toHaveLength(LAYERS);
    expect(ops).toContain('SkipSimplifiedLayerNormalization');
    const meta = readModelscoutMetadata(model);
    expect(meta.graph).toBe('fused');
    expect(meta.quantization).toMatchObject({ block_size: 32, accuracy_level: 4 });
  });

  it('gives the logits and greedy tokens of the quantized standard graph', async () => {
    const standard = await ort.InferenceSession.create(standardPath, { intraOpNumThreads: 1 });
    const fused = await ort.InferenceSession.create(fusedPath, { intraOpNumThreads: 1 });
    const opts = { layers: LAYERS, kvHeads: arch.numKvHeads, headDim: arch.headDim, vocab: arch.vocabSize, steps: STEPS };
    const ref = await drive(standard, PROMPTS, opts);
    // Same tokens in, so a near-tie in one step cannot derail the rest of the comparison.
    const got = await drive(fused, PROMPTS, { ...opts, forcedTokens: ref.tokens, mode: 'preallocated' });
    const scale = Math.max(1, maxAbs(ref.prefill));
    // Packing q/k/v concatenates whole weight columns, and blocks run along K inside a column, so both graphs
    // hold the same int4 codes and scales; only float rounding (and with it the int8 quantization of the
    // activations at accuracy level 4) differs.
    expect(prefillDiff(ref, got, arch.vocabSize)).toBeLessThan(2e-3 * scale);
    for (let s = 0; s < STEPS; s++) expect(maxAbsDiff(ref.steps[s]!, got.steps[s]!)).toBeLessThan(2e-3 * scale);
    expect(got.tokens).toEqual(ref.tokens);
  });
});
