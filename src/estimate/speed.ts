import type { ModelSpec } from '../catalog/model-spec.js';
import { countParams, listWeightTensors } from '../catalog/tensors.js';
import { defaultEfficiency, errorBand, type DeviceTarget, type Efficiency } from './device.js';
import { cpuRatesFromPeaks, type CpuRates } from './cpu-rates.js';
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
  device: Pick<DeviceTarget, 'kind' | 'bandwidthBytesPerSec' | 'bandwidthSource' | 'peakFlops' | 'name'> & Partial<Pick<DeviceTarget, 'peakInt8Ops' | 'cpuRates'>>;
  /** Overrides the default efficiencies (e.g. calibrated from measurements on this device and format). */
  efficiency?: Efficiency;
  weightOptions?: WeightBytesOptions;
  /**
   * The graph form that will run: `fused` (ONNX Runtime's fused kernels: GroupQueryAttention, logits of the
   * last position only, the appended KV layout) or `standard` (plain ONNX ops, growing KV cache, logits of
   * every position). Default `standard`. The default CPU model carries a term for each.
   */
  graph?: 'fused' | 'standard';
  /** The GPU execution provider (default `cuda`): WebGPU pays a dispatch cost per layer and step. */
  provider?: 'cuda' | 'webgpu';
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
    /** The graph form the estimate describes. */
    graph: 'fused' | 'standard';
    /** Decode step parts in seconds (weights, KV cache, per-layer dispatch) when the default CPU or GPU model set them. */
    decodeStepParts: { weightsSec: number; kvSec: number; dispatchSec: number } | null;
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

/** FLOPs of the LM head per position: 2 × vocab × hidden (tied or not). */
export function lmHeadFlopsPerToken(spec: ModelSpec): number {
  return 2 * spec.vocabSize * spec.hiddenSize;
}

/**
 * Depth (cached positions) from which a decode step of a fused graph on the CPU reads the KV cache in place
 * (the `direct` KV layout) instead of through GroupQueryAttention, which copies the past every step: where
 * the in-place branch is clearly ahead on SmolLM2-135M and Qwen2.5-0.5B (docs/benchmarks.md). It was 384
 * while that branch was 21 nodes a layer; at 16 the two cost the same at about 128 positions, and at 256
 * the in-place one was 3–10 % faster.
 */
export const DIRECT_MIN_DEPTH = 256;

/**
 * The default CPU model: a decode step and a prompt built from the rates ONNX Runtime's CPU kernels run a
 * decoder at (`CpuRates`: from the decoder-layer probe where `--probe` or `--confirm` ran, else from the ISA's
 * peaks and the bandwidth) and the factors below for what those rates do not cover: the graph form and the
 * attention. Fitted to measurements of `modelscout bench` (2 threads, AMD EPYC with AVX-512 VNNI, idle) of
 * gpt2 (standard graph), SmolLM2-135M/360M and Qwen2.5-0.5B (fused graphs), fp32 and int4 (block 32, accuracy
 * level 4), at 512 and 2,048 tokens, on two days whose kernel speeds differed (each day's own rates, these
 * factors shared):
 * - prefill: the projections' GEMMs at the format's prompt GEMM rate (int4 prompts run MatMulNBits, fp32
 *   prompts MatMul); fused attention (GroupQueryAttention, one small GEMM per head) reaches a fraction of the
 *   fp32 GEMM rate, the standard graph's unfused attention (materialised scores, Softmax, repeated KV heads)
 *   less again;
 * - decode, weights: the slower of reading them (fp32 and fp16 matrix-vector products are bound by it) and
 *   computing with them: int4 at accuracy level 4 unpacks blocks and multiplies in int8 at the probed int4
 *   rate, float formats at a fraction of the fp32 GEMM rate;
 * - decode, KV cache: the fused graph's attention reads the cache at a fraction of the weights' read rate:
 *   through GroupQueryAttention (shallower than `DIRECT_MIN_DEPTH`) it copies the past and repacks the keys
 *   each step, deeper the direct layout reads it in place (`fusedInPlace`); the standard graph's growing
 *   cache is concatenated into fresh tensors and copied out every step, several times slower;
 * - dispatch: a fixed cost per layer and step (kernel launches, thread-pool wake-ups), which dominates the
 *   smallest models; the probe measures it for the fused graph's operators.
 * The standard graph's two decode factors are set from decode at five depths (0–960 positions), whose slope
 * is the cache's cost and whose intercept the dispatch: measured at one context only, as the runs above
 * were, the two trade against each other (docs/cpu-model-and-containers.md, "The standard graph's cache").
 * `decodeInt4` (1.15, was 1.0) centres the int4 rows' decode on the fp32 rows': over three runs on two days
 * (one probe each) int4 decode was underestimated 2–12 points more than fp32's (medians).
 * `decodeCentre` (1.08) divides the whole decode step: over six runs on three days (112 decode rows, each run
 * with its own probe) every model and format came out low alike (run medians −2 to −23 %), and 1.08 is the
 * scale that keeps the worst row of the six closest to the measurement (39 → 34 %); prompts are not scaled.
 */
