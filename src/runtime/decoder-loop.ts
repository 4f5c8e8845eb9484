/**
 * The decoder loop: the feeds of a decoder session (ids, mask, positions, the KV cache's pasts) for a
 * prefill and for greedy decode steps, for a batch of left-padded sequences of different lengths. It never
 * stops at EOS (benchmarks need a fixed number of new tokens). Every caller that runs a decoder (bench,
 * generate, the decoder check, quantization fidelity) feeds it through this class.
 *
 * Built to cost nothing next to `session.run`: the decode step reuses its input tensors and buffers
 * (input ids, position ids, a ones buffer the attention mask is a view of when nothing is padded), the
 * presents become the pasts without a copy, and the argmax is one tight loop over the last position's
 * logits. `decodeStep` returns the time spent inside `session.run`, so the caller can report the harness's
 * own share of each step honestly.
 */
import * as ort from 'onnxruntime-node';
import { DEFAULT_UBATCH_SIZE } from '../estimate/fit.js';
import type { DecoderIo, IntType } from './decoder-io.js';
import { createKvCache, type Feeds, type KvCache, type KvLayout, type Outputs } from './kv-cache.js';
import { OutputGarbage } from './output-garbage.js';

type IntArray = BigInt64Array | Int32Array;

function allocInt(type: IntType, n: number): IntArray {
  return type === 'int64' ? new BigInt64Array(n) : new Int32Array(n);
}

function setInt(a: IntArray, i: number, v: number): void {
  if (a instanceof BigInt64Array) a[i] = BigInt(v);
  else a[i] = v;
}

