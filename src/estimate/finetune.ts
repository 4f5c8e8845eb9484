import type { ModelSpec } from '../catalog/model-spec.js';
import { listWeightTensors, type WeightTensorGroup } from '../catalog/tensors.js';
import { defaultEfficiency, errorBand, type DeviceTarget, type Efficiency } from './device.js';
import { DEFAULT_HEADROOM_FRACTION } from './fit.js';
import { attentionFlops, matmulFlopsPerToken } from './speed.js';

/**
 * Memory of parameter-efficient fine-tuning, the way PEFT + bitsandbytes run it:
 * - LoRA: the frozen base in bf16 (2 B/param).
 * - QLoRA: every linear layer of the base in NF4 with double quantisation — 4 bits per weight, an 8-bit
 *   absmax per block of 64 and an fp32 second-level constant per 256 blocks: 4 + 8/64 + 32/(64·256) =
 *   4.127 bits per weight; embeddings, norms and the LM head stay bf16 (bitsandbytes skips them).
 * - Adapters: for each targeted linear K→N, rank × (K + N) parameters, kept in fp32 (4 B) with fp32
 *   gradients (4 B) and AdamW's two fp32 moments (8 B): 16 B per adapter parameter.
 * - Activations (bf16) with gradient checkpointing: each layer's input (2·s·b·h bytes) is kept, plus one
 *   layer's full activations while it is recomputed (34·s·b·h bytes, Korthikanti et al. 2022 with fused
 *   attention), plus the fp32 logits and their gradient (2 × s·b·vocab × 4 B).
 */
export type FinetuneMethod = 'lora' | 'qlora';

export interface FinetuneInput {
  spec: ModelSpec;
  method: FinetuneMethod;
  /** LoRA rank r (default 16). */
  rank?: number;
  /** Sequences per step (default 1). */
  batch?: number;
  /** Tokens per sequence (default 2048). */
  seqLen?: number;
  /** `all-linear` (default, what QLoRA recommends) or `attention` (q, k, v, o only). */
  targetModules?: 'all-linear' | 'attention';
  gradientCheckpointing?: boolean;
  device: Pick<DeviceTarget, 'memoryAvailableBytes' | 'runtimeOverheadBytes' | 'kind'>;
  headroomFraction?: number;
}

export interface FinetuneMemory {
  method: FinetuneMethod;
  rank: number;
  batch: number;
  seqLen: number;
  targetModules: 'all-linear' | 'attention';
  frozenWeightBytes: number;
  adapterParams: number;
  adapterBytes: number;
  gradientBytes: number;
  optimizerBytes: number;
  activationBytes: number;
  runtimeOverheadBytes: number;
  totalBytes: number;
  availableBytes: number;
  usableBytes: number;
  fits: boolean;
  reason: string | null;
  basis: { formula: string; gradientCheckpointing: boolean; headroomFraction: number };
}

export const NF4_BITS_PER_WEIGHT = 4 + 8 / 64 + 32 / (64 * 256);

function isTargeted(group: WeightTensorGroup, target: 'all-linear' | 'attention'): boolean {
  if (!group.quantizable || group.role === 'lm-head' || group.role === 'router') return false;
  return target === 'all-linear' || group.role === 'attention';
}

export function finetuneMemory(input: FinetuneInput): FinetuneMemory {
  const { spec } = input;
  const rank = input.rank ?? 16;
  const batch = input.batch ?? 1;
  const seqLen = input.seqLen ?? 2048;
  const target = input.targetModules ?? 'all-linear';
  const checkpointing = input.gradientCheckpointing ?? true;
  const headroomFraction = input.headroomFraction ?? DEFAULT_HEADROOM_FRACTION;

  let frozen = 0;
  let adapterParams = 0;
  for (const group of listWeightTensors(spec)) {
    const elements = group.rows * group.cols * group.count;
    const nf4 = input.method === 'qlora' && group.quantizable && group.role !== 'lm-head';
    frozen += nf4 ? (elements * NF4_BITS_PER_WEIGHT) / 8 : elements * 2;
    if (isTargeted(group, target)) adapterParams += rank * (group.rows + group.cols) * group.count;
  }
  frozen = Math.round(frozen);
  const adapterBytes = adapterParams * 4;
  const gradientBytes = adapterParams * 4;
  const optimizerBytes = adapterParams * 8;

  const sbh = seqLen * batch * spec.hiddenSize;
  const perLayerFull = 34 * sbh;
  const layerActivations = checkpointing ? spec.numLayers * 2 * sbh + perLayerFull : spec.numLayers * perLayerFull;
  const logits = 2 * seqLen * batch * spec.vocabSize * 4;
  const activationBytes = layerActivations + logits;

  const overhead = input.device.runtimeOverheadBytes;
  const totalBytes = frozen + adapterBytes + gradientBytes + optimizerBytes + activationBytes + overhead;
  const available = Math.max(0, input.device.memoryAvailableBytes);
  const usable = available - Math.round(available * headroomFraction);
  const fits = totalBytes <= usable;
  let reason: string | null = null;
  if (!fits) {
    const where = input.device.kind === 'gpu' ? 'free VRAM' : 'available RAM';
    const gib = (b: number): string => (b / 1024 ** 3).toFixed(1);
    const biggest = frozen >= activationBytes ? `the frozen ${input.method === 'qlora' ? 'NF4' : 'bf16'} base (${gib(frozen)} GiB)` : `activations at batch ${batch} × ${seqLen} tokens (${gib(activationBytes)} GiB)`;
    reason = `${input.method.toUpperCase()} needs ${gib(totalBytes)} GiB, more than the ${gib(usable)} GiB usable of ${gib(available)} GiB ${where}; the largest part is ${biggest}`;
  }
  return {
    method: input.method,
    rank,
    batch,
    seqLen,
    targetModules: target,
    frozenWeightBytes: frozen,
    adapterParams,
    adapterBytes,
    gradientBytes,
    optimizerBytes,
    activationBytes,
    runtimeOverheadBytes: overhead,
    totalBytes,
    availableBytes: available,
    usableBytes: usable,
    fits,
    reason,
    basis: {
      formula: `${input.method === 'qlora' ? `NF4 base (${NF4_BITS_PER_WEIGHT.toFixed(3)} bits/weight, bf16 embeddings/norms/LM head)` : 'bf16 base'} + rank-${rank} adapters on ${target} layers (fp32 weights, gradients and AdamW moments: 16 B/param) + bf16 activations ${checkpointing ? 'with' : 'without'} gradient checkpointing + fp32 logits and their gradient`,
      gradientCheckpointing: checkpointing,
      headroomFraction,
    },
  };
}

