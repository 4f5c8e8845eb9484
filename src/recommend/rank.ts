import { preferredGraph } from '../onnx/fused/synth-graph.js';
import type { GraphKind } from '../onnx/metadata.js';
import type { ModelSpec, QualityScore } from '../catalog/model-spec.js';
import {
  defaultEfficiency,
  DEFAULT_EPOCH_TOKENS,
  FEASIBLE_EPOCH_SECONDS,
  describeLayout,
  estimateSpeed,
  finetuneMemory,
  finetuneTime,
  fitMemory,
  planAsMemoryFit,
  planAsSpeedEstimate,
  planTopology,
  type DeviceTarget,
  type TopologyPlan,
  type FinetuneMemory,
  type FinetuneTime,
  type MemoryFit,
  type Efficiency,
  type GgufWeights,
  type KvDtype,
  type SpeedEstimate,
  type WeightFormat,
} from '../estimate/index.js';
import type { SizeClass } from '../tree/schema.js';
import { formatCoarseDuration } from '../util/format.js';
import type { Targets } from './requirements.js';
import type { Candidate, CandidateQuality, CandidateTopology, FinetuneSummary, RankingBasis } from './types.js';

/**
 * Formats tried per device, least compressed first: the first that fits and meets the targets is the
 * "format needed". CPUs run fp32 activations in ONNX Runtime (fp16 kernels are sparse there), GPUs fp16.
 */
export const FORMAT_LADDER: Record<'cpu' | 'gpu', WeightFormat[]> = {
  cpu: ['fp32', 'int8', 'q4'],
  gpu: ['fp16', 'int8', 'q4f16'],
};

/** A reduced context shorter than this is not offered as a trade-off (too short to be useful). */
export const MIN_USEFUL_CONTEXT = 512;

/**
 * LoRA rank and batch the fine-tuning fit is shown at (sequence length = the target context), and the
 * dataset size its time is quoted for.
 */
export const FINETUNE_DEFAULTS = { rank: 16, batch: 1, epochTokens: DEFAULT_EPOCH_TOKENS } as const;

/**
 * The published benchmark the ranking compares: MMLU-Pro in one evaluation of many base models (Qwen2.5
 * Technical Report, Tables 2-5: Qwen2.5, Gemma 2, …). Scores of the same benchmark in another setting
 * (e.g. Meta's chain-of-thought MMLU-Pro) are a different metric and are not compared with it.
 */
export const RANKING_METRIC = 'MMLU-Pro, 5-shot, base model (Qwen2.5 Technical Report evaluation)';

/** A model's published score in the ranking's metric, or null. */
export function rankingScore(spec: Pick<ModelSpec, 'scores'>): QualityScore | null {
  return spec.scores?.find((s) => s.metric === RANKING_METRIC) ?? null;
}

export const RANKING_BASIS: RankingBasis = {
  order: [
    `fine-tuning leaves only: fine-tuning fits on the model's device (QLoRA at least) and one epoch of ${DEFAULT_EPOCH_TOKENS / 1e6} M tokens takes ≤ ${FEASIBLE_EPOCH_SECONDS / 86400} days, then fits but takes longer, then does not fit`,
    'fits at the target context (before fits only at a reduced context)',
    'meets every target (decode tok/s per stream and TTFT), then meets one, then none',
    'among models that meet every target: quality proxy, higher first, then the models with a published score (qualityScore) reordered by it among the places they hold; among the others: closeness to the targets first (the product of estimate ÷ target per missed target), then quality proxy',
    'estimated decode tok/s, higher first',
  ],
  qualityProxy:
    'effective parameter count: total parameters for dense models, √(total × active) for MoE (a common rule of thumb for MoE quality); the fallback wherever no published score of the qualityScore metric is known',
  qualityScore: `${RANKING_METRIC}: the benchmark the ranking compares where the catalog records it (one setting and one evaluator for every model that has it; scores from other settings are listed but never compared)`,
  formats: FORMAT_LADDER,
  classMembership: "total parameters (all experts: they all sit in memory) within the leaf's bounds, each bound widened by the class's tolerance (nominal sizes are rounded: Llama-3.1-70B has 70.6B)",
};

export function inSizeClass(spec: Pick<ModelSpec, 'paramsTotal'>, sizeClass: SizeClass): boolean {
  const p = spec.paramsTotal;
  const low = sizeClass.minParams * (1 - sizeClass.tolerance);
  const high = sizeClass.maxParams === null ? Infinity : sizeClass.maxParams * (1 + sizeClass.tolerance);
  return p >= low && p <= high;
}

