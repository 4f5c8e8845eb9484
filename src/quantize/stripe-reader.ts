import { open, type FileHandle } from 'node:fs/promises';
import { ModelscoutError } from '../errors.js';
import { externalDataInfo, isExternal, readTensorBytes, resolveExternalLocation, type LoadedModel } from '../onnx/model-io.js';
import type { OnnxTensor } from '../onnx/proto.js';

/**
 * Reads a tensor's bytes in consecutive stripes into two reused buffers, reading the next stripe from
 * disk while the caller works on the current one. Reusing the buffers matters: allocating a fresh
 * multi-MiB buffer per stripe makes V8 run a full garbage collection every few stripes (external memory
 * pressure), which cost more than the quantization itself.
 */
export class StripeReader {
  private pool: [Uint8Array | null, Uint8Array | null] = [null, null];

  /**
   * Yields `[offset, offset + length)` windows of the tensor's raw bytes, `stripeBytes` at a time (the
   * last may be shorter). A yielded view is valid until the next one is requested.
   */
  async *stripes(loaded: LoadedModel, tensor: OnnxTensor, totalBytes: number, stripeBytes: number): AsyncGenerator<{ offset: number; bytes: Uint8Array }> {
    if (!isExternal(tensor)) {
      // Inline tensors are already in memory (views into the decoded protobuf).
      for (let offset = 0; offset < totalBytes; offset += stripeBytes) {
        const length = Math.min(stripeBytes, totalBytes - offset);
        yield { offset, bytes: await readTensorBytes(loaded, tensor, { offset, length }) };
      }
      return;
    }
    const info = externalDataInfo(tensor, loaded.path);
    const file = resolveExternalLocation(loaded.dir, info.location, loaded.path);
    if (info.length !== null && info.length < totalBytes) {
      throw new ModelscoutError('E_MODEL', `${loaded.path}: tensor ${tensor.name ?? '?'} has ${info.length} bytes of external data, its shape needs ${totalBytes}`);
    }
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch {
      throw new ModelscoutError('E_MODEL', `${loaded.path}: external data file ${info.location} (tensor ${tensor.name ?? '?'}) not found in ${loaded.dir}`, {
        suggestions: ['Download the model again including its data file(s) next to the .onnx file.'],
      });
    }
    try {
      const size = (await handle.stat()).size;
      if (info.offset + totalBytes > size) {
        throw new ModelscoutError('E_MODEL', `${loaded.path}: tensor ${tensor.name ?? '?'} needs bytes ${info.offset}..${info.offset + totalBytes} of ${info.location}, which has ${size} bytes (truncated?)`, {
          suggestions: ['Download or generate the model again.'],
        });
      }
      const slots = [this.buffer(0, stripeBytes), this.buffer(1, stripeBytes)];
      const readStripe = (offset: number, slot: number): Promise<Uint8Array> =>
        readInto(handle, slots[slot]!.subarray(0, Math.min(stripeBytes, totalBytes - offset)), info.offset + offset);
      let slot = 0;
      let pending: Promise<Uint8Array> | null = totalBytes > 0 ? readStripe(0, 0) : null;
      for (let offset = 0; pending; offset += stripeBytes) {
        const bytes = await pending;
        const next = offset + stripeBytes;
        pending = next < totalBytes ? readStripe(next, 1 - slot) : null;
        // Attach a no-op handler so a failing read-ahead is reported by the await above, not as unhandled.
        pending?.catch(() => undefined);
        yield { offset, bytes };
        slot = 1 - slot;
      }
    } finally {
      await handle.close();
    }
  }

  private buffer(slot: 0 | 1, bytes: number): Uint8Array {
    const existing = this.pool[slot];
    if (existing && existing.byteLength >= bytes) return existing;
    // A fresh ArrayBuffer at offset 0, so typed views of any element size are aligned.
    const created = new Uint8Array(new ArrayBuffer(bytes));
    this.pool[slot] = created;
    return created;
  }
}

async function readInto(handle: FileHandle, target: Uint8Array, position: number): Promise<Uint8Array> {
  let done = 0;
  while (done < target.byteLength) {
    const { bytesRead } = await handle.read(target, done, Math.min(1 << 30, target.byteLength - done), position + done);
    if (bytesRead === 0) throw new ModelscoutError('E_MODEL', `unexpected end of external data file at byte ${position + done}`);
    done += bytesRead;
  }
  return target;
}
