import { describe, expect, it } from 'vitest';
import {
  applyOverrides,
  defaultCpuInt8Peak,
  defaultCpuPeakFlops,
  detectHardware,
  findAccelerator,
  matchAccelerator,
  parseCpuInfo,
  parseGpuOverride,
  parseMemInfo,
  parseNvidiaSmi,
  probeMemoryBandwidth,
  selectDevice,
  type CommandRunner,
  type Hardware,
} from '../../src/hardware/index.js';
import { hardwareOverridesFromFlags } from '../../src/cli/hardware-flags.js';

const MIB = 1024 * 1024;

const X86_CPUINFO = [0, 1, 2, 3]
  .map((i) => `processor\t: ${i}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\ncpu MHz\t\t: 2000.000\nphysical id\t: 0\ncore id\t\t: ${i % 2}\nflags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512bw avx512_vnni amx_tile amx_int8 amx_bf16\n`)
  .join('\n');

const ARM_CPUINFO = `processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\nCPU implementer\t: 0x41\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n`;

const MEMINFO = 'MemTotal:       32768000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\nBuffers:          100 kB\n';

const SMI_OUTPUT = '0, NVIDIA H100 80GB HBM3, 81559, 80000, 550.54.15\n1, NVIDIA B200, 183359, [N/A], 570.10\n';

function files(map: Record<string, string>): (path: string) => Promise<string | null> {
  return async (path) => map[path] ?? null;
}

const linux = { platform: 'linux', release: '6.0', arch: 'x64', cpuModel: 'fallback', threads: 4, speedMHz: 0, totalMem: 1, freeMem: 1 };

describe('CPU and memory parsing', () => {
  it('reads model, physical cores, threads, clock and ISA features from /proc/cpuinfo', () => {
    const cpu = parseCpuInfo(X86_CPUINFO, { model: 'x', threads: 1, speedMHz: 0, arch: 'x64' });
    expect(cpu).toEqual({
      model: 'Intel(R) Xeon(R) Platinum 8480+',
      cores: 2,
      threads: 4,
      features: { avx2: true, avx512: true, vnni: true, amx: true, neon: false },
      frequencyGHz: 2,
    });
    expect(defaultCpuPeakFlops(cpu)).toEqual({ flopsPerSec: 2 * 2e9 * 64, basis: '2 cores × 2.00 GHz × 64 fp32 FLOP/cycle (AVX-512 FMA)' });
  });

  it('reads ARM features and falls back to os data', () => {
    const cpu = parseCpuInfo(ARM_CPUINFO, { model: 'Neoverse', threads: 2, speedMHz: 0, arch: 'arm64' });
    expect(cpu.features).toEqual({ avx2: false, avx512: false, vnni: false, amx: false, neon: true, dotprod: false });
    expect(cpu.model).toBe('Neoverse');
    expect(cpu.cores).toBe(2);
    expect(defaultCpuPeakFlops(cpu).basis).toBe('2 cores × 2.50 GHz (assumed) × 16 fp32 FLOP/cycle (NEON)');
    const mac = parseCpuInfo('', { model: 'Apple M2 Pro', threads: 10, speedMHz: 3500, arch: 'arm64' });
    expect(mac.features.neon).toBe(true);
    expect(defaultCpuPeakFlops(mac).basis).toContain('32 fp32 FLOP/cycle');
  });

  it('reads MemAvailable, not MemFree', () => {
    expect(parseMemInfo(MEMINFO)).toEqual({ totalBytes: 32_768_000 * 1024, availableBytes: 20_000_000 * 1024 });
    expect(parseMemInfo('MemTotal: 5 kB\n')).toBeNull();
  });
});

