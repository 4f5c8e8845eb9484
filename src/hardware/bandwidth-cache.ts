import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CPU_LAYER_PROBE, type CpuLayerProbe } from '../estimate/cpu-rates.js';
import { writeJsonAtomic } from '../util/atomic-write.js';
import { modelscoutCacheDir } from '../util/cache-dir.js';

/**
 * The memory-bandwidth probe's result (and the CPU kernel probe's, where it ran), kept per machine so estimates made without probing (plain
 * `recommend`, `hardware`) use what this machine measured instead of a stated default. A machine is its CPU
 * model, the threads the probe ran with (container limits change it) and its RAM: a different figure for
 * any of them is a different machine. Plain JSON (`bandwidth.json` beside the calibration file); deleting
 * it brings back the stated default until the next probe. Version 1 still: entries written before the
 * decoder-layer probe (bandwidth, single-kernel rates) read as they are, and `layer_probe` is optional.
 */
export const BANDWIDTH_CACHE_SCHEMA_VERSION = '1';

export interface BandwidthCacheEntry {
  machine: string;
  bytes_per_sec: number;
  threads: number;
  duration_ms: number;
  measured_at: string;
  /**
   * The CPU kernel probe run beside it: the decoder-layer probe's timings (with the shapes they were taken at);
   * absent where only the bandwidth was probed.
   */
  layer_probe?: CachedLayerProbe;
  /**
   * An earlier probe's single-kernel rates (fp32 GEMM FLOP/s, int4 matrix-vector ops/s): still read, no longer
   * used by the estimates (they swung about 2× between days while the decoders did not); `--probe` replaces them.
   */
  gemm_flops_per_sec?: number;
  int4_gemv_ops_per_sec?: number;
}

/**
 * Which of a case's run times the probe keeps (`PROBE_QUANTILE` of src/runtime/kernel-probe.ts). Timings
 * cached without it are medians, from before the CPU model's factors were fitted to first quartiles: they
 * are not read (the next `--probe` replaces them).
 */
export const LAYER_PROBE_STATISTIC = 'first_quartile';

/** The decoder-layer probe's timings as cached (seconds per layer and step, or per layer and prompt token). */
export interface CachedLayerProbe {
  statistic: typeof LAYER_PROBE_STATISTIC;
  /** The probe's layer layout (`CPU_LAYER_PROBE.layout`); absent in entries written before gate/up were packed. */
  layout: typeof CPU_LAYER_PROBE.layout;
  hidden: number;
  intermediate: number;
  heads: number;
  kv_heads: number;
  tiny_hidden: number;
  tiny_intermediate: number;
  tiny_heads: number;
  tiny_kv_heads: number;
  block_size: number;
  tiny_decode_sec_per_layer: number;
  int4_decode_sec_per_layer: number;
  fp32_decode_sec_per_layer: number;
  int4_prompt_sec_per_token_layer: number;
  fp32_prompt_sec_per_token_layer: number;
}

export function toCachedLayerProbe(p: CpuLayerProbe): CachedLayerProbe {
  return {
    statistic: LAYER_PROBE_STATISTIC,
    layout: CPU_LAYER_PROBE.layout,
    hidden: p.shape.hidden,
    intermediate: p.shape.intermediate,
    heads: p.shape.heads,
    kv_heads: p.shape.kvHeads,
    tiny_hidden: p.tiny.hidden,
    tiny_intermediate: p.tiny.intermediate,
    tiny_heads: p.tiny.heads,
    tiny_kv_heads: p.tiny.kvHeads,
    block_size: p.blockSize,
    tiny_decode_sec_per_layer: p.tinyDecodeSecPerLayer,
    int4_decode_sec_per_layer: p.int4DecodeSecPerLayer,
    fp32_decode_sec_per_layer: p.fp32DecodeSecPerLayer,
    int4_prompt_sec_per_token_layer: p.int4PromptSecPerTokenLayer,
    fp32_prompt_sec_per_token_layer: p.fp32PromptSecPerTokenLayer,
  };
}

