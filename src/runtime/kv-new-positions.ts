/**
 * Writing a run's new key/value positions into a buffer layout's own buffers: what the `appended` and
 * `direct` layouts do after every run, since their graphs return only the positions that run added.
 */
import type * as ort from 'onnxruntime-node';
import { ModelscoutError } from '../errors.js';
import type { DecoderIo } from './decoder-io.js';
import type { Outputs } from './kv-types.js';

export type KvFloatArray = Float32Array | Uint16Array;

/** One buffer per layer and key/value (layer order, key first), `[batch, kv_heads, room, head_dim]`, and the output with its new positions. */
export interface KvSlot {
  output: string;
  data: KvFloatArray;
}

/** Bytes held by a layout's buffers (what it reports when it lets them go). */
export function slotBytes(slots: readonly KvSlot[]): number {
  return slots.reduce((sum, slot) => sum + slot.data.byteLength, 0);
}

/**
 * Copies the `n` new positions of every slot into its buffer at positions [length, length + n) of each row
 * (the fused graphs give every row the same positions: seqlens_k is total − 1 for all rows). They come from
 * one output per slot, or from `all` — every slot's, concatenated along the head axis
 * (`[batch, slots · kv_heads, n, head_dim]`: slot j's heads start at row j · kv_heads).
 */
export function writeNewPositions(io: DecoderIo, outputs: Outputs, slots: readonly KvSlot[], at: { batch: number; room: number; length: number; n: number }, all: ort.Tensor | undefined, layout: string): void {
  const width = at.n * io.headDim;
  const rowsPerBatch = all ? slots.length * io.kvHeads : io.kvHeads;
  slots.forEach((slot, j) => {
    const fresh = all ?? (outputs[slot.output] as ort.Tensor | undefined);
    if (!fresh) throw new ModelscoutError('E_INTERNAL', `the session did not return ${slot.output} (${layout} KV layout)`);
    const src = fresh.data as KvFloatArray;
    const expected = at.batch * rowsPerBatch * width;
    if (src.length !== expected) throw new ModelscoutError('E_INTERNAL', `${all ? io.newKvAll : slot.output} has ${src.length} values, expected ${expected}`);
    const first = all ? j * io.kvHeads : 0;
    for (let b = 0; b < at.batch; b += 1) {
      for (let h = 0; h < io.kvHeads; h += 1) {
        const from = (b * rowsPerBatch + first + h) * width;
        slot.data.set(src.subarray(from, from + width), ((b * io.kvHeads + h) * at.room + at.length) * io.headDim);
      }
    }
  });
}
