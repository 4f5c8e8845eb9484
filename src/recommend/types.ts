import type { CatalogInfo } from '../catalog/user-catalog.js';
// Type only: the confirm report is produced by src/pipeline, which builds on this module.
import type { ConfirmReport } from './confirm-report.js';
import type { Banded, DeviceTarget, FinetuneMemory, WeightFormat } from '../estimate/index.js';
import type { SizeClass } from '../tree/schema.js';
import type { PathStep } from '../tree/walk.js';
import type { DevicePreference, TargetSource, Targets } from './requirements.js';

/**
 * `Recommendation`: the output of `modelscout recommend` and of the wizard, in the code's camelCase. Its
 * JSON report (`--json`, `--out`) is this object with snake_case keys and `schema_version` "2"
 * (`toRecommendationReport` in report-json.ts); version-1 files (these keys as they are, `schemaVersion: 1`)
 * are still read. Fields are only ever added; a change of meaning bumps the version.
 * Byte counts are plain numbers of bytes; rates are tokens per second; times are milliseconds.
 */
export const RECOMMENDATION_SCHEMA_VERSION = 1;
/** The version of the recommendation report as written: snake_case keys (1 was camelCase). */
export const RECOMMENDATION_REPORT_VERSION = '2';

export interface Recommendation {
  schemaVersion: typeof RECOMMENDATION_SCHEMA_VERSION;
  kind: 'modelscout.recommendation';
  tree: { id: string; title: string };
  /** The questions answered on the way to the leaf, each marked `given` or `default`. */
  path: PathStep[];
  leaf: { id: string; label: string; rationale: string; sizeClass: SizeClass; fineTune: boolean };
  latency: { id: string; label: string; description: string; source: 'given' | 'default' };
  targets: Targets;
  targetSources: Record<keyof Targets, TargetSource>;
  devices: { preference: DevicePreference; considered: DeviceSummary[] };
  /**
   * - `meets-targets`: at least one model of the class fits and meets every target;
   * - `fits-below-targets`: models of the class fit, none meets every target;
   * - `nothing-fits`: no model of the class fits here (see `nothingFits`).
   */
  outcome: 'meets-targets' | 'fits-below-targets' | 'nothing-fits';
  /** One plain sentence saying what the outcome means for this machine. */
  summary: string;
  /** Which models were ranked when some were named with `--model`: only those, or those and the class's; absent: the class's. */
  candidatesFrom?: 'models' | 'both';
  /** Which catalog ranked: the built-in one, or the user catalog `models update` wrote (with its date) plus the built-in models it lacks. */
  catalog?: CatalogInfo;
  /** Models of the leaf's class that fit (in full or at a reduced context), best first, at most `top`. */
  candidates: Candidate[];
  /** Models of the class left out, with why (does not fit, context window too short). */
  excluded: ExcludedModel[];
  /** Filled when no model of the class fits here. */
  nothingFits: NothingFits | null;
  /** What hardware the smallest model of the class needs to fit and meet the targets. */
  hardwareNeeded: HardwareNeeded | null;
  ranking: RankingBasis;
  notes: string[];
  /**
   * Filled by `recommend --confirm` and the wizard's confirm step: the top candidates measured on this
   * machine, each with its verdict beside the estimate (see `ConfirmReport`); null when not confirmed.
   */
  confirm: ConfirmReport | null;
}

export interface DeviceSummary {
  kind: 'cpu' | 'gpu';
  name: string;
  count: number;
  memoryAvailableBytes: number;
  memoryTotalBytes: number;
  bandwidthBytesPerSec: number | null;
  bandwidthSource: DeviceTarget['bandwidthSource'];
  peakFlops: number | null;
  peakFlopsSource: DeviceTarget['peakFlopsSource'];
}

