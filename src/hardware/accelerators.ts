/**
 * Known accelerators: memory, memory bandwidth and dense fp16 FLOP/s (tensor cores, without 2:4 sparsity,
 * FP32 accumulate where NVIDIA lists both; matrix cores for AMD), from the vendors' datasheets. Used to
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
  vendor: 'nvidia' | 'amd' | 'apple';
  /** Device memory in bytes; null for Apple chips (unified memory: the system RAM). */
  memoryBytes: number | null;
  memoryBandwidthBytesPerSec: number;
  /** Dense fp16 FLOP/s (tensor cores for NVIDIA; the GPU's fp16 rate for Apple). Null where no figure was published. */
  fp16Flops: number | null;
  /** Patterns matching the names `nvidia-smi --query-gpu=name` reports (or the CPU brand for Apple). */
  match: RegExp[];
  source: string;
}

const GB = 1e9;
const TB_S = 1e12;
const TFLOPS = 1e12;

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
  // Apple silicon: unified memory (the system RAM), so only bandwidth is listed; ONNX Runtime runs these
  // on the CPU cores by default. Bandwidths from Apple's newsroom announcements of each chip.
  appleChip('M1', 68.25, [/\bApple M1\b(?!\s*(Pro|Max|Ultra))/i]),
  appleChip('M1-Pro', 200, [/\bApple M1 Pro\b/i]),
  appleChip('M1-Max', 400, [/\bApple M1 Max\b/i]),
  appleChip('M1-Ultra', 800, [/\bApple M1 Ultra\b/i]),
  appleChip('M2', 100, [/\bApple M2\b(?!\s*(Pro|Max|Ultra))/i]),
  appleChip('M2-Pro', 200, [/\bApple M2 Pro\b/i]),
  appleChip('M2-Max', 400, [/\bApple M2 Max\b/i]),
  appleChip('M2-Ultra', 800, [/\bApple M2 Ultra\b/i]),
  appleChip('M3', 100, [/\bApple M3\b(?!\s*(Pro|Max|Ultra))/i]),
  appleChip('M3-Pro', 150, [/\bApple M3 Pro\b/i]),
  appleChip('M4', 120, [/\bApple M4\b(?!\s*(Pro|Max))/i]),
  appleChip('M4-Pro', 273, [/\bApple M4 Pro\b/i]),
];

function appleChip(key: string, gbPerSec: number, match: RegExp[]): AcceleratorSpec {
  return {
    key,
    aliases: [],
    name: `Apple ${key.replace('-', ' ')}`,
    vendor: 'apple',
    memoryBytes: null,
    memoryBandwidthBytesPerSec: gbPerSec * GB,
    fp16Flops: null,
    match,
    source: `Apple newsroom announcement of the ${key.replace('-', ' ')} (${gbPerSec} GB/s unified memory bandwidth)`,
  };
}

/** An accelerator entry without its name patterns (what reports and `--json` carry). */
export type AcceleratorInfo = Omit<AcceleratorSpec, 'match'>;

export function acceleratorInfo(spec: AcceleratorSpec): AcceleratorInfo {
  const { match: _match, ...info } = spec;
  return info;
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

/** Keys accepted by `--gpu` (the GPUs; Apple chips are recognised from the CPU brand instead). */
export function gpuOverrideKeys(): string[] {
  return ACCELERATORS.filter((a) => a.vendor === 'nvidia' || a.vendor === 'amd').map((a) => a.key);
}
