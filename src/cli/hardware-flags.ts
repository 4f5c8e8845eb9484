import { Flags } from '@oclif/core';
import { parseBandwidth, parseByteSize } from '../estimate/units.js';
import { gpuOverrideKeys } from '../hardware/accelerators.js';
import { NO_PROBE_ENV, parseGpuOverride, type AutoProbeEvent, type HardwareOverrides } from '../hardware/detect.js';

/**
 * What-if hardware flags shared by every command that estimates against hardware. They are plain strings
 * at the oclif layer and validated by `hardwareOverridesFromFlags`, so a bad value becomes one
 * `ModelscoutError` line (exit 2) naming the value and what is allowed.
 */
export const hardwareFlags = {
  gpu: Flags.string({
    description: `what-if: use this GPU instead of the detected ones, optionally several: H100, 8xH100-80GB, H100x8 (${gpuOverrideKeys().join(', ')})`,
    helpValue: '8xH100',
    helpGroup: 'HARDWARE',
  }),
  vram: Flags.string({ description: 'what-if: VRAM per GPU (adds a GPU of unknown type when none is present)', helpValue: '24GiB', helpGroup: 'HARDWARE' }),
  ram: Flags.string({ description: 'what-if: total and available RAM', helpValue: '64GiB', helpGroup: 'HARDWARE' }),
  bandwidth: Flags.string({
    description: 'what-if: memory bandwidth of the device estimates run on (per GPU when there are GPUs, else system RAM)',
    helpValue: '50GB/s',
    helpGroup: 'HARDWARE',
  }),
};

/**
 * How long `--probe` takes, in the words every command uses: the bandwidth probe (1 s) and the decoder-layer
 * probe (about 3 s on 2 threads; `hardware --probe` took 5.0 s against 1.35 s without).
 */
export const PROBE_TAKES = 'about 4 s';

/** The line a command prints before it probes because `--probe` asked. */
export const PROBE_NOTE = `Measuring memory bandwidth and CPU kernel speed (${PROBE_TAKES})...`;

export const probeFlag = {
  probe: Flags.boolean({
    description: `measure memory bandwidth and how fast ONNX Runtime runs decoder layers on the CPU now (${PROBE_TAKES}; cached for this machine); --no-probe never probes (as $${NO_PROBE_ENV}=1 does). unset: recommend and wizard probe a machine once, at its first CPU estimate`,
    allowNo: true,
    helpGroup: 'HARDWARE',
  }),
};

export interface HardwareFlagValues {
  gpu?: string | undefined;
  vram?: string | undefined;
  ram?: string | undefined;
  bandwidth?: string | undefined;
}

/** Parsed flags → overrides; throws E_INPUT (exit 2) for an unknown GPU or a malformed size or rate. */
export function hardwareOverridesFromFlags(flags: HardwareFlagValues): HardwareOverrides {
  const overrides: HardwareOverrides = {};
  if (flags.gpu !== undefined) overrides.gpu = parseGpuOverride(flags.gpu);
  if (flags.vram !== undefined) overrides.vramBytes = parseByteSize(flags.vram, '--vram');
  if (flags.ram !== undefined) overrides.ramBytes = parseByteSize(flags.ram, '--ram');
  if (flags.bandwidth !== undefined) overrides.bandwidthBytesPerSec = parseBandwidth(flags.bandwidth, '--bandwidth');
  return overrides;
}


/** The line a command prints (stderr, not under --json) when the automatic probe starts or is skipped. */
export function autoProbeLine(event: AutoProbeEvent): string {
  return event.kind === 'probing' ? `First run on this machine: measuring memory bandwidth and CPU kernel speed (${PROBE_TAKES}, cached)` : `Note: ${event.note}`;
}
