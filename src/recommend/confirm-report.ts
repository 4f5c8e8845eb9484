import type { WeightFormat } from '../estimate/index.js';
import type { BenchResult, Environment } from '../report/schema.js';
import type { ServerMetricsSummary } from '../serve/prometheus.js';
import type { ServerReportedTopology } from '../serve/server-info.js';

/**
 * `ConfirmReport`: what `recommend --confirm` (and the wizard's confirm step) measured, in
 * `Recommendation.confirm`. Versioned like the Recommendation: fields are only ever added; a change of
 * meaning bumps `schemaVersion`. Rates are tokens per second, times milliseconds (seconds where the name
 * says `Sec`), memory in bytes. Every figure that comes from a partial-depth model scaled to the full depth
 * sits in a measurement with `extrapolated: true`; every model with random weights has `synthetic: true`.
 */
export const CONFIRM_SCHEMA_VERSION = 1;

export type ConfirmMode = 'quick' | 'standard' | 'thorough';
/** Benchmark variants (transformers.js file names model.onnx, model_fp16.onnx, model_q4.onnx). */
export type ConfirmVariant = 'q4' | 'fp32' | 'fp16';

/** Hosted APIs cost well under this per generated token (the design document's yardstick). */
export const COST_YARDSTICK_USD_PER_TOKEN = 0.001;

export interface ConfirmReport {
  schemaVersion: typeof CONFIRM_SCHEMA_VERSION;
  kind: 'modelscout.confirm';
  startedAt: string;
  finishedAt: string;
  durationSec: number;
  mode: ConfirmMode;
  settings: ConfirmSettings;
  /** Whether ONNX exports could be pulled; when not, models are synthesized (random weights). */
  hub: { reachable: boolean; endpoint: string; reason: string };
  calibration: {
    file: string;
    /** Samples this run added (one per measured variant and depth). */
    samplesAdded: number;
    /** Whether the estimates this run compared against were calibrated (from earlier runs), per format. */
    estimatesCalibrated: Partial<Record<WeightFormat, boolean>>;
  };
  /** Where the benchmarks ran (from the first bench report), null when nothing ran. */
  environment: Environment | null;
  /** In the recommendation's rank order. */
  candidates: ConfirmedCandidate[];
  final: FinalVerdict;
  /** Where the JSON report (the whole Recommendation) was written, when it was. */
  reportPath: string | null;
}

export interface ConfirmSettings {
  /** How many of the ranked candidates were taken. */
  candidates: number;
  /** Time the measurements were planned to fit in (seconds); see `budgetNote`. */
  budgetSec: number;
  budgetNote: string;
  /** The benchmark test derived from the targets: prompt = the context, batch = the concurrency. */
  test: { id: string; promptTokens: number; genTokens: number; batch: number; repetitions: number; warmup: number };
  /** Depths (decoder layers) a partial-depth model is built at, shallow then deep. */
  partialDepths: [number, number];
  threads: number;
  /** Seed of synthetic weights and prompt ids. */
  seed: number;
  /** Where models are built and kept for the next run. */
  workDir: string;
  quantization: { bits: 4; blockSize: number; symmetric: boolean; accuracyLevel: number };
  pricePerHourUsd: number | null;
  costYardstickUsdPerToken: number;
}

export interface ModelSource {
  /** `pulled`: an ONNX export from the Hub (or its cache); `synthetic`: built here with random weights; `none`: not obtained; `endpoint`: served by a deployment (`--base-url`). */
  kind: 'pulled' | 'synthetic' | 'none' | 'endpoint';
  synthetic: boolean;
  repo: string | null;
  /** Model folders used (one per depth for a partial-depth model). */
  paths: string[];
  seed: number | null;
  /** Everything needed was already in the work dir or cache (nothing rebuilt, quantized or downloaded). */
  reused: boolean;
  /** Why this source, in words (e.g. "the Hub is not reachable: synthesized"). */
  reason: string;
}

