import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelscoutError } from '../../src/errors.js';
import { detectDecoderSignature } from '../../src/onnx/decoder-signature.js';
import { GraphBuilder, attr } from '../../src/onnx/graph-builder.js';
import { inspectModel } from '../../src/onnx/inspect.js';
import { writeModel } from '../../src/onnx/model-io.js';
import { DataType } from '../../src/onnx/proto.js';
import { synthesizeModel } from '../../src/onnx/synth/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-inspect-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('inspectModel', () => {
  it('recognises int4 MatMulNBits weights with their block size next to a float MatMul', async () => {
    const g = new GraphBuilder({ opsets: { '': 17, 'com.microsoft': 1 } });
    g.addInput('x', DataType.FLOAT, ['batch', 64]);
    // K = 64, N = 8, block 32: B [8, 2, 16] uint8, scales [8, 2]; no zero points (symmetric).
    g.addInitializer('w_Q4', DataType.UINT8, [8, 2, 16], new Uint8Array(256).fill(0x98));
    g.addInitializer('w_scales', DataType.FLOAT, [8, 2], new Uint8Array(Float32Array.from({ length: 16 }, () => 0.01).buffer));
    const y = g.op('/l1/MatMulNBits', 'MatMulNBits', ['x', 'w_Q4', 'w_scales'], { K: attr.int(64), N: attr.int(8), bits: attr.int(4), block_size: attr.int(32), accuracy_level: attr.int(4) }, 'com.microsoft');
    g.addInitializer('head', DataType.FLOAT, [8, 3], new Uint8Array(Float32Array.from({ length: 24 }, (_, i) => i / 10).buffer));
    g.addNode({ name: '/head/MatMul', op: 'MatMul', inputs: [y, 'head'], outputs: ['y'] });
    g.addOutput('y', DataType.FLOAT, ['batch', 3]);
    const built = g.build();
    const path = join(dir, 'q4', 'model_q4.onnx');
    await writeModel(path, built.model, { tensorData: built.tensorData });

    // ONNX Runtime accepts it: low nibbles 8 (even k) → 0, high nibbles 9 (odd k) → 0.01, so each of the
    // 8 hidden units is 32 × 0.01 = 0.32 for x = 1, and y[0] = 0.32 × Σn head[n][0] = 0.32 × 8.4.
    const session = await ort.InferenceSession.create(path);
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array(64).fill(1), [1, 64]) });
    expect((out.y!.data as Float32Array)[0]).toBeCloseTo(0.32 * 8.4, 4);
    await session.release();

    const report = await inspectModel(join(dir, 'q4'));
    expect(report.variants).toEqual([{ variant: 'q4', file: path }]);
    expect(report.weightFormat.kind).toBe('mixed');
    expect(report.weightFormat.matMulNBits).toEqual({ count: 1, bits: [4], blockSizes: [32], accuracyLevels: [4], symmetric: 1 });
    expect(report.weightFormat.description).toBe('int4 MatMulNBits (block 32, symmetric, accuracy level 4) on 1 of 2 weight MatMuls; 1 left in fp32');
    expect(report.byDtype.find((d) => d.dtype === 'int4')).toEqual({ dtype: 'int4', tensors: 1, parameters: 512, bytes: 256 });
    expect(report.opsets).toEqual([{ domain: 'ai.onnx', version: 17 }, { domain: 'com.microsoft', version: 1 }]);
    expect(report.ops.map((o) => o.op).sort()).toEqual(['MatMul', 'com.microsoft::MatMulNBits']);
    expect(report.decoder).toBeNull();
    expect(report.decoderProblem).toMatch(/no input_ids input/);
    expect(report.synthetic).toBe(false);
  });

  it('reads the KV layout of the real Qwen2.5-0.5B shape from a 1-layer build', async () => {
    const result = await synthesizeModel({ source: 'qwen2.5-0.5b', dtype: 'fp16', layers: 1, seed: 0, outDir: join(dir, 'qwen') });
    const report = await inspectModel(result.outDir);
    expect(report.decoder).toMatchObject({ numLayers: 1, numKvHeads: 2, headDim: 64, kvDtype: 'float16', kvBytesPerToken: 512, vocabSize: 151936 });
    expect(report.weightFormat.kind).toBe('fp16');
    expect(report.metadata).toMatchObject({ synthetic: true, numLayersBuilt: 1, numLayersFull: 24, source: 'qwen2.5-0.5b' });
  });

  it('aborts without leaving a folder when the signal fires', async () => {
    const controller = new AbortController();
    controller.abort();
    const out = join(dir, 'aborted');
    const error = await synthesizeModel({ source: 'smollm2-135m', dtype: 'fp32', layers: 1, seed: 0, outDir: out, signal: controller.signal }).catch((e: unknown) => e);
    expect((error as ModelscoutError).code).toBe('E_INTERRUPTED');
    await expect(import('node:fs/promises').then((fs) => fs.stat(out))).rejects.toThrow();
  });
});

describe('detectDecoderSignature', () => {
  it('lists what it found when the signature is not a supported decoder', () => {
    const g = new GraphBuilder();
    g.addInput('input_ids', DataType.INT64, ['b', 's']);
    g.addInput('token_type_ids', DataType.INT64, ['b', 's']);
    g.addOutput('logits', DataType.FLOAT, ['b', 's', 10]);
    let error: unknown;
    try {
      detectDecoderSignature(g.build().model, 'decoder_model_merged.onnx');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelscoutError);
    expect((error as ModelscoutError).code).toBe('E_UNSUPPORTED');
    expect((error as ModelscoutError).message).toBe(
      'decoder_model_merged.onnx: not a supported decoder signature (unsupported input(s) token_type_ids); found inputs [input_ids, token_type_ids], outputs [logits]',
    );
  });
});
