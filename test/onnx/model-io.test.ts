import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelscoutError } from '../../src/errors.js';
import { GraphBuilder, attr } from '../../src/onnx/graph-builder.js';
import { readModelscoutMetadata } from '../../src/onnx/metadata.js';
import { readModel, readTensorBytes, readTensorChunks, resolveExternalLocation, writeModel } from '../../src/onnx/model-io.js';
import { DataType, decodeModel, encodeModel, forEachGraph } from '../../src/onnx/proto.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-onnx-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function floats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(seed * 1000 + i * 0.37);
  return out;
}

/** y = (x @ W1 + b) @ W2 with W1 [8, 300] (external), b [300], W2 [300, 4] (external), a Slice with INT64_MAX. */
function buildModel(): { built: ReturnType<GraphBuilder['build']>; w1: Float32Array; w2: Float32Array; b: Float32Array } {
  const g = new GraphBuilder({ opsets: { '': 17 } });
  const w1 = floats(8 * 300, 1);
  const w2 = floats(300 * 4, 2);
  const b = floats(300, 3);
  g.addInput('x', DataType.FLOAT, ['batch', 8]);
  g.addInitializer('w1', DataType.FLOAT, [8, 300], () => new Uint8Array(w1.buffer));
  g.addInitializer('w2', DataType.FLOAT, [300, 4], async () => new Uint8Array(w2.buffer));
  // Delivered in chunks, as a synthetic generator would.
  g.addInitializer('b', DataType.FLOAT, [300], () => [new Uint8Array(b.buffer, 0, 400), new Uint8Array(b.buffer, 400, 800)]);
  const h = g.op('/l1/MatMul', 'MatMul', ['x', 'w1']);
  const hb = g.op('/l1/Add', 'Add', [h, 'b']);
  const y = g.op('/l2/MatMul', 'MatMul', [hb, 'w2']);
  const sliced = g.op('/slice/Slice', 'Slice', [y, g.int64([0]), g.int64([Number.MAX_SAFE_INTEGER * 1024]), g.int64([1])]);
  g.addNode({ name: '/out/Identity', op: 'Identity', inputs: [sliced], outputs: ['y'], attributes: {} });
  g.addOutput('y', DataType.FLOAT, ['batch', 4]);
  g.op('/unused/Softmax', 'Softmax', [y], { axis: attr.int(-1) });
  g.markSynthetic(42);
  return { built: g.build(), w1, w2, b };
}

function reference(x: Float32Array, w1: Float32Array, b: Float32Array, w2: Float32Array): number[] {
  const h = new Float64Array(300);
  for (let j = 0; j < 300; j++) {
    let s = b[j]!;
    for (let k = 0; k < 8; k++) s += x[k]! * w1[k * 300 + j]!;
    h[j] = s;
  }
  const y: number[] = [];
  for (let n = 0; n < 4; n++) {
    let s = 0;
    for (let j = 0; j < 300; j++) s += h[j]! * w2[j * 4 + n]!;
    y.push(s);
  }
  return y;
}

