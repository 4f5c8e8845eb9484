/**
 * The CPU kernel probe: how fast ONNX Runtime runs a decoder's own layers on this machine right now, in about
 * 3 seconds. Stacks of transformer layers built in memory with the fused graph's operators —
 * SkipSimplifiedLayerNormalization, the packed q/k/v projection, GroupQueryAttention over a short cache
 * (rotary inside, the cache in and out as graph inputs and outputs, as a decode step has them), o, the packed
 * gate/up product and its Split, down, QuickGelu (SiLU) and Mul — at one representative shape
 * (`CPU_LAYER_PROBE`: Qwen2.5-0.5B's layer), each timed on the run's thread count:
 * - int4 (`MatMulNBits` at the quantizer's defaults: block 128, accuracy level 4, symmetric): one row through 12
 *   layers (≈ 95 MB of weights, beyond the caches: a decode step), and a prompt chunk of 128 rows through 2;
 * - fp32 (`MatMul`), 1 layer (60 MB of weights): one row and the prompt chunk;
 * - a tiny int4 stack of the same operators, 8 layers: one row, almost all per-operator cost.
 * The cache is short (64 positions): its cost grows with the context, and the CPU model keeps it as its own
 * term. The timings (first quartiles: `PROBE_QUANTILE`) become the CPU model's rates in `cpuRatesFromLayerProbe`
 * (src/estimate/cpu-rates.ts). Unlike one large GEMM or matrix-vector product, these are the kernels, shapes,
 * operator counts and cache inputs a decoder runs, so what moves them moves the decoders.
 */
import { CPU_LAYER_PROBE, qkvWidth, type CpuLayerProbe, type LayerShape } from '../estimate/cpu-rates.js';
import { attr, GraphBuilder } from '../onnx/graph-builder.js';
import { MS_DOMAIN, groupQueryAttentionAttributes, splitGateUp } from '../onnx/fused/build-fused-decoder.js';
import { createTensor, DataType, encodeModel, type OnnxTensor } from '../onnx/proto.js';
import { percentileSorted } from '../util/percentile.js';
import { createSessionFromBytes, ort } from './session.js';

export interface KernelProbeResult extends CpuLayerProbe {
  threads: number;
  durationMs: number;
}

export interface KernelProbeOptions {
  threads: number;
  /** Time spent timing each case after its warm-up (default `PROBE_MS_PER_CASE`; at least 3 runs each). */
  msPerCase?: number;
  /** Rounds the cases take turns in, each timing every case for `msPerCase / slices` (default `PROBE_SLICES`). */
  slices?: number;
}


