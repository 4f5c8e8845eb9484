/** The types every KV-cache layout shares (kept apart so that the layouts and their factory import no cycle). */
import type * as ort from 'onnxruntime-node';

export type KvLayout = 'growing' | 'preallocated' | 'appended' | 'direct';

export type Feeds = Record<string, ort.Tensor>;
export type Outputs = ort.InferenceSession.OnnxValueMapType;

/** Told the bytes of cache buffers a layout let go of (long-lived, so only a full collection frees them). */
export type KvRelease = (bytes: number) => void;

export interface KvCache {
  readonly layout: KvLayout;
  /** Tokens held per sequence row (padded), i.e. the past length of the next step. */
  readonly length: number;
  /**
   * Empties the cache for `batch` sequences and binds the empty pasts into the feeds. `capacity`: the most
   * positions per row the generation will reach (needed by layouts that allocate up front).
   */
  reset(batch: number, capacity?: number): void;
  /** Outputs to bind for the next run (pre-allocated presents), when the layout needs them. */
  fetches?(): Record<string, ort.Tensor | null>;
  /** Adopts a step's outputs as the cache for the next step (rebinding the feeds). */
  update(outputs: Outputs): void;
  /** Σ over the cache tensors of prod(dims) · dtype bytes (after the last step: the `present.*` outputs). */
  measuredBytes(): number;
}