export const CPU_DEFAULT_MODEL = {
  prefillGemm: { fused: 1.0, standard: 0.79 },
  prefillAttention: { fused: 0.46, standard: 0.42 },
  decodeInt4: 1.15,
  decodeRead: 1.0,
  decodeFloatCompute: 0.43,
  decodeKvRead: { fused: 0.264, fusedInPlace: 0.6, standard: 0.07 },
  dispatch: { fused: 5.4, standard: 3.0 },
  decodeCentre: 1.08,
} as const;

/**
 * Per-layer cost of each decode step on a GPU provider, beyond the roofline: WebGPU dispatches every kernel
 * through the browser-style command queue (about 1 ms per layer per step measured with ONNX Runtime's
 * WebGPU provider on a small model), CUDA launches kernels in microseconds (about 20 µs per layer: 4–10
 * kernels of ~5 µs launch latency each, NVIDIA CUDA C++ Best Practices Guide).
 */
export const GPU_DISPATCH_SEC_PER_LAYER = { cuda: 20e-6, webgpu: 1e-3 } as const;

/** Which of the CPU model's KV read factors a decode step at `context` uses (see `DIRECT_MIN_DEPTH`). */
function kvReadPath(graph: 'fused' | 'standard', context: number): keyof typeof CPU_DEFAULT_MODEL.decodeKvRead {
  return graph === 'fused' && context >= DIRECT_MIN_DEPTH ? 'fusedInPlace' : graph;
}

/** Formats whose CPU decode multiplies in int8 (int4 MatMulNBits at accuracy level 4; int8 weights). */
function int8ComputePath(format: WeightFormat): boolean {
  return format === 'q4' || format === 'q4f16' || format === 'int8';
}

/**
 * Estimate of decode and prefill speed.
 * - With default efficiencies on a CPU: `CPU_DEFAULT_MODEL` — decode step = weights (the slower of
 *   streaming them and computing with them on the format's compute path) + KV cache read at the graph
 *   form's rate + a dispatch cost per layer; prefill = GEMM FLOPs (LM head for the last position only in a
 *   fused graph) and attention FLOPs at the graph form's fractions of the fp32 peak.
 * - Otherwise (GPUs; calibrated efficiencies) the roofline: decode step time = max(bytes read ÷ (bandwidth ×
 *   decode efficiency), FLOPs ÷ (peak × prefill efficiency)), plus the provider's dispatch per layer on a
 *   GPU with default efficiencies; prefill time = max((2 × active params × tokens + attention FLOPs) ÷ (peak
 *   × prefill efficiency), weights ÷ (bandwidth × decode efficiency)); TTFT = prefill time.
 * Every figure carries a multiplicative error band (wide with default efficiencies).
 */
