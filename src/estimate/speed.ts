import type { ModelSpec } from '../catalog/model-spec.js';
import { countParams, listWeightTensors } from '../catalog/tensors.js';
import { defaultEfficiency, errorBand, type DeviceTarget, type Efficiency } from './device.js';
import { defaultKvDtype } from './fit.js';
import { kvCacheBytes, slidingLayerCount, type KvDtype } from './kv-cache.js';
import { streamedWeightBytesPerStep, weightBytes, type WeightBytesOptions, type WeightFormat } from './weights.js';

export interface SpeedInput {
  spec: ModelSpec;
  format: WeightFormat;
  /** Tokens already in the cache of each sequence while decoding (the context decode speed is quoted at). */
  context: number;
  /** Prompt length for prefill speed and TTFT; defaults to `context`. */
  promptTokens?: number;
  /** Sequences decoded together in one batch. */
  concurrency?: number;
  kvDtype?: KvDtype;
  device: Pick<DeviceTarget, 'kind' | 'bandwidthBytesPerSec' | 'bandwidthSource' | 'peakFlops' | 'name'>;
  /** Overrides the default efficiencies (e.g. calibrated from measurements on this device and format). */
  efficiency?: Efficiency;
  weightOptions?: WeightBytesOptions;
}

export interface Banded {
  value: number;
  low: number;
  high: number;
}

export interface SpeedEstimate {
  /** Decode tokens/s of one sequence (each of `concurrency` sequences gets this rate). Null when the device's bandwidth is unknown. */
  decodeTokPerSec: Banded | null;
  /** Decode tokens/s summed over the `concurrency` sequences. */
  decodeTokPerSecTotal: Banded | null;
  /** Prompt tokens/s of prefill for one request. Null when the device's peak FLOP/s is unknown. */
  prefillTokPerSec: Banded | null;
  /** Time to first token of one request arriving alone: the prefill of `promptTokens` (its last position's logits give the first token, as `ttft_ms` in the bench metrics). */
  ttftMs: Banded | null;
  /** Which limit set the decode speed. */
  decodeBound: 'memory' | 'compute' | null;
  basis: {
    device: string;
    bandwidthBytesPerSec: number | null;
    bandwidthSource: DeviceTarget['bandwidthSource'];
    peakFlops: number | null;
    efficiency: Efficiency;
    band: { low: number; high: number };
    format: WeightFormat;
    kvDtype: KvDtype;
    context: number;
    promptTokens: number;
    concurrency: number;
    activeParams: number;
    /** Weight bytes one decode step streams (active experts; one row of a gathered embedding table). */
    weightBytesPerStep: number;
    /** KV bytes one decode step reads (all sequences at `context`). */
    kvBytesPerStep: number;
    decodeFlopsPerToken: number;
    prefillFlops: number;
    formula: string;
    notes: string[];
  };
}

/** FLOPs of the weight matmuls per token: 2 × the active parameters a token multiplies (gathered tables excluded). */
export function matmulFlopsPerToken(spec: ModelSpec): number {
  let flops = 0;
  for (const group of listWeightTensors(spec)) {
    if (!group.quantizable) continue; // MatMul weights only; embeddings are gathered, norms/biases negligible
    flops += 2 * group.rows * group.cols * group.count * group.activeFraction;
  }
  return flops;
}

/** Attention FLOPs (QKᵀ and AV) for a causal prompt of `tokens` tokens, sliding layers limited to the window. */
export function attentionFlops(spec: ModelSpec, tokens: number): number {
  const qk = spec.mla ? spec.mla.qkNopeHeadDim + spec.mla.qkRopeHeadDim : spec.headDim;
  const v = spec.mla ? spec.mla.vHeadDim : spec.headDim;
  const perPair = 2 * spec.numHeads * (qk + v); // one query attending to one key: QKᵀ plus AV, 2 FLOPs per MAC
  const causalPairs = (span: number): number => {
    // Σ_{i=1..T} min(i, span)
    const t = tokens;
    if (span >= t) return (t * (t + 1)) / 2;
    return (span * (span + 1)) / 2 + (t - span) * span;
  };
  const sliding = slidingLayerCount(spec);
  const global = spec.numLayers - sliding;
  return perPair * (global * causalPairs(tokens) + sliding * causalPairs(spec.slidingWindow ?? tokens));
}

/**
 * Roofline estimate of decode and prefill speed.
 * - Decode step time = max(bytes read ÷ (bandwidth × decode efficiency), FLOPs ÷ (peak × prefill efficiency));
 *   bytes read = streamed weights (active experts) + the KV cache of every sequence at `context`.
 * - Prefill time = max((2 × active params × tokens + attention FLOPs) ÷ (peak × prefill efficiency),
 *   weights ÷ (bandwidth × decode efficiency)); TTFT = prefill time.
 * Every figure carries a multiplicative error band (wide with default efficiencies).
 */