/**
 * The cached timings back as the probe's result, or null when any figure is missing or not a positive number,
 * or they were kept by another statistic (`LAYER_PROBE_STATISTIC`) or timed layers of another layout
 * (`CPU_LAYER_PROBE.layout`): the next probe replaces them.
 */
export function fromCachedLayerProbe(c: Partial<CachedLayerProbe> | undefined): CpuLayerProbe | null {
  if (!c || typeof c !== 'object' || c.statistic !== LAYER_PROBE_STATISTIC || c.layout !== CPU_LAYER_PROBE.layout) return null;
  const keys = ['hidden', 'intermediate', 'heads', 'kv_heads', 'tiny_hidden', 'tiny_intermediate', 'tiny_heads', 'tiny_kv_heads', 'block_size', 'tiny_decode_sec_per_layer', 'int4_decode_sec_per_layer', 'fp32_decode_sec_per_layer', 'int4_prompt_sec_per_token_layer', 'fp32_prompt_sec_per_token_layer'] as const;
  for (const key of keys) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return null;
  }
  const v = c as CachedLayerProbe;
  return {
    shape: { hidden: v.hidden, intermediate: v.intermediate, heads: v.heads, kvHeads: v.kv_heads },
    tiny: { hidden: v.tiny_hidden, intermediate: v.tiny_intermediate, heads: v.tiny_heads, kvHeads: v.tiny_kv_heads },
    blockSize: v.block_size,
    tinyDecodeSecPerLayer: v.tiny_decode_sec_per_layer,
    int4DecodeSecPerLayer: v.int4_decode_sec_per_layer,
    fp32DecodeSecPerLayer: v.fp32_decode_sec_per_layer,
    int4PromptSecPerTokenLayer: v.int4_prompt_sec_per_token_layer,
    fp32PromptSecPerTokenLayer: v.fp32_prompt_sec_per_token_layer,
  };
}

export interface BandwidthCacheFile {
  schema_version: typeof BANDWIDTH_CACHE_SCHEMA_VERSION;
  entries: BandwidthCacheEntry[];
}

export function bandwidthCachePath(env: Readonly<Record<string, string | undefined>>, homeDir: string): string {
  return join(modelscoutCacheDir(env, homeDir), 'bandwidth.json');
}

export function machineKey(parts: { cpuModel: string; threads: number; memoryTotalBytes: number }): string {
  return `${parts.cpuModel} | ${parts.threads} threads | ${Math.round(parts.memoryTotalBytes / 1024 ** 3)} GiB`;
}

/** The cache file, or an empty one when it is missing or not a bandwidth cache (it is only a cache). */
export async function readBandwidthCache(path: string): Promise<BandwidthCacheFile> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<BandwidthCacheFile>;
    if (parsed.schema_version === BANDWIDTH_CACHE_SCHEMA_VERSION && Array.isArray(parsed.entries)) return parsed as BandwidthCacheFile;
  } catch {
    // missing or unreadable: nothing cached
  }
  return { schema_version: BANDWIDTH_CACHE_SCHEMA_VERSION, entries: [] };
}

export function cachedBandwidth(file: BandwidthCacheFile, machine: string): BandwidthCacheEntry | null {
  return file.entries.find((e) => e.machine === machine && Number.isFinite(e.bytes_per_sec) && e.bytes_per_sec > 0) ?? null;
}

/** Replaces this machine's entry (atomically written). */
export async function storeBandwidth(path: string, entry: BandwidthCacheEntry): Promise<void> {
  const file = await readBandwidthCache(path);
  const entries = [...file.entries.filter((e) => e.machine !== entry.machine), entry];
  await writeJsonAtomic(path, { schema_version: BANDWIDTH_CACHE_SCHEMA_VERSION, entries });
}