/** Deterministic pseudo-random bytes (the values do not matter to the speed, only that they are not all zero). */
function fillBytes(bytes: Uint8Array, seed: number): Uint8Array {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes.length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function smallFloats(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  const noise = fillBytes(new Uint8Array(count), seed);
  for (let i = 0; i < count; i += 1) out[i] = ((noise[i] as number) - 127.5) / 1024;
  return out;
}

function initializer(name: string, dataType: number, dims: number[], raw: Uint8Array): OnnxTensor {
  return createTensor({ name, data_type: dataType, dims, raw_data: raw });
}

/**
 * Time each case is timed for, in all (its slices together), and the rounds the cases take turns in.
 */
export const PROBE_MS_PER_CASE = 240;
export const PROBE_SLICES = 3;
/**
 * Which run time of a case stands for it: the first quartile, not the median. On a shared machine a
 * two-thread case runs at about 0.6× its usual speed for a fraction of a second at a time (other guests'
 * work: the kernel's steal time reached 13 % of the CPU time during a probe), and a median caught in such a
 * stretch moves the whole estimate. Sixteen probes in fresh processes on a 2-vCPU host, the same samples read
 * both ways: the fp32 prompt GEMM rate 194–322 GFLOP/s from the medians against 293–345 from the first
 * quartiles, the int4 prompt rate 335–546 against 433–559, the int4 decode rate's middle half 1.29× wide
 * against 1.15×. (Timed for 80 ms in one go, case after case, as the probe used to be, the int4 decode rate
 * read 70–118 GOP/s over twelve probes.) `cpuRatesFromLayerProbe` turns these into the sustained rates the
 * CPU model's factors were fitted to (`PROBE_QUARTILE_TO_SUSTAINED`).
 */
export const PROBE_QUANTILE = 0.25;

export type LayerProbeFormat = 'int4' | 'fp32';

/** Longest sequence the probe graphs' rotary tables cover (past + prompt rows). */
const MAX_POSITIONS = 512;

/**
 * `layers` decoder layers of `shape` as one graph. Inputs: `x` [1, rows, hidden]; `seqlens_k` (int32 [1],
 * total − 1) and `total_sequence_length` (int32 scalar) for GroupQueryAttention; `past.{i}.key|value`
 * [1, KV heads, past, head dim] per layer. Outputs: `y` [1, rows, hidden] and `present.{i}.key|value`. Every
 * layer has its own weights (ONNX Runtime holds and prepacks each): copies of one buffer of random bytes per
 * size, each with its own first bytes, so building stays cheap and no two weights are equal.
 */
export function layerProbeModel(shape: LayerShape, layers: number, format: LayerProbeFormat, blockSize: number = CPU_LAYER_PROBE.blockSize): Uint8Array {
  const { hidden: h, intermediate: inter, heads, kvHeads } = shape;
  const headDim = h / heads;
  const g = new GraphBuilder({ opsets: { '': 17, [MS_DOMAIN]: 1 } });
  g.addInput('x', DataType.FLOAT, [1, 'rows', h]);
  g.addInput('seqlens_k', DataType.INT32, [1]);
  g.addInput('total_sequence_length', DataType.INT32, []);
  const inits: OnnxTensor[] = [];
  const pools = new Map<number, Uint8Array>();
  let made = 0;
  const pool = (bytes: number): Uint8Array => {
    let buffer = pools.get(bytes);
    if (!buffer) {
      buffer = format === 'int4' ? fillBytes(new Uint8Array(bytes), 11 + pools.size) : new Uint8Array(smallFloats(bytes / 4, 7 + pools.size).buffer);
      pools.set(bytes, buffer);
    }
    // A copy with its own first bytes: no two weights are equal, so none can be shared (deduplicated
    // initializers would sit in the caches, which a model's weights do not).
    const copy = new Uint8Array(buffer);
    made += 1;
    if (format === 'fp32') {
      // Small ordinary values (no huge or denormal floats, which would change the arithmetic's speed).
      const values = new Float32Array(copy.buffer);
      for (let i = 0; i < 2; i += 1) values[i] = ((made * 7 + i) % 255) / 2048 - 0.06;
    } else {
      for (let i = 0; i < 8; i += 1) copy[i] = (made * 31 + i * 7) & 0xff;
    }
    return copy;
  };
  const floats = (values: Float32Array): Uint8Array => new Uint8Array(values.buffer.slice(0));
  // Rotary tables: cos/sin of position × inverse frequency, [positions, head dim / 2].
  const half = headDim / 2;
  const cos = new Float32Array(MAX_POSITIONS * half);
  const sin = new Float32Array(MAX_POSITIONS * half);
  for (let p = 0; p < MAX_POSITIONS; p += 1) {
    for (let i = 0; i < half; i += 1) {
      const angle = p * 10000 ** (-i / half);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  inits.push(initializer('cos_cache', DataType.FLOAT, [MAX_POSITIONS, half], floats(cos)), initializer('sin_cache', DataType.FLOAT, [MAX_POSITIONS, half], floats(sin)));
  const norm = new Float32Array(h).fill(1);
  const projection = (name: string, input: string, k: number, n: number): string => {
    if (format === 'fp32') {
      inits.push(initializer(`${name}.w`, DataType.FLOAT, [k, n], pool(k * n * 4)));
      return g.op(`${name}/MatMul`, 'MatMul', [input, `${name}.w`]);
    }
    const blocks = Math.ceil(k / blockSize);
    inits.push(initializer(`${name}.q`, DataType.UINT8, [n, blocks, blockSize / 2], pool(n * blocks * (blockSize / 2))));
    inits.push(initializer(`${name}.s`, DataType.FLOAT, [n * blocks], floats(new Float32Array(n * blocks).fill(0.01))));
    return g.op(
      `${name}/MatMulNBits`,
      'MatMulNBits',
      [input, `${name}.q`, `${name}.s`],
      { K: attr.int(k), N: attr.int(n), bits: attr.int(4), block_size: attr.int(blockSize), accuracy_level: attr.int(4) },
      MS_DOMAIN,
    );
  };
  let residual = 'x';
  let pending: string | null = null;
  const skipNorm = (name: string): string => {
    inits.push(initializer(`${name}.w`, DataType.FLOAT, [h], floats(norm)));
    if (pending === null) {
      return g.op(`${name}/SimplifiedLayerNormalization`, 'SimplifiedLayerNormalization', [residual, `${name}.w`], { axis: attr.int(-1), epsilon: attr.float(1e-6), stash_type: attr.int(1) });
    }
    const [normed, , , sum] = g.addNode({
      name: `${name}/SkipSimplifiedLayerNormalization`,
      op: 'SkipSimplifiedLayerNormalization',
      domain: MS_DOMAIN,
      inputs: [residual, pending, `${name}.w`],
      outputs: [`${name}/output_0`, '', '', `${name}/output_3`],
      attributes: { epsilon: attr.float(1e-6) },
    }) as [string, string, string, string];
    residual = sum;
    pending = null;
    return normed;
  };
  for (let i = 0; i < layers; i += 1) {
    const s = `/layers.${i}`;
    g.addInput(`past.${i}.key`, DataType.FLOAT, [1, kvHeads, 'past', headDim]);
    g.addInput(`past.${i}.value`, DataType.FLOAT, [1, kvHeads, 'past', headDim]);
    g.addOutput(`present.${i}.key`, DataType.FLOAT, [1, kvHeads, 'total', headDim]);
    g.addOutput(`present.${i}.value`, DataType.FLOAT, [1, kvHeads, 'total', headDim]);
    const x = skipNorm(`${s}/input_layernorm`);
    const qkv = projection(`${s}/attn/qkv_proj`, x, h, qkvWidth(shape));
    const [context] = g.addNode({
      name: `${s}/attn/GroupQueryAttention`,
      op: 'GroupQueryAttention',
      domain: MS_DOMAIN,
      inputs: [qkv, '', '', `past.${i}.key`, `past.${i}.value`, 'seqlens_k', 'total_sequence_length', 'cos_cache', 'sin_cache'],
      outputs: [`${s}/attn/GroupQueryAttention/output_0`, `present.${i}.key`, `present.${i}.value`],
      attributes: groupQueryAttentionAttributes(heads, kvHeads, headDim),
    }) as [string];
    pending = projection(`${s}/attn/o_proj`, context, h, h);
    const y = skipNorm(`${s}/post_attention_layernorm`);
    // Gate and up packed into one product and split, as the fused graph has them.
    const both = projection(`${s}/mlp/gate_up_proj`, y, h, 2 * inter);
    const [gate, up] = splitGateUp(g, `${s}/mlp`, both, inter);
    const silu = g.op(`${s}/mlp/act_fn/QuickGelu`, 'QuickGelu', [gate], { alpha: attr.float(1) }, MS_DOMAIN);
    const product = g.op(`${s}/mlp/Mul`, 'Mul', [silu, up]);
    pending = projection(`${s}/mlp/down_proj`, product, inter, h);
  }
  inits.push(initializer('/norm.w', DataType.FLOAT, [h], floats(norm)));
  g.addNode({ name: '/norm/SkipSimplifiedLayerNormalization', op: 'SkipSimplifiedLayerNormalization', domain: MS_DOMAIN, inputs: [residual, pending ?? '', '/norm.w'], outputs: ['y'], attributes: { epsilon: attr.float(1e-6) } });
  g.addOutput('y', DataType.FLOAT, [1, 'rows', h]);
  const { model } = g.build();
  model.graph?.initializer.push(...inits);
  return encodeModel(model);
}

/** The feeds of one run: `rows` new rows on top of a cache of `past` positions in every layer. */
export function layerProbeFeeds(shape: LayerShape, layers: number, rows: number, past: number): Record<string, ort.Tensor> {
  const headDim = shape.hidden / shape.heads;
  const total = past + rows;
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', smallFloats(rows * shape.hidden, 3), [1, rows, shape.hidden]),
    seqlens_k: new ort.Tensor('int32', Int32Array.from([total - 1]), [1]),
    total_sequence_length: new ort.Tensor('int32', Int32Array.from([total]), []),
  };
  const cache = smallFloats(shape.kvHeads * past * headDim, 5);
  for (let i = 0; i < layers; i += 1) {
    feeds[`past.${i}.key`] = new ort.Tensor('float32', cache, [1, shape.kvHeads, past, headDim]);
    feeds[`past.${i}.value`] = new ort.Tensor('float32', cache, [1, shape.kvHeads, past, headDim]);
  }
  return feeds;
}

/**
 * Pause before timing a case whose session is not the one that ran last: ONNX Runtime's intra-op threads
 * spin on for a while after a run, on the cores being measured. The cases in four turns with no pause read
 * the fp32 prompt GEMM at 117–187 GFLOP/s (five probes in one process, 2 threads), with 50 ms pauses at
 * 258–290, as one case at a time does.
 */
const SESSION_SWITCH_GAP_MS = 50;

/** One probe case: a session, its feeds, the seconds of each timed run so far. */
interface ProbeCase {
  session: ort.InferenceSession;
  feeds: Record<string, ort.Tensor>;
  times: number[];
}

/** Times runs of `probeCase` for `ms` (at least `minRuns`), appending the seconds of each. */
async function timeRuns(probeCase: ProbeCase, ms: number, minRuns: number, now: () => number): Promise<void> {
  const end = now() + ms;
  let runs = 0;
  while (now() < end || runs < minRuns) {
    const t0 = now();
    await probeCase.session.run(probeCase.feeds);
    probeCase.times.push((now() - t0) / 1000);
    runs += 1;
  }
}

/** The run time that stands for a case: the `PROBE_QUANTILE` of its run times. */
export function caseSeconds(values: readonly number[]): number {
  return percentileSorted([...values].sort((a, b) => a - b), PROBE_QUANTILE * 100);
}

/**
 * Runs the four stacks (about 3 s on 2 threads, session creation included; the four sessions, about 170 MB
 * of weights, are open together). The cases take turns in `slices` rounds rather than each running its time
 * in one go, so each rate comes from samples spread over the whole probe, and the rates the CPU model
 * combines (the tiny stack's against the big one's) come from the same moments: a shared machine's speed
 * moves over seconds.
 */
export async function probeCpuKernels(options: KernelProbeOptions, now: () => number = () => performance.now()): Promise<KernelProbeResult> {
  const ms = options.msPerCase ?? PROBE_MS_PER_CASE;
  const slices = Math.max(1, Math.round(options.slices ?? PROBE_SLICES));
  const threads = Math.max(1, options.threads);
  const p = CPU_LAYER_PROBE;
  const rows = p.promptRows;
  const t0 = now();
  const sessions: ort.InferenceSession[] = [];
  const open = async (shape: LayerShape, layers: number, format: LayerProbeFormat): Promise<ort.InferenceSession> => {
    const { session } = await createSessionFromBytes(layerProbeModel(shape, layers, format), { device: 'cpu', threads, graphOptLevel: 'all' }, `the ${format} layer probe`);
    sessions.push(session);
    return session;
  };
  try {
    const tinySession = await open(p.tiny, p.tinyLayers, 'int4');
    const int4DecodeSession = await open(p.shape, p.int4DecodeLayers, 'int4');
    const int4PromptSession = await open(p.shape, p.int4PromptLayers, 'int4');
    const fp32Session = await open(p.shape, p.fp32Layers, 'fp32');
    const probeCase = (session: ort.InferenceSession, shape: LayerShape, layers: number, caseRows: number): ProbeCase => ({ session, feeds: layerProbeFeeds(shape, layers, caseRows, p.pastLength), times: [] });
    const cases = {
      tiny: probeCase(tinySession, p.tiny, p.tinyLayers, 1),
      int4Decode: probeCase(int4DecodeSession, p.shape, p.int4DecodeLayers, 1),
      int4Prompt: probeCase(int4PromptSession, p.shape, p.int4PromptLayers, rows),
      fp32Decode: probeCase(fp32Session, p.shape, p.fp32Layers, 1),
      fp32Prompt: probeCase(fp32Session, p.shape, p.fp32Layers, rows),
    };
    // A warm-up run of each first: prepacking, the thread pool's start.
    for (const c of Object.values(cases)) await c.session.run(c.feeds);
    // At least 3 runs of each case in all, whatever the slices.
    const minRuns = Math.ceil(3 / slices);
    let last: ort.InferenceSession | null = null;
    for (let slice = 0; slice < slices; slice += 1) {
      for (const c of Object.values(cases)) {
        if (last !== null && last !== c.session) await new Promise((resolve) => setTimeout(resolve, SESSION_SWITCH_GAP_MS));
        last = c.session;
        await timeRuns(c, ms / slices, minRuns, now);
      }
    }
    const tiny = caseSeconds(cases.tiny.times);
    const int4Decode = caseSeconds(cases.int4Decode.times);
    const int4Prompt = caseSeconds(cases.int4Prompt.times);
    const fp32Decode = caseSeconds(cases.fp32Decode.times);
    const fp32Prompt = caseSeconds(cases.fp32Prompt.times);
    return {
      shape: { ...p.shape },
      tiny: { ...p.tiny },
      blockSize: p.blockSize,
      tinyDecodeSecPerLayer: tiny / p.tinyLayers,
      int4DecodeSecPerLayer: int4Decode / p.int4DecodeLayers,
      fp32DecodeSecPerLayer: fp32Decode / p.fp32Layers,
      int4PromptSecPerTokenLayer: int4Prompt / (p.int4PromptLayers * rows),
      fp32PromptSecPerTokenLayer: fp32Prompt / (p.fp32Layers * rows),
      threads,
      durationMs: now() - t0,
    };
  } finally {
    for (const session of sessions) await session.release();
  }
}
