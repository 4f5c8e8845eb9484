import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFusedDecoderModel } from '../../src/onnx/fused/build-fused-decoder.js';
import { NEW_KV_ALL_OUTPUT } from '../../src/onnx/fused/new-kv-outputs.js';
import { splitAttention } from '../../src/onnx/fused/split-attention.js';
import { readModel, writeModel } from '../../src/onnx/model-io.js';
import { buildDecoderModel } from '../../src/onnx/synth/build-decoder.js';
import { detectDecoderIo, type DecoderIo } from '../../src/runtime/decoder-io.js';
import { DecoderLoop, logitsRow } from '../../src/runtime/decoder-loop.js';
import { DirectKvCache, GRAIN, grownRoom } from '../../src/runtime/kv-direct.js';
import type { Feeds, KvLayout } from '../../src/runtime/kv-cache.js';
import { createSession } from '../../src/runtime/session.js';
import { tinyArch } from '../helpers/tiny-model.js';

const LAYERS = 2;
const SEED = 11;
/** Left-padded batch: row 1 by 3, row 2 by 5. */
const PROMPTS = [
  [5, 17, 42, 99, 3, 64, 8],
  [12, 7, 120, 33],
  [90, 1],
];
const STEPS = 70; // past one GRAIN, so the buffers grow during decode
const TOLERANCE = 2e-5;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-direct-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Greedy run through the decoder loop: the last prefill logits and each decode step's, per row, and the tokens. */
async function run(file: string, layout: KvLayout, prompts: number[][], steps: number, ubatchSize = 512, directMinDepth = 0): Promise<{ logits: Float64Array[]; tokens: number[][]; loop: DecoderLoop }> {
  const { session } = await createSession(file, { device: 'cpu', threads: 1, graphOptLevel: 'all' }, { kvLayout: layout, directMinDepth });
  const io = detectDecoderIo(session.inputMetadata, session.outputMetadata);
  const loop = new DecoderLoop(session, io, { kvLayout: layout, ubatchSize });
  loop.reset(prompts.length, Math.max(...prompts.map((p) => p.length)) + steps);
  await loop.prefill(prompts);
  const logits: Float64Array[] = [];
  const tokens: number[][] = prompts.map(() => []);
  const keep = (): void => {
    const l = loop.lastLogits!;
    for (let b = 0; b < prompts.length; b++) logits.push(logitsRow(l, b, (l.dims[1] as number) - 1));
  };
  keep();
  loop.sampleNext();
  for (let s = 0; s < steps; s++) {
    loop.next.forEach((t, b) => tokens[b]!.push(t));
    await loop.decodeStep();
    keep();
  }
  await session.release();
  return { logits, tokens, loop };
}

function worstDiff(a: Float64Array[], b: Float64Array[]): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  a.forEach((row, i) => {
    const other = b[i]!;
    for (let j = 0; j < row.length; j++) {
      diff = Math.max(diff, Math.abs(row[j]! - other[j]!));
      scale = Math.max(scale, Math.abs(row[j]!));
    }
  });
  return { diff, scale };
}