/** Below the class: smaller than its lower bound (with tolerance). */
export function belowSizeClass(spec: Pick<ModelSpec, 'paramsTotal'>, sizeClass: SizeClass): boolean {
  return spec.paramsTotal < sizeClass.minParams * (1 - sizeClass.tolerance);
}

export function qualityProxy(spec: Pick<ModelSpec, 'paramsTotal' | 'paramsActive' | 'moe'>): number {
  return spec.moe ? Math.sqrt(spec.paramsTotal * spec.paramsActive) : spec.paramsTotal;
}

interface FormatTrial {
  format: WeightFormat;
  fit: MemoryFit;
  speed: SpeedEstimate | null;
  meets: Candidate['meets'];
  /** The layout chosen on a multi-GPU cluster; null on one device. */
  topology: TopologyPlan | null;
}

/**
 * Memory fit and speed of one format on one device: the single-device roofline, or on a cluster (several
 * GPUs, or several nodes) the best TP / PP / DP layout with its communication (`src/estimate/topology.ts`).
 */
function estimateOn(spec: ModelSpec, format: WeightFormat, device: DeviceTarget, context: number, concurrency: number, targets: Targets, efficiency: { efficiency?: Efficiency }): Omit<FormatTrial, 'meets'> {
  if (device.cluster) {
    const workload = { context, promptTokens: context, concurrency, ...efficiency };
    const choice = planTopology(spec, format, device.cluster, workload, targets);
    const plan = choice.best ?? choice.plans[0];
    if (plan) {
      return { format, fit: planAsMemoryFit(plan, spec, format, workload), speed: plan.fits ? planAsSpeedEstimate(plan) : null, topology: plan.fits ? plan : null };
    }
  }
  const graph = preferredGraph(spec);
  const fit = fitMemory({ spec, format, context, concurrency, device, graph });
  const speed = fit.fits ? estimateSpeed({ spec, format, context, promptTokens: context, concurrency, device, graph, ...efficiency }) : null;
  return { format, fit, speed, topology: null };
}

/**
 * A model whose weights are fixed by its file: a GGUF runs in llama.cpp in the types it holds, so it is not
 * tried down the format ladder; its bytes are the file's tensors.
 */
export interface FixedWeights {
  engine: 'llama.cpp';
  /** The file type, e.g. `Q4_K_M`. */
  variant: string;
  gguf: GgufWeights;
}

/** llama.cpp keeps its KV cache in f16 unless told otherwise (`--cache-type-k/v`, default f16). */
export const LLAMA_CPP_KV_DTYPE: KvDtype = 'fp16';

/** The ONNX format whose activations and efficiencies stand in for a GGUF's: quantized → q4 / q4f16, float → fp16 / fp32. */
export function analogFormat(fixed: FixedWeights, device: Pick<DeviceTarget, 'kind'>): WeightFormat {
  const quantized = fixed.gguf.quantizedBytes > fixed.gguf.floatBytes;
  if (device.kind === 'gpu') return quantized ? 'q4f16' : 'fp16';
  return quantized ? 'q4' : 'fp32';
}

export interface Evaluation {
  spec: ModelSpec;
  /** Set for a model whose weights come from a file (GGUF), evaluated as that file only. */
  fixed?: FixedWeights;
  device: DeviceTarget;
  chosen: FormatTrial;
  fit: 'fits' | 'reduced-context';
  trials: FormatTrial[];
  /** Fine-tuning on the same device (fine-tuning leaves: see `withFinetune`). */
  finetune?: FinetuneEstimate;
}

export interface FinetuneEstimate {
  lora: FinetuneMemory;
  qlora: FinetuneMemory;
  /** One epoch of `FINETUNE_DEFAULTS.epochTokens` tokens (the same FLOPs for LoRA and QLoRA). */
  time: FinetuneTime;
}

/** LoRA and QLoRA memory and the time of one epoch of a model on a device, at the shown defaults. */
export function estimateFinetune(spec: ModelSpec, device: DeviceTarget, seqLen: number, efficiencyFor?: EfficiencyLookup): FinetuneEstimate {
  const memory = (method: 'lora' | 'qlora'): FinetuneMemory => finetuneMemory({ spec, method, rank: FINETUNE_DEFAULTS.rank, batch: FINETUNE_DEFAULTS.batch, seqLen, device });
  // Training runs in 16-bit on GPUs and fp32 on CPUs: the compute efficiency of the least compressed format.
  const efficiency = efficiencyFor?.(device, FORMAT_LADDER[device.kind][0]!);
  return { lora: memory('lora'), qlora: memory('qlora'), time: finetuneTime({ spec, tokens: FINETUNE_DEFAULTS.epochTokens, seqLen, device, ...(efficiency ? { efficiency } : {}) }) };
}