describe('writeModel / readModel', () => {
  it('streams initializers to aligned external data that onnxruntime loads', async () => {
    const { built, w1, w2, b } = buildModel();
    const path = join(dir, 'a', 'model.onnx');
    const result = await writeModel(path, built.model, { tensorData: built.tensorData });
    expect(result.dataPath).toBe(join(dir, 'a', 'model.onnx_data'));
    expect(result.externalTensors).toBe(3);
    const loaded = await readModel(path);
    const inits = loaded.model.graph!.initializer;
    const w2t = inits.find((t) => t.name === 'w2')!;
    const offsets = inits.filter((t) => t.data_location === 1).map((t) => Number(t.external_data.find((e) => e.key === 'offset')!.value));
    expect(offsets).toEqual([0, 12288, 20480]); // 9600 and 4800 bytes, each start aligned to 4096
    expect(Buffer.from(await readTensorBytes(loaded, w2t)).equals(Buffer.from(w2.buffer))).toBe(true);
    const chunks: Uint8Array[] = [];
    for await (const c of readTensorChunks(loaded, inits.find((t) => t.name === 'w1')!, 1000)) chunks.push(c);
    expect(chunks.length).toBe(10);
    expect(Buffer.concat(chunks).equals(Buffer.from(w1.buffer))).toBe(true);
    expect(readModelscoutMetadata(loaded.model)).toMatchObject({ synthetic: true, seed: 42 });

    const session = await ort.InferenceSession.create(path);
    const x = floats(16, 9);
    const out = await session.run({ x: new ort.Tensor('float32', x, [2, 8]) });
    const y = out.y!.data as Float32Array;
    const expected = [...reference(x.subarray(0, 8), w1, b, w2), ...reference(x.subarray(8), w1, b, w2)];
    for (let i = 0; i < 8; i++) expect(y[i]).toBeCloseTo(expected[i]!, 3);
    await session.release();
  });

  it('read → write → read preserves the graph and every tensor byte (incl. INT64_MAX)', async () => {
    const { built } = buildModel();
    const first = join(dir, 'rt1', 'model.onnx');
    await writeModel(first, built.model, { tensorData: built.tensorData });
    const a = await readModel(first);
    const second = join(dir, 'rt2', 'copy.onnx');
    const res = await writeModel(second, a.model, { source: a });
    expect(res.dataPath).toBe(join(dir, 'rt2', 'copy.onnx_data'));
    const b = await readModel(second);
    const strip = (m: typeof a.model): unknown => {
      const c = structuredClone(m);
      forEachGraph(c, (g) => g.initializer.forEach((t) => (t.external_data = t.external_data.filter((e) => e.key !== 'location'))));
      return c;
    };
    expect(strip(b.model)).toEqual(strip(a.model));
    for (const t of a.model.graph!.initializer) {
      const u = b.model.graph!.initializer.find((x) => x.name === t.name)!;
      expect(Buffer.from(await readTensorBytes(b, u)).equals(Buffer.from(await readTensorBytes(a, t)))).toBe(true);
    }
    const ends = a.model.graph!.initializer.find((t) => t.name?.startsWith('/const/i64/1/') && t.raw_data && new DataView(t.raw_data.buffer, t.raw_data.byteOffset).getBigInt64(0, true) > 2n ** 60n);
    expect(ends).toBeDefined();
    // The sentinel survives an encode/decode cycle as exactly INT64_MAX when it is an attribute int.
    const model = decodeModel(encodeModel({ ...a.model, model_version: 2 ** 63 }));
    expect(model.model_version).toBe(2 ** 63);
    // Same inputs, same bytes.
    const again = join(dir, 'rt3', 'model.onnx');
    const { built: built2 } = buildModel();
    await writeModel(again, built2.model, { tensorData: built2.tensorData });
    expect((await readFile(again)).equals(await readFile(first))).toBe(true);
    expect((await readFile(`${again}_data`)).equals(await readFile(`${first}_data`))).toBe(true);
  });

  it('keeps everything inline when asked, and the input model is not modified', async () => {
    const { built } = buildModel();
    const path = join(dir, 'inline', 'model.onnx');
    const res = await writeModel(path, built.model, { tensorData: built.tensorData, externalDataFile: null });
    expect(res.dataPath).toBeNull();
    expect(built.model.graph!.initializer.find((t) => t.name === 'w1')!.raw_data).toBeUndefined();
    const loaded = await readModel(path);
    expect(loaded.model.graph!.initializer.every((t) => t.data_location !== 1)).toBe(true);
    const session = await ort.InferenceSession.create(path);
    await session.release();
  });
});

describe('bad input', () => {
  const expectModelError = async (promise: Promise<unknown>, pattern: RegExp): Promise<void> => {
    const error = await promise.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ModelscoutError);
    expect((error as ModelscoutError).exitCode).toBe(2);
    expect((error as ModelscoutError).message).toMatch(pattern);
    expect((error as ModelscoutError).message).not.toContain('\n');
  };

  it('rejects truncated and corrupt .onnx files naming the file', async () => {
    const { built } = buildModel();
    const path = join(dir, 'bad', 'model.onnx');
    await writeModel(path, built.model, { tensorData: built.tensorData });
    const size = (await stat(path)).size;
    await truncate(path, Math.floor(size / 2));
    await expectModelError(readModel(path), /model\.onnx is not a valid ONNX model/);
    await writeFile(path, Buffer.from('this is not a protobuf at all, just text'));
    await expectModelError(readModel(path), /model\.onnx is not a valid ONNX model/);
    await expectModelError(readModel(join(dir, 'nope.onnx')), /nope\.onnx not found/);
  });

  it('rejects a missing or truncated external data file', async () => {
    const { built } = buildModel();
    const path = join(dir, 'missing', 'model.onnx');
    await writeModel(path, built.model, { tensorData: built.tensorData });
    const loaded = await readModel(path);
    const w2 = loaded.model.graph!.initializer.find((t) => t.name === 'w2')!;
    await truncate(`${path}_data`, 100);
    await expectModelError(readTensorBytes(loaded, w2), /model\.onnx: tensor w2 needs bytes .* of model\.onnx_data, which has 100 bytes/);
    await rm(`${path}_data`);
    await expectModelError(readTensorBytes(loaded, w2), /model\.onnx: external data file model\.onnx_data not found in .* \(tensor w2\)/);
  });

  it('rejects locations that are absolute or climb out of the model folder', async () => {
    await expectModelError(Promise.resolve().then(() => resolveExternalLocation(dir, '/etc/passwd', 'm.onnx')), /m\.onnx: external data location "\/etc\/passwd" must be a relative path/);
    await expectModelError(Promise.resolve().then(() => resolveExternalLocation(dir, '../x.data', 'm.onnx')), /must be a relative path inside the model folder/);
    await expectModelError(Promise.resolve().then(() => resolveExternalLocation(dir, 'sub/../../x', 'm.onnx')), /must be a relative path/);
    expect(resolveExternalLocation(dir, 'sub/x.data')).toBe(join(dir, 'sub', 'x.data'));
  });
});