describe.each(['llama', 'qwen2'] as const)('direct KV layout (%s)', (name) => {
  const arch = tinyArch(name);
  let standard: string;
  let fused: string;

  beforeAll(async () => {
    standard = join(dir, `${name}-standard.onnx`);
    fused = join(dir, `${name}-fused.onnx`);
    const s = buildDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: SEED });
    await writeModel(standard, s.model, { tensorData: s.tensorData });
    const f = buildFusedDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: SEED, maxLength: 128 });
    await writeModel(fused, f.model, { tensorData: f.tensorData });
  });

  it('gives the standard graph’s logits and tokens on a left-padded batch, through decode steps that grow the buffers', async () => {
    const ref = await run(standard, 'growing', PROMPTS, STEPS);
    const got = await run(fused, 'direct', PROMPTS, STEPS);
    const { diff, scale } = worstDiff(ref.logits, got.logits);
    expect(scale).toBeGreaterThan(0.1);
    expect(diff).toBeLessThan(TOLERANCE * Math.max(1, scale));
    expect(got.tokens).toEqual(ref.tokens);
    expect(new Set(ref.tokens.flat()).size).toBeGreaterThan(2);
    const kv = got.loop.kv as DirectKvCache;
    expect(kv.length).toBe(7 + STEPS);
    // Grown with the cache, and no further than the capacity the loop was reset with.
    expect(kv.room).toBe(7 + STEPS);
    expect(kv.measuredBytes()).toBe(2 * LAYERS * PROMPTS.length * arch.numKvHeads * kv.room * arch.headDim * 4);
  });

  it('switches mid-generation from GroupQueryAttention (shallow steps) to the in-place branch (deep ones) with the same logits', async () => {
    const ref = await run(standard, 'growing', PROMPTS, 20);
    const got = await run(fused, 'direct', PROMPTS, 20, 512, 15);
    const { diff, scale } = worstDiff(ref.logits, got.logits);
    expect(diff).toBeLessThan(TOLERANCE * Math.max(1, scale));
    expect(got.tokens).toEqual(ref.tokens);
  });

  it('rewrites a graph whose q, k and v are separate projections the same way', async () => {
    const unpacked = join(dir, `${name}-fused-unpacked.onnx`);
    const f = buildFusedDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: SEED, maxLength: 128, packQkv: false });
    await writeModel(unpacked, f.model, { tensorData: f.tensorData });
    const ref = await run(standard, 'growing', PROMPTS, 6);
    const got = await run(unpacked, 'direct', PROMPTS, 6);
    const { diff, scale } = worstDiff(ref.logits, got.logits);
    expect(diff).toBeLessThan(TOLERANCE * Math.max(1, scale));
    expect(got.tokens).toEqual(ref.tokens);
  });

  it('rewrites a float16 graph in float16 (its in-place branch against the appended layout’s GroupQueryAttention)', async () => {
    const half = join(dir, `${name}-fused-fp16.onnx`);
    const f = buildFusedDecoderModel({ arch, layers: LAYERS, dtype: 'fp16', seed: SEED, maxLength: 128 });
    await writeModel(half, f.model, { tensorData: f.tensorData });
    const ref = await run(half, 'appended', PROMPTS, 6);
    const got = await run(half, 'direct', PROMPTS, 6);
    const { diff, scale } = worstDiff(ref.logits, got.logits);
    expect(scale).toBeGreaterThan(0.1);
    // float16 rounding of two op orders.
    expect(diff).toBeLessThan(1e-2 * Math.max(1, scale));
  });

  it('takes a prompt in several passes (ubatch) with each pass seeing exactly the positions before it', async () => {
    const prompt = [[5, 17, 42, 99, 3, 64, 8, 21, 77, 4, 13]];
    const ref = await run(standard, 'growing', prompt, 4);
    const got = await run(fused, 'direct', prompt, 4, 4);
    const { diff, scale } = worstDiff(ref.logits, got.logits);
    expect(diff).toBeLessThan(TOLERANCE * Math.max(1, scale));
    expect(got.tokens).toEqual(ref.tokens);
  });
});

describe('splitAttention', () => {
  it('replaces every GroupQueryAttention with an If (decode step in place, prompt through GroupQueryAttention) and adds present_new.all', async () => {
    const arch = tinyArch('llama');
    const f = buildFusedDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: SEED, maxLength: 64 });
    const file = join(dir, 'split.onnx');
    await writeModel(file, f.model, { tensorData: f.tensorData });
    const { model } = await readModel(file);
    splitAttention(model);
    const nodes = model.graph!.node;
    expect(nodes.filter((n) => n.op_type === 'GroupQueryAttention')).toHaveLength(0);
    const ifs = nodes.filter((n) => n.op_type === 'If');
    expect(ifs).toHaveLength(LAYERS);
    const branch = (n: (typeof ifs)[number], which: string) => n.attribute.find((a) => a.name === which)!.g!;
    // The decode branch reads the past inputs directly (no GroupQueryAttention, no copy of the cache).
    expect(branch(ifs[0]!, 'then_branch').node.map((n) => n.op_type)).not.toContain('GroupQueryAttention');
    expect(branch(ifs[0]!, 'then_branch').node.flatMap((n) => n.input)).toContain('past_key_values.0.key');
    expect(branch(ifs[0]!, 'else_branch').node.map((n) => n.op_type)).toContain('GroupQueryAttention');
    expect(model.graph!.output.map((o) => o.name)).toContain(NEW_KV_ALL_OUTPUT);
    // Every node of the decode branch is paid for at every step: q is scaled through its rotary tables and the
    // five-dimensional pasts need no Unsqueeze, so a packed-qkv layer runs these 16 and no more.
    expect(branch(ifs[0]!, 'then_branch').node.map((n) => n.op_type)).toEqual([
      'Split', 'RotaryEmbedding', 'RotaryEmbedding', 'Reshape', 'Reshape', 'Reshape', 'FusedMatMul', 'FusedMatMul',
      'Concat', 'Add', 'Softmax', 'Split', 'MatMul', 'Mul', 'Add', 'Reshape',
    ]);
    const pastShape = model.graph!.input.find((i) => i.name === 'past_key_values.0.key')!.type!.tensor_type!.shape!.dim;
    expect(pastShape.map((d) => d.dim_value ?? d.dim_param)).toEqual(['batch_size', arch.numKvHeads, 1, 'past_sequence_length', arch.headDim]);
  });

  it('refuses a graph without GroupQueryAttention in one line naming the layouts to use instead', async () => {
    const arch = tinyArch('llama');
    const s = buildDecoderModel({ arch, layers: 1, dtype: 'fp32', seed: SEED });
    expect(() => splitAttention(s.model)).toThrow(/direct KV layout cannot rewrite this graph's attention: it has no GroupQueryAttention/);
  });
});

