import { formatBandwidth, formatBytes, formatFlops } from '../util/format.js';
import type { Hardware } from './detect.js';

/**
 * The hardware as a few human lines (no terminal access: callers print them). Used by `modelscout
 * hardware` and wherever a command shows the machine it estimates for.
 */
export function hardwareSummaryLines(hardware: Hardware): string[] {
  const features = Object.entries(hardware.cpu.features)
    .filter(([, on]) => on)
    .map(([name]) => name);
  const limits = hardware.limits;
  const cpuLimit = limits?.cpuLimit != null ? ` (container limit; host ${limits.host.cores} cores, ${limits.host.threads} threads)` : '';
  const memLimit = limits?.memoryLimitBytes != null ? ` (container limit; host ${formatBytes(limits.host.memoryAvailableBytes)} available of ${formatBytes(limits.host.memoryTotalBytes)})` : '';
  const lines = [
    `OS        ${hardware.os.platform} ${hardware.os.release} (${hardware.os.arch})`,
    `CPU       ${hardware.cpu.model}: ${hardware.cpu.cores} cores, ${hardware.cpu.threads} threads${hardware.cpu.frequencyGHz ? `, ${hardware.cpu.frequencyGHz.toFixed(2)} GHz` : ''}${cpuLimit}`,
    `ISA       ${features.length > 0 ? features.join(', ') : 'none of avx2, avx512, vnni, amx, neon'}`,
    `RAM       ${formatBytes(hardware.memory.availableBytes)} available of ${formatBytes(hardware.memory.totalBytes)}${hardware.memory.source === 'override' ? ' (what-if)' : memLimit}`,
    `Bandwidth ${formatBandwidth(hardware.bandwidth.bytesPerSec)} system memory, ${hardware.bandwidth.source}: ${hardware.bandwidth.note}`,
    `CPU peak  ${formatFlops(hardware.peakFlops.flopsPerSec)} fp32 (${hardware.peakFlops.source}: ${hardware.peakFlops.basis})`,
  ];
  if (hardware.peakFlops.int8OpsPerSec !== undefined) {
    lines.push(`CPU int8  ${formatFlops(hardware.peakFlops.int8OpsPerSec).replace('FLOP/s', 'OP/s')} (${hardware.peakFlops.source}: ${hardware.peakFlops.int8Basis ?? ''}; int4 decode at accuracy level 4)`);
  }
  if (hardware.gpus.length === 0) {
    lines.push('GPUs      none (no nvidia-smi or rocm-smi GPU, no amdgpu, i915 or xe card with its own memory)');
  } else {
    for (const gpu of hardware.gpus) {
      const spec = gpu.known
        ? `${formatBandwidth(gpu.bandwidthOverrideBytesPerSec ?? gpu.known.memoryBandwidthBytesPerSec)}${gpu.known.fp16Flops ? `, ${formatFlops(gpu.known.fp16Flops)} fp16` : ''}`
        : gpu.bandwidthOverrideBytesPerSec !== undefined
          ? `${formatBandwidth(gpu.bandwidthOverrideBytesPerSec)} (what-if), FLOP/s unknown`
          : 'unknown GPU: bandwidth and FLOP/s not known';
      const origin = gpu.source === 'override' ? ' (what-if)' : gpu.driver ? `, driver ${gpu.driver}` : '';
      lines.push(`GPU ${gpu.index}     ${gpu.name}: ${formatBytes(gpu.vramFreeBytes)} free of ${formatBytes(gpu.vramTotalBytes)}; ${spec}${origin}`);
    }
  }
  for (const note of hardware.notes) lines.push(`Note      ${note}`);
  return lines;
}