/** The evaluation with its fine-tuning estimate attached: what ranking and the candidate's figures read. */
export function withFinetune(e: Evaluation, seqLen: number, efficiencyFor?: EfficiencyLookup): Evaluation {
  return { ...e, finetune: estimateFinetune(e.spec, e.device, seqLen, efficiencyFor) };
}

/** 0: fine-tuning fits and one epoch is practical here; 1: fits but too slow; 2: does not fit. */
export function finetuneTier(f: FinetuneEstimate): number {
  if (!f.qlora.fits && !f.lora.fits) return 2;
  return f.time.feasible === false ? 1 : 0;
}

export type EvaluationResult = { ok: true; evaluation: Evaluation } | { ok: false; reason: string; smallestTotalBytes: number | null };

/**
 * The efficiencies to estimate with on a device in a weight format (and graph form, when known): calibrated
 * ones from measurements on this machine when there are any (`modelscout calibration show`), undefined for
 * the stated defaults.
 */
export type EfficiencyLookup = (device: DeviceTarget, format: WeightFormat, graph?: GraphKind) => Efficiency | undefined;

function judge(speed: SpeedEstimate | null, targets: Targets): Candidate['meets'] {
  const tps = speed?.decodeTokPerSec ? speed.decodeTokPerSec.value >= targets.decodeTokensPerSec : null;
  const ttft = speed?.ttftMs ? speed.ttftMs.value <= targets.maxTtftMs : null;
  return { decodeTokensPerSec: tps, ttft, all: tps === true && ttft === true };
}

function metCount(meets: Candidate['meets']): number {
  return (meets.decodeTokensPerSec === true ? 1 : 0) + (meets.ttft === true ? 1 : 0);
}

function decodeValue(speed: SpeedEstimate | null): number {
  return speed?.decodeTokPerSec?.value ?? 0;
}

/**
 * Picks the format of one model on one device: the least compressed format that fits and meets every
 * target; when none meets them all, the fitting format meeting the most targets, the fastest on a tie;
 * when none fits at the target context, the most compressed format at the largest context that fits.
 */
export function evaluateOnDevice(spec: ModelSpec, device: DeviceTarget, targets: Targets, efficiencyFor?: EfficiencyLookup, fixed?: FixedWeights): EvaluationResult {
  if (fixed) return evaluateFixed(spec, device, targets, fixed);
  const { contextTokens: context, concurrency } = targets;
  // Estimates describe the form `--confirm` would measure: the fused graph where the architecture has one.
  const graph = preferredGraph(spec);
  const efficiencyOf = (format: WeightFormat): { efficiency?: Efficiency } => {
    const efficiency = efficiencyFor?.(device, format, graph);
    return efficiency ? { efficiency } : {};
  };
  if (spec.maxContext < context) {
    return { ok: false, reason: `its context window (${spec.maxContext} tokens) is shorter than the ${context} asked`, smallestTotalBytes: null };
  }
  const trials: FormatTrial[] = FORMAT_LADDER[device.kind].map((format) => {
    const trial = estimateOn(spec, format, device, context, concurrency, targets, efficiencyOf(format));
    return { ...trial, meets: judge(trial.speed, targets) };
  });
  const fitting = trials.filter((t) => t.fit.fits);
  const meetingAll = fitting.find((t) => t.meets.all);
  if (meetingAll) return { ok: true, evaluation: { spec, device, chosen: meetingAll, fit: 'fits', trials } };
  if (fitting.length > 0) {
    const best = [...fitting].sort((a, b) => metCount(b.meets) - metCount(a.meets) || decodeValue(b.speed) - decodeValue(a.speed))[0]!;
    return { ok: true, evaluation: { spec, device, chosen: best, fit: 'fits', trials } };
  }
  const smallest = trials[trials.length - 1]!;
  const reducedContext = smallest.fit.maxContext;
  if (reducedContext >= Math.min(MIN_USEFUL_CONTEXT, context)) {
    const reducedTargets = { ...targets, contextTokens: reducedContext };
    const trial = estimateOn(spec, smallest.format, device, reducedContext, concurrency, reducedTargets, efficiencyOf(smallest.format));
    const chosen: FormatTrial = { ...trial, meets: judge(trial.speed, reducedTargets) };
    return { ok: true, evaluation: { spec, device, chosen, fit: 'reduced-context', trials } };
  }
  return { ok: false, reason: smallest.fit.reason ?? 'it does not fit', smallestTotalBytes: smallest.fit.totalBytes };
}