describe('GPU detection', () => {
  it('parses nvidia-smi CSV, recognising known GPUs and reporting unknown ones as unknown', () => {
    const gpus = parseNvidiaSmi(SMI_OUTPUT);
    expect(gpus).toHaveLength(2);
    expect(gpus[0]).toMatchObject({ index: 0, name: 'NVIDIA H100 80GB HBM3', vramTotalBytes: 81_559 * MIB, vramFreeBytes: 80_000 * MIB, driver: '550.54.15', source: 'nvidia-smi' });
    expect(gpus[0]!.known?.key).toBe('H100-80GB');
    expect(gpus[1]).toMatchObject({ name: 'NVIDIA B200', known: null, vramFreeBytes: 0 });
  });

  it.each([
    ['NVIDIA H200', 'H200'],
    ['NVIDIA H100 80GB HBM3', 'H100-80GB'],
    ['NVIDIA H100 PCIe', 'H100-PCIe'],
    ['NVIDIA A100-SXM4-80GB', 'A100-80GB'],
    ['NVIDIA A100 80GB PCIe', 'A100-80GB'],
    ['NVIDIA A100-SXM4-40GB', 'A100-40GB'],
    ['NVIDIA A100-PCIE-40GB', 'A100-40GB'],
    ['NVIDIA L40S', 'L40S'],
    ['NVIDIA L4', 'L4'],
    ['NVIDIA A10G', 'A10G'],
    ['Tesla T4', 'T4'],
    ['NVIDIA GeForce RTX 4090', 'RTX-4090'],
    ['NVIDIA GeForce RTX 4080', 'RTX-4080'],
    ['NVIDIA GeForce RTX 3090', 'RTX-3090'],
  ])('recognises %s as %s', (name, key) => {
    expect(matchAccelerator(name)?.key).toBe(key);
  });

  it.each(['NVIDIA B200', 'NVIDIA H200 NVL', 'NVIDIA H100 NVL', 'NVIDIA GeForce RTX 3090 Ti', 'NVIDIA GeForce RTX 4080 SUPER', 'NVIDIA L40', 'NVIDIA A10'])('does not guess %s', (name) => {
    expect(matchAccelerator(name)).toBeNull();
  });

  it('finds no GPUs and no error without nvidia-smi', async () => {
    const run: CommandRunner = async () => null;
    const hw = await detectHardware({ run, readTextFile: files({ '/proc/cpuinfo': X86_CPUINFO, '/proc/meminfo': MEMINFO }), system: linux });
    expect(hw.gpus).toEqual([]);
    expect(hw.notes).toEqual([]);
    expect(hw.memory).toEqual({ totalBytes: 32_768_000 * 1024, availableBytes: 20_000_000 * 1024, source: 'detected' });
    expect(hw.cpu.model).toBe('Intel(R) Xeon(R) Platinum 8480+');
    // A Xeon 8480+ is a known platform: its socket's bandwidth scaled to the 4 threads seen (of 56 cores).
    expect(hw.bandwidth).toMatchObject({ source: 'known' });
    expect(hw.bandwidth.bytesPerSec).toBeCloseTo(307.2e9 * 0.8 * (4 / 56), 0);
    expect(hw.bandwidth.note).toMatch(/Sapphire Rapids.*4 of the socket's 56 cores visible/);
    expect(selectDevice(hw).kind).toBe('cpu');
  });

  it('asks nvidia-smi for index, name, total and free memory and driver, and uses its answer', async () => {
    const calls: string[][] = [];
    const run: CommandRunner = async (command, args) => {
      calls.push([command, ...args]);
      return { exitCode: 0, stdout: SMI_OUTPUT, stderr: '' };
    };
    const hw = await detectHardware({ run, readTextFile: files({ '/proc/meminfo': MEMINFO }), system: linux });
    // nvidia-smi, then rocm-smi for AMD cards (its answer here is not rocm-smi JSON: no AMD GPUs).
    expect(calls).toEqual([
      ['nvidia-smi', '--query-gpu=index,name,memory.total,memory.free,driver_version', '--format=csv,noheader,nounits'],
      ['rocm-smi', '--showproductname', '--showmeminfo', 'vram', '--showdriverversion', '--json'],
    ]);
    expect(hw.gpus.map((g) => g.name)).toEqual(['NVIDIA H100 80GB HBM3', 'NVIDIA B200']);
    expect(hw.notes.join(' ')).toMatch(/GPU "NVIDIA B200" is not in the accelerator table/);
    // One unknown GPU makes the combined bandwidth unknown rather than guessed.
    const device = selectDevice(hw, 'gpu');
    expect(device).toMatchObject({ kind: 'gpu', count: 2, bandwidthBytesPerSec: null, bandwidthSource: 'unknown', memoryAvailableBytes: 80_000 * MIB });
  });

  it('notes a failing nvidia-smi and carries on without GPUs', async () => {
    const run: CommandRunner = async () => ({ exitCode: 9, stdout: '', stderr: 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.\n' });
    const hw = await detectHardware({ run, readTextFile: files({}), system: linux });
    expect(hw.gpus).toEqual([]);
    expect(hw.notes.join(' ')).toMatch(/nvidia-smi failed \(exit 9\): NVIDIA-SMI has failed/);
  });

  it('recognises Apple silicon bandwidth from the CPU brand', async () => {
    const hw = await detectHardware({ run: async () => null, readTextFile: files({}), system: { ...linux, platform: 'darwin', arch: 'arm64', cpuModel: 'Apple M2 Max', totalMem: 64 * 1024 ** 3, freeMem: 40 * 1024 ** 3 } });
    expect(hw.bandwidth).toMatchObject({ bytesPerSec: 400e9, source: 'known' });
    expect(hw.memory.availableBytes).toBe(40 * 1024 ** 3);
    expect(hw.cpu.features.neon).toBe(true);
  });
});

describe('what-if overrides', () => {
  async function baseHardware(): Promise<Hardware> {
    return detectHardware({ run: async () => null, readTextFile: files({ '/proc/cpuinfo': X86_CPUINFO, '/proc/meminfo': MEMINFO }), system: linux });
  }

  it('parses --gpu with an optional count', () => {
    expect(parseGpuOverride('H100-80GB[x2]')).toEqual({ key: 'H100-80GB', count: 2 });
    expect(parseGpuOverride('h100')).toEqual({ key: 'H100-80GB', count: 1 });
    expect(parseGpuOverride('a100-40gb[4]')).toEqual({ key: 'A100-40GB', count: 4 });
    expect(() => parseGpuOverride('B200')).toThrow(/invalid GPU "B200": expected one of H200, H100-80GB/);
    expect(() => parseGpuOverride('H100[x0]')).toThrow(/GPU count/);
    // As people write several GPUs: count first or last, with or without a space, x or ×.
    for (const text of ['8xH100', '8x H100-80GB', '8 x h100', '8×H100', 'H100x8', 'H100-80GB x8', 'H100 × 8', '8*H100', ' 8xH100-80GB ']) {
      expect(parseGpuOverride(text), text).toEqual({ key: 'H100-80GB', count: 8 });
    }
    expect(parseGpuOverride('4090x2')).toEqual({ key: 'RTX-4090', count: 2 });
    expect(parseGpuOverride('2x4090')).toEqual({ key: 'RTX-4090', count: 2 });
    expect(parseGpuOverride('RTX-4090')).toEqual({ key: 'RTX-4090', count: 1 });
    expect(() => parseGpuOverride('0xH100')).toThrow(/GPU count "0": expected a whole number from 1 to 64, as in 8xH100/);
    expect(() => parseGpuOverride('H100x65')).toThrow(/GPU count/);
    expect(() => parseGpuOverride('8xB200')).toThrow(/invalid GPU "8xB200": expected one of H200, .* optionally with a count like 8xH100/);
    expect(() => parseGpuOverride('8x')).toThrow(/invalid GPU/);
    expect(() => parseGpuOverride('M2-Max')).toThrow(/invalid GPU/);
    expect(findAccelerator('RTX-4090')?.memoryBandwidthBytesPerSec).toBe(1008e9);
  });

  it('replaces detected GPUs with known ones, memory and bandwidth summed', async () => {
    const hw = applyOverrides(await baseHardware(), hardwareOverridesFromFlags({ gpu: 'H100-80GB[x2]' }));
    expect(hw.gpus).toHaveLength(2);
    const device = selectDevice(hw);
    expect(device).toMatchObject({ kind: 'gpu', count: 2, memoryAvailableBytes: 160e9, bandwidthBytesPerSec: 6.7e12, bandwidthSource: 'known', peakFlops: 2 * 989.5e12 });
    expect(device.name).toBe('NVIDIA H100 SXM 80GB ×2');
  });

  it('sets VRAM, RAM and bandwidth', async () => {
    const base = await baseHardware();
    const vramOnly = applyOverrides(base, hardwareOverridesFromFlags({ vram: '24GiB' }));
    expect(vramOnly.gpus).toEqual([expect.objectContaining({ name: 'GPU (what-if)', vramFreeBytes: 24 * 1024 ** 3, known: null })]);
    expect(selectDevice(vramOnly).bandwidthBytesPerSec).toBeNull();
    const withBandwidth = applyOverrides(base, hardwareOverridesFromFlags({ vram: '24GiB', bandwidth: '900GB/s' }));
    expect(selectDevice(withBandwidth)).toMatchObject({ bandwidthBytesPerSec: 900e9, bandwidthSource: 'override' });
    const cpuOnly = applyOverrides(base, hardwareOverridesFromFlags({ ram: '64GiB', bandwidth: '80GB/s' }));
    expect(selectDevice(cpuOnly)).toMatchObject({ kind: 'cpu', memoryAvailableBytes: 64 * 1024 ** 3, bandwidthBytesPerSec: 80e9, bandwidthSource: 'override' });
    expect(() => hardwareOverridesFromFlags({ vram: '24' })).toThrow(/invalid --vram "24"/);
  });

  it('refuses --device gpu without a GPU', async () => {
    const hw = await baseHardware();
    expect(() => selectDevice(hw, 'gpu')).toThrow(/no GPU detected/);
  });
});

describe('bandwidth probe', () => {
  it('measures a positive rate with every thread streaming', async () => {
    const result = await probeMemoryBandwidth({ threads: 2, bufferBytes: 4 * MIB, durationMs: 200 });
    expect(result.threads).toBe(2);
    expect(result.samples).toHaveLength(5);
    expect(result.bytesPerSec).toBeGreaterThan(0);
    expect(result.samples).toContain(result.bytesPerSec);
  });
});

describe('int8 peak by ISA', () => {
  const base = { model: 'x', cores: 2, threads: 2, frequencyGHz: 2.5 };
  const features = { avx2: false, avx512: false, vnni: false, amx: false, neon: false };
  it('AMX > AVX-512 VNNI > AVX-VNNI > AVX2 > NEON dot product > NEON', () => {
    const peak = (f: Partial<typeof features> & { dotprod?: boolean }, model = 'x'): number => defaultCpuInt8Peak({ ...base, model, features: { ...features, ...f } }).opsPerSec;
    expect(peak({ avx2: true, avx512: true, vnni: true, amx: true })).toBe(2 * 2.5e9 * 2048);
    expect(peak({ avx2: true, avx512: true, vnni: true })).toBe(2 * 2.5e9 * 256);
    expect(peak({ avx2: true, vnni: true })).toBe(2 * 2.5e9 * 128);
    expect(peak({ avx2: true })).toBe(2 * 2.5e9 * 64);
    expect(peak({ neon: true, dotprod: true })).toBe(2 * 2.5e9 * 64);
    expect(peak({ neon: true }, 'Apple M2')).toBe(2 * 2.5e9 * 128);
    expect(peak({ neon: true, dotprod: false })).toBe(2 * 2.5e9 * 32);
    // The int8 rate is 4× the fp32 FMA rate on AVX-512 VNNI.
    expect(peak({ avx2: true, avx512: true, vnni: true })).toBe(4 * defaultCpuPeakFlops({ ...base, features: { ...features, avx2: true, avx512: true, vnni: true } }).flopsPerSec);
  });
});