export interface MeasuredFigures {
  /** Median decode tok/s of one stream at the tested concurrency. */
  decodeTokPerSecPerStream: number | null;
  /** Median time to first token of the batch's prompts (batch = the concurrency). */
  ttftMs: number | null;
  /** Median prompt tok/s of the prefill. */
  prefillTokPerSec: number | null;
  /** Peak resident memory of the benchmark process. */
  peakMemoryBytes: number | null;
}

export interface EstimatedFigures {
  decodeTokPerSecPerStream: number | null;
  /** TTFT of the batch's prompts prefilled together (one request's estimate × the batch). */
  ttftMs: number | null;
  prefillTokPerSec: number | null;
  totalMemoryBytes: number | null;
  /** Whether the estimate used efficiencies calibrated on this machine. */
  efficiencySource: 'default' | 'calibrated';
}

/** Fixed and per-layer parts fitted through the depths measured, and the full-depth value. */
export interface ExtrapolatedFigure {
  fixed: number;
  perLayer: number;
  full: number;
  points: { layers: number; value: number }[];
  /** How the full depth was reached (see `extrapolateToDepth`). */
  method: 'two-depth fit' | 'estimate scaled';
  /** Measured ÷ estimated at the depths measured. */
  scale: number;
}

export interface VariantMeasurement {
  variant: ConfirmVariant;
  status: 'ok' | 'error';
  error: string | null;
  /** True when `measured` is scaled from partial-depth models to the full depth. */
  extrapolated: boolean;
  /** Decoder layers of the models measured (one entry at full depth, two at partial depth). */
  layersMeasured: number[];
  layersFull: number;
  measured: MeasuredFigures;
  estimated: EstimatedFigures;
  /** (estimated − measured) ÷ measured × 100, as in the bench report: positive when the estimate was higher. */
  errorPct: { decodeTokPerSecPerStream: number | null; ttftMs: number | null; memoryBytes: number | null };
  /** How the full depth was reached from the partial depths (step ms, TTFT ms, peak bytes). */
  extrapolation: { decodeStepMs: ExtrapolatedFigure; ttftMs: ExtrapolatedFigure; peakMemoryBytes: ExtrapolatedFigure } | null;
  verdict: Verdict;
  /** The bench report results behind the figures (one per depth). */
  results: BenchResult[];
  benchSec: number;
}

export interface CostFigure {
  pricePerHourUsd: number;
  /** Tokens generated per second by all streams together at the tested concurrency. */
  decodeTokPerSecTotal: number;
  usdPerMillionTokens: number;
  usdPerToken: number;
  yardstickUsdPerToken: number;
  belowYardstick: boolean;
}

export interface ConfirmedCandidate {
  rank: number;
  id: string;
  name: string;
  device: { kind: 'cpu' | 'gpu'; name: string };
  /** The weight format the recommendation named. */
  format: WeightFormat;
  source: ModelSource;
  depth: { mode: 'full' | 'partial' | 'none'; layersFull: number; layersMeasured: number[] };
  measurements: VariantMeasurement[];
  /** The candidate's verdict: on the recommended format's variant (another measured variant may confirm it instead). */
  verdict: Verdict & { variant: ConfirmVariant | null };
  cost: CostFigure | null;
  timings: { obtainSec: number; quantizeSec: number; benchSec: number };
  notes: string[];
  /** Set when the candidate was measured on a deployment (`--base-url`) instead of on this machine. */
  endpoint?: EndpointConfirmation;
}

/** The serving workload the targets imply: prompts of the target context, the target concurrency and a short sweep around it. */
export interface EndpointWorkload {
  promptTokens: number;
  concurrency: number;
  /** Concurrency levels measured, ascending; includes `concurrency`. */
  sweep: number[];
}

/** What the serving benchmark measured at one concurrency level (medians from the raw per-request records). */
export interface EndpointLevel {
  concurrency: number;
  requests: number;
  ttftMsP50: number | null;
  /** Decode tokens/s of one stream (1 ÷ median inter-token time). */
  decodeTokPerSecPerStreamP50: number | null;
  /** Output tokens/s of the whole deployment at this level. */
  outputTokPerSec: number | null;
}

