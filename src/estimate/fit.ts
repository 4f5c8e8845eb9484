import type { ModelSpec } from '../catalog/model-spec.js';
import type { DeviceTarget } from './device.js';
import { kvCacheBreakdown, type KvDtype } from './kv-cache.js';
import { weightBytes, type WeightBytesOptions, type WeightFormat } from './weights.js';

/**
 * The KV dtype a runtime keeps for a weight format. On a CPU (ONNX Runtime): fp16 models cache fp16, fp32 and
 * q4 (fp32 activations) cache fp32. On a GPU a serving engine computes in the model's 16-bit dtype whatever
 * the weights are stored in (int8 and int4 weights are dequantized into fp16 matmuls, W8A16 / W4A16), so the
 * cache is fp16 (bf16 for bf16 models, fp32 only for fp32 weights).
 */
export function defaultKvDtype(format: WeightFormat, kind: 'cpu' | 'gpu' = 'cpu'): KvDtype {
  if (kind === 'gpu') return format === 'fp32' ? 'fp32' : format === 'bf16' ? 'bf16' : 'fp16';
  return format === 'fp16' || format === 'q4f16' ? 'fp16' : format === 'bf16' ? 'bf16' : 'fp32';
}

/** How many tokens and sequences a serving engine schedules into one forward pass on a GPU. */
export interface ServingBatchLimits {
  maxTokensPerPass: number;
  maxSequences: number;
  source: string;
}

/**
 * vLLM's defaults for `vllm serve` (V1 engine, chunked prefill always on): `EngineArgs.get_batch_defaults` in
 * vllm/engine/arg_utils.py gives the OpenAI server max_num_batched_tokens 8,192 and max_num_seqs 1,024 on a
 * GPU with at least 70 GiB that is not an A100, else 2,048 and 256. A long prompt is prefilled in chunks of
 * at most that many tokens, so the activations of one pass never exceed them, whatever concurrency × context.
 */
export function servingBatchLimits(gpu: { name: string; memoryTotalBytes: number }): ServingBatchLimits {
  const big = gpu.memoryTotalBytes >= 70 * 1024 ** 3 && !/a100/i.test(gpu.name);
  return big
    ? { maxTokensPerPass: 8192, maxSequences: 1024, source: 'vLLM serve default on a GPU of ≥ 70 GiB other than A100 (EngineArgs.get_batch_defaults)' }
    : { maxTokensPerPass: 2048, maxSequences: 256, source: 'vLLM serve default on a GPU under 70 GiB or an A100 (EngineArgs.get_batch_defaults)' };
}

/** Share of the available memory left free for the OS, other processes and fragmentation. */
export const DEFAULT_HEADROOM_FRACTION = 0.1;

/**
 * On a CPU, resident memory beyond the weight tensors while ONNX Runtime holds a model: buffers of the
 * loaded external data and prepacked copies, as a fraction of the weights. Fitted with `cpuActivationBytes`
 * and a 200 MiB runtime to the peak RSS of fused and standard graphs, fp32 and int4 (SmolLM2-135M/360M,
 * gpt2 at 512 and 2,048 tokens): all within 11 %.
 */
export const CPU_WEIGHT_RESIDENT_OVERHEAD = 0.15;

/** Prompt tokens processed in one forward pass that the activation workspace is sized for. */
export const PREFILL_CHUNK_TOKENS = 2048;

export interface FitInput {
  spec: ModelSpec;
  format: WeightFormat;
  /** Tokens per sequence (prompt + generated). */
  context: number;
  concurrency?: number;
  kvDtype?: KvDtype;
  device: Pick<DeviceTarget, 'memoryAvailableBytes' | 'runtimeOverheadBytes' | 'kind'> & Partial<Pick<DeviceTarget, 'name' | 'memoryTotalBytes' | 'count'>>;
  /** On a GPU: the serving engine's tokens and sequences per forward pass (default: `servingBatchLimits` of one of the device's GPUs). */
  servingLimits?: ServingBatchLimits;
  /** Fraction of available memory kept free (default 0.10). */
  headroomFraction?: number;
  weightOptions?: WeightBytesOptions;
  /**
   * The graph form that will run on a CPU (see `estimateSpeed`): with it, the activation term is what ONNX
   * Runtime's CPU kernels allocate for the prompt (attention scores, logits of the last or of every
   * position); without it, the generic fp32 buffers of one chunk.
   */
  graph?: 'fused' | 'standard';
}

