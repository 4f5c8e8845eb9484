/**
 * The KV cache as the generation loop sees it: a small interface, so a layout other than the growing one
 * (a preallocated shared buffer, as fused GroupQueryAttention graphs use) can be added without touching
 * the loop. The layouts live in kv-growing.ts, kv-preallocated.ts and kv-direct.ts; this module names them and
 * picks one.
 */
import type { DecoderIo } from './decoder-io.js';
import { DirectKvCache } from './kv-direct.js';
import { GrowingKvCache } from './kv-growing.js';
import { PreallocatedKvCache } from './kv-preallocated.js';
import type { Feeds, KvCache, KvLayout, KvRelease } from './kv-types.js';

export type { Feeds, KvCache, KvLayout, KvRelease, Outputs } from './kv-types.js';

/**
 * The layout `--kv-layout auto` picks: `direct` for modelscout's fused graphs on the CPU, else `growing`
 * (on a GPU the growing cache stays on the device; the buffer layouts live in host memory).
 */
export function autoKvLayout(graph: 'standard' | 'fused' | null, device: string): KvLayout {
  return graph === 'fused' && device === 'cpu' ? 'direct' : 'growing';
}

/** The cache for a model's layout. */
export function createKvCache(layout: KvLayout, io: DecoderIo, feeds: Feeds, onRelease?: KvRelease): KvCache {
  if (layout === 'growing') return new GrowingKvCache(io, feeds);
  if (layout === 'direct') return new DirectKvCache(io, feeds, onRelease);
  return new PreallocatedKvCache(io, feeds, layout, onRelease);
}