describe('DirectKvCache', () => {
  // One layer, one KV head, head dim 2: small enough to check every value written.
  const io = {
    inputIds: 'ids',
    logits: 'logits',
    layers: [{ pastKey: 'past.k', pastValue: 'past.v', presentKey: 'k', presentValue: 'v' }],
    kvType: 'float32',
    kvHeads: 1,
    headDim: 2,
    newKvAll: null,
  } as unknown as DecoderIo;
  const positions = (n: number, first: number) => new ort.Tensor('float32', Float32Array.from({ length: n * 2 }, (_, i) => first + i), [1, 1, n, 2]);
  const step = (kv: DirectKvCache, feeds: Feeds, n: number, first: number) => {
    feeds.ids = new ort.Tensor('int64', new BigInt64Array(n), [1, n]);
    kv.update({ k: positions(n, first), v: positions(n, -first) });
  };

  it('feeds zero-length pasts to a first prompt, then the capacity, and writes each run’s positions at the cache’s length', () => {
    const feeds: Feeds = {};
    const kv = new DirectKvCache(io, feeds);
    kv.reset(1, 5);
    expect(feeds['past.k']!.dims).toEqual([1, 1, 1, 0, 2]);
    step(kv, feeds, 3, 10);
    expect(feeds['past.k']!.dims).toEqual([1, 1, 1, 5, 2]);
    step(kv, feeds, 1, 100);
    expect(kv.length).toBe(4);
    expect(Array.from(feeds['past.k']!.data as Float32Array).slice(0, 8)).toEqual([10, 11, 12, 13, 14, 15, 100, 101]);
    expect(Array.from(feeds['past.v']!.data as Float32Array).slice(0, 8)).toEqual([-10, -9, -8, -7, -6, -5, -100, -99]);
  });

  it('grows a decode step past the capacity by an eighth, keeping what it holds', () => {
    const feeds: Feeds = {};
    const kv = new DirectKvCache(io, feeds);
    kv.reset(1, 2);
    step(kv, feeds, 2, 1);
    step(kv, feeds, 1, 7);
    expect(kv.room).toBe(grownRoom(3));
    expect(Array.from(feeds['past.k']!.data as Float32Array).slice(0, 6)).toEqual([1, 2, 3, 4, 7, 8]);
  });

  it('reuses the last generation’s buffers when the next one needs the same room', () => {
    const feeds: Feeds = {};
    const kv = new DirectKvCache(io, feeds);
    kv.reset(1, 5);
    step(kv, feeds, 3, 10);
    const first = feeds['past.k']!.data;
    kv.reset(1, 5);
    step(kv, feeds, 2, 20);
    expect(feeds['past.k']!.data).toBe(first);
    expect(Array.from(feeds['past.k']!.data as Float32Array).slice(0, 4)).toEqual([20, 21, 22, 23]);
    kv.reset(1, 9);
    step(kv, feeds, 2, 20);
    expect(feeds['past.k']!.data).not.toBe(first);
  });

  it('a one-token first prompt grows by an eighth, or straight to the capacity when less than a GRAIN would be left', () => {
    const feeds: Feeds = {};
    const kv = new DirectKvCache(io, feeds);
    // A long generation from one token: the room grows with it.
    kv.reset(1, 1000);
    step(kv, feeds, 1, 1);
    expect(kv.room).toBe(grownRoom(1));
    // tg128: 129 positions at most; growing to 128 and then to 129 would copy the cache for one position.
    kv.reset(1, grownRoom(1) + 1);
    step(kv, feeds, 1, 1);
    expect(kv.room).toBe(grownRoom(1) + 1);
    kv.reset(1, grownRoom(1) + GRAIN);
    step(kv, feeds, 1, 1);
    expect(kv.room).toBe(grownRoom(1));
  });

  it('tells what it lets go of: the buffers a growth replaces and spares of another room', () => {
    const feeds: Feeds = {};
    const released: number[] = [];
    const kv = new DirectKvCache(io, feeds, (bytes) => released.push(bytes));
    // One layer, key and value, 1 × 1 × room × 2 floats each.
    const bytes = (room: number) => 2 * room * 2 * 4;
    kv.reset(1, 2);
    step(kv, feeds, 2, 1);
    expect(released).toEqual([]);
    step(kv, feeds, 1, 7);
    expect(released).toEqual([bytes(2)]);
    // Same room again: the spare is reused, nothing let go of.
    const room = kv.room;
    kv.reset(1, room);
    step(kv, feeds, 2, 1);
    expect(kv.room).toBe(room);
    expect(released).toEqual([bytes(2)]);
    // Another room: the spare goes.
    kv.reset(1, 3);
    step(kv, feeds, 3, 1);
    expect(released).toEqual([bytes(2), bytes(room)]);
  });
});

describe('grownRoom', () => {
  it('adds an eighth (at least one GRAIN) and rounds up to whole GRAINs', () => {
    expect(grownRoom(1)).toBe(2 * GRAIN);
    expect(grownRoom(GRAIN)).toBe(2 * GRAIN);
    expect(grownRoom(2048)).toBe(2048 + 256);
    expect(grownRoom(2049)).toBe(Math.ceil((2049 + 256) / GRAIN) * GRAIN);
  });
});