export interface MemoryFit {
  fits: boolean;
  weightBytes: number;
  kvBytes: number;
  /** Transient buffers of a forward pass: hidden states, MLP intermediates and logits for one prefill chunk. */
  activationBytes: number;
  runtimeOverheadBytes: number;
  /** weights + KV + activations + runtime overhead. */
  totalBytes: number;
  availableBytes: number;
  headroomBytes: number;
  /** available − headroom: what the model may use. */
  usableBytes: number;
  /** usable − total (negative when it does not fit). */
  marginBytes: number;
  /** Why it does not fit, in one sentence; null when it fits. */
  reason: string | null;
  /** Largest context per sequence that fits at this concurrency (≤ the model's maximum); 0 when the weights alone do not fit. */
  maxContext: number;
  kvDtype: KvDtype;
  context: number;
  concurrency: number;
  basis: {
    kvFormula: string;
    headroomFraction: number;
    activationAssumption: string;
  };
}

/** Activation workspace of one forward pass over `tokens` tokens per sequence (fp32 buffers). */
export function activationBytes(spec: ModelSpec, tokens: number, concurrency: number): number {
  const chunk = Math.max(1, Math.min(tokens, PREFILL_CHUNK_TOKENS));
  const ffnWidth = spec.moe ? spec.moe.expertIntermediateSize * (spec.moe.activeExperts + spec.moe.sharedExperts) : spec.intermediateSize;
  const qkvWidth = spec.numHeads * spec.headDim + 2 * spec.numKvHeads * spec.headDim;
  // Residual + normed hidden + attention output (3 × hidden), q/k/v, gate/up/act (3 × ffn) — fp32.
  const perToken = (3 * spec.hiddenSize + qkvWidth + 3 * ffnWidth) * 4;
  // Logits of the last position only (generation) — vocab × fp32 per sequence.
  return concurrency * (chunk * perToken + spec.vocabSize * 4);
}

/**
 * Activation memory of one forward pass of a serving engine on a GPU: the engine schedules at most
 * `maxTokensPerPass` tokens (chunked prefill) of at most `maxSequences` sequences into a pass, so the
 * hidden states, q/k/v and MLP intermediates are those of min(cap, concurrency × context) tokens in the
 * compute dtype (2 bytes; 4 for fp32 weights); attention is fused (FlashAttention: no score matrix) and the
 * sampler keeps fp32 logits of the last position of each scheduled sequence.
 */
export function gpuActivationBytes(spec: ModelSpec, format: WeightFormat, tokens: number, concurrency: number, limits: Pick<ServingBatchLimits, 'maxTokensPerPass' | 'maxSequences'>): number {
  const inPass = Math.max(1, Math.min(limits.maxTokensPerPass, tokens * concurrency));
  const sequences = Math.max(1, Math.min(concurrency, limits.maxSequences, inPass));
  const ffnWidth = spec.moe ? spec.moe.expertIntermediateSize * (spec.moe.activeExperts + spec.moe.sharedExperts) : spec.intermediateSize;
  const qkvWidth = spec.numHeads * spec.headDim + 2 * spec.numKvHeads * spec.headDim;
  const element = format === 'fp32' ? 4 : 2;
  const perToken = (3 * spec.hiddenSize + qkvWidth + 3 * ffnWidth) * element;
  return inPass * perToken + sequences * spec.vocabSize * 4;
}

/**
 * Activation memory of ONNX Runtime's CPU kernels for a prompt of `tokens` tokens (at most one chunk):
 * the fp32 buffers of `activationBytes`, the attention scores and probabilities of every head (the CPU
 * kernels materialise them: 2 × heads × tokens² × 4 bytes), and the logits — of the last position in a
 * fused graph, of every position in a standard one — twice (the output and its copy into JavaScript).
 */
export function cpuActivationBytes(spec: ModelSpec, tokens: number, concurrency: number, graph: 'fused' | 'standard'): number {
  const chunk = Math.max(1, Math.min(tokens, PREFILL_CHUNK_TOKENS));
  const ffnWidth = spec.moe ? spec.moe.expertIntermediateSize * (spec.moe.activeExperts + spec.moe.sharedExperts) : spec.intermediateSize;
  const qkvWidth = spec.numHeads * spec.headDim + 2 * spec.numKvHeads * spec.headDim;
  const perToken = (3 * spec.hiddenSize + qkvWidth + 3 * ffnWidth) * 4;
  const scores = 2 * spec.numHeads * chunk * chunk * 4;
  const logits = (graph === 'fused' ? 1 : chunk) * spec.vocabSize * 4 * 2;
  return concurrency * (chunk * perToken + scores + logits);
}

/**
 * Does the model fit in the device's AVAILABLE memory (free VRAM or available RAM), with the runtime's own
 * overhead and a headroom kept free? When not, says why and the largest context that would fit.
 */