export interface Candidate {
  /** 1-based rank within its list. */
  rank: number;
  id: string;
  name: string;
  family: string;
  hfRepo: string | null;
  onnxRepo: string | null;
  paramsTotal: number;
  paramsActive: number;
  /** The quality proxy's value for this model (see `ranking.qualityProxy`). */
  qualityProxy: number;
  /** What ranked it on quality: its published score (`ranking.qualityScore`), or the parameter-count proxy. */
  /** Absent in reports written before published scores were ranked. */
  quality?: CandidateQuality;
  device: { kind: 'cpu' | 'gpu'; name: string };
  /** The least-compressed weight format that fits (and meets the targets when any does). */
  format: WeightFormat;
  /** `fits` at the target context; `reduced-context`: only at `memory.maxContext` tokens. */
  fit: 'fits' | 'reduced-context';
  memory: {
    weightBytes: number;
    kvBytes: number;
    activationBytes: number;
    runtimeOverheadBytes: number;
    totalBytes: number;
    usableBytes: number;
    availableBytes: number;
    /** Largest context per sequence that fits at the target concurrency. */
    maxContext: number;
    kvDtype: string;
    basis: { kvFormula: string; headroomFraction: number; activationAssumption: string };
  };
  speed: {
    /** Decode tokens/s per stream (value and error band), null when the bandwidth is unknown. */
    decodeTokPerSec: Banded | null;
    prefillTokPerSec: Banded | null;
    ttftMs: Banded | null;
    decodeBound: 'memory' | 'compute' | null;
    basis: {
      bandwidthBytesPerSec: number | null;
      bandwidthSource: string;
      peakFlops: number | null;
      /** `note`: the estimator's remark on where the efficiencies come from, when it has one. */
      efficiency: { decode: number; prefill: number; source: string; note?: string };
      band: { low: number; high: number };
      weightBytesPerStep: number;
      kvBytesPerStep: number;
      context: number;
      concurrency: number;
      formula: string;
      notes: string[];
    };
  };
  /** Each target met by the central estimate; null when it cannot be estimated. */
  meets: { decodeTokensPerSec: boolean | null; ttft: boolean | null; all: boolean };
  /** What was given up: a more compressed format, a shorter context, a missed target. */
  tradeoffs: string[];
  /** Why it ranks where it does, in short sentences. */
  reasons: string[];
  /** LoRA and QLoRA memory on the same device, and the time of one epoch there (fine-tuning leaves only). */
  finetune: { lora: FinetuneSummary; qlora: FinetuneSummary; epoch: FinetuneEpoch } | null;
  /**
   * The tensor / pipeline / data parallel layout on several GPUs or nodes (`--gpus`, `--nodes`, or more than
   * one GPU detected), with per-GPU memory and the communication in each step; absent on one device.
   */
  topology: CandidateTopology | null;
  /** The engine that runs the weights when it is not ONNX Runtime: `llama.cpp` for a GGUF file. */
  engine?: 'llama.cpp';
  /** The GGUF file type (e.g. `Q4_K_M`) when `engine` is llama.cpp; `format` then names the ONNX format used as its stand-in for speed. */
  variant?: string;
}

export interface CandidateTopology {
  tp: number;
  pp: number;
  dp: number;
  gpusPerReplica: number;
  gpusUsed: number;
  nodesPerReplica: number;
  concurrencyPerReplica: number;
  /** The heaviest GPU (the stage with the most layers), bytes. */
  perGpu: { weightBytes: number; kvBytes: number; activationBytes: number; runtimeOverheadBytes: number; totalBytes: number; usableBytes: number };
  /** Decode tokens/s of the whole deployment divided by the GPUs it uses. */
  decodeTokPerSecPerGpu: number | null;
  /** Seconds per decode step and per prefill spent in TP all-reduces and PP sends; the kernel floor of a step. */
  communication: { decodeTpSec: number; decodePpSec: number; prefillTpSec: number; prefillPpSec: number; allReducesPerStep: number; kernelFloorSec: number };
  interconnect: { intraNode: InterconnectSummary; interNode: InterconnectSummary | null };
  formula: string;
}

export interface InterconnectSummary {
  kind: string;
  bytesPerSec: number;
  latencySec: number;
  source: string;
}

