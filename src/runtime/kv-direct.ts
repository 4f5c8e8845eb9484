/**
 * `direct`: the KV layout of the graph whose attention reads the caller's buffers in place
 * (src/onnx/fused/split-attention.ts). One buffer per layer and key/value, `[batch, kv_heads, room,
 * head_dim]`, fed as `past_key_values.*` with a singleton axis 2 (the graph's pasts are five-dimensional);
 * the graph attends to every position of it (the unused tail is masked) and returns only the new positions
 * (`present.*`, and `present_new.all` for a decode step), which `update` writes in at the cache's length.
 *
 * Because the graph reads the whole buffer, its room follows the cache instead of being allocated at the
 * generation's full length up front:
 *   - an empty cache feeds zero-length pasts, so a first prompt attends to nothing it does not need;
 *   - after a prompt the room is the capacity given at reset (the generation's full length, as the other
 *     buffer layouts allocate it), or without one exactly the prompt's length;
 *   - a decode step that does not fit grows the room to the length plus an eighth (at least `GRAIN`
 *     positions): an in-place step reads at most that much unused tail, and the copy into a larger buffer
 *     happens once every GRAIN or more steps.
 */
import * as ort from 'onnxruntime-node';
import { floatBytes, type DecoderIo } from './decoder-io.js';
import { slotBytes, writeNewPositions, type KvFloatArray, type KvSlot } from './kv-new-positions.js';
import type { Feeds, KvCache, KvRelease, Outputs } from './kv-types.js';

/** Room is allocated in multiples of this many positions. */
export const GRAIN = 64;

/** The room for `needed` positions when `room` is too small: `needed` plus an eighth, in whole GRAINs. */
export function grownRoom(needed: number): number {
  return Math.ceil((needed + Math.max(GRAIN, Math.floor(needed / 8))) / GRAIN) * GRAIN;
}

export class DirectKvCache implements KvCache {
  readonly layout = 'direct' as const;
  readonly #io: DecoderIo;
  readonly #feeds: Feeds;
  #length = 0;
  #batch = 0;
  #room = 0;
  /** The most positions per row the generation will reach (0: not known): growth stops there. */
  #limit = 0;
  /** Per layer, key then value: the buffer ([batch, kv_heads, room, head_dim]) and the present that fills it. */
  #slots: KvSlot[] = [];
  /** The previous generation's buffers, reused by the next one that needs the same room (benchmark repetitions). */
  #spare: { batch: number; room: number; slots: KvSlot[] } | null = null;
  #fetchesOneToken: Record<string, ort.Tensor | null> = {};
  #fetches: Record<string, ort.Tensor | null> = {};

  readonly #onRelease: KvRelease | undefined;

  constructor(io: DecoderIo, feeds: Feeds, onRelease?: KvRelease) {
    this.#io = io;
    this.#feeds = feeds;
    this.#onRelease = onRelease;
  }

  get length(): number {
    return this.#length;
  }

  /** Positions per row the buffers hold now. */
  get room(): number {
    return this.#room;
  }

  reset(batch: number, capacity = 0): void {
    const io = this.#io;
    this.#limit = capacity;
    if (this.#slots.length > 0) this.#spare = { batch: this.#batch, room: this.#room, slots: this.#slots };
    this.#batch = batch;
    this.#length = 0;
    this.#room = 0;
    this.#slots = [];
    const empty = new ort.Tensor(io.kvType, io.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [batch, io.kvHeads, 1, 0, io.headDim]);
    for (const l of io.layers) {
      this.#feeds[l.pastKey] = empty;
      this.#feeds[l.pastValue] = empty;
    }
    this.#fetches = { [io.logits]: null };
    for (const l of io.layers) {
      this.#fetches[l.presentKey] = null;
      this.#fetches[l.presentValue] = null;
    }
    this.#fetchesOneToken = io.newKvAll !== null ? { [io.logits]: null, [io.newKvAll]: null } : this.#fetches;
  }

  fetches(): Record<string, ort.Tensor | null> {
    const chunk = (this.#feeds[this.#io.inputIds] as ort.Tensor | undefined)?.dims[1] ?? 0;
    return chunk === 1 ? this.#fetchesOneToken : this.#fetches;
  }

  /** Moves the cache into buffers of `room` positions and feeds them. */
  #grow(room: number): void {
    const io = this.#io;
    const rows = this.#batch * io.kvHeads;
    const width = io.headDim;
    const spare = this.#spare;
    this.#spare = null;
    // An empty cache takes the last generation's buffers when they have this room: no new allocation (and no
    // garbage of the last ones) per repetition.
    const reuse = this.#length === 0 && spare !== null && spare.batch === this.#batch && spare.room === room;
    const next: KvSlot[] = reuse
      ? spare.slots
      : io.layers.flatMap((l) => [l.presentKey, l.presentValue]).map((output, j) => {
          const data: KvFloatArray = io.kvType === 'float16' ? new Uint16Array(rows * room * width) : new Float32Array(rows * room * width);
          const old = this.#slots[j]?.data;
          if (old && this.#length > 0) {
            for (let r = 0; r < rows; r += 1) data.set(old.subarray(r * this.#room * width, (r * this.#room + this.#length) * width), r * room * width);
          }
          return { output, data };
        });
    // What is let go of: the buffers this growth replaces, and unused spares.
    if (spare !== null && !reuse) this.#onRelease?.(slotBytes(spare.slots));
    if (this.#slots.length > 0) this.#onRelease?.(slotBytes(this.#slots));
    this.#slots = next;
    this.#room = room;
    // The graph takes its pasts as [batch, kv_heads, 1, room, head_dim] (src/onnx/fused/split-attention.ts).
    const dims = [this.#batch, io.kvHeads, 1, room, io.headDim];
    io.layers.forEach((l, i) => {
      this.#feeds[l.pastKey] = new ort.Tensor(io.kvType, (next[2 * i] as KvSlot).data, dims);
      this.#feeds[l.pastValue] = new ort.Tensor(io.kvType, (next[2 * i + 1] as KvSlot).data, dims);
    });
  }

  update(outputs: Outputs): void {
    const io = this.#io;
    const n = (this.#feeds[io.inputIds] as ort.Tensor).dims[1] as number;
    const needed = this.#length + n;
    if (needed > this.#room) {
      const limit = this.#limit >= needed ? this.#limit : Number.POSITIVE_INFINITY;
      // A prompt takes the whole capacity at once when it is known (the decode steps that follow will need
      // it, and growing pass by pass would hold two copies of the cache at each step up); a decode step
      // grows by an eighth, or to the capacity when less than a GRAIN would be left beyond it.
      const grown = Math.min(grownRoom(needed), limit);
      this.#grow(Number.isFinite(limit) && (n > 1 || limit - grown < GRAIN) ? limit : grown);
    }
    const all = n === 1 && io.newKvAll !== null ? (outputs[io.newKvAll] as ort.Tensor | undefined) : undefined;
    writeNewPositions(io, outputs, this.#slots, { batch: this.#batch, room: this.#room, length: this.#length, n }, all, 'direct');
    this.#length = needed;
  }

  measuredBytes(): number {
    const io = this.#io;
    return 2 * io.layers.length * this.#batch * io.kvHeads * this.#room * io.headDim * floatBytes(io.kvType);
  }
}
