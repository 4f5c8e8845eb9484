import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import { ModelscoutError, invalidValue } from '../errors.js';
import { parseAmdSysfs, parseRocmSmiJson, type DrmCardFiles } from './amd-gpus.js';
import { INTEL_PCI_VENDOR, parseIntelSysfs, type IntelCardFiles } from './intel-gpus.js';
import { acceleratorInfo, findAccelerator, gpuOverrideKeys, isGpuOverride, matchAccelerator, type AcceleratorInfo } from './accelerators.js';
import { cachedBandwidth, fromCachedLayerProbe, machineKey, readBandwidthCache, storeBandwidth, toCachedLayerProbe } from './bandwidth-cache.js';
import { effectiveCpuLimit, effectiveMemoryLimit, readCgroupLimits, type CgroupLimits } from './cgroup.js';
import { defaultCpuInt8Peak, defaultCpuPeakFlops, parseCpuInfo, type CpuFeatures } from './cpu.js';
import { BUSY_THRESHOLD } from './cpu-busy.js';
import { knownPlatformBandwidth, matchCpuPlatform } from './platforms.js';
import { probeMemoryBandwidth } from './probe.js';
import { cpuRatesFromLayerProbe, type CpuLayerProbe } from '../estimate/cpu-rates.js';
import { runCommand, type CommandRunner } from './run-command.js';

export interface GpuInfo {
  index: number;
  /** The name as `nvidia-smi` reports it (or the accelerator's name for an override). */
  name: string;
  vramTotalBytes: number;
  vramFreeBytes: number;
  driver: string | null;
  /** The matching entry of the accelerator table, or null for a GPU we do not know (reported, not guessed). */
  known: AcceleratorInfo | null;
  source: 'nvidia-smi' | 'rocm-smi' | 'sysfs' | 'override';
  /** Bandwidth set with `--bandwidth`, which wins over the known figure. */
  bandwidthOverrideBytesPerSec?: number;
}

export type BandwidthSource = 'probe' | 'known' | 'default' | 'override';

export interface Hardware {
  os: { platform: string; release: string; arch: string };
  cpu: { model: string; cores: number; threads: number; features: CpuFeatures; frequencyGHz: number | null };
  memory: { totalBytes: number; availableBytes: number; source: 'detected' | 'override' };
  gpus: GpuInfo[];
  /** System memory bandwidth (what CPU decoding streams from). */
  bandwidth: { bytesPerSec: number; source: BandwidthSource; note: string };
  /** The CPU's peak fp32 FLOP/s (GPU rates are on each GPU's `known` entry). */
  peakFlops: {
    flopsPerSec: number;
    source: 'default' | 'known' | 'probe';
    basis: string;
    /** Peak int8 multiply-add rate (ops/s) from the ISA: the decode path of int4 at accuracy level 4. */
    int8OpsPerSec?: number;
    int8Basis?: string;
  };
  /**
   * What ONNX Runtime's CPU kernels measured here: the decoder-layer probe (run with `--probe` and
   * `--confirm`, cached per machine). The CPU model's rates come from it, and the peaks above show its fp32
   * prompt GEMM rate and its int4 decode rate instead of the ISA and clock.
   */
  layerProbe?: CpuLayerProbe & { note: string };
  /** Things the user should know about the detection (e.g. nvidia-smi failed). */
  notes: string[];
  /**
   * Container limits (cgroup memory and CPU, CPU affinity) that made `memory` and `cpu` tighter than the
   * host; absent when none applies.
   */
  limits?: HardwareLimits;
}

/** What a container limit changed: the host's figures, the limits that bind, and where they were read. */
export interface HardwareLimits {
  host: { memoryTotalBytes: number; memoryAvailableBytes: number; cores: number; threads: number };
  /** The binding memory limit (the lower of memory.max and memory.high), null when memory is not limited. */
  memoryLimitBytes: number | null;
  /** Whole CPUs allowed (quota, cpuset, affinity), null when the CPUs are not limited. */
  cpuLimit: number | null;
  cgroupVersion: CgroupLimits['version'];
  /** Where each limit was read (file = value (cgroup folder)). */
  sources: string[];
}

