/**
 * `preallocated`: one KV buffer per layer and per key/value, allocated once at the generation's full
 * length (`capacity` = prompt + new tokens) and passed both as `past_key_values.{i}.*` and as the
 * pre-allocated `present.{i}.*` output. Fused graphs (GroupQueryAttention, `modelscout synth --graph fused`
 * or onnxruntime-genai exports) then see past and present at one address and write each new token's keys
 * and values in place (onnxruntime-genai's `past_present_share_buffer`): no growing tensors, no
 * concatenation. The sequence length the graph attends to comes from the attention mask's width.
 *
 * A standard (Concat-based) graph cannot use it: its present would be one position longer than the buffer,
 * and ONNX Runtime rejects the run.
 *
 * Note: onnxruntime-node copies every fetched output into a new JavaScript buffer after the run, so each
 * step still pays one copy of the (whole) buffers on the way out; the in-graph zeroing and concatenation
 * of the growing layout are what this layout removes.
 *
 * `appended`: the same buffers, fed as pasts, but the presents are not fetched: the session carries extra
 * outputs with only this run's new positions (`present_new.*`, src/onnx/fused/new-kv-outputs.ts), and
 * `update` writes them into the buffers at the cache's length. No whole-cache copy leaves the runtime
 * (ONNX Runtime still copies the valid part of each past into its own present, in its arena), so a
 * decode step deep into a long context costs less than with `preallocated`.
 */
import * as ort from 'onnxruntime-node';
import { ModelscoutError } from '../errors.js';
import { floatBytes, type DecoderIo } from './decoder-io.js';
import { newKvOutputName } from '../onnx/fused/new-kv-outputs.js';
import { slotBytes, writeNewPositions, type KvSlot } from './kv-new-positions.js';
import type { Feeds, KvCache, KvRelease, Outputs } from './kv-types.js';

export class PreallocatedKvCache implements KvCache {
  readonly layout: 'preallocated' | 'appended';
  readonly #io: DecoderIo;
  readonly #feeds: Feeds;
  #length = 0;
  #batch = 0;
  #capacity = 0;
  #fetches: Record<string, ort.Tensor | null> = {};
  /** What a one-token run fetches (the appended layout's concatenated output when the session has it). */
  #fetchesOneToken: Record<string, ort.Tensor | null> = {};
  /** One buffer per layer and key/value: the past it feeds and the output that fills it (a present, or its new positions). */
  #slots: (KvSlot & { past: string; buffer: ort.Tensor })[] = [];

  readonly #onRelease: KvRelease | undefined;

  constructor(io: DecoderIo, feeds: Feeds, layout: 'preallocated' | 'appended' = 'preallocated', onRelease?: KvRelease) {
    this.#io = io;
    this.#feeds = feeds;
    this.layout = layout;
    this.#onRelease = onRelease;
  }

  get length(): number {
    return this.#length;
  }

  /** Positions per row the buffers hold. */
  get capacity(): number {
    return this.#capacity;
  }

  reset(batch: number, capacity = 0): void {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new ModelscoutError('E_INTERNAL', 'a preallocated KV cache needs its capacity (prompt + new tokens) at reset');
    }
    const io = this.#io;
    // Same shape as last time: keep the buffers. Stale values beyond the mask's width are never read.
    if (batch !== this.#batch || capacity !== this.#capacity) {
      if (this.#slots.length > 0) this.#onRelease?.(slotBytes(this.#slots));
      const dims = [batch, io.kvHeads, capacity, io.headDim];
      const elements = batch * io.kvHeads * capacity * io.headDim;
      this.#fetches = { [io.logits]: null };
      this.#slots = [];
      for (const l of io.layers) {
        for (const [past, present] of [
          [l.pastKey, l.presentKey],
          [l.pastValue, l.presentValue],
        ] as const) {
          const data = io.kvType === 'float16' ? new Uint16Array(elements) : new Float32Array(elements);
          const buffer = new ort.Tensor(io.kvType, data, dims);
          const output = this.layout === 'appended' ? newKvOutputName(present) : present;
          this.#slots.push({ past, output, buffer, data });
          // appended: ONNX Runtime allocates the (small) new-positions outputs — one for all layers when the
          // session has it; preallocated: bound to the buffer.
          this.#fetches[output] = this.layout === 'appended' ? null : buffer;
        }
      }
      // Decode steps of the appended layout fetch the one concatenated output; a prompt chunk keeps one output
      // per present (concatenating a long chunk's positions would hold them once more at the peak).
      this.#fetchesOneToken = this.layout === 'appended' && io.newKvAll !== null ? { [io.logits]: null, [io.newKvAll]: null } : this.#fetches;
      this.#batch = batch;
      this.#capacity = capacity;
    }
    for (const slot of this.#slots) this.#feeds[slot.past] = slot.buffer;
    this.#length = 0;
  }

  /** The outputs to ask for: the logits, and each present bound to its (shared) buffer. */
  fetches(): Record<string, ort.Tensor | null> {
    const chunk = (this.#feeds[this.#io.inputIds] as ort.Tensor | undefined)?.dims[1] ?? 0;
    if (this.#length + chunk > this.#capacity) {
      throw new ModelscoutError('E_INTERNAL', `preallocated KV cache overflow: ${this.#length + chunk} positions for a capacity of ${this.#capacity}`);
    }
    return chunk === 1 ? this.#fetchesOneToken : this.#fetches;
  }

  update(outputs: Outputs): void {
    const io = this.#io;
    const n = (this.#feeds[io.inputIds] as ort.Tensor).dims[1] as number;
    // preallocated: the buffers were written in place. appended: copy the new positions in.
    if (this.layout === 'appended') {
      const all = io.newKvAll === null ? undefined : (outputs[io.newKvAll] as ort.Tensor | undefined);
      writeNewPositions(io, outputs, this.#slots, { batch: this.#batch, room: this.#capacity, length: this.#length, n }, all, 'appended');
    }
    this.#length += n;
  }

  /** Bytes allocated for the cache (the whole buffers, used or not). */
  measuredBytes(): number {
    const io = this.#io;
    return 2 * io.layers.length * this.#batch * io.kvHeads * this.#capacity * io.headDim * floatBytes(io.kvType);
  }
}