/**
 * A GGUF on one device: its own bytes, an f16 KV cache, and the stated default efficiencies (calibrations
 * are ONNX Runtime measurements, not llama.cpp's); at a reduced context when the target one does not fit.
 */
function evaluateFixed(spec: ModelSpec, device: DeviceTarget, targets: Targets, fixed: FixedWeights): EvaluationResult {
  const { contextTokens: context, concurrency } = targets;
  if (spec.maxContext < context) {
    return { ok: false, reason: `its context window (${spec.maxContext} tokens) is shorter than the ${context} asked`, smallestTotalBytes: null };
  }
  const format = analogFormat(fixed, device);
  const common = { spec, format, concurrency, device, kvDtype: LLAMA_CPP_KV_DTYPE, weightOptions: { gguf: fixed.gguf } } as const;
  const trial = (tokens: number): FormatTrial => {
    const fit = fitMemory({ ...common, context: tokens });
    const speed = fit.fits ? estimateSpeed({ ...common, context: tokens, promptTokens: tokens }) : null;
    return { format, fit, speed, meets: judge(speed, { ...targets, contextTokens: tokens }), topology: null };
  };
  const full = trial(context);
  if (full.fit.fits) return { ok: true, evaluation: { spec, fixed, device, chosen: full, fit: 'fits', trials: [full] } };
  const reduced = full.fit.maxContext;
  if (reduced >= Math.min(MIN_USEFUL_CONTEXT, context)) {
    const chosen = trial(reduced);
    return { ok: true, evaluation: { spec, fixed, device, chosen, fit: 'reduced-context', trials: [full] } };
  }
  return { ok: false, reason: full.fit.reason ?? 'it does not fit', smallestTotalBytes: full.fit.totalBytes };
}

/** The best device for a model: full fit, meets all, meets most, GPU, then faster. */
export function evaluateModel(spec: ModelSpec, devices: DeviceTarget[], targets: Targets, efficiencyFor?: EfficiencyLookup, fixed?: FixedWeights): EvaluationResult {
  const results = devices.map((d) => evaluateOnDevice(spec, d, targets, efficiencyFor, fixed));
  const oks = results.flatMap((r) => (r.ok ? [r.evaluation] : []));
  if (oks.length === 0) {
    // Report the device that came closest (smallest shortfall), or the first reason.
    const failures = results.filter((r): r is Extract<EvaluationResult, { ok: false }> => !r.ok);
    return failures.find((f) => f.smallestTotalBytes !== null) ?? failures[0] ?? { ok: false, reason: 'no device to run on', smallestTotalBytes: null };
  }
  oks.sort((a, b) => compareEvaluations(a, b, null));
  return { ok: true, evaluation: oks[0]! };
}

/** Ranking order of `RANKING_BASIS` (with `targets` null: the device choice for one model). */
function compareEvaluations(a: Evaluation, b: Evaluation, targets: Pick<Targets, 'decodeTokensPerSec' | 'maxTtftMs'> | null): number {
  const byQuality = targets !== null;
  // "Yes, we will fine-tune" counts first: a model the team cannot adapt here is no answer to that leaf.
  if (a.finetune && b.finetune) {
    const byFinetune = finetuneTier(a.finetune) - finetuneTier(b.finetune);
    if (byFinetune !== 0) return byFinetune;
  }
  const tier = (e: Evaluation): number => (e.fit === 'fits' ? 0 : 10) + (e.chosen.meets.all ? 0 : 2 - metCount(e.chosen.meets) + 1);
  const byTier = tier(a) - tier(b);
  if (byTier !== 0) return byTier;
  // Below the targets, the model nearest to them serves the need best: a far larger model that misses
  // the real-time targets tenfold is no compromise at all.
  if (targets !== null && !a.chosen.meets.all) {
    const closer = closeness(b.chosen.speed, targets) - closeness(a.chosen.speed, targets);
    if (closer !== 0) return closer;
  }
  if (byQuality) {
    const q = qualityProxy(b.spec) - qualityProxy(a.spec);
    if (q !== 0) return q;
  } else {
    const gpuFirst = (e: Evaluation): number => (e.device.kind === 'gpu' ? 0 : 1);
    if (gpuFirst(a) !== gpuFirst(b)) return gpuFirst(a) - gpuFirst(b);
  }
  const speed = decodeValue(b.chosen.speed) - decodeValue(a.chosen.speed);
  if (speed !== 0) return speed;
  return a.spec.id.localeCompare(b.spec.id);
}