export function fitMemory(input: FitInput): MemoryFit {
  const concurrency = input.concurrency ?? 1;
  const kvDtype = input.kvDtype ?? defaultKvDtype(input.format, input.device.kind);
  const headroomFraction = input.headroomFraction ?? DEFAULT_HEADROOM_FRACTION;
  const weights = weightBytes(input.spec, input.format, input.weightOptions ?? {}).totalBytes;
  const available = Math.max(0, input.device.memoryAvailableBytes);
  const headroomBytes = Math.round(available * headroomFraction);
  const usable = available - headroomBytes;
  const overhead = input.device.runtimeOverheadBytes;
  const weightFactor = input.graph && input.device.kind === 'cpu' ? 1 + CPU_WEIGHT_RESIDENT_OVERHEAD : 1;
  const gpuCount = Math.max(1, input.device.count ?? 1);
  const limits =
    input.device.kind === 'gpu'
      ? (input.servingLimits ?? servingBatchLimits({ name: input.device.name ?? '', memoryTotalBytes: (input.device.memoryTotalBytes ?? input.device.memoryAvailableBytes) / gpuCount }))
      : null;

  const totalAt = (tokens: number): { kv: number; act: number; total: number; formula: string } => {
    const kv = kvCacheBreakdown(input.spec, { tokens, dtype: kvDtype, concurrency });
    const act = limits
      ? gpuActivationBytes(input.spec, input.format, tokens, concurrency, limits)
      : input.graph
        ? cpuActivationBytes(input.spec, tokens, concurrency, input.graph)
        : activationBytes(input.spec, tokens, concurrency);
    return { kv: kv.totalBytes, act, total: weights + Math.round(weights * (weightFactor - 1)) + kv.totalBytes + act + overhead, formula: kv.formula };
  };
  const at = totalAt(input.context);
  const fits = at.total <= usable;

  // Largest context that fits: memory grows monotonically with tokens, so bisect.
  let maxContext = 0;
  if (totalAt(1).total <= usable) {
    let lo = 1;
    let hi = input.spec.maxContext;
    if (totalAt(hi).total <= usable) lo = hi;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (totalAt(mid).total <= usable) lo = mid;
      else hi = mid - 1;
    }
    maxContext = lo;
  }

  let reason: string | null = null;
  if (!fits) {
    const where = input.device.kind === 'gpu' ? 'free VRAM' : 'available RAM';
    if (weights + overhead > usable) {
      reason = `the ${input.format} weights alone (${gib(weights)} GiB + ${gib(overhead)} GiB runtime) exceed the ${gib(usable)} GiB usable of ${gib(available)} GiB ${where}`;
    } else if (maxContext === 0) {
      reason = `weights fit but not even one token of KV cache does within ${gib(usable)} GiB usable ${where}`;
    } else {
      reason = `the KV cache for ${input.context} tokens × ${concurrency} sequence${concurrency === 1 ? '' : 's'} (${gib(at.kv)} GiB) does not fit beside the weights in ${gib(usable)} GiB usable ${where}; at most ${maxContext} tokens fit`;
    }
  }
  return {
    fits,
    weightBytes: weights,
    kvBytes: at.kv,
    activationBytes: at.act,
    // The runtime's copies of weight buffers count as runtime overhead, so the parts add up to the total.
    runtimeOverheadBytes: overhead + Math.round(weights * (weightFactor - 1)),
    totalBytes: at.total,
    availableBytes: available,
    headroomBytes,
    usableBytes: usable,
    marginBytes: usable - at.total,
    reason,
    maxContext,
    kvDtype,
    context: input.context,
    concurrency,
    basis: {
      kvFormula: at.formula,
      headroomFraction,
      activationAssumption: limits
        ? `one forward pass of a serving engine: at most ${limits.maxTokensPerPass} tokens of at most ${limits.maxSequences} sequences (${limits.source}), ${input.format === 'fp32' ? 'fp32' : '16-bit'} activations, fused attention, fp32 logits of each scheduled sequence`
        : input.graph
          ? `ONNX Runtime on the CPU, ${input.graph} graph: fp32 activations and the attention scores of every head for up to ${PREFILL_CHUNK_TOKENS} prompt tokens, logits of ${input.graph === 'fused' ? 'the last position' : 'every position'} (twice), weights held ×${1 + CPU_WEIGHT_RESIDENT_OVERHEAD}`
          : `fp32 activations of one forward pass over up to ${PREFILL_CHUNK_TOKENS} tokens per sequence plus last-position logits; attention scores assumed fused (not materialised)`,
    },
  };
}

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}