export function estimateSpeed(input: SpeedInput): SpeedEstimate {
  const { spec, format, device } = input;
  const concurrency = Math.max(1, input.concurrency ?? 1);
  const context = Math.max(0, input.context);
  const promptTokens = Math.max(1, input.promptTokens ?? context);
  const kvDtype = input.kvDtype ?? defaultKvDtype(format, device.kind);
  const graph = input.graph ?? 'standard';
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
  // Stated efficiencies (calibrated, or given by the caller) keep the roofline they are fractions of.
  const cpuModel = device.kind === 'cpu' && input.efficiency === undefined;

  let decodeStepSec: number | null = null;
  let decodeBound: SpeedEstimate['decodeBound'] = null;
  let decodeStepParts: SpeedEstimate['basis']['decodeStepParts'] = null;
  let prefillSec: number | null = null;
  let cpuRates: CpuRates | null = null;
  if (cpuModel) {
    const m = CPU_DEFAULT_MODEL;
    const rates = device.cpuRates ?? cpuRatesFromPeaks(device);
    cpuRates = rates;
    // The tied LM head is not among the MatMul weights `matmulFlopsPerToken` counts; it runs every step.
    const headFlops = spec.tieWordEmbeddings ? lmHeadFlopsPerToken(spec) : 0;
    const stepOps = (matmulFlops + headFlops) * concurrency;
    const int4 = int8ComputePath(format);
    const known = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v) && v > 0;
    const gemmRate = rates ? (int4 ? rates.gemmFlopsPerSec.int4 : rates.gemmFlopsPerSec.fp32) : undefined;
    const fp32Gemm = rates?.gemmFlopsPerSec.fp32;
    const dispatchSec = spec.numLayers * (rates?.dispatchSecPerLayer ?? 0) * m.dispatch[graph];
    const kvPath = kvReadPath(graph, context);
    if (rates && known(rates.readBytesPerSec)) {
      const streamSec = weightBytesPerStep / (rates.readBytesPerSec * m.decodeRead);
      const computeRate = int4 ? rates.int4OpsPerSec * m.decodeInt4 : known(fp32Gemm) ? fp32Gemm * m.decodeFloatCompute : undefined;
      const computeSec = known(computeRate) ? stepOps / computeRate : 0;
      const weightsSec = Math.max(streamSec, computeSec);
      const attentionSec = known(fp32Gemm) ? (decodeAttention * concurrency) / (fp32Gemm * m.prefillAttention[graph]) : 0;
      const kvSec = kvBytesPerStep / (rates.readBytesPerSec * m.decodeKvRead[kvPath]) + attentionSec;
      const centre = m.decodeCentre;
      decodeStepParts = { weightsSec: weightsSec / centre, kvSec: kvSec / centre, dispatchSec: dispatchSec / centre };
      decodeStepSec = decodeStepParts.weightsSec + decodeStepParts.kvSec + decodeStepParts.dispatchSec;
      decodeBound = computeSec > streamSec ? 'compute' : 'memory';
    } else {
      notes.push(`the memory bandwidth of ${device.name} is unknown: pass --bandwidth (e.g. --bandwidth 900GB/s) for a decode estimate`);
    }
    if (known(gemmRate) && known(fp32Gemm)) {
      // Fused graphs compute the logits of the last position only; standard graphs of every position.
      const head = lmHeadFlopsPerToken(spec);
      const bodyFlops = matmulFlops - (spec.tieWordEmbeddings ? 0 : head);
      const gemmFlops = bodyFlops * promptTokens + head * (graph === 'fused' ? 1 : promptTokens);
      prefillSec = gemmFlops / (gemmRate * m.prefillGemm[graph]) + attentionFlops(spec, promptTokens) / (fp32Gemm * m.prefillAttention[graph]) + dispatchSec;
    } else {
      notes.push(`the peak FLOP/s of ${device.name} is unknown: no prefill or TTFT estimate`);
    }
    if (int4) notes.push('int4 decodes on the int8 path (MatMulNBits accuracy level 4): its compute rate bounds it, not only bandwidth');
  } else {
    const dispatchSec = device.kind === 'gpu' && input.efficiency === undefined ? spec.numLayers * GPU_DISPATCH_SEC_PER_LAYER[input.provider ?? 'cuda'] : 0;
    if (effectiveBandwidth !== null) {
      const memorySec = (weightBytesPerStep + kvBytesPerStep) / effectiveBandwidth;
      const computeSec = effectiveFlops === null ? 0 : (decodeFlopsPerToken * concurrency) / effectiveFlops;
      decodeStepSec = Math.max(memorySec, computeSec) + dispatchSec;
      decodeBound = computeSec > memorySec ? 'compute' : 'memory';
      if (dispatchSec > 0) decodeStepParts = { weightsSec: Math.max(memorySec, computeSec), kvSec: 0, dispatchSec };
    } else {
      notes.push(`the memory bandwidth of ${device.name} is unknown: pass --bandwidth (e.g. --bandwidth 900GB/s) for a decode estimate`);
    }
    if (effectiveFlops !== null) {
      const computeSec = prefillFlops / effectiveFlops;
      const weightSec = effectiveBandwidth === null ? 0 : weightBytes(spec, format, input.weightOptions ?? {}).streamedBytesPerToken / effectiveBandwidth;
      prefillSec = Math.max(computeSec, weightSec) + dispatchSec;
    } else {
      notes.push(`the peak FLOP/s of ${device.name} is unknown: no prefill or TTFT estimate`);
    }
    if (input.provider === 'webgpu' && dispatchSec > 0) notes.push(`WebGPU dispatch: about ${(GPU_DISPATCH_SEC_PER_LAYER.webgpu * 1000).toFixed(1)} ms per layer per step added (${(dispatchSec * 1000).toFixed(0)} ms for ${spec.numLayers} layers)`);
  }

  const banded = (value: number): Banded => ({ value, low: value * band.low, high: value * band.high });
  // A slower device (low band) means a longer time: the time band inverts the rate band.
  const bandedTime = (value: number): Banded => ({ value, low: value / band.high, high: value / band.low });

  if (spec.moe && concurrency > 1) notes.push('a batch of sequences routes to more distinct experts than one token does: assumed uniform routing');
  if (!cpuModel && (format === 'q4' || format === 'q4f16')) notes.push('int4 weights are dequantised on the fly; on CPUs that compute can make decode slower than the bandwidth bound');

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
      graph,
      decodeStepParts,
      formula: cpuModel && cpuRates ? cpuFormula(graph, format, cpuRates, context) : cpuModel
        ? 'CPU model: no rates (unknown bandwidth and peak FLOP/s)'
        : 'decode tok/s = bandwidth × efficiency.decode ÷ (streamed weight bytes + KV bytes at context); prefill tok/s = peak FLOP/s × efficiency.prefill ÷ (2 × active params + attention) per token',
      notes,
    },
  };
}

