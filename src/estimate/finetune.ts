import type { ModelSpec } from '../catalog/model-spec.js';
import { listWeightTensors, type WeightTensorGroup } from '../catalog/tensors.js';
import type { DeviceTarget } from './device.js';
import { DEFAULT_HEADROOM_FRACTION } from './fit.js';

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