export function estimateSpeed(input: SpeedInput): SpeedEstimate {
  const { spec, format, device } = input;
  const concurrency = Math.max(1, input.concurrency ?? 1);
  const context = Math.max(0, input.context);
  const promptTokens = Math.max(1, input.promptTokens ?? context);
  const kvDtype = input.kvDtype ?? defaultKvDtype(format);
  const efficiency = input.efficiency ?? defaultEfficiency({ kind: device.kind, bandwidthSource: device.bandwidthSource });
  const band = errorBand(efficiency);
  const notes: string[] = [];

  const weightBytesPerStep = streamedWeightBytesPerStep(spec, format, concurrency, input.weightOptions ?? {});
  const kvBytesPerStep = kvCacheBytes(spec, { tokens: context, dtype: kvDtype, concurrency });
  const matmulFlops = matmulFlopsPerToken(spec);
  // Attention of one new token against `context` cached tokens: the increment of the causal sum.
  const decodeAttention = attentionFlops(spec, context + 1) - attentionFlops(spec, context);
  const decodeFlopsPerToken = matmulFlops + decodeAttention;
  const prefillFlops = matmulFlops * promptTokens + attentionFlops(spec, promptTokens);

  const bandwidth = device.bandwidthBytesPerSec;
  const peak = device.peakFlops;
  const effectiveBandwidth = bandwidth === null ? null : bandwidth * efficiency.decode;
  const effectiveFlops = peak === null ? null : peak * efficiency.prefill;

  let decodeStepSec: number | null = null;
  let decodeBound: SpeedEstimate['decodeBound'] = null;
  if (effectiveBandwidth !== null) {
    const memorySec = (weightBytesPerStep + kvBytesPerStep) / effectiveBandwidth;
    const computeSec = effectiveFlops === null ? 0 : (decodeFlopsPerToken * concurrency) / effectiveFlops;
    decodeStepSec = Math.max(memorySec, computeSec);
    decodeBound = computeSec > memorySec ? 'compute' : 'memory';
  } else {
    notes.push(`the memory bandwidth of ${device.name} is unknown: pass --bandwidth (e.g. --bandwidth 900GB/s) for a decode estimate`);
  }

  let prefillSec: number | null = null;
  if (effectiveFlops !== null) {
    const computeSec = prefillFlops / effectiveFlops;
    const weightSec = effectiveBandwidth === null ? 0 : weightBytes(spec, format, input.weightOptions ?? {}).streamedBytesPerToken / effectiveBandwidth;
    prefillSec = Math.max(computeSec, weightSec);
  } else {
    notes.push(`the peak FLOP/s of ${device.name} is unknown: no prefill or TTFT estimate`);
  }

  const banded = (value: number): Banded => ({ value, low: value * band.low, high: value * band.high });
  // A slower device (low band) means a longer time: the time band inverts the rate band.
  const bandedTime = (value: number): Banded => ({ value, low: value / band.high, high: value / band.low });

  if (spec.moe && concurrency > 1) notes.push('a batch of sequences routes to more distinct experts than one token does: assumed uniform routing');
  if (format === 'q4' || format === 'q4f16') notes.push('int4 weights are dequantised on the fly; on CPUs that compute can make decode slower than the bandwidth bound');

  return {
    decodeTokPerSec: decodeStepSec === null ? null : banded(1 / decodeStepSec),
    decodeTokPerSecTotal: decodeStepSec === null ? null : banded(concurrency / decodeStepSec),
    prefillTokPerSec: prefillSec === null ? null : banded(promptTokens / prefillSec),
    ttftMs: prefillSec === null ? null : bandedTime(prefillSec * 1000),
    decodeBound,
    basis: {
      device: device.name,
      bandwidthBytesPerSec: bandwidth,
      bandwidthSource: device.bandwidthSource,
      peakFlops: peak,
      efficiency,
      band,
      format,
      kvDtype,
      context,
      promptTokens,
      concurrency,
      activeParams: countParams(spec).active,
      weightBytesPerStep,
      kvBytesPerStep,
      decodeFlopsPerToken,
      prefillFlops,
      formula: 'decode tok/s = bandwidth × efficiency.decode ÷ (streamed weight bytes + KV bytes at context); prefill tok/s = peak FLOP/s × efficiency.prefill ÷ (2 × active params + attention) per token',
      notes,
    },
  };
}
