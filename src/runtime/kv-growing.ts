/**
 * `growing`: the standard optimum / transformers.js export. Each step feeds `past_key_values.*` and the
 * graph returns `present.*` = past ⧺ new, one token longer; the presents become the next pasts as they
 * are (no copy on the JS side). On WebGPU the presents stay on the GPU (`gpu-buffer` tensors, see
 * `sessionOptions`) and are disposed when the next step replaces them.
 */
import * as ort from 'onnxruntime-node';
import { floatBytes, type DecoderIo } from './decoder-io.js';
import type { Feeds, KvCache, Outputs } from './kv-types.js';

function prod(dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}

export class GrowingKvCache implements KvCache {
  readonly layout = 'growing' as const;
  #length = 0;
  readonly #io: DecoderIo;
  readonly #feeds: Feeds;

  constructor(io: DecoderIo, feeds: Feeds) {
    this.#io = io;
    this.#feeds = feeds;
  }

  get length(): number {
    return this.#length;
  }

  reset(batch: number): void {
    const io = this.#io;
    this.#releaseDevicePasts();
    const data = io.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
    // One empty tensor serves every layer: ONNX Runtime only reads it.
    const empty = new ort.Tensor(io.kvType, data, [batch, io.kvHeads, 0, io.headDim]);
    for (const l of io.layers) {
      this.#feeds[l.pastKey] = empty;
      this.#feeds[l.pastValue] = empty;
    }
    this.#length = 0;
  }

  /** Presents kept on the device (WebGPU buffers) are freed when replaced: the GC does not see GPU memory. */
  #releaseDevicePasts(): void {
    for (const l of this.#io.layers) {
      for (const name of [l.pastKey, l.pastValue]) {
        const t = this.#feeds[name];
        if (t && t.location === 'gpu-buffer') t.dispose();
      }
    }
  }

  update(outputs: Outputs): void {
    const io = this.#io;
    const layers = io.layers;
    this.#releaseDevicePasts();
    for (let i = 0; i < layers.length; i += 1) {
      const l = layers[i] as (typeof layers)[number];
      this.#feeds[l.pastKey] = outputs[l.presentKey] as ort.Tensor;
      this.#feeds[l.pastValue] = outputs[l.presentValue] as ort.Tensor;
    }
    const first = outputs[(layers[0] as (typeof layers)[number]).presentKey] as ort.Tensor;
    this.#length = first.dims[io.kvSeqAxis] as number;
  }

  measuredBytes(): number {
    const bytes = floatBytes(this.#io.kvType);
    let total = 0;
    for (const l of this.#io.layers) {
      total += prod((this.#feeds[l.pastKey] as ort.Tensor).dims) * bytes;
      total += prod((this.#feeds[l.pastValue] as ort.Tensor).dims) * bytes;
    }
    return total;
  }
}
