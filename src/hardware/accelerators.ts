/**
 * Known accelerators: memory, memory bandwidth and dense fp16 FLOP/s (tensor cores, without 2:4 sparsity,
 * FP32 accumulate where NVIDIA lists both; matrix cores for AMD; XMX engines for Intel), from the vendors' datasheets. Used to
 * recognise a detected GPU by its `nvidia-smi` / `rocm-smi` name and for what-if overrides (`--gpu 2xH100-80GB`). Memory is the datasheet
 * figure in decimal GB (slightly below what nvidia-smi reports, so a what-if errs on the safe side). A GPU that matches no
 * entry is reported as unknown: its speed is not guessed.
 */
export interface AcceleratorSpec {
  /** Override key, e.g. `H100-80GB`; case-insensitive on input. */
  key: string;
  /** Other accepted override keys. */
  aliases: string[];
  name: string;
  vendor: 'nvidia' | 'amd' | 'intel' | 'apple';
  /** Device memory in bytes; null for Apple chips (unified memory: the system RAM). */
  memoryBytes: number | null;
  memoryBandwidthBytesPerSec: number;
  /** Dense fp16 FLOP/s (tensor cores for NVIDIA; the GPU's fp16 rate for Apple). Null where no figure was published. */
  fp16Flops: number | null;
  /** Patterns matching the names `nvidia-smi --query-gpu=name` reports (or the CPU brand for Apple). */
  match: RegExp[];
  /**
   * PCI device ids (lowercase `0x` hex, as sysfs `device` files hold them) the card is recognised by where
   * the driver gives no name (Intel: i915 / xe).
   */
  pciDeviceIds?: string[];
  source: string;
}

const GB = 1e9;
const TB_S = 1e12;
const TFLOPS = 1e12;
/** fp32 (= fp16) ALUs per Apple GPU core. */
const APPLE_ALUS_PER_GPU_CORE = 128;

