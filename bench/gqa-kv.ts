/**
 * ONNX Runtime's CPU GroupQueryAttention with a float32 KV cache against an int8 one (its quantized-cache
 * path: `k_quant_type` / `v_quant_type` PER_TENSOR, `kv_cache_bit_width` 8, static `k_scale` / `v_scale`),
 * at 1 and 2 intra-op threads, on one decode step.
 *
 * The graph is the attention of a whole decoder and nothing else: `--layers` GroupQueryAttention nodes of
 * the `--shape` (rotary inside, past and present in separate buffers, as the fused graph's appended layout
 * runs them), fed one new position over a cache of each `--depths` entry, only the summed outputs fetched
 * (the presents stay inside ONNX Runtime, as the decode loop's do). The four sessions (float32 / int8 ×
 * 1 / 2 threads) take turns round by round, each timed over `--steps` runs after 3 warm-up runs and a
 * pause (ONNX Runtime's threads spin on after a run); medians of the rounds, ms per step for all layers.
 *
 * Usage: npm run bench:gqa-kv [-- --shape smollm2-135m|qwen2.5-0.5b --layers N --depths 16,128,512,2048
 *                                --rounds 10 --steps 20]
 */
import { parseArgs } from 'node:util';
import { attr, GraphBuilder, type AttrValue } from '../src/onnx/graph-builder.js';
import { MS_DOMAIN, groupQueryAttentionAttributes } from '../src/onnx/fused/build-fused-decoder.js';
import { computeRopeCaches } from '../src/onnx/fused/rope-cache.js';
import { createTensor, DataType, encodeModel } from '../src/onnx/proto.js';
import { createSessionFromBytes, ort } from '../src/runtime/session.js';
import { percentileSorted } from '../src/util/percentile.js';

const SHAPES = {
  'smollm2-135m': { heads: 9, kvHeads: 3, headDim: 64, layers: 30 },
  'qwen2.5-0.5b': { heads: 14, kvHeads: 2, headDim: 64, layers: 24 },
} as const;
type ShapeName = keyof typeof SHAPES;
const MAX_POSITIONS = 4096;

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'smollm2-135m' },
    layers: { type: 'string' },
    depths: { type: 'string', default: '16,128,512,2048' },
    rounds: { type: 'string', default: '10' },
    steps: { type: 'string', default: '20' },
  },
});
if (!(values.shape in SHAPES)) {
  console.error(`unknown --shape ${values.shape}: one of ${Object.keys(SHAPES).join(', ')}`);
  process.exit(2);
}
const shape = SHAPES[values.shape as ShapeName];
const layers = values.layers ? Number(values.layers) : shape.layers;
const depths = values.depths.split(',').map(Number);
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const { heads: H, kvHeads: KV, headDim: D } = shape;
const qkvWidth = (H + 2 * KV) * D;

/** `layers` GroupQueryAttention nodes on one packed q/k/v input, their outputs summed into `y`. */
function attentionModel(int8: boolean): Uint8Array {
  const g = new GraphBuilder({ opsets: { '': 17, [MS_DOMAIN]: 1 } });
  const cacheType = int8 ? DataType.INT8 : DataType.FLOAT;
  g.addInput('qkv', DataType.FLOAT, [1, 'rows', qkvWidth]);
  g.addInput('seqlens_k', DataType.INT32, [1]);
  g.addInput('total_sequence_length', DataType.INT32, []);
  const rope = computeRopeCaches({ headDim: D, ropeTheta: 10000, ropeScaling: null }, MAX_POSITIONS);
  const initializers = [
    createTensor({ name: 'cos_cache', data_type: DataType.FLOAT, dims: [rope.positions, rope.halfDim], raw_data: new Uint8Array(rope.cos.buffer) }),
    createTensor({ name: 'sin_cache', data_type: DataType.FLOAT, dims: [rope.positions, rope.halfDim], raw_data: new Uint8Array(rope.sin.buffer) }),
    createTensor({ name: 'k_scale', data_type: DataType.FLOAT, dims: [1], float_data: [0.02] }),
    createTensor({ name: 'v_scale', data_type: DataType.FLOAT, dims: [1], float_data: [0.02] }),
  ];
  let sum: string | null = null;
  for (let i = 0; i < layers; i += 1) {
    g.addInput(`past.${i}.key`, cacheType, [1, KV, 'past', D]);
    g.addInput(`past.${i}.value`, cacheType, [1, KV, 'past', D]);
    g.addOutput(`present.${i}.key`, cacheType, [1, KV, 'total', D]);
    g.addOutput(`present.${i}.value`, cacheType, [1, KV, 'total', D]);
    const attributes: Record<string, AttrValue> = groupQueryAttentionAttributes(H, KV, D);
    const inputs = ['qkv', '', '', `past.${i}.key`, `past.${i}.value`, 'seqlens_k', 'total_sequence_length', 'cos_cache', 'sin_cache'];
    if (int8) {
      Object.assign(attributes, { k_quant_type: attr.string('PER_TENSOR'), v_quant_type: attr.string('PER_TENSOR'), kv_cache_bit_width: attr.int(8) });
      // position_ids, attention_bias and head_sink absent; then k_scale, v_scale.
      inputs.push('', '', '', 'k_scale', 'v_scale');
    }
    const [context] = g.addNode({
      name: `/layers.${i}/GroupQueryAttention`,
      op: 'GroupQueryAttention',
      domain: MS_DOMAIN,
      inputs,
      outputs: [`/layers.${i}/context`, `present.${i}.key`, `present.${i}.value`],
      attributes,
    }) as [string];
    sum = sum === null ? context : g.op(`/layers.${i}/Add`, 'Add', [sum, context]);
  }
  g.addNode({ name: '/y', op: 'Identity', inputs: [sum ?? ''], outputs: ['y'] });
  g.addOutput('y', DataType.FLOAT, [1, 'rows', H * D]);
  const { model } = g.build();
  model.graph?.initializer.push(...initializers);
  return encodeModel(model);
}