/** The CPU model's formula in words, with this estimate's rates and factors. */
function cpuFormula(graph: 'fused' | 'standard', format: WeightFormat, rates: CpuRates, context: number): string {
  const m = CPU_DEFAULT_MODEL;
  const int4 = int8ComputePath(format);
  const g = (v: number): string => (Number.isFinite(v) ? (v / 1e9).toFixed(1) : '?');
  const gemm = int4 ? rates.gemmFlopsPerSec.int4 : rates.gemmFlopsPerSec.fp32;
  const compute = int4 ? `weight ops ÷ (int4 rate ${g(rates.int4OpsPerSec)} GOP/s × ${m.decodeInt4})` : `weight ops ÷ (fp32 GEMM rate × ${m.decodeFloatCompute})`;
  return (
    `CPU model (${graph} graph; rates from ${rates.source === 'layer probe' ? 'the decoder-layer probe' : "the ISA's peaks and the bandwidth"}): ` +
    `decode step = max(weight bytes ÷ (read rate ${g(rates.readBytesPerSec)} GB/s × ${m.decodeRead}), ${compute}) + KV bytes ÷ (read rate × ${m.decodeKvRead[kvReadPath(graph, context)]}) + ` +
    `layers × ${(rates.dispatchSecPerLayer * 1000).toFixed(3)} ms × ${m.dispatch[graph]}; ` +
    `prefill = GEMM FLOPs ÷ (${int4 ? 'int4' : 'fp32'} GEMM rate ${g(gemm)} GFLOP/s × ${m.prefillGemm[graph]}) + attention FLOPs ÷ (fp32 GEMM rate ${g(rates.gemmFlopsPerSec.fp32)} GFLOP/s × ${m.prefillAttention[graph]}) + the same dispatch`
  );
}