export const ACCELERATORS: readonly AcceleratorSpec[] = [
  {
    key: 'H200',
    aliases: ['H200-SXM', 'H200-141GB'],
    name: 'NVIDIA H200 SXM 141GB',
    vendor: 'nvidia',
    memoryBytes: 141 * GB,
    memoryBandwidthBytesPerSec: 4.8 * TB_S,
    fp16Flops: 989.5 * TFLOPS,
    match: [/\bH200\b(?!\s*NVL)/i],
    // NVIDIA H200 Tensor Core GPU datasheet: 141 GB HBM3e, 4.8 TB/s, FP16 Tensor Core 1,979 TFLOPS with sparsity (989.5 dense).
    source: 'NVIDIA H200 datasheet (nvidia.com/en-us/data-center/h200)',
  },
  {
    key: 'H100-80GB',
    aliases: ['H100', 'H100-SXM', 'H100-SXM5'],
    name: 'NVIDIA H100 SXM 80GB',
    vendor: 'nvidia',
    memoryBytes: 80 * GB,
    memoryBandwidthBytesPerSec: 3.35 * TB_S,
    fp16Flops: 989.5 * TFLOPS,
    // nvidia-smi: "NVIDIA H100 80GB HBM3" (SXM) — the PCIe card reports "NVIDIA H100 PCIe".
    match: [/\bH100\b.*\bHBM3\b/i, /\bH100[- ]SXM/i],
    // NVIDIA H100 datasheet: H100 SXM 80 GB, 3.35 TB/s, FP16 Tensor Core 1,979 TFLOPS with sparsity (989.5 dense).
    source: 'NVIDIA H100 datasheet (nvidia.com/en-us/data-center/h100), SXM column',
  },
  {
    key: 'H100-PCIe',
    aliases: ['H100-PCIE-80GB'],
    name: 'NVIDIA H100 PCIe 80GB',
    vendor: 'nvidia',
    memoryBytes: 80 * GB,
    memoryBandwidthBytesPerSec: 2.0 * TB_S,
    fp16Flops: 756 * TFLOPS,
    match: [/\bH100\b.*\bPCIe\b/i],
    // NVIDIA H100 datasheet, PCIe column: 80 GB HBM2e, 2 TB/s, FP16 Tensor Core 1,513 TFLOPS with sparsity (756 dense).
    source: 'NVIDIA H100 datasheet (nvidia.com/en-us/data-center/h100), PCIe column',
  },
  {
    key: 'A100-80GB',
    aliases: ['A100-SXM-80GB', 'A100'],
    name: 'NVIDIA A100 80GB SXM',
    vendor: 'nvidia',
    memoryBytes: 80 * GB,
    memoryBandwidthBytesPerSec: 2.039 * TB_S,
    fp16Flops: 312 * TFLOPS,
    match: [/\bA100\b.*80\s*GB/i],
    // NVIDIA A100 datasheet: A100 80GB SXM 2,039 GB/s (PCIe 1,935 GB/s), FP16 Tensor Core 312 TFLOPS dense (624 sparse).
    source: 'NVIDIA A100 datasheet (nvidia.com/en-us/data-center/a100), 80GB SXM column',
  },
  {
    key: 'A100-40GB',
    aliases: ['A100-SXM-40GB'],
    name: 'NVIDIA A100 40GB',
    vendor: 'nvidia',
    memoryBytes: 40 * GB,
    memoryBandwidthBytesPerSec: 1.555 * TB_S,
    fp16Flops: 312 * TFLOPS,
    match: [/\bA100\b.*40\s*GB/i],
    // NVIDIA A100 datasheet: A100 40GB 1,555 GB/s, FP16 Tensor Core 312 TFLOPS dense.
    source: 'NVIDIA A100 datasheet (nvidia.com/en-us/data-center/a100), 40GB column',
  },
  {
    key: 'L40S',
    aliases: [],
    name: 'NVIDIA L40S',
    vendor: 'nvidia',
    memoryBytes: 48 * GB,
    memoryBandwidthBytesPerSec: 864 * GB,
    fp16Flops: 362.05 * TFLOPS,
    match: [/\bL40S\b/i],
    // NVIDIA L40S datasheet: 48 GB GDDR6, 864 GB/s, FP16 Tensor 733 TFLOPS with sparsity (362.05 dense).
    source: 'NVIDIA L40S datasheet (nvidia.com/en-us/data-center/l40s)',
  },
  {
    key: 'L4',
    aliases: [],
    name: 'NVIDIA L4',
    vendor: 'nvidia',
    memoryBytes: 24 * GB,
    memoryBandwidthBytesPerSec: 300 * GB,
    fp16Flops: 121 * TFLOPS,
    match: [/\bL4\b(?!0)/i],
    // NVIDIA L4 datasheet: 24 GB GDDR6, 300 GB/s, FP16 Tensor Core 242 TFLOPS with sparsity (121 dense).
    source: 'NVIDIA L4 datasheet (nvidia.com/en-us/data-center/l4)',
  },
  {
    key: 'A10G',
    aliases: [],
    name: 'NVIDIA A10G',
    vendor: 'nvidia',
    memoryBytes: 24 * GB,
    memoryBandwidthBytesPerSec: 600 * GB,
    fp16Flops: 70 * TFLOPS,
    match: [/\bA10G\b/i],
    // AWS G5 GPU, a variant of the A10: 24 GB GDDR6 at 600 GB/s like the A10, lower tensor throughput
    // (70 TFLOPS fp16 vs the A10's 125): Baseten, "NVIDIA A10 vs A10G for ML model inference" spec table.
    source: 'baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-inference (spec table)',
  },
  {
    key: 'T4',
    aliases: ['TESLA-T4'],
    name: 'NVIDIA T4',
    vendor: 'nvidia',
    memoryBytes: 16 * GB,
    memoryBandwidthBytesPerSec: 320 * GB,
    fp16Flops: 65 * TFLOPS,
    match: [/\bT4\b/i],
    // NVIDIA T4 datasheet: 16 GB GDDR6, 320+ GB/s, mixed precision (FP16/FP32) 65 TFLOPS.
    source: 'NVIDIA T4 datasheet (nvidia.com/en-us/data-center/tesla-t4)',
  },
  {
    key: 'RTX-4090',
    aliases: ['4090'],
    name: 'NVIDIA GeForce RTX 4090',
    vendor: 'nvidia',
    memoryBytes: 24 * GB,
    memoryBandwidthBytesPerSec: 1008 * GB,
    fp16Flops: 165.2 * TFLOPS,
    match: [/\bRTX\s*4090\b/i],
    // NVIDIA Ada Lovelace architecture whitepaper, Table 2: 24 GB GDDR6X, 1,008 GB/s, peak FP16 Tensor TFLOPS
    // with FP32 accumulate 165.2 dense (330.3 with FP16 accumulate).
    source: 'NVIDIA Ada Lovelace GPU architecture whitepaper, RTX 4090 column',
  },
  {
    key: 'RTX-4080',
    aliases: ['4080'],
    name: 'NVIDIA GeForce RTX 4080',
    vendor: 'nvidia',
    memoryBytes: 16 * GB,
    memoryBandwidthBytesPerSec: 716.8 * GB,
    fp16Flops: 97.5 * TFLOPS,
    match: [/\bRTX\s*4080\b(?!\s*SUPER)/i],
    // NVIDIA Ada Lovelace architecture whitepaper: 16 GB GDDR6X, 716.8 GB/s, FP16 Tensor (FP32 accumulate) 97.5 dense.
    source: 'NVIDIA Ada Lovelace GPU architecture whitepaper, RTX 4080 column',
  },
  {
    key: 'RTX-3090',
    aliases: ['3090'],
    name: 'NVIDIA GeForce RTX 3090',
    vendor: 'nvidia',
    memoryBytes: 24 * GB,
    memoryBandwidthBytesPerSec: 936 * GB,
    fp16Flops: 71 * TFLOPS,
    match: [/\bRTX\s*3090\b(?!\s*Ti)/i],
    // NVIDIA Ampere GA102 architecture whitepaper: 24 GB GDDR6X, 936 GB/s, FP16 Tensor (FP32 accumulate) 71 dense.
    source: 'NVIDIA Ampere GA102 GPU architecture whitepaper, RTX 3090 column',
  },
  {
    key: 'MI300X',
    aliases: ['INSTINCT-MI300X'],
    name: 'AMD Instinct MI300X',
    vendor: 'amd',
    memoryBytes: 192 * GB,
    memoryBandwidthBytesPerSec: 5.3 * TB_S,
    fp16Flops: 1307.4 * TFLOPS,
    match: [/\bMI300X\b/i],
    // AMD Instinct MI300X data sheet: 192 GB HBM3, 5.3 TB/s peak, FP16 1,307.4 TFLOPS dense (2,614.9 with sparsity).
    source: 'AMD Instinct MI300X accelerator data sheet (amd.com)',
  },
  {
    key: 'MI250X',
    aliases: ['INSTINCT-MI250X'],
    name: 'AMD Instinct MI250X',
    vendor: 'amd',
    memoryBytes: 128 * GB,
    memoryBandwidthBytesPerSec: 3.2 * TB_S,
    fp16Flops: 383 * TFLOPS,
    match: [/\bMI250X\b/i],
    // AMD Instinct MI250X data sheet: 128 GB HBM2e, 3.2 TB/s, peak FP16 383 TFLOPS (both dies of the module).
    source: 'AMD Instinct MI250X accelerator data sheet (amd.com)',
  },
  {
    key: 'MI210',
    aliases: ['INSTINCT-MI210'],
    name: 'AMD Instinct MI210',
    vendor: 'amd',
    memoryBytes: 64 * GB,
    memoryBandwidthBytesPerSec: 1.6 * TB_S,
    fp16Flops: 181 * TFLOPS,
    match: [/\bMI210\b/i],
    // AMD Instinct MI210 data sheet: 64 GB HBM2e, 1.6 TB/s, peak FP16 181 TFLOPS.
    source: 'AMD Instinct MI210 accelerator data sheet (amd.com)',
  },
  {
    key: 'RX-7900XTX',
    aliases: ['7900XTX', 'RX-7900-XTX'],
    name: 'AMD Radeon RX 7900 XTX',
    vendor: 'amd',
    memoryBytes: 24 * GB,
    memoryBandwidthBytesPerSec: 960 * GB,
    fp16Flops: 122.8 * TFLOPS,
    match: [/\b7900\s*XTX\b/i],
    // AMD Radeon RX 7900 XTX specifications: 24 GB GDDR6, 960 GB/s, peak half precision (FP16) 122.8 TFLOPS.
    source: 'AMD Radeon RX 7900 XTX product specifications (amd.com)',
  },
  // Intel discrete GPUs. The driver (i915 / xe) gives no product name in sysfs, so they are recognised by
  // PCI device id (Linux include/drm/intel/pciids.h; the names as in the PCI ID Repository). Dense fp16 is the
  // XMX engines' rate, derived where Intel states only the parts: Xe-cores × fp16 ops per clock per Xe-core
  // (2,048 on Xe-HPG / Xe2, 4,096 on Xe-HPC) × the graphics clock on the product's specification page.
  {
    key: 'ARC-A770',
    aliases: ['A770', 'A770-16GB'],
    name: 'Intel Arc A770 16GB',
    vendor: 'intel',
    memoryBytes: 16 * GB,
    memoryBandwidthBytesPerSec: 560 * GB,
    fp16Flops: 137.6 * TFLOPS,
    match: [/\bArc\b.*\bA770\b/i],
    pciDeviceIds: ['0x56a0'],
    // ark.intel.com, Intel Arc A770 Graphics: 32 Xe-cores, 2,100 MHz graphics clock, 16 GB GDDR6 at 560 GB/s
    // (the 8 GB board shares the device id: 512 GB/s, its memory read from the driver). 32 × 2,048 × 2.1 GHz.
    source: 'Intel Arc A770 specifications (ark.intel.com); fp16 derived: 32 Xe-cores × 2,048 XMX ops/clock × 2.1 GHz',
  },
  {
    key: 'ARC-A750',
    aliases: ['A750'],
    name: 'Intel Arc A750',
    vendor: 'intel',
    memoryBytes: 8 * GB,
    memoryBandwidthBytesPerSec: 512 * GB,
    fp16Flops: 117.6 * TFLOPS,
    match: [/\bArc\b.*\bA750\b/i],
    pciDeviceIds: ['0x56a1'],
    // ark.intel.com, Intel Arc A750 Graphics: 28 Xe-cores, 2,050 MHz, 8 GB GDDR6 at 512 GB/s.
    source: 'Intel Arc A750 specifications (ark.intel.com); fp16 derived: 28 Xe-cores × 2,048 XMX ops/clock × 2.05 GHz',
  },
  {
    key: 'ARC-B580',
    aliases: ['B580'],
    name: 'Intel Arc B580',
    vendor: 'intel',
    memoryBytes: 12 * GB,
    memoryBandwidthBytesPerSec: 456 * GB,
    fp16Flops: 109.4 * TFLOPS,
    match: [/\bArc\b.*\bB580\b/i],
    pciDeviceIds: ['0xe20b'],
    // ark.intel.com, Intel Arc B580 Graphics: 20 Xe2-cores, 2,670 MHz graphics clock, 12 GB GDDR6 at 456 GB/s.
    // Intel's "233 TOPS" int8 is at a higher boost clock; the graphics clock is the figure used here.
    source: 'Intel Arc B580 specifications (ark.intel.com); fp16 derived: 20 Xe2-cores × 2,048 XMX ops/clock × 2.67 GHz',
  },
  {
    key: 'MAX-1550',
    aliases: ['GPU-MAX-1550', 'PVC-1550'],
    name: 'Intel Data Center GPU Max 1550',
    vendor: 'intel',
    memoryBytes: 128 * GB,
    memoryBandwidthBytesPerSec: 3.2768 * TB_S,
    fp16Flops: 838.9 * TFLOPS,
    match: [/\bGPU Max 1550\b/i],
    pciDeviceIds: ['0x0bd5', '0x0bd6'],
    // ark.intel.com, Intel Data Center GPU Max 1550: 128 Xe-cores, 1,600 MHz, 128 GB HBM2e at 3,276.8 GB/s.
    source: 'Intel Data Center GPU Max 1550 specifications (ark.intel.com); fp16 derived: 128 Xe-cores × 4,096 XMX ops/clock × 1.6 GHz',
  },
  {
    key: 'MAX-1100',
    aliases: ['GPU-MAX-1100', 'PVC-1100'],
    name: 'Intel Data Center GPU Max 1100',
    vendor: 'intel',
    memoryBytes: 48 * GB,
    memoryBandwidthBytesPerSec: 1.2288 * TB_S,
    fp16Flops: 355.5 * TFLOPS,
    match: [/\bGPU Max 1100\b/i],
    pciDeviceIds: ['0x0bd9', '0x0bda', '0x0bdb'],
    // ark.intel.com, Intel Data Center GPU Max 1100: 56 Xe-cores, 1,550 MHz, 48 GB HBM2e at 1,228.8 GB/s.
    source: 'Intel Data Center GPU Max 1100 specifications (ark.intel.com); fp16 derived: 56 Xe-cores × 4,096 XMX ops/clock × 1.55 GHz',
  },
  {
    key: 'FLEX-170',
    aliases: ['GPU-FLEX-170'],
    name: 'Intel Data Center GPU Flex 170',
    vendor: 'intel',
    memoryBytes: 16 * GB,
    memoryBandwidthBytesPerSec: 576 * GB,
    fp16Flops: 134.3 * TFLOPS,
    match: [/\bGPU Flex 170\b/i],
    pciDeviceIds: ['0x56c0'],
    // ark.intel.com, Intel Data Center GPU Flex 170: 32 Xe-cores, 2,050 MHz, 16 GB GDDR6 at 576 GB/s.
    source: 'Intel Data Center GPU Flex 170 specifications (ark.intel.com); fp16 derived: 32 Xe-cores × 2,048 XMX ops/clock × 2.05 GHz',
  },
  // Apple silicon: unified memory (the system RAM), so the bandwidth and the GPU's rate are listed, not a
  // memory size; ONNX Runtime runs these on the CPU cores by default. Bandwidths from Apple's newsroom
  // announcements of each chip (the full configuration where a chip comes in two). GPU fp16 = fp32 on
  // Apple GPUs (same rate per ALU), derived for the full GPU as cores × 128 ALUs × 2 (FMA) × clock: Apple
  // published 2.6 TFLOPS for the M1, 10.4 for the M1 Max, which the derivation reproduces; the clocks of the
  // later chips are third-party readings (M2 and M3 families 1.398 GHz, M4 1.47 GHz, M4 Max 1.678 GHz; the
  // M4 Pro's is not known, the M4's is used: a lower bound).
  appleChip('M1', 68.25, 8, 1.278, [/\bApple M1\b(?!\s*(Pro|Max|Ultra))/i]),
  appleChip('M1-Pro', 200, 16, 1.278, [/\bApple M1 Pro\b/i]),
  appleChip('M1-Max', 400, 32, 1.278, [/\bApple M1 Max\b/i]),
  appleChip('M1-Ultra', 800, 64, 1.278, [/\bApple M1 Ultra\b/i]),
  appleChip('M2', 100, 10, 1.398, [/\bApple M2\b(?!\s*(Pro|Max|Ultra))/i]),
  appleChip('M2-Pro', 200, 19, 1.398, [/\bApple M2 Pro\b/i]),
  appleChip('M2-Max', 400, 38, 1.398, [/\bApple M2 Max\b/i]),
  appleChip('M2-Ultra', 800, 76, 1.398, [/\bApple M2 Ultra\b/i]),
  appleChip('M3', 100, 10, 1.398, [/\bApple M3\b(?!\s*(Pro|Max|Ultra))/i]),
  appleChip('M3-Pro', 150, 18, 1.398, [/\bApple M3 Pro\b/i]),
  appleChip('M3-Max', 400, 40, 1.398, [/\bApple M3 Max\b/i]),
  appleChip('M3-Ultra', 819, 80, 1.398, [/\bApple M3 Ultra\b/i]),
  appleChip('M4', 120, 10, 1.47, [/\bApple M4\b(?!\s*(Pro|Max))/i]),
  appleChip('M4-Pro', 273, 20, 1.47, [/\bApple M4 Pro\b/i]),
  appleChip('M4-Max', 546, 40, 1.678, [/\bApple M4 Max\b/i]),
];

