/**
 * AMD GPUs: rocm-smi's JSON (key spellings of several ROCm releases), the amdgpu sysfs fallback, and
 * detection end to end with injected command output and files — the GPUs then count in `gpuTarget` with the
 * accelerator table's bandwidth, and an unknown card is reported, not guessed.
 */
import { describe, expect, it } from 'vitest';
import { parseAmdSysfs, parseRocmSmiJson } from '../../src/hardware/amd-gpus.js';
import { detectHardware } from '../../src/hardware/detect.js';
import { gpuTarget } from '../../src/hardware/device.js';

const GB = 1e9;
const ROCM_JSON = JSON.stringify({
  card0: { 'Card Series': 'AMD Instinct MI300X', 'Card Model': '0x74a1', 'Card Vendor': 'Advanced Micro Devices, Inc. [AMD/ATI]', 'VRAM Total Memory (B)': '205822885888', 'VRAM Total Used Memory (B)': '5822885888' },
  card1: { 'Card series': 'AMD Instinct MI300X', 'VRAM Total Memory (B)': '205822885888', 'VRAM Total Used Memory (B)': '822885888' },
  card2: { 'Card SKU': 'Radeon Pro W9999', 'VRAM Total Memory (B)': '51539607552' },
  system: { 'Driver version': '6.8.5' },
});

describe('AMD GPUs', () => {
  it('reads rocm-smi JSON: names, total and free VRAM, the driver; matches the accelerator table', () => {
    const gpus = parseRocmSmiJson(ROCM_JSON);
    expect(gpus.map((g) => g.name)).toEqual(['AMD Instinct MI300X', 'AMD Instinct MI300X', 'Radeon Pro W9999']);
    expect(gpus[0]).toMatchObject({ vramTotalBytes: 205822885888, vramFreeBytes: 200e9, driver: '6.8.5', source: 'rocm-smi' });
    expect(gpus[0]!.known).toMatchObject({ key: 'MI300X', memoryBandwidthBytesPerSec: 5.3e12 });
    // No used figure: nothing counted as free; an unknown card is not guessed.
    expect(gpus[2]).toMatchObject({ vramFreeBytes: 0, known: null });
    expect(parseRocmSmiJson('WARNING: no AMD GPUs found')).toEqual([]);
  });

  it('falls back to the amdgpu sysfs files, skipping other vendors', () => {
    const gpus = parseAmdSysfs([
      { vendor: '0x1002\n', vramTotal: '25753026560\n', vramUsed: '1073741824\n', productName: 'Radeon RX 7900 XTX\n' },
      { vendor: '0x10de\n', vramTotal: null, vramUsed: null, productName: null },
      { vendor: '0x1002', vramTotal: '0', vramUsed: '0', productName: null },
    ]);
    expect(gpus).toHaveLength(1);
    expect(gpus[0]).toMatchObject({ name: 'Radeon RX 7900 XTX', vramTotalBytes: 25753026560, vramFreeBytes: 25753026560 - 1073741824, source: 'sysfs' });
    expect(gpus[0]!.known?.key).toBe('RX-7900XTX');
  });

  it('detection lists them beside NVIDIA cards and estimates run against their bandwidth', async () => {
    const hw = await detectHardware({
      run: async (cmd) => (cmd === 'rocm-smi' ? { exitCode: 0, stdout: ROCM_JSON, stderr: '' } : null),
      readTextFile: async () => null,
      listDir: async () => [],
      system: { platform: 'linux', release: '6.0', arch: 'x64', cpuModel: 'EPYC', threads: 8, speedMHz: 2000, totalMem: 64 * GB, freeMem: 60 * GB },
      cgroupLimits: null,
    });
    expect(hw.gpus.map((g) => [g.index, g.name, g.source])).toEqual([
      [0, 'AMD Instinct MI300X', 'rocm-smi'],
      [1, 'AMD Instinct MI300X', 'rocm-smi'],
      [2, 'Radeon Pro W9999', 'rocm-smi'],
    ]);
    expect(hw.notes.join('\n')).toMatch(/GPU "Radeon Pro W9999" is not in the accelerator table/);
    const target = gpuTarget({ ...hw, gpus: hw.gpus.slice(0, 2) });
    expect(target?.bandwidthBytesPerSec).toBeCloseTo(2 * 5.3e12, -6);
    expect(target?.memoryAvailableBytes).toBe(205822885888 - 5822885888 + (205822885888 - 822885888));
  });

  it('reads sysfs cards when rocm-smi is not installed', async () => {
    const files: Record<string, string> = {
      '/sys/class/drm/card1/device/vendor': '0x1002\n',
      '/sys/class/drm/card1/device/mem_info_vram_total': '68702699520\n',
      '/sys/class/drm/card1/device/mem_info_vram_used': '702699520\n',
      '/sys/class/drm/card1/device/product_name': 'AMD Instinct MI210\n',
    };
    const hw = await detectHardware({
      run: async () => null,
      readTextFile: async (p) => files[p] ?? null,
      listDir: async (p) => (p === '/sys/class/drm' ? ['card1', 'card1-DP-1', 'renderD128', 'version'] : []),
      system: { platform: 'linux', release: '6.0', arch: 'x64', cpuModel: 'EPYC', threads: 8, speedMHz: 2000, totalMem: 64 * GB, freeMem: 60 * GB },
      cgroupLimits: null,
    });
    expect(hw.gpus).toHaveLength(1);
    expect(hw.gpus[0]).toMatchObject({ name: 'AMD Instinct MI210', source: 'sysfs', vramFreeBytes: 68e9 });
    expect(hw.gpus[0]!.known?.key).toBe('MI210');
  });
});