/** IEEE half (bits) → number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Index of the largest of `n` float32 values starting at `offset` (first one on ties). */
export function argmaxF32(data: Float32Array, offset: number, n: number): number {
  let best = 0;
  let bestValue = data[offset] as number;
  for (let i = 1; i < n; i += 1) {
    const v = data[offset + i] as number;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/**
 * Argmax over raw float16 bits without converting: for finite halves, sign-magnitude order maps to the
 * integer key (negative → −magnitude), so the comparison stays an integer comparison.
 */
export function argmaxF16(data: Uint16Array, offset: number, n: number): number {
  let best = 0;
  const h0 = data[offset] as number;
  let bestKey = h0 & 0x8000 ? -(h0 & 0x7fff) : h0;
  for (let i = 1; i < n; i += 1) {
    const h = data[offset + i] as number;
    const key = h & 0x8000 ? -(h & 0x7fff) : h;
    if (key > bestKey) {
      bestKey = key;
      best = i;
    }
  }
  return best;
}

/** Logits of sequence `b` at chunk position `pos` as numbers (for checks, not the hot path). */
export function logitsRow(logits: ort.Tensor, b: number, pos: number): Float64Array {
  const [, s, v] = logits.dims as [number, number, number];
  const base = (b * s + pos) * v;
  const out = new Float64Array(v);
  if (logits.type === 'float16') {
    const d = logits.data as Uint16Array;
    for (let i = 0; i < v; i += 1) out[i] = halfToFloat(d[base + i] as number);
  } else {
    const d = logits.data as Float32Array;
    for (let i = 0; i < v; i += 1) out[i] = d[base + i] as number;
  }
  return out;
}

export interface ForwardResult {
  /** nanoseconds inside `session.run` */
  runNs: number;
  logits: ort.Tensor;
}

export interface DecoderLoopOptions {
  kvLayout?: KvLayout;
  /**
   * Most prompt positions per forward pass (llama.cpp's `n_ubatch`): a longer prompt runs as consecutive
   * passes of this many positions, so the activations and attention scores ONNX Runtime allocates (and its
   * arena keeps) are sized for one pass, not for the whole prompt. 0: the whole prompt in one pass.
   * Default `DEFAULT_UBATCH_SIZE` (256; the memory estimate models the same passes).
   */
  ubatchSize?: number;
  /** What frees the outputs of past runs and the cache buffers let go of (see output-garbage.ts). */
  outputGarbage?: OutputGarbage;
}

/**
 * One decoder session's generation state. Usage: `reset(B)`, `prefill(seqs)` (a first chunk may have
 * different lengths: it is left-padded), `sampleNext()`, then `decodeStep()` as often as needed.
 */
export class DecoderLoop {
  readonly io: DecoderIo;
  readonly kv: KvCache;
  readonly #session: ort.InferenceSession;
  readonly #feeds: Feeds = {};
  #batch = 1;
  /** Left padding per sequence (only the first chunk is padded). */
  #pad: Int32Array = new Int32Array(1);
  /** The next token of each sequence (argmax of the last logits). */
  #next: Int32Array = new Int32Array(1);
  #nextIds: IntArray;
  #nextIdsTensor: ort.Tensor;
  #nextPos: IntArray;
  #nextPosTensor: ort.Tensor;
  #ones: IntArray;
  #lastLogits: ort.Tensor | null = null;
  #keepTensor: ort.Tensor | null = null;
  #branchTrue: ort.Tensor | null = null;
  #branchFalse: ort.Tensor | null = null;
  readonly #ubatch: number;
  readonly #garbage: OutputGarbage;

  constructor(session: ort.InferenceSession, io: DecoderIo, options: DecoderLoopOptions = {}) {
    this.#session = session;
    this.io = io;
    const ubatch = options.ubatchSize ?? DEFAULT_UBATCH_SIZE;
    if (!Number.isInteger(ubatch) || ubatch < 0) throw new RangeError(`ubatchSize must be a whole number ≥ 0, not ${ubatch}`);
    this.#ubatch = ubatch;
    this.#garbage = options.outputGarbage ?? new OutputGarbage();
    const garbage = this.#garbage;
    this.kv = createKvCache(options.kvLayout ?? 'growing', io, this.#feeds, (bytes) => garbage.released(bytes));
    this.#nextIds = allocInt(io.inputIdsType, 1);
    this.#nextIdsTensor = new ort.Tensor(io.inputIdsType, this.#nextIds, [1, 1]);
    this.#nextPos = allocInt(io.positionIdsType, 1);
    this.#nextPosTensor = new ort.Tensor(io.positionIdsType, this.#nextPos, [1, 1]);
    this.#ones = allocInt(io.attentionMaskType, 0);
    if (io.useCacheBranch) {
      this.#branchTrue = new ort.Tensor('bool', new Uint8Array([1]), [1]);
      this.#branchFalse = new ort.Tensor('bool', new Uint8Array([0]), [1]);
    }
  }

  get batch(): number {
    return this.#batch;
  }

  /** Tokens per row held in the cache (padded). */
  get pastLength(): number {
    return this.kv.length;
  }

  /** The last sampled id of each sequence (a view that the next `sampleNext` overwrites). */
  get next(): Int32Array {
    return this.#next;
  }

  get lastLogits(): ort.Tensor | null {
    return this.#lastLogits;
  }

  /** Empties the cache for `batch` sequences; `capacity` sizes the reusable mask buffer (tokens per row). */
  reset(batch: number, capacity = 0): void {
    this.#batch = batch;
    this.#pad = new Int32Array(batch);
    this.kv.reset(batch, capacity);
    this.#lastLogits = null;
    this.#nextIds = allocInt(this.io.inputIdsType, batch);
    this.#nextIdsTensor = new ort.Tensor(this.io.inputIdsType, this.#nextIds, [batch, 1]);
    this.#nextPos = allocInt(this.io.positionIdsType, batch);
    this.#nextPosTensor = new ort.Tensor(this.io.positionIdsType, this.#nextPos, [batch, 1]);
    this.#ensureOnes(batch * Math.max(capacity, 1));
    this.#next = new Int32Array(batch);
  }

  #ensureOnes(n: number): void {
    if (this.#ones.length >= n) return;
    const a = allocInt(this.io.attentionMaskType, Math.max(n, this.#ones.length * 2));
    if (a instanceof BigInt64Array) a.fill(1n);
    else a.fill(1);
    this.#ones = a;
  }

  /** The attention mask for `total` positions per row: zeros over each row's left padding. */
  #mask(total: number): ort.Tensor {
    const b = this.#batch;
    const type = this.io.attentionMaskType;
    let padded = false;
    for (let i = 0; i < b; i += 1) if ((this.#pad[i] as number) > 0) padded = true;
    if (!padded) {
      this.#ensureOnes(b * total);
      // A view of the ones buffer: no allocation of the data, no fill.
      return new ort.Tensor(type, this.#ones.subarray(0, b * total) as IntArray, [b, total]);
    }
    const data = allocInt(type, b * total);
    for (let i = 0; i < b; i += 1) {
      const p = this.#pad[i] as number;
      for (let j = 0; j < total; j += 1) setInt(data, i * total + j, j < p ? 0 : 1);
    }
    return new ort.Tensor(type, data, [b, total]);
  }

  #bindCommon(chunk: number, allLogits: boolean, mask: ort.Tensor | null): void {
    const io = this.io;
    if (io.attentionMask && mask) this.#feeds[io.attentionMask] = mask;
    if (io.logitsToKeep) {
      if (allLogits) this.#feeds[io.logitsToKeep] = new ort.Tensor('int64', new BigInt64Array([BigInt(chunk)]), []);
      else {
        this.#keepTensor ??= new ort.Tensor('int64', new BigInt64Array([1n]), []);
        this.#feeds[io.logitsToKeep] = this.#keepTensor;
      }
    }
    if (io.useCacheBranch) this.#feeds[io.useCacheBranch] = (this.kv.length > 0 ? this.#branchTrue : this.#branchFalse) as ort.Tensor;
  }

  async #run(): Promise<ForwardResult> {
    // The last run's outputs are dead by now (the cache took what it needs); the last logits go with them.
    this.#lastLogits = null;
    this.#garbage.beforeRun();
    const t0 = process.hrtime.bigint();
    const fetches = this.kv.fetches?.();
    const out: Outputs = fetches ? await this.#session.run(this.#feeds, fetches) : await this.#session.run(this.#feeds);
    const runNs = Number(process.hrtime.bigint() - t0);
    this.kv.update(out);
    const logits = out[this.io.logits] as ort.Tensor;
    this.#lastLogits = logits;
    this.#garbage.add(out);
    return { runNs, logits };
  }

  /**
   * Feeds a chunk of tokens for every sequence. Sequences may differ in length only in the first chunk
   * (empty cache): they are left-padded to the longest, with the attention mask zero over the padding
   * and position ids counting real tokens only. For one sequence, a chunk longer than the loop's
   * `ubatchSize` runs as consecutive forward passes; the result's `runNs` is their sum and its logits the
   * last pass's. Several sequences go in one pass (ONNX Runtime's GroupQueryAttention takes a multi-token
   * pass after a cache only for a batch of one), as does a chunk with `allLogits` (the model asked for every
   * position's logits, where it can choose, for checks).
   */
  async prefill(seqs: readonly (readonly number[])[], allLogits = false): Promise<ForwardResult> {
    const b = this.#batch;
    if (seqs.length !== b) throw new RangeError(`prefill: ${seqs.length} sequences for a batch of ${b}`);
    const past = this.kv.length;
    let n = 0;
    for (const s of seqs) n = Math.max(n, s.length);
    if (n === 0) throw new RangeError('prefill: empty chunk');
    const io = this.io;
    const ids = allocInt(io.inputIdsType, b * n);
    const pos = allocInt(io.positionIdsType, b * n);
    for (let i = 0; i < b; i += 1) {
      const s = seqs[i] as readonly number[];
      const padHere = n - s.length;
      if (padHere > 0 && past > 0) throw new RangeError('prefill: only the first chunk may have different lengths');
      if (past === 0) this.#pad[i] = padHere;
      const pad = this.#pad[i] as number;
      for (let j = 0; j < n; j += 1) {
        setInt(ids, i * n + j, j < padHere ? 0 : (s[j - padHere] as number));
        // Padding positions get 0 (they are masked out); real tokens count from 0 after the padding.
        setInt(pos, i * n + j, Math.max(0, past + j - pad));
      }
    }
    const u = this.#ubatch;
    if (allLogits || b > 1 || u === 0 || n <= u) return this.#pass(ids, pos, n, 0, n, allLogits);
    let runNs = 0;
    let result: ForwardResult | null = null;
    for (let from = 0; from < n; from += u) {
      result = await this.#pass(ids, pos, n, from, Math.min(u, n - from), false);
      runNs += result.runNs;
    }
    return { runNs, logits: (result as ForwardResult).logits };
  }

  /** One forward pass over positions [from, from + width) of the [batch, n] ids and positions (a part only for a batch of one). */
  #pass(ids: IntArray, pos: IntArray, n: number, from: number, width: number, allLogits: boolean): Promise<ForwardResult> {
    const b = this.#batch;
    const io = this.io;
    const part = (src: IntArray): IntArray => (from === 0 && width === n ? src : src.subarray(from, from + width));
    this.#feeds[io.inputIds] = new ort.Tensor(io.inputIdsType, part(ids), [b, width]);
    if (io.positionIds) this.#feeds[io.positionIds] = new ort.Tensor(io.positionIdsType, part(pos), [b, width]);
    this.#bindCommon(width, allLogits, this.#mask(this.kv.length + width));
    return this.#run();
  }

  /** Greedy choice from the last position of the last logits into `next` (one id per sequence). */
  sampleNext(): Int32Array {
    const logits = this.#lastLogits;
    if (!logits) throw new Error('sampleNext before any forward pass');
    const dims = logits.dims;
    const s = dims[1] as number;
    const v = dims[2] as number;
    const out = this.#next;
    const b = this.#batch;
    if (logits.type === 'float16') {
      const d = logits.data as Uint16Array;
      for (let i = 0; i < b; i += 1) out[i] = argmaxF16(d, (i * s + s - 1) * v, v);
    } else {
      const d = logits.data as Float32Array;
      for (let i = 0; i < b; i += 1) out[i] = argmaxF32(d, (i * s + s - 1) * v, v);
    }
    return out;
  }

  /**
   * One decode step: feeds `next` (the last sampled ids), runs, takes the presents as the cache and
   * samples the new `next`. Returns the nanoseconds spent inside `session.run`.
   */
  async decodeStep(): Promise<number> {
    const io = this.io;
    const b = this.#batch;
    const past = this.kv.length;
    const next = this.#next;
    const ids = this.#nextIds;
    const pos = this.#nextPos;
    if (ids instanceof BigInt64Array) for (let i = 0; i < b; i += 1) ids[i] = BigInt(next[i] as number);
    else for (let i = 0; i < b; i += 1) ids[i] = next[i] as number;
    if (pos instanceof BigInt64Array) for (let i = 0; i < b; i += 1) pos[i] = BigInt(past - (this.#pad[i] as number));
    else for (let i = 0; i < b; i += 1) pos[i] = past - (this.#pad[i] as number);
    this.#feeds[io.inputIds] = this.#nextIdsTensor;
    if (io.positionIds) this.#feeds[io.positionIds] = this.#nextPosTensor;
    this.#bindCommon(1, false, io.attentionMask ? this.#mask(past + 1) : null);
    const { runNs } = await this.#run();
    this.sampleNext();
    return runNs;
  }
}
