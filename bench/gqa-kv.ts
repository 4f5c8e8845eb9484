/**
 * ONNX Runtime's CPU GroupQueryAttention with a float32 KV cache against a float16 one (the whole attention
 * in float16, with a `Cast` of its input and of its output per layer, as a float32-activation decoder would
 * need) and an int8 one (its quantized-cache path: `k_quant_type` / `v_quant_type` PER_TENSOR,
 * `kv_cache_bit_width` 8, static `k_scale` / `v_scale`), at 1 and 2 intra-op threads, on one decode step.
 *
 * The graph is the attention of a whole decoder and nothing else: `--layers` GroupQueryAttention nodes of
 * the `--shape` (rotary inside, past and present in separate buffers, as the fused graph's appended layout
 * runs them), fed one new position over a cache of each `--depths` entry, only the summed outputs fetched
 * (the presents stay inside ONNX Runtime, as the decode loop's do). The six sessions (float32 / float16 /
 * int8 × 1 / 2 threads) take turns round by round, each timed over `--steps` runs after 3 warm-up runs and a
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
import { float32ToFloat16 } from '../src/util/float16.js';
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

type Cache = 'float32' | 'float16' | 'int8';
const CACHES: readonly Cache[] = ['float32', 'float16', 'int8'];

/** `layers` GroupQueryAttention nodes on one packed q/k/v input, their outputs summed into `y`. */
function attentionModel(cache: Cache): Uint8Array {
  const g = new GraphBuilder({ opsets: { '': 17, [MS_DOMAIN]: 1 } });
  const int8 = cache === 'int8';
  const half = cache === 'float16';
  const cacheType = int8 ? DataType.INT8 : half ? DataType.FLOAT16 : DataType.FLOAT;
  g.addInput('qkv', DataType.FLOAT, [1, 'rows', qkvWidth]);
  g.addInput('seqlens_k', DataType.INT32, [1]);
  g.addInput('total_sequence_length', DataType.INT32, []);
  const rope = computeRopeCaches({ headDim: D, ropeTheta: 10000, ropeScaling: null }, MAX_POSITIONS);
  // GroupQueryAttention takes one type for its query, cache and rotary tables: float16 throughout for a float16 cache.
  const table = (name: string, values: Float32Array) =>
    half
      ? createTensor({ name, data_type: DataType.FLOAT16, dims: [rope.positions, rope.halfDim], raw_data: new Uint8Array(float32ToFloat16(values).buffer) })
      : createTensor({ name, data_type: DataType.FLOAT, dims: [rope.positions, rope.halfDim], raw_data: new Uint8Array(values.buffer) });
  const initializers = [
    table('cos_cache', rope.cos),
    table('sin_cache', rope.sin),
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
    const query = half ? g.op(`/layers.${i}/CastIn`, 'Cast', ['qkv'], { to: attr.int(DataType.FLOAT16) }) : 'qkv';
    const inputs = [query, '', '', `past.${i}.key`, `past.${i}.value`, 'seqlens_k', 'total_sequence_length', 'cos_cache', 'sin_cache'];
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
    const out = half ? g.op(`/layers.${i}/CastOut`, 'Cast', [context], { to: attr.int(DataType.FLOAT) }) : context;
    sum = sum === null ? out : g.op(`/layers.${i}/Add`, 'Add', [sum, out]);
  }
  g.addNode({ name: '/y', op: 'Identity', inputs: [sum ?? ''], outputs: ['y'] });
  g.addOutput('y', DataType.FLOAT, [1, 'rows', H * D]);
  const { model } = g.build();
  model.graph?.initializer.push(...initializers);
  return encodeModel(model);
}

function feeds(cache: Cache, past: number): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {
    qkv: new ort.Tensor('float32', Float32Array.from({ length: qkvWidth }, (_, i) => Math.sin(i) * 0.5), [1, 1, qkvWidth]),
    seqlens_k: new ort.Tensor('int32', Int32Array.from([past]), [1]),
    total_sequence_length: new ort.Tensor('int32', Int32Array.from([past + 1]), []),
  };
  const n = KV * past * D;
  const floats = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 0.5);
  const dims = [1, KV, past, D];
  const tensor =
    cache === 'int8'
      ? new ort.Tensor('int8', Int8Array.from({ length: n }, (_, i) => Math.round(Math.cos(i) * 25)), dims)
      : cache === 'float16'
        ? new ort.Tensor('float16', float32ToFloat16(floats), dims)
        : new ort.Tensor('float32', floats, dims);
  for (let i = 0; i < layers; i += 1) {
    for (const kind of ['key', 'value']) out[`past.${i}.${kind}`] = tensor;
  }
  return out;
}

const session = async (cache: Cache, threads: number): Promise<ort.InferenceSession> =>
  (await createSessionFromBytes(attentionModel(cache), { device: 'cpu', threads, graphOptLevel: 'all' }, `${cache} attention`)).session;
const cases: { name: string; cache: Cache; threads: number; session: ort.InferenceSession }[] = [];
for (const threads of [1, 2]) {
  for (const cache of CACHES) cases.push({ name: `${cache}, ${threads} thread${threads > 1 ? 's' : ''}`, cache, threads, session: await session(cache, threads) });
}
const median = (xs: readonly number[]): number => percentileSorted([...xs].sort((a, b) => a - b), 50);
console.log(`${values.shape}: ${layers} GroupQueryAttention nodes (${H} heads, ${KV} KV heads, head dim ${D}), one decode step; ms per step, medians of ${rounds} rounds × ${steps} steps`);
console.log(['depth', ...cases.map((c) => c.name), 'float16 speed-up (1 / 2 threads)', 'int8 speed-up'].join(' | '));
for (const depth of depths) {
  const f: Record<Cache, Record<string, ort.Tensor>> = { float32: feeds('float32', depth), float16: feeds('float16', depth), int8: feeds('int8', depth) };
  const times = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r += 1) {
    for (const [k, c] of cases.entries()) {
      const fd = f[c.cache];
      await new Promise((resolve) => setTimeout(resolve, 30));
      for (let w = 0; w < 3; w += 1) await c.session.run(fd, ['y']);
      const t0 = performance.now();
      for (let s = 0; s < steps; s += 1) await c.session.run(fd, ['y']);
      times[k]?.push((performance.now() - t0) / steps);
    }
  }
  const m = times.map(median);
  const at = (cache: Cache, threads: number): number => m[cases.findIndex((c) => c.cache === cache && c.threads === threads)] as number;
  // Speed-up against the float32 cache: its time ÷ this cache's (above 1: faster).
  const ratio = (cache: Cache): string => `${(at('float32', 1) / at(cache, 1)).toFixed(2)}× / ${(at('float32', 2) / at(cache, 2)).toFixed(2)}×`;
  console.log([String(depth), ...m.map((x) => x.toFixed(3)), ratio('float16'), ratio('int8')].join(' | '));
}
const bytesPerPosition = (bytes: number): string => `${((layers * 2 * KV * D * bytes) / 1024).toFixed(1)} KiB`;
console.log(`KV cache per position: float32 ${bytesPerPosition(4)}, float16 ${bytesPerPosition(2)}, int8 ${bytesPerPosition(1)} (plus one scale per tensor)`);