/**
 * How close an estimate comes to the targets, in (0, 1]: the product over the targets of estimate ÷ target
 * (decode) and target ÷ estimate (TTFT), each capped at 1 so a target met counts fully. 0 when unknown.
 */
export function closeness(speed: Pick<SpeedEstimate, 'decodeTokPerSec' | 'ttftMs'> | null, targets: Pick<Targets, 'decodeTokensPerSec' | 'maxTtftMs'>): number {
  const decode = speed?.decodeTokPerSec?.value;
  const ttft = speed?.ttftMs?.value;
  if (decode === undefined || ttft === undefined || !(decode > 0) || !(ttft > 0)) return 0;
  return Math.min(1, decode / targets.decodeTokensPerSec) * Math.min(1, targets.maxTtftMs / ttft);
}

export function rankEvaluations(evaluations: Evaluation[], targets: Pick<Targets, 'decodeTokensPerSec' | 'maxTtftMs'>): Evaluation[] {
  return withScoresRanked([...evaluations].sort((a, b) => compareEvaluations(a, b, targets)));
}

/**
 * Published scores where they exist: within each run of models that meet every target in the same tier
 * (fine-tuning, fit), the ones with a score in the ranking's metric take the places those models hold, in
 * order of their score; the others keep their places (ordered by the parameter-count proxy). Placing by
 * slots keeps the order consistent when only some models have a score.
 */
function withScoresRanked(sorted: Evaluation[]): Evaluation[] {
  const out = [...sorted];
  const runKey = (e: Evaluation): string | null => (e.chosen.meets.all ? `${e.finetune ? finetuneTier(e.finetune) : '-'}:${e.fit}` : null);
  let start = 0;
  while (start < out.length) {
    const key = runKey(out[start]!);
    let end = start + 1;
    while (end < out.length && key !== null && runKey(out[end]!) === key) end += 1;
    if (key !== null) {
      const slots = [];
      for (let i = start; i < end; i += 1) if (rankingScore(out[i]!.spec)) slots.push(i);
      const scored = slots.map((i) => out[i]!).sort((a, b) => rankingScore(b.spec)!.score - rankingScore(a.spec)!.score || qualityProxy(b.spec) - qualityProxy(a.spec));
      slots.forEach((slot, j) => {
        out[slot] = scored[j]!;
      });
    }
    start = end;
  }
  return out;
}

/** What ranked a model on quality (see `withScoresRanked`), with every score the catalog holds for it. */
export function candidateQuality(spec: Pick<ModelSpec, 'scores'>, meetsAll: boolean): CandidateQuality {
  const score = meetsAll ? rankingScore(spec) : null;
  const copy = (s: QualityScore): { metric: string; score: number; source: string; date: string } => ({ metric: s.metric, score: s.score, source: s.source, date: s.date });
  return { basis: score ? 'score' : 'proxy', score: score ? copy(score) : null, scores: (spec.scores ?? []).map(copy) };
}

/** `quality: MMLU-Pro 45.0 (…, 2024-12-19) ranked it` or `quality: the parameter-count proxy ranked it (…)`. */
function describeQuality(quality: CandidateQuality, spec: Pick<ModelSpec, 'paramsTotal' | 'paramsActive' | 'moe'>): string {
  const others = quality.scores.filter((s) => s !== quality.score && s.metric !== quality.score?.metric).map((s) => `${s.metric} ${s.score.toFixed(1)}`);
  const listed = others.length > 0 ? `; also published, not compared: ${others.join(', ')}` : '';
  if (quality.score) return `quality: ${quality.score.metric} ${quality.score.score.toFixed(1)} ranked it (${quality.score.source.split(': ').pop() ?? quality.score.source}, ${quality.score.date})${listed}`;
  // The benchmark's name alone (`MMLU-Pro`): the protocol in RANKING_METRIC is the table heading's and the docs' to say.
  const why = quality.scores.some((s) => s.metric === RANKING_METRIC) ? 'it misses a target, where closeness to the targets ranks first' : `no ${RANKING_METRIC.split(',')[0]} score published for it`;
  return `quality: the parameter-count proxy ranked it (${fmtParams(qualityProxy(spec))} effective; ${why})${listed}`;
}