/** What-if overrides: replace the GPUs, VRAM, RAM or bandwidth the estimates use. */
export interface HardwareOverrides {
  /** A GPU from the accelerator table, `count` of them (`--gpu 2xH100-80GB`). */
  gpu?: { key: string; count: number };
  /** VRAM per GPU (`--vram`); without any GPU it adds one GPU of unknown type with this VRAM. */
  vramBytes?: number;
  /** Total and available RAM (`--ram`). */
  ramBytes?: number;
  /** Memory bandwidth of the device estimates run on: per GPU when there are GPUs, else system RAM (`--bandwidth`). */
  bandwidthBytesPerSec?: number;
}

/**
 * When detection probes this machine: `true` always (a fresh probe, `--probe`), `false` never (`--no-probe`,
 * `$MODELSCOUT_NO_PROBE`), `'auto'` once per machine — when the estimates run on this machine's CPU (no GPU
 * detected or stated), the cache holds no decoder-layer probe for it, and the CPUs are not busy.
 */
export type ProbeMode = boolean | 'auto';

/** What the automatic probe did, for the command to say (the core writes nothing to the terminal). */
export type AutoProbeEvent =
  /** About to probe (about 4 s): the first estimate on this machine. */
  | { kind: 'probing' }
  /** Not probed: the CPUs were busy with other work, or the probe failed; `note` says what the estimates use instead. */
  | { kind: 'skipped'; note: string };

/** Environment variable that turns the automatic probe off (CI jobs that want fixed figures); `--probe` still probes. */
export const NO_PROBE_ENV = 'MODELSCOUT_NO_PROBE';

/**
 * The probe mode of a command that estimates on this machine: the `--probe` / `--no-probe` flag when given,
 * else never when `$MODELSCOUT_NO_PROBE` is set (to anything but empty, `0` or `false`), else `fallback`
 * (`'auto'`; `--confirm` passes `true`, it measures anyway). The environment comes in from the command.
 */
export function resolveProbeMode(flag: boolean | undefined, env: Readonly<Record<string, string | undefined>>, fallback: ProbeMode = 'auto'): ProbeMode {
  if (flag !== undefined) return flag;
  const optOut = env[NO_PROBE_ENV]?.trim().toLowerCase();
  if (optOut !== undefined && optOut !== '' && optOut !== '0' && optOut !== 'false') return false;
  return fallback;
}

export interface DetectOptions {
  /** Measure system memory bandwidth and the CPU kernels (about 4 s): always, never (default) or once per machine (see `ProbeMode`). */
  probe?: ProbeMode;
  /** Called when the automatic probe starts or is skipped (`probe: 'auto'`): the command says so on stderr. */
  onAutoProbe?: (event: AutoProbeEvent) => void;
  overrides?: HardwareOverrides;
  /** Subprocess runner (tests inject canned `nvidia-smi` output). */
  run?: CommandRunner;
  /** File reader for /proc files (tests inject fixtures). */
  readTextFile?: (path: string) => Promise<string | null>;
  /** Directory listing (tests inject /sys/class/drm). */
  listDir?: (path: string) => Promise<string[]>;
  /** Values os.* would give (tests inject them). */
  system?: Partial<{ platform: string; release: string; arch: string; cpuModel: string; threads: number; speedMHz: number; totalMem: number; freeMem: number }>;
  probeDurationMs?: number;
  /**
   * The per-machine bandwidth cache (`bandwidthCachePath`): a probe writes its result there, and without a
   * probe a cached result for this machine replaces the stated default. Unset: no cache.
   */
  bandwidthCachePath?: string;
  /** The wall-clock time, RFC 3339 (for the cache entry; tests inject it). */
  timestamp?: () => string;
  /** Container limits (tests inject them; default: read from /proc and /sys/fs/cgroup on Linux). */
  cgroupLimits?: CgroupLimits | null;
  /**
   * The CPU kernel probe (`probeCpuKernels` of src/runtime, passed in by the caller: detection sits below
   * the runtime). Run with `probe`; its result is cached with the bandwidth. Without it `probe: 'auto'` never probes.
   */
  kernelProbe?: (threads: number) => Promise<CpuLayerProbe>;
  /** How busy the CPUs are (0–1) just before probing: a busy machine's forced probe is used but not cached, and the automatic probe does not run. */
  cpuBusy?: () => Promise<number | null>;
}

