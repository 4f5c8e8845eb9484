/**
 * The KV cache as the generation loop sees it: a small interface, so a layout other than the growing one
 * (a preallocated shared buffer, as fused GroupQueryAttention graphs use) can be added without touching
 * the loop. The layouts live in kv-growing.ts, kv-preallocated.ts and kv-direct.ts; this module names them and
 * picks one.
 */
import { DIRECT_MIN_DEPTH } from '../estimate/speed.js';
import type { DecoderIo } from './decoder-io.js';
import { DirectKvCache } from './kv-direct.js';
import { GrowingKvCache } from './kv-growing.js';
import { PreallocatedKvCache } from './kv-preallocated.js';
import type { Feeds, KvCache, KvLayout, KvRelease } from './kv-types.js';

export type { Feeds, KvCache, KvLayout, KvRelease, Outputs } from './kv-types.js';

/**
 * The layout `--kv-layout auto` picks: for modelscout's fused graphs on the CPU `direct`, or `appended` when
 * the work is known to decode no step `DIRECT_MIN_DEPTH` positions deep (`decodeDepth`: the past length of
 * its deepest decode step, 0 for none) — the same GroupQueryAttention without the `If` around it, which
 * costs each layer a subgraph call per step (SmolLM2-135M decode at depth 0, one thread: 163 tok/s appended
 * against 147 direct in one interleaved loop); else `growing` (on a GPU the growing cache stays on the
 * device; the buffer layouts live in host memory).
 */
export function autoKvLayout(graph: 'standard' | 'fused' | null, device: string, decodeDepth?: number): KvLayout {
  if (graph !== 'fused' || device !== 'cpu') return 'growing';
  return decodeDepth !== undefined && decodeDepth < DIRECT_MIN_DEPTH ? 'appended' : 'direct';
}

/** The cache for a model's layout. */
export function createKvCache(layout: KvLayout, io: DecoderIo, feeds: Feeds, onRelease?: KvRelease): KvCache {
  if (layout === 'growing') return new GrowingKvCache(io, feeds);
  if (layout === 'direct') return new DirectKvCache(io, feeds, onRelease);
  return new PreallocatedKvCache(io, feeds, layout, onRelease);
}