function appleChip(key: string, gbPerSec: number, gpuCores: number, gpuClockGHz: number, match: RegExp[]): AcceleratorSpec {
  const name = key.replace('-', ' ');
  const flops = gpuCores * APPLE_ALUS_PER_GPU_CORE * 2 * gpuClockGHz * 1e9;
  return {
    key,
    aliases: [],
    name: `Apple ${name}`,
    vendor: 'apple',
    memoryBytes: null,
    memoryBandwidthBytesPerSec: gbPerSec * GB,
    fp16Flops: flops,
    match,
    source: `Apple newsroom announcement of the ${name} (${gbPerSec} GB/s unified memory bandwidth); GPU fp16 derived: ${gpuCores} GPU cores × ${APPLE_ALUS_PER_GPU_CORE} ALUs × 2 × ${gpuClockGHz} GHz = ${(flops / TFLOPS).toFixed(1)} TFLOP/s`,
  };
}

/** An accelerator entry without its name patterns (what reports and `--json` carry). */
export type AcceleratorInfo = Omit<AcceleratorSpec, 'match' | 'pciDeviceIds'>;

export function acceleratorInfo(spec: AcceleratorSpec): AcceleratorInfo {
  const { match: _match, pciDeviceIds: _ids, ...info } = spec;
  return info;
}