/** A stated default when no probe ran and no known figure (Apple chip, known server platform) applies (typical dual-channel DDR4/DDR5 desktop). */
export const DEFAULT_SYSTEM_BANDWIDTH = 25e9;

/** How long the bandwidth probe measures (five rounds): short enough to run before every `--confirm`. */
export const PROBE_DURATION_MS = 1000;

const ROCM_SMI_ARGS = ['--showproductname', '--showmeminfo', 'vram', '--showdriverversion', '--json'];

async function listDirDefault(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

/** The sysfs files of each DRM card (`card0`, `card1`, …; not their connectors such as `card0-DP-1`). */
async function readDrmCards(listDir: (path: string) => Promise<string[]>, readText: (path: string) => Promise<string | null>): Promise<DrmCardFiles[]> {
  const cards = (await listDir('/sys/class/drm')).filter((n) => /^card\d+$/.test(n)).sort();
  return Promise.all(
    cards.map(async (card) => {
      const dir = `/sys/class/drm/${card}/device`;
      const [vendor, vramTotal, vramUsed, productName] = await Promise.all([readText(`${dir}/vendor`), readText(`${dir}/mem_info_vram_total`), readText(`${dir}/mem_info_vram_used`), readText(`${dir}/product_name`)]);
      return { vendor, vramTotal, vramUsed, productName };
    }),
  );
}

/** The sysfs files of each Intel DRM card (vendor 0x8086): device id, driver, local-memory sizes. */
async function readIntelCards(listDir: (path: string) => Promise<string[]>, readText: (path: string) => Promise<string | null>): Promise<IntelCardFiles[]> {
  const cards = (await listDir('/sys/class/drm')).filter((n) => /^card\d+$/.test(n)).sort();
  const out: IntelCardFiles[] = [];
  for (const card of cards) {
    const base = `/sys/class/drm/${card}`;
    const dir = `${base}/device`;
    const vendor = await readText(`${dir}/vendor`);
    if (vendor?.trim().toLowerCase() !== INTEL_PCI_VENDOR) continue;
    const tiles = (await listDir(dir)).filter((n) => /^tile\d+$/.test(n)).sort();
    const [device, uevent, lmemTotal, lmemAvail, ...tileVramSizes] = await Promise.all([
      readText(`${dir}/device`),
      readText(`${dir}/uevent`),
      readText(`${base}/lmem_total_bytes`).then((t) => t ?? readText(`${dir}/lmem_total_bytes`)),
      readText(`${base}/lmem_avail_bytes`).then((t) => t ?? readText(`${dir}/lmem_avail_bytes`)),
      ...tiles.map((tile) => readText(`${dir}/${tile}/physical_vram_size_bytes`)),
    ]);
    out.push({ card, vendor, device: device ?? null, uevent: uevent ?? null, lmemTotal: lmemTotal ?? null, lmemAvail: lmemAvail ?? null, tileVramSizes: tileVramSizes.filter((t): t is string => t !== null) });
  }
  return out;
}

const NVIDIA_SMI_ARGS = ['--query-gpu=index,name,memory.total,memory.free,driver_version', '--format=csv,noheader,nounits'];
const MIB = 1024 * 1024;

async function readTextFileDefault(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.free,driver_version --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(stdout: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim().length === 0) continue;
    const parts = line.split(',').map((p) => p.trim());
    if (parts.length < 5) continue;
    const [indexText, name, totalText, freeText, driver] = parts as [string, string, string, string, string];
    const total = Number(totalText);
    const free = Number(freeText);
    if (!Number.isFinite(total)) continue;
    gpus.push({
      index: Number(indexText) || gpus.length,
      name,
      vramTotalBytes: total * MIB,
      // "[N/A]" free memory (some vGPU / MIG setups): assume nothing is free rather than everything.
      vramFreeBytes: Number.isFinite(free) ? free * MIB : 0,
      driver: driver && driver !== '[N/A]' ? driver : null,
      known: knownInfo(matchAccelerator(name)),
      source: 'nvidia-smi',
    });
  }
  return gpus;
}