/** The layout of a deployment: the one used, where it came from, what the server said, and any disagreement. */
export interface EndpointTopology {
  source: 'stated' | 'server' | 'recommendation';
  /** TP × PP × DP of the layout used; null when neither --topology nor the server gives one. */
  layout: { tp: number; pp: number; dp: number } | null;
  /** What the server reports about itself (its engine, layout, model, context); null when it was not asked. */
  reported: ServerReportedTopology | null;
  /** One line each: a reported layout that disagrees with the stated one, a context the server does not accept. */
  warnings: string[];
}

/** A candidate measured on the deployment that serves it (`recommend --confirm --base-url`). */
export interface EndpointConfirmation {
  candidateId: string;
  url: string;
  workload: EndpointWorkload;
  /** The level the verdict is decided at (the target concurrency). */
  level: EndpointLevel | null;
  levels: EndpointLevel[];
  verdict: Verdict;
  /**
   * The layout the verdict is read against and where it came from: `stated` (--topology, which wins), `server`
   * (what the server reports about itself), `recommendation` (neither: the recommendation's own estimate).
   * Absent in reports written before the server was asked.
   */
  topology?: EndpointTopology;
  estimate: {
    /** Where the estimate comes from: the layout stated with --topology, the layout the server reports, or the recommendation's own. */
    source: 'stated-topology' | 'server-topology' | 'recommendation' | null;
    layout: { tp: number; pp: number; dp: number } | null;
    /** GPU of the stated topology; per-GPU memory of its heaviest stage and whether it fits there. */
    gpu: string | null;
    perGpuBytes: number | null;
    usablePerGpuBytes: number | null;
    fits: boolean | null;
    fitReason: string | null;
    decodeTokPerSecPerStream: number | null;
    ttftMs: number | null;
    /** Fraction of the KV pool the target load fills, by the estimator. */
    kvCacheUsage: number | null;
    formula: string | null;
  };
  /** (estimate − measured) ÷ measured × 100 at the target level, as in a local run. */
  errorPct: { decodeTokPerSecPerStream: number | null; ttftMs: number | null };
  server: ServerMetricsSummary | null;
  /** Output tokens/s per GPU of the deployment, and USD per million output tokens at --price-per-hour. */
  perGpu: { gpus: number; outputTokPerSecPerGpu: number | null } | null;
  cost: { pricePerHourUsd: number; usdPerMillionOutputTokens: number | null } | null;
}



export interface FinalVerdict {
  status: 'confirmed' | 'none-confirmed' | 'not-measured';
  candidateId: string | null;
  variant: ConfirmVariant | null;
  /** One plain sentence. */
  message: string;
  /** When none is confirmed: the measured candidate that came closest, and by how much it missed. */
  closest: { id: string; name: string; shortfall: string } | null;
  /** What would change the outcome: a shorter context, a smaller model, a GPU of a named class. */
  whatWouldChange: string[];
}

/** The verdict on one benchmarked candidate: do the figures measured here meet the targets? */
export type VerdictStatus = 'confirmed' | 'rejected' | 'estimate-only' | 'error';
export type CheckName = 'decode_tps' | 'ttft_ms' | 'memory';

export interface VerdictCheck {
  name: CheckName;
  /** What the target requires (tok/s per stream, ms, bytes). */
  required: number;
  measured: number | null;
  /** How far on the good side of the target (positive) or the bad side (negative), percent of the target. */
  margin_pct: number | null;
  met: boolean | null;
  unit: 'tok/s' | 'ms' | 'bytes';
}

export interface Verdict {
  status: VerdictStatus;
  checks: VerdictCheck[];
  /** One sentence per check that failed, or why no verdict could be given. */
  reasons: string[];
  /** True when the figures come from a partial-depth model scaled to the full depth. */
  extrapolated: boolean;
}