function feeds(int8: boolean, past: number): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {
    qkv: new ort.Tensor('float32', Float32Array.from({ length: qkvWidth }, (_, i) => Math.sin(i) * 0.5), [1, 1, qkvWidth]),
    seqlens_k: new ort.Tensor('int32', Int32Array.from([past]), [1]),
    total_sequence_length: new ort.Tensor('int32', Int32Array.from([past + 1]), []),
  };
  const n = KV * past * D;
  const cache = int8 ? Int8Array.from({ length: n }, (_, i) => Math.round(Math.cos(i) * 25)) : Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 0.5);
  for (let i = 0; i < layers; i += 1) {
    for (const kind of ['key', 'value']) {
      out[`past.${i}.${kind}`] = int8 ? new ort.Tensor('int8', cache as Int8Array, [1, KV, past, D]) : new ort.Tensor('float32', cache as Float32Array, [1, KV, past, D]);
    }
  }
  return out;
}

const session = async (int8: boolean, threads: number): Promise<ort.InferenceSession> =>
  (await createSessionFromBytes(attentionModel(int8), { device: 'cpu', threads, graphOptLevel: 'all' }, `${int8 ? 'int8' : 'float32'} attention`)).session;
const cases = [
  { name: 'float32, 1 thread', int8: false, session: await session(false, 1) },
  { name: 'int8, 1 thread', int8: true, session: await session(true, 1) },
  { name: 'float32, 2 threads', int8: false, session: await session(false, 2) },
  { name: 'int8, 2 threads', int8: true, session: await session(true, 2) },
];
const median = (xs: readonly number[]): number => percentileSorted([...xs].sort((a, b) => a - b), 50);
console.log(`${values.shape}: ${layers} GroupQueryAttention nodes (${H} heads, ${KV} KV heads, head dim ${D}), one decode step; ms per step, medians of ${rounds} rounds × ${steps} steps`);
console.log(['depth', ...cases.map((c) => c.name), 'int8 speed-up (1 / 2 threads)'].join(' | '));
for (const depth of depths) {
  const f = { float: feeds(false, depth), int8: feeds(true, depth) };
  const times = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r += 1) {
    for (const [k, c] of cases.entries()) {
      const fd = c.int8 ? f.int8 : f.float;
      await new Promise((resolve) => setTimeout(resolve, 30));
      for (let w = 0; w < 3; w += 1) await c.session.run(fd, ['y']);
      const t0 = performance.now();
      for (let s = 0; s < steps; s += 1) await c.session.run(fd, ['y']);
      times[k]?.push((performance.now() - t0) / steps);
    }
  }
  const m = times.map(median);
  const [f1, q1, f2, q2] = m as [number, number, number, number];
  console.log([String(depth), ...m.map((x) => x.toFixed(3)), `${(f1 / q1).toFixed(2)}× / ${(f2 / q2).toFixed(2)}×`].join(' | '));
}
const bytesPerPosition = (bytes: number): string => `${((layers * 2 * KV * D * bytes) / 1024).toFixed(1)} KiB`;
console.log(`KV cache per position: float32 ${bytesPerPosition(4)}, int8 ${bytesPerPosition(1)} (plus one scale per tensor)`);