/** Turns an evaluation into the `Candidate` of the Recommendation, with trade-offs and reasons in words. */
export function toCandidate(e: Evaluation, rank: number, targets: Targets, withFinetune: boolean): Candidate {
  const { spec, device, chosen } = e;
  const speed = chosen.speed;
  const tradeoffs: string[] = [];
  const reasons: string[] = [];
  const where = device.kind === 'gpu' ? 'free VRAM' : 'available RAM';

  const ladder = e.trials.map((t) => t.format);
  const chosenIndex = ladder.indexOf(chosen.format);
  const lessCompressed = e.trials.slice(0, Math.max(0, chosenIndex));
  const usableText = `usable ${gib(chosen.fit.usableBytes)} GiB ${where}`;
  if (e.fit === 'fits' && lessCompressed.length > 0) {
    // ONNX int8 and q4 models compute in fp32 and so keep an fp32 KV cache, twice fp16's: say so where that
    // makes a more compressed format need more memory than a less compressed one.
    const fp16Total = e.trials.find((t) => t.format === 'fp16')?.fit.totalBytes ?? null;
    const kvNote = (t: (typeof lessCompressed)[number]): string =>
      t.fit.kvDtype === 'fp32' && fp16Total !== null && t.format !== 'fp32' && t.fit.totalBytes > fp16Total ? ` (more than fp16: its KV cache is fp32, ${gib(t.fit.kvBytes)} GiB, as ONNX ${t.format} models compute in fp32)` : '';
    const tooBig = lessCompressed.filter((t) => !t.fit.fits).map((t) => `${t.format} needs ${gib(t.fit.totalBytes)} GiB${kvNote(t)}`);
    if (chosen.meets.all) {
      const slow = lessCompressed.filter((t) => t.fit.fits).map((t) => `${t.format} fits but ${describeMisses(t.meets, t.speed, targets)}`);
      tradeoffs.push(`${chosen.format} weights needed: ${[...tooBig, ...slow].join('; ')} (${usableText})`);
    } else {
      const slower = lessCompressed.filter((t) => t.fit.fits).map((t) => t.format);
      const parts = [...(tooBig.length > 0 ? [`${tooBig.join(', ')} (${usableText})`] : []), ...(slower.length > 0 ? [`${slower.join(' and ')} fit${slower.length === 1 ? 's' : ''} but ${slower.length === 1 ? 'is' : 'are'} slower`] : [])];
      tradeoffs.push(`${chosen.format}: the fitting format that comes closest to the targets (none meets them all)${parts.length > 0 ? `; ${parts.join('; ')}` : ''}`);
    }
  }
  if (e.fit === 'reduced-context') {
    tradeoffs.push(`fits only with a context of ≤ ${chosen.fit.maxContext} tokens per stream (asked ${targets.contextTokens} × ${targets.concurrency})`);
  }
  if (speed?.decodeTokPerSec) {
    const d = speed.decodeTokPerSec;
    const verdict = chosen.meets.decodeTokensPerSec ? '≥' : '<';
    const calibrated = speed.basis.efficiency.source === 'calibrated' ? '; calibrated on this machine' : '';
    reasons.push(`decode ≈ ${fmt(d.value)} tok/s per stream (${fmt(d.low)}–${fmt(d.high)}) ${verdict} ${targets.decodeTokensPerSec} target; ${speed.decodeBound}-bound, ${gib(speed.basis.weightBytesPerStep + speed.basis.kvBytesPerStep)} GiB read per step${calibrated}`);
  } else reasons.push('no decode estimate: the memory bandwidth is unknown (pass --bandwidth)');
  if (speed?.ttftMs) {
    const t = speed.ttftMs;
    const verdict = chosen.meets.ttft ? '≤' : '>';
    reasons.push(`TTFT ≈ ${fmtMs(t.value)} (${fmtMs(t.low)}–${fmtMs(t.high)}) ${verdict} ${fmtMs(targets.maxTtftMs)} target for a ${speed.basis.promptTokens}-token prompt`);
  } else reasons.push('no TTFT estimate: the peak FLOP/s is unknown');
  if (e.fixed) {
    reasons.push(`GGUF ${e.fixed.variant}, runs in llama.cpp: ${gib(e.fixed.gguf.totalBytes)} GiB of weights from the file's tensors (${e.fixed.gguf.bitsPerParam.toFixed(2)} bits/param), f16 KV cache; speed at the default efficiencies of ${chosen.format}-like kernels`);
  }
  reasons.push(`${gib(chosen.fit.totalBytes)} GiB of ${gib(chosen.fit.usableBytes)} GiB usable ${where} (weights ${gib(chosen.fit.weightBytes)} + KV ${gib(chosen.fit.kvBytes)} + activations and runtime ${gib(chosen.fit.activationBytes + chosen.fit.runtimeOverheadBytes)})`);
  if (chosen.topology) reasons.push(describeTopology(chosen.topology, device));
  if (spec.moe) reasons.push(`MoE: all ${spec.moe.experts} experts resident, ${spec.moe.activeExperts} active per token (${fmtParams(spec.paramsActive)} active parameters)`);
  const quality = candidateQuality(spec, chosen.meets.all);
  reasons.push(describeQuality(quality, spec));

  let finetune: Candidate['finetune'] = null;
  if (withFinetune) {
    const estimate = e.finetune ?? estimateFinetune(spec, device, targets.contextTokens);
    finetune = { lora: summarizeFinetune(estimate.lora), qlora: summarizeFinetune(estimate.qlora), epoch: summarizeEpoch(estimate.time) };
    const ft = finetune;
    const fits = ft.lora.fits || ft.qlora.fits;
    reasons.push(
      `fine-tuning at rank ${FINETUNE_DEFAULTS.rank}, batch ${FINETUNE_DEFAULTS.batch} × ${targets.contextTokens} tokens: LoRA needs ${gib(ft.lora.totalBytes)} GiB (${ft.lora.fits ? 'fits' : 'does not fit'}), QLoRA ${gib(ft.qlora.totalBytes)} GiB (${ft.qlora.fits ? 'fits' : 'does not fit'})` +
        (fits ? `; ${describeEpoch(estimate.time, device.kind === 'gpu' ? 'the GPU' : 'the CPU')}` : ''),
    );
  }

  return {
    rank,
    id: spec.id,
    name: spec.name,
    family: spec.family,
    hfRepo: spec.hfRepo,
    onnxRepo: spec.onnxRepo,
    paramsTotal: spec.paramsTotal,
    paramsActive: spec.paramsActive,
    qualityProxy: Math.round(qualityProxy(spec)),
    quality,
    device: { kind: device.kind, name: device.name },
    format: chosen.format,
    fit: e.fit,
    memory: {
      weightBytes: chosen.fit.weightBytes,
      kvBytes: chosen.fit.kvBytes,
      activationBytes: chosen.fit.activationBytes,
      runtimeOverheadBytes: chosen.fit.runtimeOverheadBytes,
      totalBytes: chosen.fit.totalBytes,
      usableBytes: chosen.fit.usableBytes,
      availableBytes: chosen.fit.availableBytes,
      maxContext: chosen.fit.maxContext,
      kvDtype: chosen.fit.kvDtype,
      basis: chosen.fit.basis,
    },
    speed: {
      decodeTokPerSec: speed?.decodeTokPerSec ?? null,
      prefillTokPerSec: speed?.prefillTokPerSec ?? null,
      ttftMs: speed?.ttftMs ?? null,
      decodeBound: speed?.decodeBound ?? null,
      basis: {
        bandwidthBytesPerSec: speed?.basis.bandwidthBytesPerSec ?? device.bandwidthBytesPerSec,
        bandwidthSource: device.bandwidthSource,
        peakFlops: device.peakFlops,
        efficiency: speed?.basis.efficiency ?? defaultEfficiency(device),
        band: speed?.basis.band ?? { low: 0.5, high: 1.5 },
        weightBytesPerStep: speed?.basis.weightBytesPerStep ?? 0,
        kvBytesPerStep: speed?.basis.kvBytesPerStep ?? 0,
        context: speed?.basis.context ?? targets.contextTokens,
        concurrency: targets.concurrency,
        formula: speed?.basis.formula ?? '',
        notes: speed?.basis.notes ?? [],
      },
    },
    meets: chosen.meets,
    tradeoffs,
    reasons,
    finetune,
    topology: chosen.topology ? summarizeTopology(chosen.topology) : null,
    ...(e.fixed ? { engine: e.fixed.engine, variant: e.fixed.variant } : {}),
  };
}