export type FinetuneSummary = Pick<
  FinetuneMemory,
  'method' | 'rank' | 'batch' | 'seqLen' | 'frozenWeightBytes' | 'adapterBytes' | 'gradientBytes' | 'optimizerBytes' | 'activationBytes' | 'totalBytes' | 'usableBytes' | 'fits' | 'reason'
>;

/** One epoch of LoRA / QLoRA fine-tuning from the device's FLOP/s (see `finetuneTime`). */
export interface FinetuneEpoch {
  tokens: number;
  flopsPerToken: number;
  /** null when the device's peak FLOP/s is unknown. */
  seconds: { value: number; low: number; high: number } | null;
  /** One epoch within a week; null when unknown. */
  feasible: boolean | null;
  formula: string;
}

export interface ExcludedModel {
  id: string;
  name: string;
  paramsTotal: number;
  reason: string;
  /** Memory the most compressed format needs at the target context (bytes), when estimated. */
  smallestTotalBytes: number | null;
}

export interface NothingFits {
  /** Plain sentence, e.g. "Nothing of the flagship (70B+) class fits here: ...". */
  message: string;
  /** The best models below the class that do fit, ranked the same way. */
  alternatives: Candidate[];
  /** The class the alternatives come from, in words (e.g. `below 70B`). */
  alternativesFrom: string;
}

export interface HardwareNeeded {
  /** The class model with the smallest footprint, in its most compressed format. */
  model: { id: string; name: string; format: WeightFormat };
  context: number;
  concurrency: number;
  /** Free memory (VRAM or RAM) needed, headroom included. */
  memoryBytes: number;
  /** Memory bandwidth needed for the decode target at the default GPU efficiency. */
  bandwidthBytesPerSec: number;
  /** Dense FLOP/s needed for the TTFT target at the default GPU prefill efficiency. */
  peakFlops: number;
  /** Known accelerators that would do, fewest cards first. */
  options: { name: string; count: number; memoryBytes: number; bandwidthBytesPerSec: number }[];
  /** The same need in one sentence. */
  message: string;
  /**
   * Concrete multi-GPU deployments for models of the class (the smallest and the strongest), each with its
   * layout and the vLLM and SGLang commands that serve it.
   */
  topologies: ProposedTopology[];
}

export interface ProposedTopology {
  model: { id: string; name: string; format: WeightFormat; hfRepo: string | null };
  /** The accelerator table's key (`--gpu`) and name. */
  gpu: { key: string; name: string };
  gpusPerNode: number;
  nodes: number;
  tp: number;
  pp: number;
  meetsTargets: boolean;
  decodeTokPerSec: Banded | null;
  ttftMs: Banded | null;
  /** Bytes on the heaviest GPU, and what is usable there. */
  perGpuBytes: number;
  usablePerGpuBytes: number;
  /** e.g. "Llama-3.1-405B q4f16: 8× NVIDIA H100 SXM 80GB, TP 8, one node". */
  summary: string;
  /** Shell lines that deploy it (one per node where the engine needs one). */
  commands: { vllm: string[]; sglang: string[]; notes: string[] };
}

/**
 * `score`: the model meets every target and has a published score in `ranking.qualityScore`'s metric, which
 * ordered it among the others that have one; `proxy`: the parameter-count proxy ranked it (no such score,
 * or it misses a target, where closeness to the targets comes first). `scores` lists every published score
 * the catalog holds for it, used or not.
 */
export interface CandidateQuality {
  basis: 'score' | 'proxy';
  /** The score that ranked it (basis `score`), else null. */
  score: { metric: string; score: number; source: string; date: string } | null;
  scores: { metric: string; score: number; source: string; date: string }[];
}

export interface RankingBasis {
  /** The sort keys in order. */
  order: string[];
  qualityProxy: string;
  /** The published benchmark the ranking compares where the catalog has it (one metric, setting and evaluator). */
  qualityScore?: string;
  /** Formats tried per device kind, least compressed first. */
  formats: Record<'cpu' | 'gpu', WeightFormat[]>;
  /** How a model is placed in a size class. */
  classMembership: string;
}

