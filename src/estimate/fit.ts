import type { ModelSpec } from '../catalog/model-spec.js';
import type { DeviceTarget } from './device.js';
import { kvCacheBreakdown, type KvDtype } from './kv-cache.js';
import { DEFAULT_INT4, weightBytes, type WeightBytesOptions, type WeightFormat } from './weights.js';

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
 * On a CPU, the share of int4 (`q4`, `q4f16`) weights ONNX Runtime holds a second time: `MatMulNBits`
 * prepacks its blocks into MLAS's layout for the int8 compute path at session creation (data, scales and
 * per-block sums) while part of the file's copy stays resident. Measured as RSS after session creation less
 * the process before it, the weights and the session's own ~30 MiB, it falls with the block size (fewer
 * per-block scales and sums): Qwen2.5-0.5B 0.66 at block 32, 0.49 at 64, 0.38 at 128; 0.56–0.67 at block 32
 * for SmolLM2-135M/360M and gpt2. Fitted as 0.30 + 10.5 ÷ block size (0.63 at 32, 0.38 at 128).
 */
export function cpuInt4PrepackFraction(blockSize: number = DEFAULT_INT4.blockSize): number {
  return 0.3 + 10.5 / blockSize;
}

/**
 * On a CPU, int8 weights (`MatMulInteger`, dynamic quantization) held beyond the file's bytes, as a fraction:
 * not measured (a stated allowance).
 */
export const CPU_INT8_RESIDENT_OVERHEAD = 0.15;

/**
 * The KV cache's copies alive at a prompt's peak on a CPU beyond the cache itself, by graph form. Standard
 * graph (growing cache): ONNX Runtime's `present` outputs (every layer's, alive until the run returns) and
 * their copy into JavaScript, each the whole cache — 2, fitted to the peaks at 512 and 2,048 tokens. Fused
 * graph (the direct layout): the loop's buffers hold the cache once, and only the last prompt pass's new
 * positions exist again, as ONNX Runtime's presents (whose memory its arena keeps) and their copy into
 * JavaScript — 1.0 × the positions of one pass, fitted to the twelve fused peaks at 512 and 2,048 tokens
 * measured with passes of 256 (−0.2…+6 %; 0 and 0.5 fit as well, and 2.5, fitted when passes were 512, put
 * SmolLM2-135M q4 at 2,048 10.5 % over; docs/benchmarks.md, "Prompt passes of 256").
 */
export const CPU_KV_EXTRA_COPIES = { fused: 1.0, standard: 2 } as const;

/** Bytes of the KV cache's transient copies at a prompt's peak on a CPU (see `CPU_KV_EXTRA_COPIES`). */
export function cpuKvTransientBytes(spec: ModelSpec, tokens: number, concurrency: number, graph: 'fused' | 'standard', dtype: KvDtype, ubatch: number = DEFAULT_UBATCH_SIZE): number {
  if (graph === 'standard') return CPU_KV_EXTRA_COPIES.standard * kvCacheBreakdown(spec, { tokens, dtype, concurrency }).totalBytes;
  const pass = Math.max(1, Math.min(tokens, concurrency === 1 && ubatch > 0 ? ubatch : PREFILL_CHUNK_TOKENS));
  return CPU_KV_EXTRA_COPIES.fused * kvCacheBreakdown(spec, { tokens: pass, dtype, concurrency }).totalBytes;
}

/**
 * Bytes of weights ONNX Runtime holds on a CPU beyond the model file's (see `fitMemory`): for int4 formats
 * the prepacked blocks (`cpuInt4PrepackFraction`); for float formats with tied embeddings a second copy
 * of the vocabulary matrix (the LM head's transposed view of the shared table is folded into its own
 * initializer — measured: RSS after creation − weights = the table + ~30 MiB for every fp32 model); for int8
 * `CPU_INT8_RESIDENT_OVERHEAD`.
 */
export function cpuWeightCopyBytes(spec: ModelSpec, format: WeightFormat, weights: number, int4BlockSize: number = DEFAULT_INT4.blockSize): number {
  if (format === 'q4' || format === 'q4f16') return Math.round(weights * cpuInt4PrepackFraction(int4BlockSize));
  if (format === 'int8') return Math.round(weights * CPU_INT8_RESIDENT_OVERHEAD);
  if (!spec.tieWordEmbeddings) return 0;
  const element = format === 'fp32' ? 4 : 2;
  return spec.vocabSize * spec.hiddenSize * element;
}

/** Prompt tokens processed in one forward pass that the activation workspace is sized for. */
export const PREFILL_CHUNK_TOKENS = 2048;

/**
 * Most prompt positions of one sequence per forward pass on ONNX Runtime (llama.cpp's `n_ubatch`, whose
 * default is 512): the decode loop (src/runtime/decoder-loop.ts) prefills a longer prompt of one sequence as
 * consecutive passes of this many positions, each attending over the positions before it. Several sequences
 * go in one pass (ONNX Runtime's GroupQueryAttention takes a multi-token pass after a cache only for a batch
 * of one). 256, not 512: ONNX Runtime's arena keeps what the largest pass allocated, and passes of 256 cut
 * SmolLM2-135M's peak at depth 2,048 by a fifth and Qwen2.5-0.5B's by 8 % at the same prefill speed
 * (docs/benchmarks.md, "Prompt passes of 256").
 */
