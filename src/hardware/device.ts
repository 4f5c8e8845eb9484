import { ModelscoutError } from '../errors.js';
import { cpuRatesFromLayerProbe } from '../estimate/cpu-rates.js';
import type { ClusterGpu, DeviceTarget } from '../estimate/device.js';
import type { AcceleratorSpec } from './accelerators.js';
import type { Hardware } from './detect.js';

export const DEVICE_PREFERENCES = ['auto', 'cpu', 'gpu'] as const;
export type DevicePreference = (typeof DEVICE_PREFERENCES)[number];

/**
 * Memory the runtime takes before any weight: on a CPU 175 MiB — the Node process with onnxruntime-node
 * loaded (≈ 65 MiB RSS before a session is created, 40 of them the node binary's pages; ONNX Runtime's
 * library adds ≈ 23 MiB once a session exists), the session's own state beyond the weights (≈ 30 MiB after creation) and the decode
 * loop's buffers, its not yet collected outputs and arena slack during the prompt (the rest, fitted to the
 * measured peaks together with the CPU terms of `fitMemory`); on each GPU the CUDA context, cuBLAS/cuDNN
 * workspaces and ORT's arena (≈ 1 GiB).
 */
export const CPU_RUNTIME_OVERHEAD_BYTES = 175 * 1024 * 1024;
export const GPU_RUNTIME_OVERHEAD_BYTES = 1024 * 1024 * 1024;

/**
 * The CPU (system RAM) as an estimation target. Where the decoder-layer probe ran, its rates drive the CPU
 * model; a what-if `--bandwidth` replaces its read rate.
 */
export function cpuTarget(hardware: Hardware): DeviceTarget {
  const probed = hardware.layerProbe ? cpuRatesFromLayerProbe(hardware.layerProbe) : null;
  const cpuRates = probed && hardware.bandwidth.source === 'override' ? { ...probed, readBytesPerSec: hardware.bandwidth.bytesPerSec, basis: `${probed.basis}; read rate set with --bandwidth` } : probed;
  return {
    kind: 'cpu',
    name: `${hardware.cpu.model} (CPU, ${hardware.cpu.cores} cores)`,
    count: 1,
    memoryTotalBytes: hardware.memory.totalBytes,
    memoryAvailableBytes: hardware.memory.availableBytes,
    bandwidthBytesPerSec: hardware.bandwidth.bytesPerSec,
    bandwidthSource: hardware.bandwidth.source,
    peakFlops: hardware.peakFlops.flopsPerSec,
    peakFlopsSource: hardware.peakFlops.source,
    peakInt8Ops: hardware.peakFlops.int8OpsPerSec ?? null,
    ...(cpuRates ? { cpuRates } : {}),
    runtimeOverheadBytes: CPU_RUNTIME_OVERHEAD_BYTES,
  };
}

/**
 * All GPUs together as one target: memory and bandwidth summed (weights and KV split across them, as
 * tensor parallelism does; the efficiency absorbs the interconnect). Bandwidth or FLOP/s is null when any
 * GPU is unknown and has no override.
 */
export function gpuTarget(hardware: Hardware): DeviceTarget | null {
  const gpus = hardware.gpus;
  if (gpus.length === 0) return null;
  let bandwidth: number | null = 0;
  let flops: number | null = 0;
  let overridden = false;
  for (const gpu of gpus) {
    const bw = gpu.bandwidthOverrideBytesPerSec ?? gpu.known?.memoryBandwidthBytesPerSec ?? null;
    if (gpu.bandwidthOverrideBytesPerSec !== undefined) overridden = true;
    bandwidth = bandwidth === null || bw === null ? null : bandwidth + bw;
    const f = gpu.known?.fp16Flops ?? null;
    flops = flops === null || f === null ? null : flops + f;
  }
  const names = [...new Set(gpus.map((g) => g.name))].join(' + ');
  return {
    kind: 'gpu',
    name: gpus.length > 1 ? `${names} ×${gpus.length}` : names,
    count: gpus.length,
    memoryTotalBytes: gpus.reduce((sum, g) => sum + g.vramTotalBytes, 0),
    memoryAvailableBytes: gpus.reduce((sum, g) => sum + g.vramFreeBytes, 0),
    bandwidthBytesPerSec: bandwidth,
    bandwidthSource: bandwidth === null ? 'unknown' : overridden ? 'override' : 'known',
    peakFlops: flops,
    peakFlopsSource: flops === null ? 'unknown' : 'known',
    runtimeOverheadBytes: GPU_RUNTIME_OVERHEAD_BYTES * gpus.length,
  };
}

/** The device estimates run on: `auto` takes the GPUs when there are any, else the CPU. */
export function selectDevice(hardware: Hardware, preference: DevicePreference = 'auto'): DeviceTarget {
  if (preference === 'cpu') return cpuTarget(hardware);
  const gpu = gpuTarget(hardware);
  if (gpu) return gpu;
  if (preference === 'gpu') {
    throw new ModelscoutError('E_INPUT', 'no GPU detected (nvidia-smi found none) but --device gpu was given', {
      suggestions: ['Use --device cpu or auto, or ask "what if" with --gpu H100-80GB (or --vram 24GiB).'],
    });
  }
  return cpuTarget(hardware);
}

/** One card of the accelerator table as a cluster GPU for the layout planner (datasheet figures, all memory free). */
export function acceleratorAsClusterGpu(acc: AcceleratorSpec & { memoryBytes: number }): ClusterGpu {
  return {
    name: acc.name,
    memoryTotalBytes: acc.memoryBytes,
    memoryAvailableBytes: acc.memoryBytes,
    bandwidthBytesPerSec: acc.memoryBandwidthBytesPerSec,
    bandwidthSource: 'known',
    peakFlops: acc.fp16Flops,
    peakFlopsSource: acc.fp16Flops === null ? 'unknown' : 'known',
    runtimeOverheadBytes: GPU_RUNTIME_OVERHEAD_BYTES,
  };
}
