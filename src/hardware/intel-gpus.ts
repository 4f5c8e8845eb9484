/**
 * Intel GPUs on Linux from sysfs, without vendor tools: DRM cards whose PCI `vendor` is 0x8086, recognised by
 * their PCI `device` id against the accelerator table, with the kernel driver from the device's `uevent`
 * (`DRIVER=i915` or `DRIVER=xe`). Local memory where a driver exposes it:
 *
 * - xe: `device/tile<N>/physical_vram_size_bytes`, one per tile (summed);
 * - i915 as Intel ships it for data-center and Arc cards (the backport driver): `lmem_total_bytes` and
 *   `lmem_avail_bytes` on the card (`/sys/class/drm/card<N>/`, some releases under `device/`);
 * - mainline i915 exposes no size: a known card then counts with its datasheet memory.
 *
 * Neither driver reports what other processes hold except the backport's `lmem_avail_bytes`; elsewhere the
 * whole local memory counts as free, and a note says so. A card with no local memory and no entry in the
 * table is integrated graphics: reported in a note, not used as a GPU for estimates (it shares the system RAM
 * and bandwidth the CPU estimate already uses). Pure parser; the caller reads the files.
 */
import { acceleratorInfo, matchAcceleratorByPciId, type AcceleratorInfo } from './accelerators.js';

/** One DRM card's Intel-relevant sysfs files (null where a file is missing). */
export interface IntelCardFiles {
  /** `card0`, `card1`, … */
  card: string;
  vendor: string | null;
  /** PCI device id, e.g. `0x56a0`. */
  device: string | null;
  /** The device's `uevent` (holds `DRIVER=`). */
  uevent: string | null;
  lmemTotal: string | null;
  lmemAvail: string | null;
  /** `physical_vram_size_bytes` of each `tile<N>` folder (xe). */
  tileVramSizes: string[];
}

export interface IntelGpuReading {
  name: string;
  vramTotalBytes: number;
  vramFreeBytes: number;
  /** The kernel driver (`i915`, `xe`). */
  driver: string | null;
  known: AcceleratorInfo | null;
  source: 'sysfs';
}

export const INTEL_PCI_VENDOR = '0x8086';

function bytes(text: string | null): number | null {
  if (text === null) return null;
  const value = Number(text.trim());
  return Number.isFinite(value) && value > 0 ? value : null;
}

function driverOf(uevent: string | null): string | null {
  return /^DRIVER=(\S+)$/m.exec(uevent ?? '')?.[1] ?? null;
}

/** Intel cards from sysfs: discrete GPUs to estimate on, and notes (integrated graphics, memory assumptions). */
export function parseIntelSysfs(cards: IntelCardFiles[]): { gpus: IntelGpuReading[]; notes: string[] } {
  const gpus: IntelGpuReading[] = [];
  const notes: string[] = [];
  for (const c of cards) {
    if (c.vendor?.trim().toLowerCase() !== INTEL_PCI_VENDOR) continue;
    const deviceId = c.device?.trim().toLowerCase() ?? 'unknown';
    const driver = driverOf(c.uevent);
    const spec = c.device ? matchAcceleratorByPciId(c.device, 'intel') : null;
    const tiles = c.tileVramSizes.map(bytes).filter((b): b is number => b !== null);
    const lmem = bytes(c.lmemTotal) ?? (tiles.length > 0 ? tiles.reduce((a, b) => a + b, 0) : null);
    const label = `${spec?.name ?? 'Intel GPU'} (${c.card}, device ${deviceId}${driver ? `, ${driver}` : ''})`;
    if (lmem === null && spec === null) {
      notes.push(`Intel integrated graphics (${c.card}, device ${deviceId}${driver ? `, ${driver}` : ''}): no local memory, reported but not used as a GPU for estimates (it shares the system RAM and bandwidth the CPU estimate uses)`);
      continue;
    }
    const total = lmem ?? spec!.memoryBytes!;
    const avail = bytes(c.lmemAvail);
    if (lmem === null) notes.push(`${label}: the driver exposes no local-memory size; the datasheet's ${total / 1e9} GB is used and counted as free`);
    else if (avail === null) notes.push(`${label}: the driver does not say how much local memory other processes hold; all of it is counted as free`);
    gpus.push({
      name: spec?.name ?? `Intel GPU ${deviceId}`,
      vramTotalBytes: total,
      vramFreeBytes: avail === null ? total : Math.min(avail, total),
      driver,
      known: spec ? acceleratorInfo(spec) : null,
      source: 'sysfs',
    });
  }
  return { gpus, notes };
}