/** The layout of a candidate on a cluster, for the report. */
export function summarizeTopology(plan: TopologyPlan): CandidateTopology {
  const c = plan.decode.communication;
  return {
    tp: plan.layout.tp,
    pp: plan.layout.pp,
    dp: plan.layout.dp,
    gpusPerReplica: plan.gpusPerReplica,
    gpusUsed: plan.gpusUsed,
    nodesPerReplica: plan.nodesPerReplica,
    concurrencyPerReplica: plan.concurrencyPerReplica,
    perGpu: {
      weightBytes: Math.round(plan.perGpu.weightBytes),
      kvBytes: Math.round(plan.perGpu.kvBytes),
      activationBytes: Math.round(plan.perGpu.activationBytes),
      runtimeOverheadBytes: Math.round(plan.perGpu.runtimeOverheadBytes),
      totalBytes: Math.round(plan.perGpu.totalBytes),
      usableBytes: Math.round(plan.perGpu.usableBytes),
    },
    decodeTokPerSecPerGpu: plan.decode.tokPerSecTotal === null ? null : plan.decode.tokPerSecTotal.value / plan.gpusUsed,
    communication: {
      decodeTpSec: c.tpSec,
      decodePpSec: c.ppSec,
      prefillTpSec: plan.prefill.communication.tpSec,
      prefillPpSec: plan.prefill.communication.ppSec,
      allReducesPerStep: c.allReduces,
      kernelFloorSec: plan.decode.kernelFloorSec,
    },
    interconnect: {
      intraNode: { kind: plan.interconnect.intraNode.kind, bytesPerSec: plan.interconnect.intraNode.bytesPerSec, latencySec: plan.interconnect.intraNode.latencySec, source: plan.interconnect.intraNode.source },
      interNode: plan.interconnect.interNode === null
        ? null
        : { kind: plan.interconnect.interNode.kind, bytesPerSec: plan.interconnect.interNode.bytesPerSec, latencySec: plan.interconnect.interNode.latencySec, source: plan.interconnect.interNode.source },
    },
    formula: plan.formula,
  };
}

