/**
 * Intel GPUs from a fake sysfs tree written to a temp folder (the files the i915 and xe drivers expose):
 * discrete cards recognised by PCI device id with their local memory, integrated graphics reported but not
 * used, and the `--gpu A770` what-if.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIntelSysfs } from '../../src/hardware/intel-gpus.js';
import { applyOverrides, detectHardware, parseGpuOverride } from '../../src/hardware/detect.js';
import { gpuTarget, selectDevice } from '../../src/hardware/device.js';
import { findAccelerator, gpuOverrideKeys } from '../../src/hardware/accelerators.js';

const GB = 1e9;
const ROOT = mkdtempSync(join(tmpdir(), 'ms-intel-sysfs-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

function write(path: string, text: string): void {
  const full = join(ROOT, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
}

// card0: integrated UHD 770 (i915, no local memory). card1: Arc A770 on the backport i915 (lmem files on the
// card). card2: Data Center GPU Max 1100 on xe (one tile's physical VRAM). card3: Arc B580 on mainline i915
// (no size exposed). card4: an NVIDIA card (skipped here).
write('sys/class/drm/card0/device/vendor', '0x8086\n');
write('sys/class/drm/card0/device/device', '0x4680\n');
write('sys/class/drm/card0/device/uevent', 'DRIVER=i915\nPCI_ID=8086:4680\n');
write('sys/class/drm/card1/device/vendor', '0x8086\n');
write('sys/class/drm/card1/device/device', '0x56a0\n');
write('sys/class/drm/card1/device/uevent', 'DRIVER=i915\nPCI_ID=8086:56A0\n');
write('sys/class/drm/card1/lmem_total_bytes', '17079205888\n');
write('sys/class/drm/card1/lmem_avail_bytes', '15032385536\n');
write('sys/class/drm/card2/device/vendor', '0x8086\n');
write('sys/class/drm/card2/device/device', '0x0bda\n');
write('sys/class/drm/card2/device/uevent', 'DRIVER=xe\nPCI_ID=8086:0BDA\n');
write('sys/class/drm/card2/device/tile0/physical_vram_size_bytes', '51539607552\n');
write('sys/class/drm/card3/device/vendor', '0x8086\n');
write('sys/class/drm/card3/device/device', '0xe20b\n');
write('sys/class/drm/card3/device/uevent', 'DRIVER=i915\n');
write('sys/class/drm/card4/device/vendor', '0x10de\n');
write('sys/class/drm/card0-DP-1/status', 'connected\n');

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(join(ROOT, path), 'utf8');
  } catch {
    return null;
  }
}
async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(join(ROOT, path));
  } catch {
    return [];
  }
}

const SYSTEM = { platform: 'linux', release: '6.8', arch: 'x64', cpuModel: 'Intel(R) Core(TM) i9-13900K', threads: 32, speedMHz: 3000, totalMem: 64 * GB, freeMem: 60 * GB };

describe('Intel GPUs', () => {
  it('detects discrete cards from the i915 / xe sysfs files and reports integrated graphics in a note', async () => {
    const hw = await detectHardware({ run: async () => null, readTextFile: readText, listDir, system: SYSTEM, cgroupLimits: null });
    expect(hw.gpus.map((g) => [g.index, g.name, g.driver, g.source])).toEqual([
      [0, 'Intel Arc A770 16GB', 'i915', 'sysfs'],
      [1, 'Intel Data Center GPU Max 1100', 'xe', 'sysfs'],
      [2, 'Intel Arc B580', 'i915', 'sysfs'],
    ]);
    // Backport i915: total and available local memory as the driver reports them.
    expect(hw.gpus[0]).toMatchObject({ vramTotalBytes: 17079205888, vramFreeBytes: 15032385536 });
    expect(hw.gpus[0]!.known).toMatchObject({ key: 'ARC-A770', vendor: 'intel', memoryBandwidthBytesPerSec: 560 * GB });
    expect(hw.gpus[0]!.known).not.toHaveProperty('pciDeviceIds');
    // xe: the tiles' physical VRAM, all of it counted free (the driver does not say what others hold).
    expect(hw.gpus[1]).toMatchObject({ vramTotalBytes: 51539607552, vramFreeBytes: 51539607552 });
    // Mainline i915 exposes no size: the datasheet's.
    expect(hw.gpus[2]).toMatchObject({ vramTotalBytes: 12 * GB, vramFreeBytes: 12 * GB });
    const notes = hw.notes.join('\n');
    expect(notes).toMatch(/Intel integrated graphics \(card0, device 0x4680, i915\): no local memory, reported but not used as a GPU for estimates/);
    expect(notes).toMatch(/Intel Data Center GPU Max 1100 \(card2, device 0x0bda, xe\): the driver does not say how much local memory other processes hold/);
    expect(notes).toMatch(/Intel Arc B580 \(card3, device 0xe20b, i915\): the driver exposes no local-memory size; the datasheet's 12 GB is used/);
    // The estimate runs on the three discrete cards with their datasheet bandwidth and XMX rate.
    const target = gpuTarget(hw);
    expect(target?.bandwidthBytesPerSec).toBeCloseTo((560 + 1228.8 + 456) * GB, -6);
    expect(target?.peakFlops).toBeCloseTo((137.6 + 355.5 + 109.4) * 1e12, -9);
  });

  it('only integrated graphics: no GPU to estimate on, the CPU is the device', async () => {
    const hw = await detectHardware({
      run: async () => null,
      readTextFile: readText,
      listDir: async (p) => (p === '/sys/class/drm' ? ['card0', 'card0-DP-1', 'card4'] : listDir(p)),
      system: SYSTEM,
      cgroupLimits: null,
    });
    expect(hw.gpus).toEqual([]);
    expect(selectDevice(hw).kind).toBe('cpu');
    expect(hw.notes.some((n) => n.startsWith('Intel integrated graphics'))).toBe(true);
  });

  it('an Intel card with local memory but an unknown device id is reported as unknown, not guessed', () => {
    const { gpus } = parseIntelSysfs([{ card: 'card1', vendor: '0x8086', device: '0xffff', uevent: 'DRIVER=xe', lmemTotal: null, lmemAvail: null, tileVramSizes: ['8589934592\n', '8589934592\n'] }]);
    expect(gpus).toEqual([{ name: 'Intel GPU 0xffff', vramTotalBytes: 2 * 8589934592, vramFreeBytes: 2 * 8589934592, driver: 'xe', known: null, source: 'sysfs' }]);
  });

  it('--gpu takes Intel (and AMD) cards as a what-if', () => {
    expect(parseGpuOverride('A770')).toEqual({ key: 'ARC-A770', count: 1 });
    expect(parseGpuOverride('2xMax-1550')).toEqual({ key: 'MAX-1550', count: 2 });
    expect(parseGpuOverride('MI300X')).toEqual({ key: 'MI300X', count: 1 });
    expect(gpuOverrideKeys()).toEqual(expect.arrayContaining(['ARC-A770', 'ARC-B580', 'FLEX-170', 'MI300X']));
    expect(gpuOverrideKeys()).not.toContain('M2-Max');
    const base = { os: { platform: 'linux', release: '', arch: 'x64' }, cpu: { model: 'x', cores: 4, threads: 8, features: { avx2: true, avx512: false, vnni: false, amx: false, neon: false }, frequencyGHz: null }, memory: { totalBytes: 32 * GB, availableBytes: 30 * GB, source: 'detected' as const }, gpus: [], bandwidth: { bytesPerSec: 25e9, source: 'default' as const, note: '' }, peakFlops: { flopsPerSec: 1e11, source: 'default' as const, basis: '' }, notes: [] };
    const what = applyOverrides(base, { gpu: parseGpuOverride('A770') });
    expect(what.gpus[0]).toMatchObject({ name: 'Intel Arc A770 16GB', vramTotalBytes: 16 * GB, source: 'override' });
    expect(selectDevice(what)).toMatchObject({ kind: 'gpu', bandwidthBytesPerSec: 560 * GB, peakFlops: 137.6e12 });
  });

  it('every Intel entry has a source, PCI ids and a fp16 rate', () => {
    for (const key of ['ARC-A770', 'ARC-A750', 'ARC-B580', 'MAX-1550', 'MAX-1100', 'FLEX-170']) {
      const spec = findAccelerator(key)!;
      expect(spec.vendor, key).toBe('intel');
      expect(spec.pciDeviceIds?.length, key).toBeGreaterThan(0);
      expect(spec.fp16Flops, key).toBeGreaterThan(0);
      expect(spec.source, key).toMatch(/ark\.intel\.com/);
    }
  });
});
