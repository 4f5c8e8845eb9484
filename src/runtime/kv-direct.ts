/**
 * `direct`: the KV layout of the graph whose attention reads the caller's buffers in place
 * (src/onnx/fused/split-attention.ts). One buffer per layer and key/value, `[batch, kv_heads, room,
 * head_dim]`, fed as `past_key_values.*`; the graph attends to every position of it (the unused tail is
 * masked) and returns only the new positions (`present.*`, and `present_new.all` for a decode step), which
 * `update` writes in at the cache's length.
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
import { ModelscoutError } from '../errors.js';
import { floatBytes, type DecoderIo } from './decoder-io.js';
import type { Feeds, KvCache, Outputs } from './kv-types.js';

/** Room is allocated in multiples of this many positions. */
export const GRAIN = 64;

/** The room for `needed` positions when `room` is too small: `needed` plus an eighth, in whole GRAINs. */
export function grownRoom(needed: number): number {
  return Math.ceil((needed + Math.max(GRAIN, Math.floor(needed / 8))) / GRAIN) * GRAIN;
}

type FloatArray = Float32Array | Uint16Array;

export class DirectKvCache implements KvCache {
  readonly layout = 'direct' as const;
  readonly #io: DecoderIo;
  readonly #feeds: Feeds;
  #length = 0;
  #batch = 0;
  #room = 0;
  /** The most positions per row the generation will reach (0: not known): growth stops there. */
  #limit = 0;
  /** Per layer, key then value: the buffer data ([batch, kv_heads, room, head_dim]). */
  #buffers: FloatArray[] = [];
  /** The previous generation's buffers, reused by the next one that needs the same room (benchmark repetitions). */
  #spare: { batch: number; room: number; buffers: FloatArray[] } | null = null;
  #fetchesOneToken: Record<string, ort.Tensor | null> = {};
  #fetches: Record<string, ort.Tensor | null> = {};

  constructor(io: DecoderIo, feeds: Feeds) {
    this.#io = io;
    this.#feeds = feeds;
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
    if (this.#buffers.length > 0) this.#spare = { batch: this.#batch, room: this.#room, buffers: this.#buffers };
    this.#batch = batch;
    this.#length = 0;
    this.#room = 0;
    this.#buffers = [];
    const empty = new ort.Tensor(io.kvType, io.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [batch, io.kvHeads, 0, io.headDim]);
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
    const slots = 2 * io.layers.length;
    const spare = this.#spare;
    this.#spare = null;
    // An empty cache takes the last generation's buffers when they have this room: no new allocation (and no
    // garbage of the last ones) per repetition.
    const reuse = this.#length === 0 && spare !== null && spare.batch === this.#batch && spare.room === room;
    const next: FloatArray[] = reuse ? spare.buffers : [];
    for (let j = 0; j < (reuse ? 0 : slots); j += 1) {
      const data = io.kvType === 'float16' ? new Uint16Array(rows * room * width) : new Float32Array(rows * room * width);
      const old = this.#buffers[j];
      if (old && this.#length > 0) {
        for (let r = 0; r < rows; r += 1) data.set(old.subarray(r * this.#room * width, (r * this.#room + this.#length) * width), r * room * width);
      }
      next.push(data);
    }
    this.#buffers = next;
    this.#room = room;
    const dims = [this.#batch, io.kvHeads, room, io.headDim];
    io.layers.forEach((l, i) => {
      this.#feeds[l.pastKey] = new ort.Tensor(io.kvType, next[2 * i] as FloatArray, dims);
      this.#feeds[l.pastValue] = new ort.Tensor(io.kvType, next[2 * i + 1] as FloatArray, dims);
    });
  }

  update(outputs: Outputs): void {
    const io = this.#io;
    const n = (this.#feeds[io.inputIds] as ort.Tensor).dims[1] as number;
    const needed = this.#length + n;
    // After a multi-token pass the room is exactly the length (the next pass's past has no unused tail);
    // a decode step that does not fit grows it with some headroom.
    if (needed > this.#room) {
      const limit = this.#limit >= needed ? this.#limit : Number.POSITIVE_INFINITY;
      // A prompt takes the whole capacity at once when it is known (the decode steps that follow will need
      // it, and growing pass by pass would hold two copies of the cache at each step up); a decode step
      // grows by an eighth.
      this.#grow(Number.isFinite(limit) && n > 1 ? limit : Math.min(grownRoom(needed), limit));
    }
    const width = n * io.headDim;
    const all = n === 1 && io.newKvAll !== null ? (outputs[io.newKvAll] as ort.Tensor | undefined) : undefined;
    const slots = 2 * io.layers.length;
    const rowsPerBatch = all ? slots * io.kvHeads : io.kvHeads;
    for (let j = 0; j < slots; j += 1) {
      const layer = io.layers[j >> 1] as (typeof io.layers)[number];
      const name = j % 2 === 0 ? layer.presentKey : layer.presentValue;
      const fresh = all ?? (outputs[name] as ort.Tensor | undefined);
      if (!fresh) throw new ModelscoutError('E_INTERNAL', `the session did not return ${name} (direct KV layout)`);
      const src = fresh.data as FloatArray;
      if (src.length !== this.#batch * rowsPerBatch * width) throw new ModelscoutError('E_INTERNAL', `${all ? io.newKvAll : name} has ${src.length} values, expected ${this.#batch * rowsPerBatch * width}`);
      const first = all ? j * io.kvHeads : 0;
      const dst = this.#buffers[j] as FloatArray;
      for (let b = 0; b < this.#batch; b += 1) {
        for (let h = 0; h < io.kvHeads; h += 1) {
          const from = (b * rowsPerBatch + first + h) * width;
          dst.set(src.subarray(from, from + width), ((b * io.kvHeads + h) * this.#room + this.#length) * io.headDim);
        }
      }
    }
    this.#length = needed;
  }

  measuredBytes(): number {
    const io = this.#io;
    return 2 * io.layers.length * this.#batch * io.kvHeads * this.#room * io.headDim * floatBytes(io.kvType);
  }
}
