import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelscoutError } from '../../src/errors.js';
import { readModelscoutMetadata } from '../../src/onnx/metadata.js';
import { readModel, readTensorBytes } from '../../src/onnx/model-io.js';
import { getAttribute, type OnnxGraph, type OnnxNode } from '../../src/onnx/proto.js';
import { toFloat16Bits, fromFloat16Bits } from '../../src/util/float16.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { createRandom } from '../../src/quantize/random.js';
import { writeDoubleWeightModel, writeMixedModel, writeNoWeightModel } from './helpers/graphs.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelscout-rewrite-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function nodesOf(graph: OnnxGraph): OnnxNode[] {
  const all: OnnxNode[] = [];
  for (const node of graph.node) {
    all.push(node);
    for (const a of node.attribute) {
      if (a.g) all.push(...nodesOf(a.g));
      for (const g of a.graphs) all.push(...nodesOf(g));
    }
  }
  return all;
}

async function runBoth(original: string, quantized: string, dtype: 'float32' | 'float16'): Promise<Record<string, { a: Float32Array; b: Float32Array }>> {
  const rnd = createRandom(77);
  const xs = new Float32Array(3 * 64).map(() => rnd.normal());
  const ys = new Float32Array(64 * 16).map(() => rnd.normal());
  const tensor = (values: Float32Array, dims: number[]) =>
    dtype === 'float16' ? new ort.Tensor('float16', Uint16Array.from(values, (v) => toFloat16Bits(v)), dims) : new ort.Tensor('float32', values, dims);
  const out: Record<string, { a: Float32Array; b: Float32Array }> = {};
  for (const cond of [true, false]) {
    const feeds = { X: tensor(xs, [3, 64]), Y: tensor(ys, [64, 16]), cond: new ort.Tensor('bool', Uint8Array.from([cond ? 1 : 0]), []) };
    const results: Record<string, Float32Array>[] = [];
    for (const path of [original, quantized]) {
      const session = await ort.InferenceSession.create(path);
      const r = await session.run(feeds);
      const converted: Record<string, Float32Array> = {};
      for (const [name, t] of Object.entries(r)) {
        converted[name] = t.data instanceof Uint16Array ? Float32Array.from(t.data, (bits) => fromFloat16Bits(bits)) : (t.data as Float32Array);
      }
      results.push(converted);
      await session.release();
    }
    for (const name of Object.keys(results[0]!)) out[`${name}|${cond}`] = { a: results[0]![name]!, b: results[1]![name]! };
  }
  return out;
}

function relativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += a[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('quantizeModel graph rewrite', () => {
  for (const dtype of ['float32', 'float16'] as const) {
    it(`${dtype}: rewrites every eligible MatMul (shared, transposed, inside If) and runs in ONNX Runtime`, async () => {
      const src = join(root, `mixed-${dtype}`);
      const modelPath = await writeMixedModel(src, { dtype });
      const out = join(root, `mixed-${dtype}-q4`);
      const result = await quantizeModel(src, { out, symmetric: false, accuracyLevel: 0, blockSize: 32 });

      const expectedFile = dtype === 'float16' ? 'model_q4f16.onnx' : 'model_q4.onnx';
      expect(result.output.model).toBe(join(out, 'onnx', expectedFile));
      expect(result.output.copied).toEqual(['config.json']);
      expect((await readdir(join(out, 'onnx'))).sort()).toEqual([expectedFile, `${expectedFile}_data`]);
      expect(result.input.model).toBe(modelPath);
      expect(result.input.synthetic).toBe(true);
      expect(result.input.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(result.input.files.map((f) => f.path.split('/').pop())).toEqual(['model.onnx', 'model.onnx_data']);

      const loaded = await readModel(result.output.model);
      const graph = loaded.model.graph!;
      // Node order and names: MatMul → MatMulNBits in place; the Transpose that fed /t/MatMul is gone.
      expect(graph.node.map((n) => `${n.name}:${n.op_type}`)).toEqual([
        '/layers.0/a/MatMulNBits:MatMulNBits',
        '/layers.0/b/MatMulNBits:MatMulNBits',
        '/layers.1/b/MatMulNBits:MatMulNBits',
        '/t/MatMulNBits:MatMulNBits',
        '/dyn/MatMul:MatMul',
        '/w3/MatMul:MatMul',
        '/if/If:If',
      ]);
      const all = nodesOf(graph);
      expect(all.filter((n) => n.op_type === 'MatMulNBits').map((n) => n.name)).toContain('/if/then/MatMulNBits');
      expect(all.filter((n) => n.op_type === 'MatMulNBits').map((n) => n.name)).toContain('/if/else/MatMulNBits');
      for (const node of all.filter((n) => n.op_type === 'MatMulNBits')) {
        expect(node.domain).toBe('com.microsoft');
        expect(getAttribute(node, 'bits')).toBe(4);
        expect(getAttribute(node, 'block_size')).toBe(32);
        expect(getAttribute(node, 'accuracy_level')).toBeUndefined(); // 0 is not written
      }
      const t = graph.node.find((n) => n.name === '/t/MatMulNBits')!;
      expect([getAttribute(t, 'K'), getAttribute(t, 'N')]).toEqual([32, 48]);
      expect(t.input).toEqual(['/layers.1/b/MatMul/output_0', 'W_t_T_Q4', 'W_t_T_scales', 'W_t_T_zp']);

      // The shared weight is quantized once; float weights that nothing uses any more are gone.
      const names = graph.initializer.map((i) => i.name);
      expect(names.filter((n) => n === 'W_shared_Q4')).toHaveLength(1);
      expect(names).not.toContain('W_shared');
      expect(names).not.toContain('W_a');
      expect(names).not.toContain('W_t');
      expect(names).not.toContain('W_if');
      expect(names).toContain('W_3d');
      expect(names.slice(0, 4)).toEqual(['W_a_Q4', 'W_a_scales', 'W_a_zp', 'W_shared_Q4']);
      const q4 = graph.initializer.find((i) => i.name === 'W_a_Q4')!;
      expect(q4.dims).toEqual([32, 2, 16]);
      expect(graph.initializer.find((i) => i.name === 'W_a_scales')!.dims).toEqual([32, 2]);
      expect(graph.initializer.find((i) => i.name === 'W_a_zp')!.dims).toEqual([32, 1]);
      expect(result.tensors.map((x) => x.name).sort()).toEqual(['W_a', 'W_if', 'W_shared', 'W_t']);
      expect(result.tensors.find((x) => x.name === 'W_shared')!.nodes).toEqual(['/layers.0/b/MatMulNBits', '/layers.1/b/MatMulNBits']);

      // Float tensors that stay are copied byte for byte.
      const source = await readModel(modelPath);
      for (const tensor of graph.initializer) {
        const original = source.model.graph!.initializer.find((t) => t.name === tensor.name);
        if (!original) continue;
        expect(Buffer.from(await readTensorBytes(loaded, tensor)).equals(Buffer.from(await readTensorBytes(source, original))), tensor.name).toBe(true);
      }

      expect(loaded.model.opset_import).toContainEqual({ domain: 'com.microsoft', version: 1 });
      const meta = readModelscoutMetadata(loaded.model);
      expect(meta.synthetic).toBe(true);
      expect(meta.quantization).toMatchObject({ method: 'rtn', bits: 4, block_size: 32, symmetric: false, accuracy_level: 0, source_sha256: result.input.sha256 });

      expect(result.nodes).toMatchObject({ matMul: 8, quantizedMatMul: 6, quantizedGather: 0 });
      expect(result.nodes.skipped.map((s) => s.node).sort()).toEqual(['/dyn/MatMul', '/w3/MatMul']);
      expect(result.fidelity.ran).toBe(false);

      // ONNX Runtime runs it, and every output stays close to the float model's (both If branches).
      const outputs = await runBoth(modelPath, result.output.model, dtype);
      for (const [name, { a, b }] of Object.entries(outputs)) {
        if (name.startsWith('/dyn/')) expect(Array.from(b)).toEqual(Array.from(a));
        // Up to four int4 MatMuls in a chain (~8% relative error each on Gaussian weights); a wrong packing
        // gives errors above 1.
        else expect(relativeError(a, b), name).toBeLessThan(0.3);
      }
    });
  }

  it('--exclude keeps matching nodes float and the weight they still use', async () => {
    const src = join(root, 'exclude');
    await writeMixedModel(src);
    const result = await quantizeModel(src, { exclude: ['^/layers\\.1/', '^/if/else/'], fidelity: false });
    expect(result.output.model).toBe(join(src, 'onnx', 'model_q4.onnx'));
    expect(result.settings.excludedNodes.sort()).toEqual(['/if/else/MatMul', '/layers.1/b/MatMul']);
    const graph = (await readModel(result.output.model)).model.graph!;
    const names = graph.initializer.map((i) => i.name);
    expect(names).toContain('W_shared');
    expect(names).toContain('W_shared_Q4');
    expect(names).toContain('W_if');
    expect(names).not.toContain('W_shared_zp'); // symmetric by default: no zero points
    expect(graph.node.find((n) => n.name === '/layers.1/b/MatMul')!.op_type).toBe('MatMul');
    expect(getAttribute(graph.node.find((n) => n.name === '/layers.0/b/MatMulNBits')!, 'accuracy_level')).toBe(4);
  });

  it('refuses an already-quantized model', async () => {
    const src = join(root, 'twice');
    await writeMixedModel(src);
    const first = await quantizeModel(src, { fidelity: false });
    await expect(quantizeModel(first.output.model, { out: join(root, 'twice-again') })).rejects.toThrow(/already quantized/);
    await expect(stat(join(root, 'twice-again'))).rejects.toThrow();
  });

  it('refuses models with nothing to quantize, naming why, and writes nothing', async () => {
    const noWeights = join(root, 'none');
    await writeNoWeightModel(noWeights);
    const error = await quantizeModel(noWeights).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelscoutError);
    expect((error as ModelscoutError).exitCode).toBe(2);
    expect((error as ModelscoutError).message).toMatch(/no eligible MatMul .*weight is not a constant initializer.*nothing was written/);
    expect(await readdir(noWeights)).toEqual(['model.onnx']);

    const doubles = join(root, 'double');
    await writeDoubleWeightModel(doubles);
    const before = await readdir(doubles);
    await expect(quantizeModel(doubles)).rejects.toThrow(/weights are float64 \(supported: float32, float16\)/);
    expect(await readdir(doubles)).toEqual(before);
  });

  it('names the allowed block sizes and accuracy levels', async () => {
    const src = join(root, 'bad-options');
    await writeMixedModel(src);
    await expect(quantizeModel(src, { blockSize: 48 })).rejects.toThrow(/invalid block size 48: expected one of 16, 32, 64, 128, 256/);
    await expect(quantizeModel(src, { accuracyLevel: 7 })).rejects.toThrow(/invalid accuracy level 7: expected 0, 1, 2, 3 or 4/);
    await expect(quantizeModel(src, { exclude: ['('] })).rejects.toThrow(/invalid --exclude pattern/);
  });
});
