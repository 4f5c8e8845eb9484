import type { CpuRates } from './cpu-rates.js';
import type { WeightFormat } from './weights.js';

/**
 * What the estimator needs to know about the device a model runs on. `src/hardware` builds it from the
 * detected (or overridden) hardware; tests and what-if callers can write one by hand.
 */
export interface DeviceTarget {
  kind: 'cpu' | 'gpu';
  /** e.g. `NVIDIA H100 80GB HBM3 ×2` or `Intel(R) Xeon(R) ... (CPU)`. */
  name: string;
  /** GPUs used together (weights and KV split across them); 1 for a CPU. */
  count: number;
  memoryTotalBytes: number;
  /** Memory a new process can use now: free VRAM (summed over GPUs) or the OS's available RAM. */
  memoryAvailableBytes: number;
  /** Memory bandwidth (summed over GPUs), or null when unknown (an unrecognised GPU without an override). */
  bandwidthBytesPerSec: number | null;
  bandwidthSource: 'probe' | 'known' | 'default' | 'override' | 'unknown';
  /** Peak dense FLOP/s: fp16 tensor-core rate for GPUs, fp32 FMA rate for CPUs; null when unknown. */
  peakFlops: number | null;
  peakFlopsSource: 'known' | 'default' | 'override' | 'unknown' | 'probe';
  /**
   * CPU only: peak int8 multiply-add rate (ops/s) from the ISA (VNNI / AMX / NEON dot product): the compute
   * path of int4 `MatMulNBits` at accuracy level 4 while decoding. Absent or null: unknown (fp32 peak used).
   */
  peakInt8Ops?: number | null;
  /**
   * CPU only: the rates ONNX Runtime runs a decoder's kernels at, measured by the decoder-layer probe
   * (`--probe`, `--confirm`; cached per machine). Absent or null: the CPU model derives them from the peaks.
   */
  cpuRates?: CpuRates | null;
  /** Memory the runtime itself takes before any weight (process, ONNX Runtime arenas, CUDA context). */
  runtimeOverheadBytes: number;
  /**
   * GPUs spread over nodes with a known interconnect: the estimator plans TP / PP / DP layouts with their
   * communication (`src/estimate/topology.ts`) instead of treating the sums above as one device.
   */
  cluster?: Cluster;
}

/*
 * Several GPUs as a cluster: the data the layout planner (`topology.ts`) works on. Declared here, beside the
 * device they describe, so the device type does not depend on the planner.
 */
export const INTERCONNECT_KINDS = ['nvlink', 'pcie', 'ib', 'ethernet'] as const;
export type InterconnectKind = (typeof INTERCONNECT_KINDS)[number];

/** One kind of link between GPUs: bandwidth per GPU in one direction and the latency of one collective step. */
export interface Link {
  kind: InterconnectKind | 'custom';
  /** Bytes/s each GPU can send (one direction) over this link. */
  bytesPerSec: number;
  /** Fixed cost of one collective or one point-to-point send over this link, seconds. */
  latencySec: number;
  source: string;
}

export interface Interconnect {
  /** Between the GPUs of one node (TP's all-reduces, PP hops inside the node). */
  intraNode: Link;
  /** Between nodes (PP hops, TP across nodes); null for one node. */
  interNode: Link | null;
}

/** A GPU of the cluster, as the estimator needs it (one card). */
export interface ClusterGpu {
  name: string;
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  bandwidthBytesPerSec: number | null;
  bandwidthSource: DeviceTarget['bandwidthSource'];
  peakFlops: number | null;
  peakFlopsSource: DeviceTarget['peakFlopsSource'];
  runtimeOverheadBytes: number;
}

export interface Cluster {
  gpu: ClusterGpu;
  gpusPerNode: number;
  nodes: number;
  interconnect: Interconnect;
}

/** Tensor, pipeline and data parallel degrees of one layout. */
export interface Layout {
  tp: number;
  pp: number;
  dp: number;
}

/** Fraction of peak the runtime reaches: decode against bandwidth, prefill against peak FLOP/s. */
export interface Efficiency {
  decode: number;
  prefill: number;
  /** `default`: the stated defaults below; `calibrated`: fitted to measurements on this device and format. */
  source: 'default' | 'calibrated';
  /** Where the figures come from, in words. */
  note?: string;
}

/**
 * Default efficiencies, before any calibration:
 * - GPU decode 0.70 of peak bandwidth: batch-1 decode kernels on HBM/GDDR typically sustain 60-85 % of the
 *   datasheet rate. GPU prefill 0.45 of dense fp16 peak: large GEMMs reach 60-80 %, attention and the
 *   smaller projections pull the average down.
 * - CPU decode 0.80 of a *probed* streaming bandwidth (the probe already measures what software gets), 0.60
 *   of a stated default or theoretical figure. CPU prefill 0.30 of the fp32 FMA peak: MLAS GEMMs reach about
 *   half of peak, int4 dequantisation and attention cost the rest.
 * These are what a later calibration from measurements replaces (`source: 'calibrated'`).
 */
export function defaultEfficiency(device: Pick<DeviceTarget, 'kind' | 'bandwidthSource'>, _format?: WeightFormat): Efficiency {
  if (device.kind === 'gpu') {
    return { decode: 0.7, prefill: 0.45, source: 'default', note: 'default GPU efficiencies (decode 0.70 of peak bandwidth, prefill 0.45 of dense fp16 peak)' };
  }
  const decode = device.bandwidthSource === 'probe' ? 0.8 : 0.6;
  return {
    decode,
    prefill: 0.3,
    source: 'default',
    note: `default CPU efficiencies (decode ${decode.toFixed(2)} of the ${device.bandwidthSource} bandwidth, prefill 0.30 of the fp32 FMA peak)`,
  };
}

/**
 * Multiplicative error band around an estimate: wide for default efficiencies (they are guesses about a
 * runtime), narrow once calibrated against measurements on the same device and format.
 */
export function errorBand(efficiency: Efficiency): { low: number; high: number } {
  return efficiency.source === 'calibrated' ? { low: 0.8, high: 1.25 } : { low: 0.5, high: 1.5 };
}
