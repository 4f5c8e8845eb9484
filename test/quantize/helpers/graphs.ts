import { join } from 'node:path';
import { GraphBuilder, attr } from '../../../src/onnx/graph-builder.js';
import { writeModel } from '../../../src/onnx/model-io.js';
import { DataType, createGraph, createNode, createValueInfo } from '../../../src/onnx/proto.js';
import { toFloat16Bits } from '../../../src/util/float16.js';
import { createRandom } from '../../../src/quantize/random.js';

/**
 * Small graphs that exercise every rewrite rule: plain MatMul weights, a weight shared by two MatMuls,
 * `MatMul(X, Transpose(W))`, a dynamic (non-constant) weight, a 3-D weight, and MatMuls inside both
 * branches of an `If` whose weight lives in the outer graph.
 */

export interface MixedModelOptions {
  dtype?: 'float32' | 'float16';
  seed?: number;
}

function weightBytes(count: number, seed: number, dtype: 'float32' | 'float16', scale = 0.2): Uint8Array {
  const rnd = createRandom(seed);
  const values = new Float32Array(count).map(() => rnd.normal() * scale);
  if (dtype === 'float16') return new Uint8Array(Uint16Array.from(values, (v) => toFloat16Bits(v)).buffer);
  return new Uint8Array(values.buffer);
}

/** Writes `<dir>/onnx/model.onnx` (+ `model.onnx_data`) and a config.json; returns the model path. */
export async function writeMixedModel(dir: string, options: MixedModelOptions = {}): Promise<string> {
  const dtype = options.dtype ?? 'float32';
  const seed = options.seed ?? 1;
  const elem = dtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  const b = new GraphBuilder({ opsets: { '': 17 } });
  const x = b.addInput('X', elem, ['batch', 64]);
  const cond = b.addInput('cond', DataType.BOOL, []);
  const y = b.addInput('Y', elem, [64, 16]);
  const wa = b.addInitializer('W_a', elem, [64, 32], weightBytes(64 * 32, seed, dtype));
  const ws = b.addInitializer('W_shared', elem, [32, 32], weightBytes(32 * 32, seed + 1, dtype));
  const wt = b.addInitializer('W_t', elem, [48, 32], weightBytes(48 * 32, seed + 2, dtype));
  const wif = b.addInitializer('W_if', elem, [32, 16], weightBytes(32 * 16, seed + 3, dtype));
  const w3 = b.addInitializer('W_3d', elem, [1, 32, 32], weightBytes(32 * 32, seed + 4, dtype));

  const h1 = b.op('/layers.0/a/MatMul', 'MatMul', [x, wa]);
  const h2 = b.op('/layers.0/b/MatMul', 'MatMul', [h1, ws]);
  const h3 = b.op('/layers.1/b/MatMul', 'MatMul', [h2, ws]);
  const transposed = b.op('/t/Transpose', 'Transpose', [wt], { perm: attr.ints([1, 0]) });
  const h4 = b.op('/t/MatMul', 'MatMul', [h3, transposed]);
  const d = b.op('/dyn/MatMul', 'MatMul', [x, y]);
  const h6 = b.op('/w3/MatMul', 'MatMul', [h3, w3]);

  const branch = (name: string, negate: boolean) => {
    const mm = createNode({ name: `/if/${name}/MatMul`, op_type: 'MatMul', input: [h3, wif], output: [`/if/${name}/mm`] });
    const nodes = [mm];
    let out = `/if/${name}/mm`;
    if (negate) {
      nodes.push(createNode({ name: `/if/${name}/Neg`, op_type: 'Neg', input: [out], output: [`/if/${name}/neg`] }));
      out = `/if/${name}/neg`;
    }
    return createGraph({ name, node: nodes, output: [createValueInfo(out, elem, ['batch', 16])] });
  };
  const [h5] = b.addNode({
    name: '/if/If',
    op: 'If',
    inputs: [cond],
    outputs: ['/if/output'],
    attributes: { then_branch: attr.graph(branch('then', false)), else_branch: attr.graph(branch('else', true)) },
  });
  b.addOutput(h4, elem, ['batch', 48]);
  b.addOutput(d, elem, ['batch', 16]);
  b.addOutput(h5!, elem, ['batch', 16]);
  b.addOutput(h6, elem, [1, 'batch', 32]);
  b.markSynthetic(seed);
  const { model, tensorData } = b.build();
  const path = join(dir, 'onnx', 'model.onnx');
  await writeModel(path, model, { tensorData, externalDataFile: 'model.onnx_data', sizeThreshold: 0 });
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'test' }));
  return path;
}

/** A model whose only MatMul multiplies two graph inputs (nothing to quantize). */
export async function writeNoWeightModel(dir: string): Promise<string> {
  const b = new GraphBuilder();
  const x = b.addInput('X', DataType.FLOAT, [2, 4]);
  const y = b.addInput('Y', DataType.FLOAT, [4, 3]);
  b.addOutput(b.op('/MatMul', 'MatMul', [x, y]), DataType.FLOAT, [2, 3]);
  const { model, tensorData } = b.build();
  const path = join(dir, 'model.onnx');
  await writeModel(path, model, { tensorData });
  return path;
}

/** A model with one MatMul whose weight is float64 (an unsupported dtype). */
export async function writeDoubleWeightModel(dir: string): Promise<string> {
  const b = new GraphBuilder();
  const x = b.addInput('X', DataType.DOUBLE, [2, 32]);
  const w = b.addInitializer('W', DataType.DOUBLE, [32, 8], new Uint8Array(32 * 8 * 8));
  b.addOutput(b.op('/MatMul', 'MatMul', [x, w]), DataType.DOUBLE, [2, 8]);
  const { model, tensorData } = b.build();
  const path = join(dir, 'model.onnx');
  await writeModel(path, model, { tensorData });
  return path;
}
