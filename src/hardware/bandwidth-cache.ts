import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic-write.js';
import { modelscoutCacheDir } from '../util/cache-dir.js';

/**
 * The memory-bandwidth probe's result (and the CPU kernel probe's, where it ran), kept per machine so estimates made without probing (plain
 * `recommend`, `hardware`) use what this machine measured instead of a stated default. A machine is its CPU
 * model, the threads the probe ran with (container limits change it) and its RAM: a different figure for
 * any of them is a different machine. Plain JSON (`bandwidth.json` beside the calibration file); deleting
 * it brings back the stated default until the next probe.
 */
export const BANDWIDTH_CACHE_SCHEMA_VERSION = '1';

export interface BandwidthCacheEntry {
  machine: string;
  bytes_per_sec: number;
  threads: number;
  duration_ms: number;
  measured_at: string;
  /**
   * The CPU kernel probe run beside it (ONNX Runtime's fp32 GEMM FLOP/s and int4 matrix-vector ops/s);
   * absent where only the bandwidth was probed.
   */
  gemm_flops_per_sec?: number;
  int4_gemv_ops_per_sec?: number;
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
