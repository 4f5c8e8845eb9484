import { homedir } from 'node:os';
import { Flags } from '@oclif/core';
import { bandwidthCachePath } from '../hardware/bandwidth-cache.js';
import { BaseCommand } from '../cli/base-command.js';
import { fitToWidth, terminalWidth } from '../ui/layout.js';
import { hardwareFlags, hardwareOverridesFromFlags, PROBE_NOTE, PROBE_TAKES, probeFlag } from '../cli/hardware-flags.js';
import { detectHardware, NO_PROBE_ENV, resolveProbeMode } from '../hardware/detect.js';
import { hardwareReport } from '../hardware/schema.js';
import { measureCpuBusy } from '../hardware/cpu-busy.js';
import { probeCpuKernels } from '../runtime/kernel-probe.js';
import { DEVICE_PREFERENCES, selectDevice } from '../hardware/device.js';
import { hardwareSummaryLines } from '../hardware/summary.js';
import { formatBandwidth, formatBytes, formatFlops } from '../util/format.js';

export default class HardwareCommand extends BaseCommand {
  static override summary = 'Show the hardware estimates run against: OS, CPU and ISA features, RAM, GPUs, memory bandwidth.';
  static override description =
    'RAM is what the OS reports as available (MemAvailable), GPU memory is the free VRAM from nvidia-smi. Without nvidia-smi there are no GPUs (not an error); a GPU missing from the accelerator table is reported as unknown. --probe measures system memory bandwidth in about a second and caches the figure for this machine (recommend --confirm does too); without it the cached figure is used, else a stated default. --gpu, --vram, --ram and --bandwidth ask "what if".';

  static override examples = [
    '<%= config.bin %> hardware',
    '<%= config.bin %> hardware --probe --json',
    '<%= config.bin %> hardware --gpu 2xH100-80GB',
    '<%= config.bin %> hardware --ram 64GiB --bandwidth 80GB/s',
  ];

  static override flags = {
    ...probeFlag,
    ...hardwareFlags,
    device: Flags.option({ options: DEVICE_PREFERENCES, default: 'auto' as const, description: 'which device estimates run on: the GPUs when present (auto), the CPU, or the GPUs' })(),
  };

  async run(): Promise<Record<string, unknown>> {
    const { flags } = await this.parse(HardwareCommand);
    const overrides = hardwareOverridesFromFlags(flags);
    if (flags.probe && !this.jsonEnabled()) this.note(PROBE_NOTE);
    const hardware = await detectHardware({ probe: flags.probe === true, overrides, bandwidthCachePath: bandwidthCachePath(process.env, homedir()), kernelProbe: (threads) => probeCpuKernels({ threads }), cpuBusy: () => measureCpuBusy() });
    if (!hardware.layerProbe && flags.probe !== false) {
      // Where the CPU's rates will come from: the automatic probe of the first CPU estimate, unless it cannot run.
      hardware.notes.push(
        hardware.gpus.length > 0
          ? 'the CPU kernels are not probed: with a GPU the estimates run on it; `modelscout hardware --probe` measures the CPU'
          : resolveProbeMode(undefined, process.env) === false
            ? `the CPU kernels are not probed ($${NO_PROBE_ENV} is set): \`modelscout hardware --probe\` measures them`
            : `the CPU kernels are not probed yet: \`modelscout recommend\` probes this machine on first use (${PROBE_TAKES}, cached), or \`modelscout hardware --probe\` now`,
      );
    }
    const device = selectDevice(hardware, flags.device);
    if (!this.jsonEnabled()) {
      const lines = hardwareSummaryLines(hardware);
      const bw = device.bandwidthBytesPerSec === null ? 'unknown bandwidth' : `${formatBandwidth(device.bandwidthBytesPerSec)} (${device.bandwidthSource})`;
      const flops = device.peakFlops === null ? 'unknown FLOP/s' : formatFlops(device.peakFlops);
      lines.push(`Estimates ${device.kind.toUpperCase()}: ${device.name}; ${formatBytes(device.memoryAvailableBytes)} available, ${bw}, ${flops}`);
      this.log(fitToWidth(lines.join('\n'), terminalWidth(process.stdout)));
    }
    return hardwareReport({ hardware, device });
  }
}