function describeTopology(plan: TopologyPlan, device: DeviceTarget): string {
  const c = plan.decode.communication;
  const comm = c.tpSec + c.ppSec;
  const replicas = plan.layout.dp > 1 ? `, ${plan.layout.dp} replicas of ${plan.gpusPerReplica} GPUs (${plan.concurrencyPerReplica} stream${plan.concurrencyPerReplica === 1 ? '' : 's'} each)` : '';
  const stream = plan.decode.stepSec === null ? '' : `; ${(comm * 1000).toFixed(2)} ms of the ${(plan.decode.stepSec * 1000).toFixed(2)} ms decode step is communication (${c.allReduces} all-reduces${c.stageHops > 0 ? `, ${c.stageHops} stage send${c.stageHops === 1 ? '' : 's'}` : ''})`;
  return `layout ${describeLayout(plan.layout)} on ${device.name}${replicas}: ${gib(plan.perGpu.totalBytes)} GiB of ${gib(plan.perGpu.usableBytes)} GiB usable per GPU${stream}`;
}

function summarizeFinetune(m: FinetuneMemory): FinetuneSummary {
  return {
    method: m.method,
    rank: m.rank,
    batch: m.batch,
    seqLen: m.seqLen,
    frozenWeightBytes: m.frozenWeightBytes,
    adapterBytes: m.adapterBytes,
    gradientBytes: m.gradientBytes,
    optimizerBytes: m.optimizerBytes,
    activationBytes: m.activationBytes,
    totalBytes: m.totalBytes,
    usableBytes: m.usableBytes,
    fits: m.fits,
    reason: m.reason,
  };
}

function summarizeEpoch(t: FinetuneTime): NonNullable<Candidate['finetune']>['epoch'] {
  return { tokens: t.tokens, flopsPerToken: t.flopsPerToken, seconds: t.seconds, feasible: t.feasible, formula: t.basis.formula };
}

/** "one epoch of 10 M tokens ≈ 3.2 h on the GPU (1.6–6.4 h)" (`where` empty: no place named), and when too slow, that it is not practical. */
export function describeEpoch(t: FinetuneTime, where: string): string {
  const size = `one epoch of ${t.tokens / 1e6} M tokens`;
  if (t.seconds === null) return `${size}: no time estimate (the peak FLOP/s of ${where} is unknown)`;
  const text = `${size} ≈ ${formatCoarseDuration(t.seconds.value)}${where ? ` on ${where}` : ''} (${formatCoarseDuration(t.seconds.low)}–${formatCoarseDuration(t.seconds.high)})`;
  return t.feasible === false ? `${text}: fits, but not practical here` : text;
}

function describeMisses(meets: Candidate['meets'], speed: SpeedEstimate | null, targets: Targets): string {
  const misses: string[] = [];
  if (meets.decodeTokensPerSec === false && speed?.decodeTokPerSec) misses.push(`decodes at ${fmt(speed.decodeTokPerSec.value)} < ${targets.decodeTokensPerSec} tok/s`);
  if (meets.ttft === false && speed?.ttftMs) misses.push(`TTFT ${fmtMs(speed.ttftMs.value)} > ${fmtMs(targets.maxTtftMs)}`);
  return misses.length > 0 ? misses.join(' and ') : 'is slower';
}

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}

function fmt(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toPrecision(2);
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${fmt(ms / 1000)} s` : `${Math.round(ms)} ms`;
}

function fmtParams(count: number): string {
  return count >= 1e9 ? `${fmt(count / 1e9)}B` : `${fmt(count / 1e6)}M`;
}