/** The dataset size fine-tuning time is quoted for when none is given: 10 M tokens per epoch. */
export const DEFAULT_EPOCH_TOKENS = 10_000_000;

/** Longer than this per epoch, a fine-tuning run that fits in memory is still not practical here. */
export const FEASIBLE_EPOCH_SECONDS = 7 * 24 * 3600;

export interface FinetuneTimeInput {
  spec: ModelSpec;
  /** Training tokens per epoch. */
  tokens: number;
  /** Tokens per sequence (the attention term grows with it). */
  seqLen: number;
  device: Pick<DeviceTarget, 'kind' | 'bandwidthSource' | 'peakFlops'>;
  /** Compute efficiency of the device; default: the estimator's prefill efficiency for it. */
  efficiency?: Efficiency;
  gradientCheckpointing?: boolean;
}

export interface FinetuneTime {
  tokens: number;
  /** FLOPs per training token: forward, the recomputation (with checkpointing) and the backward pass. */
  flopsPerToken: number;
  /** Seconds for one epoch, with its error band; null when the device's peak FLOP/s is unknown. */
  seconds: { value: number; low: number; high: number } | null;
  /** One epoch within FEASIBLE_EPOCH_SECONDS (null when unknown). */
  feasible: boolean | null;
  basis: { formula: string; efficiency: number; peakFlops: number | null };
}

/**
 * Time of one epoch of LoRA / QLoRA fine-tuning from the device's FLOP/s. A training token costs the
 * forward pass, its recomputation under gradient checkpointing, and a backward pass that — the base being
 * frozen — computes gradients of the activations only, about one forward's worth (Hu et al. 2021, LoRA §4.2:
 * no gradients or optimizer states for the frozen weights); so 3 forward passes with checkpointing, 2 without.
 * Forward FLOPs per token = 2 × active params + causal attention at the sequence length (as the prefill
 * estimate). Compute runs at the device's prefill efficiency. QLoRA also dequantizes NF4 weights every
 * step, which this does not count: read its time as a lower bound.
 */
export function finetuneTime(input: FinetuneTimeInput): FinetuneTime {
  const { spec, tokens, device } = input;
  const seqLen = Math.max(1, input.seqLen);
  const passes = (input.gradientCheckpointing ?? true) ? 3 : 2;
  const forwardPerToken = matmulFlopsPerToken(spec) + attentionFlops(spec, seqLen) / seqLen;
  const flopsPerToken = passes * forwardPerToken;
  const efficiency = input.efficiency ?? defaultEfficiency(device);
  const peak = device.peakFlops;
  const band = errorBand(efficiency);
  let seconds: FinetuneTime['seconds'] = null;
  if (peak !== null && peak > 0 && efficiency.prefill > 0) {
    const value = (tokens * flopsPerToken) / (peak * efficiency.prefill);
    // A faster device than assumed (band.high) takes less time, and the other way round.
    seconds = { value, low: value / band.high, high: value / band.low };
  }
  return {
    tokens,
    flopsPerToken,
    seconds,
    feasible: seconds === null ? null : seconds.value <= FEASIBLE_EPOCH_SECONDS,
    basis: {
      formula: `${passes} × (2 × active params + causal attention at ${seqLen} tokens) FLOPs per token ÷ (peak FLOP/s × ${efficiency.prefill.toFixed(2)})`,
      efficiency: efficiency.prefill,
      peakFlops: peak,
    },
  };
}
