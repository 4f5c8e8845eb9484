/**
 * AMD GPUs: `rocm-smi --showproductname --showmeminfo vram --json` where ROCm is installed, else the amdgpu
 * driver's sysfs files (`/sys/class/drm/card<N>/device/`: `vendor` 0x1002, `mem_info_vram_total`,
 * `mem_info_vram_used`, `product_name` where the board's FRU EEPROM has one — Linux kernel documentation,
 * "Misc AMDGPU driver information"). Total and free VRAM in bytes; the name matched against the accelerator
 * table, as NVIDIA names are. Pure parsers; the caller runs the command and reads the files.
 */
import { acceleratorInfo, matchAccelerator, type AcceleratorInfo } from './accelerators.js';

export interface AmdGpuReading {
  name: string;
  vramTotalBytes: number;
  vramFreeBytes: number;
  driver: string | null;
  known: AcceleratorInfo | null;
  source: 'rocm-smi' | 'sysfs';
}

function field(card: Record<string, unknown>, ...names: string[]): string | null {
  const wanted = names.map((n) => n.toLowerCase());
  for (const [key, value] of Object.entries(card)) {
    if (wanted.includes(key.toLowerCase()) && (typeof value === 'string' || typeof value === 'number')) return String(value).trim();
  }
  return null;
}

/**
 * rocm-smi's JSON: one object per card (`card0`, `card1`, …) with "Card Series" / "Card series", "Card Model",
 * "VRAM Total Memory (B)" and "VRAM Total Used Memory (B)" (key case varies between ROCm releases); a
 * `system` object holds the driver version.
 */
export function parseRocmSmiJson(stdout: string): AmdGpuReading[] {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch {
    return [];
  }
  if (typeof data !== 'object' || data === null) return [];
  const entries = Object.entries(data as Record<string, unknown>);
  const system = entries.find(([k]) => k.toLowerCase() === 'system')?.[1] as Record<string, unknown> | undefined;
  const driver = system ? field(system, 'Driver version') : null;
  const out: AmdGpuReading[] = [];
  for (const [key, value] of entries) {
    if (!/^card\d+$/i.test(key) || typeof value !== 'object' || value === null) continue;
    const card = value as Record<string, unknown>;
    const total = Number(field(card, 'VRAM Total Memory (B)') ?? Number.NaN);
    const used = Number(field(card, 'VRAM Total Used Memory (B)') ?? Number.NaN);
    if (!Number.isFinite(total) || total <= 0) continue;
    const name = field(card, 'Card Series', 'Card series', 'Card SKU', 'Card Model', 'Card model') ?? 'AMD GPU';
    out.push({
      name,
      vramTotalBytes: total,
      // Unknown use: assume nothing is free rather than everything.
      vramFreeBytes: Number.isFinite(used) ? Math.max(0, total - used) : 0,
      driver,
      known: knownAmd(name),
      source: 'rocm-smi',
    });
  }
  return out;
}

/** One DRM card's sysfs files (null where a file is missing). */
export interface DrmCardFiles {
  vendor: string | null;
  vramTotal: string | null;
  vramUsed: string | null;
  productName: string | null;
}

/** amdgpu cards from sysfs (vendor 0x1002 with a VRAM size); integrated GPUs report a small carve-out and count too. */
export function parseAmdSysfs(cards: DrmCardFiles[]): AmdGpuReading[] {
  const out: AmdGpuReading[] = [];
  for (const c of cards) {
    if (c.vendor?.trim().toLowerCase() !== '0x1002') continue;
    const total = Number(c.vramTotal?.trim());
    if (!Number.isFinite(total) || total <= 0) continue;
    const used = Number(c.vramUsed?.trim());
    const name = c.productName?.trim() || 'AMD GPU';
    out.push({ name, vramTotalBytes: total, vramFreeBytes: Number.isFinite(used) ? Math.max(0, total - used) : 0, driver: null, known: knownAmd(name), source: 'sysfs' });
  }
  return out;
}

function knownAmd(name: string): AcceleratorInfo | null {
  const spec = matchAccelerator(name, 'amd');
  return spec ? acceleratorInfo(spec) : null;
}