/** The entry of a vendor's card with this PCI device id (`0x56a0`, any case), or null. */
export function matchAcceleratorByPciId(deviceId: string, vendor: AcceleratorSpec['vendor']): AcceleratorSpec | null {
  const wanted = deviceId.trim().toLowerCase();
  return ACCELERATORS.find((a) => a.vendor === vendor && (a.pciDeviceIds ?? []).includes(wanted)) ?? null;
}

/** The NVIDIA entry an `nvidia-smi` name matches, or null (reported as unknown, not guessed). */
export function matchAccelerator(reportedName: string, vendor: AcceleratorSpec['vendor'] = 'nvidia'): AcceleratorSpec | null {
  return ACCELERATORS.find((a) => a.vendor === vendor && a.match.some((re) => re.test(reportedName))) ?? null;
}

/** The entry for an override key or alias (case-insensitive), or null. */
export function findAccelerator(key: string): AcceleratorSpec | null {
  const wanted = key.trim().toLowerCase();
  return ACCELERATORS.find((a) => a.key.toLowerCase() === wanted || a.aliases.some((alias) => alias.toLowerCase() === wanted)) ?? null;
}

/** Whether `--gpu` takes this entry: the GPUs with their own memory (Apple chips are recognised from the CPU brand instead). */
export function isGpuOverride(spec: AcceleratorSpec): spec is AcceleratorSpec & { memoryBytes: number } {
  return spec.vendor !== 'apple' && spec.memoryBytes !== null;
}

/** Keys accepted by `--gpu`. */
export function gpuOverrideKeys(): string[] {
  return ACCELERATORS.filter(isGpuOverride).map((a) => a.key);
}