function knownInfo(spec: ReturnType<typeof matchAccelerator>): AcceleratorInfo | null {
  return spec ? acceleratorInfo(spec) : null;
}

/** MemTotal and MemAvailable from /proc/meminfo (kB), or null when absent. */
export function parseMemInfo(text: string): { totalBytes: number; availableBytes: number } | null {
  const read = (key: string): number | null => {
    const match = new RegExp(`^${key}:\\s*(\\d+)\\s*kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : null;
  };
  const total = read('MemTotal');
  const available = read('MemAvailable');
  if (total === null || available === null) return null;
  return { totalBytes: total, availableBytes: available };
}

/**
 * Detects OS, CPU, RAM (MemAvailable: what a new process can get without swapping) and NVIDIA, AMD and
 * Intel GPUs, then applies what-if overrides. Without nvidia-smi there are simply no GPUs; a failing nvidia-smi adds a note.
 */
export async function detectHardware(options: DetectOptions = {}): Promise<Hardware> {
  const run = options.run ?? runCommand;
  const readText = options.readTextFile ?? readTextFileDefault;
  const sys = options.system ?? {};
  const platform = sys.platform ?? os.platform();
  const arch = sys.arch ?? os.arch();
  const cpus = os.cpus();
  const notes: string[] = [];

  const cpuText = platform === 'linux' ? await readText('/proc/cpuinfo') : null;
  const cpu = parseCpuInfo(cpuText ?? '', {
    model: sys.cpuModel ?? cpus[0]?.model ?? 'unknown CPU',
    threads: sys.threads ?? (cpus.length || 1),
    speedMHz: sys.speedMHz ?? cpus[0]?.speed ?? 0,
    arch,
  });

  const memInfoText = platform === 'linux' ? await readText('/proc/meminfo') : null;
  const memInfo = memInfoText ? parseMemInfo(memInfoText) : null;
  const memory = memInfo ?? { totalBytes: sys.totalMem ?? os.totalmem(), availableBytes: sys.freeMem ?? os.freemem() };
  if (!memInfo) notes.push('available RAM is the OS free-memory figure (no /proc/meminfo MemAvailable here)');

  let gpus: GpuInfo[] = [];
  const smi = await run('nvidia-smi', NVIDIA_SMI_ARGS);
  if (smi !== null) {
    if (smi.exitCode === 0) gpus = parseNvidiaSmi(smi.stdout);
    else notes.push(`nvidia-smi failed (exit ${smi.exitCode}): ${smi.stderr.split('\n')[0]?.trim() || 'no message'}; no GPUs reported`);
  }
  // AMD GPUs: rocm-smi where ROCm is installed, else the amdgpu driver's sysfs files.
  const rocm = await run('rocm-smi', ROCM_SMI_ARGS);
  let amd = rocm !== null && rocm.exitCode === 0 ? parseRocmSmiJson(rocm.stdout) : [];
  if (amd.length === 0 && platform === 'linux') amd = parseAmdSysfs(await readDrmCards(options.listDir ?? listDirDefault, readText));
  for (const g of amd) gpus.push({ index: gpus.length, ...g });
  // Intel GPUs: the i915 / xe drivers' sysfs files (integrated graphics are only reported, in a note).
  if (platform === 'linux') {
    const intel = parseIntelSysfs(await readIntelCards(options.listDir ?? listDirDefault, readText));
    for (const g of intel.gpus) gpus.push({ index: gpus.length, ...g });
    notes.push(...intel.notes);
  }
  for (const gpu of gpus) {
    if (!gpu.known) notes.push(`GPU "${gpu.name}" is not in the accelerator table: its bandwidth and FLOP/s are unknown (pass --bandwidth, or --gpu with a known model)`);
  }

  const cgroup = options.cgroupLimits !== undefined ? options.cgroupLimits : platform === 'linux' ? await readCgroupLimits({ readText }) : null;
  const limits = cgroup ? applyContainerLimits(cpu, memory, cgroup) : undefined;
  if (limits) notes.push(limitsNote(limits));

  // System bandwidth: a probe measures (and is cached per machine); else this machine's cached probe; else
  // Apple chips and known server platforms (scaled to the cores this machine sees); otherwise a stated default.
  const apple = matchAccelerator(cpu.model, 'apple');
  const cpuPlatform = apple ? null : matchCpuPlatform(cpu.model);
  const known = cpuPlatform ? knownPlatformBandwidth(cpuPlatform, cpu.model, cpu.threads) : null;
  let bandwidth: Hardware['bandwidth'] = apple
    ? { bytesPerSec: apple.memoryBandwidthBytesPerSec, source: 'known', note: `${apple.name} unified memory (${apple.source})` }
    : known
      ? { bytesPerSec: known.bytesPerSec, source: 'known', note: known.note }
      : { bytesPerSec: DEFAULT_SYSTEM_BANDWIDTH, source: 'default', note: 'stated default (25 GB/s: a dual-channel DDR4/DDR5 desktop sustains 20-40 GB/s); run with --probe to measure' };
  const machine = machineKey({ cpuModel: cpu.model, threads: cpu.threads, memoryTotalBytes: memory.totalBytes });
  const cacheFile = options.probe !== true && options.bandwidthCachePath ? await readBandwidthCache(options.bandwidthCachePath) : null;
  const cached = cacheFile ? cachedBandwidth(cacheFile, machine) : null;
  const cachedLayers = fromCachedLayerProbe(cached?.layer_probe);
  let kernels: (CpuLayerProbe & { note: string }) | undefined;
  let probed = false;
  let skipped: { busy: number } | { error: string } | null = null;
  if (options.probe === true) {
    const busy = options.cpuBusy ? await options.cpuBusy() : null;
    ({ bandwidth, kernels } = await probeAndCache(options, cpu.threads, machine, busy, notes));
    probed = true;
  } else if (options.probe === 'auto' && !cachedLayers && options.kernelProbe && !estimatesOnGpu(gpus, options.overrides)) {
    // The first estimate on this machine's CPU: probe once and cache it, unless other work holds the CPUs
    // (a busy machine's figures would understate it, and would not be cached anyway).
    const busy = options.cpuBusy ? await options.cpuBusy() : null;
    if (busy !== null && busy > BUSY_THRESHOLD) {
      skipped = { busy };
    } else {
      options.onAutoProbe?.({ kind: 'probing' });
      try {
        ({ bandwidth, kernels } = await probeAndCache(options, cpu.threads, machine, busy, notes));
        probed = true;
      } catch (error) {
        skipped = { error: (error as Error).message };
      }
    }
  }
  if (!probed && cached) {
    bandwidth = { bytesPerSec: cached.bytes_per_sec, source: 'probe', note: `measured on this machine ${cached.measured_at} (${cached.threads} threads; cached in ${options.bandwidthCachePath}; --probe measures again)` };
    if (cachedLayers) {
      kernels = { ...cachedLayers, note: `measured on this machine ${cached.measured_at} (cached; --probe measures again)` };
    } else if (cached.gemm_flops_per_sec !== undefined) {
      notes.push('the cached CPU kernel rates come from an earlier, single-kernel probe the estimates no longer use: `modelscout hardware --probe` measures the decoder-layer probe');
    }
  }
  if (skipped) {
    const uses = `the estimates use the ISA peaks and ${bandwidth.source === 'default' ? `a stated ${bandwidth.bytesPerSec / 1e9} GB/s bandwidth` : bandwidth.source === 'known' ? "the platform's known bandwidth" : 'the cached bandwidth'}`;
    const note = 'busy' in skipped
      ? `not probed: the CPUs are ${Math.round(skipped.busy * 100)}% busy with other work, so ${uses}; \`modelscout hardware --probe\` measures when the machine is idle`
      : `not probed: the automatic probe failed (${skipped.error}), so ${uses}; \`modelscout hardware --probe\` tries again`;
    notes.push(note);
    options.onAutoProbe?.({ kind: 'skipped', note });
  }

  const peak = kernels ? peakFromLayerProbe(kernels) : defaultCpuPeakFlops(cpu);
  const int8 = kernels ? int8FromLayerProbe(kernels) : defaultCpuInt8Peak(cpu);
  const hardware: Hardware = {
    os: { platform, release: sys.release ?? os.release(), arch },
    cpu: { model: cpu.model, cores: cpu.cores, threads: cpu.threads, features: cpu.features, frequencyGHz: cpu.frequencyGHz },
    memory: { ...memory, source: 'detected' },
    gpus,
    bandwidth,
    peakFlops: { flopsPerSec: peak.flopsPerSec, source: kernels ? 'probe' : 'default', basis: peak.basis, int8OpsPerSec: int8.opsPerSec, int8Basis: int8.basis },
    ...(kernels ? { layerProbe: kernels } : {}),
    notes,
    ...(limits ? { limits } : {}),
  };
  return options.overrides ? applyOverrides(hardware, options.overrides) : hardware;
}

/** Whether the estimates run on a GPU: one is detected, or stated with `--gpu` or `--vram`. */
function estimatesOnGpu(gpus: GpuInfo[], overrides: HardwareOverrides | undefined): boolean {
  return gpus.length > 0 || overrides?.gpu !== undefined || overrides?.vramBytes !== undefined;
}

/**
 * Runs both probes (bandwidth, then the decoder layers when a kernel probe is given) and caches them for this
 * machine, unless the CPUs were busy (`busy`, measured before): then the figures serve this run only.
 */
async function probeAndCache(
  options: DetectOptions,
  threads: number,
  machine: string,
  busy: number | null,
  notes: string[],
): Promise<{ bandwidth: Hardware['bandwidth']; kernels: (CpuLayerProbe & { note: string }) | undefined }> {
  const probe = await probeMemoryBandwidth({ threads, durationMs: options.probeDurationMs ?? PROBE_DURATION_MS });
  const bandwidth: Hardware['bandwidth'] = { bytesPerSec: probe.bytesPerSec, source: 'probe', note: `measured: ${probe.threads} threads copying ${probe.bufferBytes / MIB} MiB buffers, median of ${probe.samples.length} rounds over ${probe.durationMs / 1000} s` };
  const layers = options.kernelProbe ? await options.kernelProbe(threads) : null;
  const kernels = layers ? { ...pickLayerProbe(layers), note: `measured: ONNX Runtime running decoder-layer stacks (int4 and fp32) on ${threads} threads` } : undefined;
  if (busy !== null && busy > BUSY_THRESHOLD) {
    // Other processes held the CPUs: the figures are what this run gets, not what the machine can do.
    notes.push(`the CPUs were ${Math.round(busy * 100)}% busy with other work while probing: the probe's figures are used for this run but not cached`);
  } else if (options.bandwidthCachePath) {
    try {
      await storeBandwidth(options.bandwidthCachePath, {
        machine,
        bytes_per_sec: probe.bytesPerSec,
        threads: probe.threads,
        duration_ms: probe.durationMs,
        measured_at: (options.timestamp ?? (() => new Date().toISOString()))(),
        ...(layers ? { layer_probe: toCachedLayerProbe(layers) } : {}),
      });
    } catch (error) {
      notes.push(`the bandwidth probe could not be cached in ${options.bandwidthCachePath}: ${(error as Error).message}`);
    }
  }
  return { bandwidth, kernels };
}

/**
 * Narrows the host's CPU and memory figures (in place) to the container's limits, and says what changed;
 * undefined when no limit is tighter than the host. Available memory is the limit less what the cgroup
 * already holds (its working set), never more than the host has available.
 */
export function applyContainerLimits(
  cpu: { cores: number; threads: number },
  memory: { totalBytes: number; availableBytes: number },
  cgroup: CgroupLimits,
): HardwareLimits | undefined {
  const host = { memoryTotalBytes: memory.totalBytes, memoryAvailableBytes: memory.availableBytes, cores: cpu.cores, threads: cpu.threads };
  const memLimit = effectiveMemoryLimit(cgroup);
  const cpuLimit = effectiveCpuLimit(cgroup);
  const memoryBinds = memLimit !== null && memLimit < memory.totalBytes;
  const cpuBinds = cpuLimit !== null && cpuLimit < cpu.threads;
  if (!memoryBinds && !cpuBinds) return undefined;
  if (memoryBinds) {
    memory.totalBytes = memLimit;
    memory.availableBytes = Math.max(0, Math.min(memory.availableBytes, memLimit - (cgroup.memoryWorkingSetBytes ?? 0)));
  }
  if (cpuBinds) {
    cpu.threads = cpuLimit;
    cpu.cores = Math.min(cpu.cores, cpuLimit);
  }
  return { host, memoryLimitBytes: memoryBinds ? memLimit : null, cpuLimit: cpuBinds ? cpuLimit : null, cgroupVersion: cgroup.version, sources: cgroup.sources };
}

function limitsNote(limits: HardwareLimits): string {
  const parts: string[] = [];
  if (limits.memoryLimitBytes !== null) parts.push(`memory ${(limits.memoryLimitBytes / 1024 ** 3).toFixed(1)} GiB (host ${(limits.host.memoryTotalBytes / 1024 ** 3).toFixed(1)} GiB)`);
  if (limits.cpuLimit !== null) parts.push(`${limits.cpuLimit} CPU${limits.cpuLimit === 1 ? '' : 's'} (host ${limits.host.threads} threads)`);
  const where = limits.cgroupVersion === null ? 'CPU affinity' : `cgroup ${limits.cgroupVersion === 'hybrid' ? 'v1+v2' : `v${limits.cgroupVersion}`}${limits.sources.length > 0 ? `: ${limits.sources.join(', ')}` : ''}`;
  return `container limit applies — ${parts.join(', ')}; RAM, threads and peak FLOP/s below use it (${where})`;
}

/** Applies what-if overrides to detected hardware (pure). */
export function applyOverrides(hardware: Hardware, overrides: HardwareOverrides): Hardware {
  const result: Hardware = { ...hardware, gpus: hardware.gpus.map((g) => ({ ...g })), notes: [...hardware.notes] };
  if (overrides.gpu) {
    const spec = findAccelerator(overrides.gpu.key);
    if (!spec || !isGpuOverride(spec)) throw unknownGpu(overrides.gpu.key);
    result.gpus = Array.from({ length: overrides.gpu.count }, (_, index) => ({
      index,
      name: spec.name,
      vramTotalBytes: spec.memoryBytes,
      vramFreeBytes: spec.memoryBytes,
      driver: null,
      known: acceleratorInfo(spec),
      source: 'override' as const,
    }));
    result.notes = result.notes.filter((n) => !n.startsWith('GPU "'));
  }
  if (overrides.vramBytes !== undefined) {
    if (result.gpus.length === 0) {
      result.gpus = [{ index: 0, name: 'GPU (what-if)', vramTotalBytes: overrides.vramBytes, vramFreeBytes: overrides.vramBytes, driver: null, known: null, source: 'override' }];
    } else {
      result.gpus = result.gpus.map((g) => ({ ...g, vramTotalBytes: overrides.vramBytes!, vramFreeBytes: overrides.vramBytes! }));
    }
  }
  if (overrides.ramBytes !== undefined) {
    result.memory = { totalBytes: overrides.ramBytes, availableBytes: overrides.ramBytes, source: 'override' };
  }
  if (overrides.bandwidthBytesPerSec !== undefined) {
    if (result.gpus.length > 0) {
      result.gpus = result.gpus.map((g) => ({ ...g, bandwidthOverrideBytesPerSec: overrides.bandwidthBytesPerSec! }));
    } else {
      result.bandwidth = { bytesPerSec: overrides.bandwidthBytesPerSec, source: 'override', note: 'set with --bandwidth' };
    }
  }
  return result;
}

export function unknownGpu(key: string): ModelscoutError {
  return invalidValue('GPU', key, `one of ${gpuOverrideKeys().join(', ')}, optionally with a count like 8xH100`);
}

const MAX_GPUS = 64;

/**
 * Parses a what-if GPU: a model from the accelerator table (key or alias, any case) and optionally how many,
 * written as people write it — `8xH100`, `8x H100-80GB`, `8 × H100`, `H100x8`, `H100 x 8` — or in the older
 * bracket form `H100-80GB[x8]` / `a100-40gb[4]`. A count in front is tried first; `4090x2` reads as two
 * RTX 4090s because "2" is no GPU.
 */
export function parseGpuOverride(text: string): { key: string; count: number } {
  const t = text.trim();
  const readings: [name: string, count: string | undefined][] = [];
  const bracket = /^([A-Za-z0-9-]+)\s*\[\s*[xX×]?\s*(\d+)\s*\]$/.exec(t);
  if (bracket) readings.push([bracket[1]!, bracket[2]]);
  const before = /^(\d+)\s*[xX×*]\s*([A-Za-z0-9-]+)$/.exec(t);
  if (before) readings.push([before[2]!, before[1]]);
  const after = /^([A-Za-z0-9-]+?)\s*[xX×*]\s*(\d+)$/.exec(t);
  if (after) readings.push([after[1]!, after[2]]);
  if (/^[A-Za-z0-9-]+$/.test(t)) readings.push([t, undefined]);
  for (const [name, countText] of readings) {
    const spec = findAccelerator(name);
    if (!spec || !isGpuOverride(spec)) continue;
    const count = countText === undefined ? 1 : Number(countText);
    if (!Number.isInteger(count) || count < 1 || count > MAX_GPUS) throw invalidValue('GPU count', countText, `a whole number from 1 to ${MAX_GPUS}, as in 8xH100`);
    return { key: spec.key, count };
  }
  throw unknownGpu(text);
}

/** Only the probe's own fields (a caller's object may carry more, e.g. the thread count and duration). */
function pickLayerProbe(p: CpuLayerProbe): CpuLayerProbe {
  return {
    shape: { ...p.shape },
    tiny: { ...p.tiny },
    blockSize: p.blockSize,
    tinyDecodeSecPerLayer: p.tinyDecodeSecPerLayer,
    int4DecodeSecPerLayer: p.int4DecodeSecPerLayer,
    fp32DecodeSecPerLayer: p.fp32DecodeSecPerLayer,
    int4PromptSecPerTokenLayer: p.int4PromptSecPerTokenLayer,
    fp32PromptSecPerTokenLayer: p.fp32PromptSecPerTokenLayer,
  };
}

/**
 * The fp32 figure shown (and used where a peak is asked for, e.g. to rescale calibrations) once the
 * decoder-layer probe ran: the fp32 prompt GEMM rate it measured, what this CPU delivers rather than what its
 * ISA and clock promise.
 */
export function peakFromLayerProbe(p: CpuLayerProbe): { flopsPerSec: number; basis: string } {
  const rates = cpuRatesFromLayerProbe(p);
  return { flopsPerSec: rates.gemmFlopsPerSec.fp32, basis: `ONNX Runtime fp32 prompt GEMM in the decoder-layer probe, ${(rates.gemmFlopsPerSec.fp32 / 1e9).toFixed(1)} GFLOP/s` };
}

export function int8FromLayerProbe(p: CpuLayerProbe): { opsPerSec: number; basis: string } {
  const rates = cpuRatesFromLayerProbe(p);
  return { opsPerSec: rates.int4OpsPerSec, basis: `ONNX Runtime int4 decode (MatMulNBits, accuracy level 4) in the decoder-layer probe, ${(rates.int4OpsPerSec / 1e9).toFixed(1)} GOP/s` };
}
