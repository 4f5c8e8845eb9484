import * as ort from 'onnxruntime-node';

/**
 * A minimal, independent greedy driver for the correctness tests: it runs a batch of left-padded prompts
 * through a decoder session (standard graph: position ids; fused graph: num_logits_to_keep) and then
 * `steps` greedy tokens, keeping the KV cache either growing (present → past) or preallocated (one
 * buffer per layer passed as past and as the pre-allocated present).
 */

export type KvMode = 'growing' | 'preallocated';

export interface DriveOptions {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  steps: number;
  mode?: KvMode;
  /** Tokens fed at each decode step instead of each graph's own argmax (same inputs for two graphs). */
  forcedTokens?: number[][];
}

export interface DriveResult {
  /** Prefill logits [batch, seq, vocab] and the prompt's padded width. */
  prefill: Float32Array;
  width: number;
  /** Per row, the left padding. */
  pads: number[];
  /** Logits of each decode step, [batch, vocab]. */
  steps: Float32Array[];
  /** Greedy tokens per row: the one after the prompt, then one per step. */
  tokens: number[][];
  /** Dims of present.0.key after the last step (preallocated: the buffer). */
  presentDims: number[];
  /**
   * Preallocated mode: whether the buffers' spare tail (positions never written) still holds the
   * sentinel they were filled with. ONNX Runtime's GroupQueryAttention zeroes its whole present output
   * unless past and present are one buffer, so an intact tail proves the in-place (shared) path ran.
   */
  tailIntact: boolean | null;
}

/** Unused positions at the end of a preallocated buffer, and what they are filled with. */
export const SPARE_POSITIONS = 2;
const SENTINEL = 12345;

function argmax(data: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if ((data[offset + i] as number) > (data[offset + best] as number)) best = i;
  return best;
}

export async function drive(session: ort.InferenceSession, prompts: number[][], options: DriveOptions): Promise<DriveResult> {
  const { layers, kvHeads, headDim, vocab, steps } = options;
  const mode = options.mode ?? 'growing';
  const batch = prompts.length;
  const width = Math.max(...prompts.map((p) => p.length));
  const pads = prompts.map((p) => width - p.length);
  const capacity = width + steps + SPARE_POSITIONS;
  const hasPositions = session.inputNames.includes('position_ids');
  const hasKeep = session.inputNames.includes('num_logits_to_keep');

  const feeds: Record<string, ort.Tensor> = {};
  const fetches: Record<string, ort.Tensor | null> = {};
  const past = (l: number, kv: 'key' | 'value'): string => `past_key_values.${l}.${kv}`;
  const present = (l: number, kv: 'key' | 'value'): string => `present.${l}.${kv}`;
  for (let l = 0; l < layers; l++) {
    for (const kv of ['key', 'value'] as const) {
      if (mode === 'preallocated') {
        const buffer = new ort.Tensor('float32', new Float32Array(batch * kvHeads * capacity * headDim).fill(SENTINEL), [batch, kvHeads, capacity, headDim]);
        feeds[past(l, kv)] = buffer;
        fetches[present(l, kv)] = buffer;
      } else {
        feeds[past(l, kv)] = new ort.Tensor('float32', new Float32Array(0), [batch, kvHeads, 0, headDim]);
      }
    }
  }
  const run = async (): Promise<ort.InferenceSession.OnnxValueMapType> => {
    const out = mode === 'preallocated' ? await session.run(feeds, { logits: null, ...fetches }) : await session.run(feeds);
    if (mode === 'growing') {
      for (let l = 0; l < layers; l++) for (const kv of ['key', 'value'] as const) feeds[past(l, kv)] = out[present(l, kv)] as ort.Tensor;
    }
    return out;
  };

  // Prefill: left-padded ids, mask zero over the padding, positions counting real tokens only.
  const ids = new BigInt64Array(batch * width);
  const mask = new BigInt64Array(batch * width);
  const positions = new BigInt64Array(batch * width);
  prompts.forEach((p, b) => {
    p.forEach((t, j) => {
      ids[b * width + pads[b]! + j] = BigInt(t);
      mask[b * width + pads[b]! + j] = 1n;
      positions[b * width + pads[b]! + j] = BigInt(j);
    });
  });
  feeds.input_ids = new ort.Tensor('int64', ids, [batch, width]);
  feeds.attention_mask = new ort.Tensor('int64', mask, [batch, width]);
  if (hasPositions) feeds.position_ids = new ort.Tensor('int64', positions, [batch, width]);
  if (hasKeep) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([BigInt(width)]), []);
  let out = await run();
  const prefill = new Float32Array((out.logits as ort.Tensor).data as Float32Array);
  const tokens: number[][] = prompts.map((_, b) => [argmax(prefill, (b * width + width - 1) * vocab, vocab)]);

  const stepLogits: Float32Array[] = [];
  let total = width;
  for (let s = 0; s < steps; s++) {
    total += 1;
    const next = new BigInt64Array(batch);
    const pos = new BigInt64Array(batch);
    const m = new BigInt64Array(batch * total);
    for (let b = 0; b < batch; b++) {
      const fed = options.forcedTokens ? options.forcedTokens[b]![s]! : tokens[b]![s]!;
      next[b] = BigInt(fed);
      pos[b] = BigInt(total - 1 - pads[b]!);
      for (let j = pads[b]!; j < total; j++) m[b * total + j] = 1n;
    }
    feeds.input_ids = new ort.Tensor('int64', next, [batch, 1]);
    feeds.attention_mask = new ort.Tensor('int64', m, [batch, total]);
    if (hasPositions) feeds.position_ids = new ort.Tensor('int64', pos, [batch, 1]);
    if (hasKeep) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([1n]), []);
    out = await run();
    const logits = new Float32Array((out.logits as ort.Tensor).data as Float32Array);
    stepLogits.push(logits);
    for (let b = 0; b < batch; b++) tokens[b]!.push(argmax(logits, b * vocab, vocab));
  }
  let tailIntact: boolean | null = null;
  if (mode === 'preallocated') {
    tailIntact = true;
    for (const buffer of Object.values(fetches)) {
      const data = (buffer as ort.Tensor).data as Float32Array;
      for (let row = 0; row < batch * kvHeads; row++) {
        for (let p = total; p < capacity; p++) {
          for (let d = 0; d < headDim; d++) if (data[(row * capacity + p) * headDim + d] !== SENTINEL) tailIntact = false;
        }
      }
    }
  }
  return { prefill, width, pads, steps: stepLogits, tokens, presentDims: [...(out[present(0, 'key')] as ort.Tensor).dims], tailIntact };
}

/** Largest |a − b| over the prefill logits of real (unpadded) positions. */
export function prefillDiff(a: DriveResult, b: DriveResult, vocab: number): number {
  let worst = 0;
  const batch = a.pads.length;
  for (let r = 0; r < batch; r++) {
    for (let j = a.pads[r]!; j < a.width; j++) {
      const base = (r * a.width + j) * vocab;
      for (let v = 0; v < vocab; v++) worst = Math.max(worst, Math.abs((a.prefill[base + v] as number) - (b.prefill[base + v] as number)));
    }
  }
  return worst;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

/** Largest |x| (to express tolerances relative to the logits' scale). */
export function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const x of a) m = Math.max(m, Math.abs(x));
  return m;
}