export const DEFAULT_UBATCH_SIZE = 256;

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
 * Activation memory of ONNX Runtime's CPU kernels for a prompt of `tokens` tokens, by phase, as its arena
 * reuses buffers between nodes. One sequence is prefilled in passes of at most `ubatch` positions (see
 * `DEFAULT_UBATCH_SIZE`; 0: one pass), several in one pass of at most `PREFILL_CHUNK_TOKENS`. The peak is
 * the larger of
 * - attention: the residual, normed and output hidden states, q/k/v and the scores of every head — one
 *   heads × pass × attended fp32 matrix in a fused graph (GroupQueryAttention's probabilities; the last pass
 *   attends over all `tokens`), three in a standard one (the MatMul, the masked and the softmaxed scores);
 * - MLP: the residual and normed hidden states and the FFN buffers — in a fused graph the packed gate/up
 *   product and its two halves as the Split writes them (4 × FFN), in a standard one gate, up and the
 *   activation (3 × FFN);
 * plus the logits — of the last position in a fused graph, of every position in a standard one — twice
 * (the output and its copy into JavaScript).
 */
export function cpuActivationBytes(spec: ModelSpec, tokens: number, concurrency: number, graph: 'fused' | 'standard', ubatch: number = DEFAULT_UBATCH_SIZE): number {
  const passes = concurrency === 1 && ubatch > 0;
  const chunk = Math.max(1, Math.min(tokens, passes ? ubatch : PREFILL_CHUNK_TOKENS));
  const attended = passes ? Math.max(chunk, tokens) : chunk;
  const ffnWidth = spec.moe ? spec.moe.expertIntermediateSize * (spec.moe.activeExperts + spec.moe.sharedExperts) : spec.intermediateSize;
  const qkvWidth = spec.numHeads * spec.headDim + 2 * spec.numKvHeads * spec.headDim;
  const scores = (graph === 'fused' ? 1 : 3) * spec.numHeads * chunk * attended * 4;
  const attention = chunk * (3 * spec.hiddenSize + qkvWidth) * 4 + scores;
  const mlp = chunk * (2 * spec.hiddenSize + (graph === 'fused' ? 4 : 3) * ffnWidth) * 4;
  const logits = (graph === 'fused' ? 1 : chunk) * spec.vocabSize * 4 * 2;
  return concurrency * (Math.max(attention, mlp) + logits);
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
  // On a CPU with a known graph form: what ONNX Runtime really holds (see cpuWeightCopyBytes, cpuKvTransientBytes).
  const onnxCpu = input.graph !== undefined && input.device.kind === 'cpu';
  const int4BlockSize = input.weightOptions?.int4?.blockSize ?? DEFAULT_INT4.blockSize;
  const weightCopies = onnxCpu ? cpuWeightCopyBytes(input.spec, input.format, weights, int4BlockSize) : 0;
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
    // The KV cache's transient copies at the prompt's peak count as activations, so the parts add up.
    const actAll = act + (onnxCpu && input.graph ? cpuKvTransientBytes(input.spec, tokens, concurrency, input.graph, kvDtype) : 0);
    return { kv: kv.totalBytes, act: actAll, total: weights + weightCopies + kv.totalBytes + actAll + overhead, formula: kv.formula };
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
    runtimeOverheadBytes: overhead + weightCopies,
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
          ? `ONNX Runtime on the CPU, ${input.graph} graph: the larger of the attention phase (hidden states, q/k/v, ${input.graph === 'fused' ? 'one' : 'three'} heads × tokens² score matrices) and the MLP phase for up to ${PREFILL_CHUNK_TOKENS} prompt tokens in fp32, logits of ${input.graph === 'fused' ? 'the last position' : 'every position'} (twice), ${input.graph === 'fused' ? `the KV cache held once, the last prompt pass's positions ${CPU_KV_EXTRA_COPIES.fused}× more` : `the KV cache held ×${CPU_KV_EXTRA_COPIES.standard + 1}`}; runtime overhead includes the weights ONNX Runtime holds twice (${input.format === 'q4' || input.format === 'q4f16' ? `prepacked int4 blocks, ${cpuInt4PrepackFraction(input.weightOptions?.int4?.blockSize).toFixed(2)} of the weights at block ${input.weightOptions?.int4?.blockSize ?? DEFAULT_INT4.blockSize}` : input.format === 'int8' ? `${CPU_INT8_RESIDENT_OVERHEAD} of the weights, not measured` : input.spec.tieWordEmbeddings ? 'the tied embedding table, copied for the LM head' : 'none'})`
          : `fp32 activations of one forward pass over up to ${PREFILL_CHUNK_TOKENS} tokens per sequence plus last-position logits; attention scores assumed fused (not materialised)`,
    },
  };
}

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}
