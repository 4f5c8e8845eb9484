import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelscoutMetadata } from '../../src/onnx/metadata.js';
import { externalDataInfo, readModel, resolveExternalLocation } from '../../src/onnx/model-io.js';
import { measureFidelity } from '../../src/quantize/fidelity.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { buildTinyModel } from '../helpers/tiny-model.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelscout-fidelity-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Swaps the two nibbles of every byte of every `*_Q4` initializer, in place in the data file. */
async function swapNibbles(modelPath: string): Promise<number> {
  const loaded = await readModel(modelPath);
  let corrupted = 0;
  for (const tensor of loaded.model.graph!.initializer) {
    if (!tensor.name?.endsWith('_Q4')) continue;
    const info = externalDataInfo(tensor);
    const handle = await open(resolveExternalLocation(loaded.dir, info.location), 'r+');
    try {
      const bytes = Buffer.alloc(info.length!);
      await handle.read(bytes, 0, bytes.length, info.offset);
      for (let i = 0; i < bytes.length; i++) bytes[i] = ((bytes[i]! & 0x0f) << 4) | (bytes[i]! >> 4);
      await handle.write(bytes, 0, bytes.length, info.offset);
    } finally {
      await handle.close();
    }
    corrupted++;
  }
  return corrupted;
}

describe('quantized synthetic decoders: they load, run, and their fidelity is measured', () => {
  it('llama (untied head): passes fidelity; a corrupted packing is caught', async () => {
    const dir = join(root, 'llama');
    await buildTinyModel({ arch: 'llama', dir, layers: 2 });
    const result = await quantizeModel(dir, { threads: 1 });
    expect(result.fidelity.ran).toBe(true);
    if (!result.fidelity.ran) return;
    expect(result.fidelity).toMatchObject({ pass: true, reasons: [], sequenceLength: 32, seed: 1234, vocabSize: 128, positions: 32 });
    expect(result.fidelity.cosineMean).toBeGreaterThan(0.8);
    expect(result.fidelity.klMean).toBeLessThan(0.3);
    expect(result.nodes.lmHead).toBe('/lm_head/MatMul');
    expect(result.input.synthetic).toBe(true);
    expect(readModelscoutMetadata((await readModel(result.output.model)).model).synthetic).toBe(true);

    expect(await swapNibbles(result.output.model)).toBe(result.tensors.length);
    const broken = await measureFidelity(result.input.model, result.output.model, { threads: 1 });
    expect(broken.pass).toBe(false);
    expect(broken.cosineMean).toBeLessThan(0.6);
    expect(broken.reasons.join('; ')).toMatch(/logit cosine .* < 0\.6/);
  });

  it('qwen2 (tied head), by default: the embedding becomes GatherBlockQuantized sharing the LM head bytes', async () => {
    const dir = join(root, 'qwen2');
    await buildTinyModel({ arch: 'qwen2', dir, layers: 2 });
    const plain = await quantizeModel(dir, { embeddings: false, threads: 1, out: join(root, 'qwen2-plain'), blockSize: 32 });
    expect(plain.nodes.quantizedGather).toBe(0);
    // Block 32: the tiny model's hidden size (64) is a whole number of blocks, so the table can be shared.
    const result = await quantizeModel(dir, { threads: 1, out: join(root, 'qwen2-emb'), blockSize: 32 });
    expect(result.fidelity.ran && result.fidelity.pass).toBe(true);
    expect(result.nodes.quantizedGather).toBe(1);
    expect(result.nodes.embedding).toBe('/model/embed_tokens/Gather');
    // One job serves both the LM head and the lookup; the float table is gone.
    const shared = result.tensors.find((t) => t.kind === 'matmul+gather');
    expect(shared).toBeDefined();
    const graph = (await readModel(result.output.model)).model.graph!;
    const gbq = graph.node.find((n) => n.op_type === 'GatherBlockQuantized')!;
    const reshape = graph.node.find((n) => n.output[0] === gbq.input[0])!;
    expect(reshape.op_type).toBe('Reshape');
    expect(reshape.input[0]).toBe(graph.node.find((n) => n.name === '/lm_head/MatMulNBits')!.input[1]);
    expect(graph.initializer.some((t) => t.name === shared!.name)).toBe(false);
    expect(graph.node.some((n) => n.name === '/model/embed_tokens/Transpose')).toBe(false);
    expect(result.size.after).toBeLessThan(plain.size.after);
  });

  it('fp16 weights: model_q4f16.onnx with fp16 scales, fidelity measured against the fp16 model', async () => {
    const dir = join(root, 'fp16');
    await buildTinyModel({ arch: 'qwen2', dir, layers: 1, dtype: 'fp16' });
    const result = await quantizeModel(join(dir, 'onnx', 'model_fp16.onnx'), { symmetric: false, threads: 1, blockSize: 32 });
    expect(result.output.model).toBe(join(dir, 'onnx', 'model_q4f16.onnx'));
    expect(result.tensors.every((t) => t.dtype === 'float16')).toBe(true);
    expect(result.size.bitsPerWeight).toBeCloseTo(4 + 16 / 32 + 4 / 32, 5);
    expect(result.fidelity.ran && result.fidelity.pass).toBe(true);
  });
});
