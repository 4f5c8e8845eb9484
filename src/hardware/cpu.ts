/**
 * CPU facts from `/proc/cpuinfo` (Linux) and `os.cpus()`: model, physical cores, threads, the ISA
 * features that matter to ONNX Runtime's MLAS kernels, and a stated default peak FLOP/s.
 */
export interface CpuFeatures {
  avx2: boolean;
  avx512: boolean;
  /** AVX-512 VNNI or AVX-VNNI: int8 dot products (MatMulNBits with accuracy_level 4). */
  vnni: boolean;
  amx: boolean;
  neon: boolean;
  /** ARM dot-product instructions (SDOT/UDOT, `asimddp`): int8 products four at a time. Absent on older reports. */
  dotprod?: boolean;
}

export interface CpuInfo {
  model: string;
  /** Physical cores (distinct physical id / core id pairs), or the thread count when unknown. */
  cores: number;
  threads: number;
  features: CpuFeatures;
  /** Nominal clock in GHz when reported, else null. */
  frequencyGHz: number | null;
}

/** Parses `/proc/cpuinfo` text. `fallback` supplies what the file lacks (os.cpus() data). */
export function parseCpuInfo(text: string, fallback: { model: string; threads: number; speedMHz: number; arch: string }): CpuInfo {
  const blocks = text.split(/\n\s*\n/).filter((b) => b.trim().length > 0);
  const field = (block: string, name: string): string | null => {
    const re = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'mi');
    return re.exec(block)?.[1]?.trim() ?? null;
  };
  const processors = blocks.filter((b) => field(b, 'processor') !== null);
  const first = processors[0] ?? '';
  const model = field(first, 'model name') ?? field(first, 'Hardware') ?? field(first, 'cpu model') ?? (fallback.model || 'unknown CPU');
  const flags = new Set((field(first, 'flags') ?? field(first, 'Features') ?? '').split(/\s+/).filter(Boolean));
  const coreIds = new Set<string>();
  for (const block of processors) {
    const physical = field(block, 'physical id');
    const core = field(block, 'core id');
    if (physical !== null && core !== null) coreIds.add(`${physical}:${core}`);
  }
  const threads = processors.length > 0 ? processors.length : fallback.threads;
  const cores = coreIds.size > 0 ? coreIds.size : threads;
  const mhz = Number(field(first, 'cpu MHz') ?? Number.NaN);
  const speed = Number.isFinite(mhz) && mhz > 0 ? mhz : fallback.speedMHz;
  const isArm = fallback.arch === 'arm64' || fallback.arch === 'arm';
  return {
    model,
    cores,
    threads,
    features: {
      avx2: flags.has('avx2'),
      avx512: flags.has('avx512f'),
      vnni: flags.has('avx512_vnni') || flags.has('avx_vnni') || flags.has('avx512vnni'),
      amx: flags.has('amx_tile') || flags.has('amx_int8') || flags.has('amx_bf16'),
      neon: flags.has('asimd') || flags.has('neon') || (isArm && fallback.arch === 'arm64'),
      ...(isArm ? { dotprod: flags.has('asimddp') } : {}),
    },
    frequencyGHz: speed > 0 ? speed / 1000 : null,
  };
}

/** Clock assumed when the OS reports none. */
export const DEFAULT_CPU_GHZ = 2.5;

/**
 * A stated default for the CPU's peak fp32 FLOP/s: physical cores × clock × FLOPs per cycle per core from
 * the widest FMA the ISA offers — AVX-512: 2 FMA units × 16 lanes × 2 = 64; AVX2+FMA: 2 × 8 × 2 = 32;
 * NEON: 2 × 4 × 2 = 16 (Apple's cores have 4 units: 32); otherwise SSE: 8. Real chips vary (one AVX-512
 * unit on many parts, turbo clocks), hence `source: 'default'` and the wide error band on estimates.
 */
export function defaultCpuPeakFlops(cpu: CpuInfo): { flopsPerSec: number; basis: string } {
  const ghz = cpu.frequencyGHz ?? DEFAULT_CPU_GHZ;
  let perCycle: number;
  let isa: string;
  if (cpu.features.avx512) [perCycle, isa] = [64, 'AVX-512 FMA'];
  else if (cpu.features.avx2) [perCycle, isa] = [32, 'AVX2 FMA'];
  else if (cpu.features.neon) [perCycle, isa] = /apple/i.test(cpu.model) ? [32, 'NEON (4 FMA units)'] : [16, 'NEON'];
  else [perCycle, isa] = [8, 'SSE'];
  return {
    flopsPerSec: cpu.cores * ghz * 1e9 * perCycle,
    basis: `${cpu.cores} cores × ${ghz.toFixed(2)} GHz${cpu.frequencyGHz === null ? ' (assumed)' : ''} × ${perCycle} fp32 FLOP/cycle (${isa})`,
  };
}

/**
 * A stated default for the CPU's peak int8 multiply-add rate (ops/s, 2 per multiply-add), the compute path
 * of int4 `MatMulNBits` at accuracy level 4 (MLAS quantizes the activations to int8 and multiplies with
 * int8 dot-product instructions). Per core and cycle:
 * - AMX (`amx_int8`): 2,048 (Intel: one TMUL does 1,024 int8 multiply-adds per cycle; Intel 64 and IA-32
 *   Architectures Optimization Reference Manual, "Intel AMX" chapter);
 * - AVX-512 VNNI: 256 (VPDPBUSD: 64 u8×s8 multiply-adds per 512-bit instruction, two ports: 4× the fp32
 *   FMA rate — Intel intrinsics guide, `_mm512_dpbusd_epi32`, throughput 0.5 CPI on Ice Lake and later);
 * - AVX-VNNI (256-bit) or AVX2 with VNNI: 128; AVX2 without VNNI (VPMADDUBSW + VPMADDWD): 64;
 * - ARM NEON with the dot-product extension (SDOT, `asimddp`): 64, Apple cores 128 (four 128-bit units);
 *   plain NEON 32; otherwise 16.
 */
export function defaultCpuInt8Peak(cpu: CpuInfo): { opsPerSec: number; basis: string } {
  const ghz = cpu.frequencyGHz ?? DEFAULT_CPU_GHZ;
  let perCycle: number;
  let isa: string;
  const apple = /apple/i.test(cpu.model);
  if (cpu.features.amx) [perCycle, isa] = [2048, 'AMX int8'];
  else if (cpu.features.avx512 && cpu.features.vnni) [perCycle, isa] = [256, 'AVX-512 VNNI'];
  else if (cpu.features.vnni) [perCycle, isa] = [128, 'AVX-VNNI'];
  else if (cpu.features.avx2) [perCycle, isa] = [64, 'AVX2 (no VNNI)'];
  else if (cpu.features.neon && (cpu.features.dotprod ?? apple)) [perCycle, isa] = apple ? [128, 'NEON SDOT (4 units)'] : [64, 'NEON SDOT'];
  else if (cpu.features.neon) [perCycle, isa] = [32, 'NEON'];
  else [perCycle, isa] = [16, 'SSE'];
  return {
    opsPerSec: cpu.cores * ghz * 1e9 * perCycle,
    basis: `${cpu.cores} cores × ${ghz.toFixed(2)} GHz${cpu.frequencyGHz === null ? ' (assumed)' : ''} × ${perCycle} int8 ops/cycle (${isa})`,
  };
}
