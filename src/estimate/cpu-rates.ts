/**
 * What the CPU model's terms rest on: four rates of ONNX Runtime's kernels as a decoder runs them. They come
 * either from the decoder-layer probe (`src/runtime/kernel-probe.ts`, run by `--probe` and `--confirm`,
 * cached per machine) or, on a machine never probed, from the ISA's peaks and the bandwidth by stated
 * fractions (`CPU_RATES_FROM_PEAKS`). Pure: the probe's timings in, the rates out.
 */

import { DEFAULT_INT4 } from './weights.js';

/** One transformer-layer shape of the probe: the fused graph's projections and attention heads. */
export interface LayerShape {
  hidden: number;
  intermediate: number;
  /** Query heads and KV heads (head dim = hidden ÷ heads); the packed q/k/v projection is (heads + 2 × KV heads) × head dim wide. */
  heads: number;
  kvHeads: number;
}

/**
 * The probe's shapes: Qwen2.5-0.5B's layer (hidden 896, intermediate 4,864, 14 query and 2 KV heads of 64),
 * whose int4 weights over the decode stack's 12 layers (≈ 95 MB at block 128) exceed the caches (a 32 MiB L3
 * here) as a model's do (84–260 MB from SmolLM2-135M to Qwen2.5-0.5B),
 * and a tiny layer of the same operators whose step time is almost all per-operator cost (dispatch).
 */
export const CPU_LAYER_PROBE = {
  shape: { hidden: 896, intermediate: 4864, heads: 14, kvHeads: 2 } satisfies LayerShape,
  tiny: { hidden: 64, intermediate: 128, heads: 2, kvHeads: 1 } satisfies LayerShape,
  /** Layers of each stack: int4 decode, int4 prompt, tiny (int4 decode), fp32 (decode and prompt: 60 MB of weights). */
  int4DecodeLayers: 12,
  int4PromptLayers: 2,
  tinyLayers: 8,
  fp32Layers: 1,
  /** Rows of the prompt chunk timed for prefill. */
  promptRows: 128,
  /** int4 block size along K: the quantizer's default, so the probe runs the kernels `modelscout quantize` files do. */
  blockSize: DEFAULT_INT4.blockSize,
  /** Cached positions every attention sees (short: the KV cache's own cost grows with the context and is a separate term). */
  pastLength: 64,
  /**
   * The layers' layout, as the fused graph lays them out: gate and up one packed product since its revision 2.
   * Timings cached by a probe of another layout are not read (src/hardware/bandwidth-cache.ts).
   */
  layout: 'gate-up-packed',
} as const;

/** Output width of the packed q/k/v projection. */
export function qkvWidth(shape: LayerShape): number {
  return (shape.heads + 2 * shape.kvHeads) * (shape.hidden / shape.heads);
}

/** MatMul weights of one layer of `shape` (q/k/v packed, o, gate, up, down). */
export function layerWeights(shape: LayerShape): number {
  const { hidden: h, intermediate: i } = shape;
  return h * qkvWidth(shape) + h * h + 3 * h * i;
}

/**
 * The decoder-layer probe's timings (seconds per layer and step; per layer and prompt token), with the
 * shapes they were measured at so a later reader derives the rates from what was run.
 */
export interface CpuLayerProbe {
  shape: LayerShape;
  tiny: LayerShape;
  /** int4 block size of the stacks (MatMulNBits `block_size`). */
  blockSize: number;
  /** One row through the tiny int4 stack, per layer (almost all per-operator cost). */
  tinyDecodeSecPerLayer: number;
  /** One row through the int4 stack (MatMulNBits at `blockSize`, accuracy level 4), per layer. */
  int4DecodeSecPerLayer: number;
  /** One row through the fp32 stack (MatMul), per layer. */
  fp32DecodeSecPerLayer: number;
  /** A prompt chunk through the int4 stack, per layer and row. */
  int4PromptSecPerTokenLayer: number;
  /** A prompt chunk through the fp32 stack, per layer and row. */
  fp32PromptSecPerTokenLayer: number;
}

/** The rates the CPU model divides by. */
export interface CpuRates {
  /** int4 weight ops/s of a decode step (2 per weight; MatMulNBits at accuracy level 4, one row). */
  int4OpsPerSec: number;
  /** Bytes/s a decode step reads fp32 weights at (one row through MatMul): also the KV cache's reference rate. */
  readBytesPerSec: number;
  /** GEMM FLOP/s of a prompt: fp32 MatMul, and int4 MatMulNBits (the int4 formats' prompts). */
  gemmFlopsPerSec: { fp32: number; int4: number };
  /** Fixed cost per layer and decode step (operator dispatch, thread-pool wake-ups). */
  dispatchSecPerLayer: number;
  source: 'layer probe' | 'peaks';
  /** Where the rates come from, in words. */
  basis: string;
}

/**
 * From the probe's first-quartile timings (`PROBE_QUANTILE` in src/runtime/kernel-probe.ts: the speed of a
 * moment no other guest took a core) to the rates a decoder sustains over a benchmark, which the CPU model's
 * factors were fitted to (the probe kept medians then). Sixteen probes in fresh processes on 2 threads, each
 * rate read from the same samples both ways, the median over the probes of the rate from the samples'
 * medians ÷ that from their first quartiles: int4 decode 84 ÷ 104 GOP/s, fp32 read 39 ÷ 44 GB/s, prompt GEMM
 * 299 ÷ 314 (fp32) and 447 ÷ 476 GFLOP/s (int4), dispatch 30 ÷ 25 µs per layer. Each rate is multiplied by
 * the factor of its name.
 */
export const PROBE_QUARTILE_TO_SUSTAINED = { int4: 0.81, read: 0.89, gemm: 0.945, dispatch: 1.2 } as const;

/** At least this share of a step is taken to be the weights' own time, whatever the dispatch reads. */
const MIN_WEIGHT_SHARE = 0.25;

/**
 * The rates from the probe's timings: one row through the int4 stack costs dispatch + 2 × weights ÷ int4
 * rate per layer, and through the tiny stack the same with its far fewer weights; the two equations give both.
 * The fp32 stack's row, less the dispatch, gives the read rate (4 bytes per weight); a prompt chunk's time per
 * row gives the GEMM rates (dispatch spread over the chunk is negligible).
 */
export function cpuRatesFromLayerProbe(probe: CpuLayerProbe): CpuRates {
  const ops = 2 * layerWeights(probe.shape);
  const tinyOps = 2 * layerWeights(probe.tiny);
  const big = probe.int4DecodeSecPerLayer;
  const tiny = probe.tinyDecodeSecPerLayer;
  // The weights' share of the big step: its time less the tiny step's (scaled for the tiny step's own ops).
  const weightSec = Math.max(big - tiny, big * MIN_WEIGHT_SHARE);
  const quartileInt4 = (ops - tinyOps) / weightSec;
  const quartileDispatch = Math.max(0, Math.min(tiny - tinyOps / quartileInt4, big - ops / quartileInt4));
  const fp32WeightSec = Math.max(probe.fp32DecodeSecPerLayer - quartileDispatch, probe.fp32DecodeSecPerLayer * MIN_WEIGHT_SHARE);
  const k = PROBE_QUARTILE_TO_SUSTAINED;
  const int4OpsPerSec = quartileInt4 * k.int4;
  const dispatchSecPerLayer = quartileDispatch * k.dispatch;
  const readBytesPerSec = ((4 * layerWeights(probe.shape)) / fp32WeightSec) * k.read;
  const gemm = { fp32: (ops / probe.fp32PromptSecPerTokenLayer) * k.gemm, int4: (ops / probe.int4PromptSecPerTokenLayer) * k.gemm };
  const g = (v: number): string => (v / 1e9).toFixed(1);
  return {
    int4OpsPerSec,
    readBytesPerSec,
    gemmFlopsPerSec: gemm,
    dispatchSecPerLayer,
    source: 'layer probe',
    basis: `decoder-layer probe (hidden ${probe.shape.hidden}, intermediate ${probe.shape.intermediate}): int4 decode ${g(int4OpsPerSec)} GOP/s, fp32 weights read at ${g(readBytesPerSec)} GB/s, prompt GEMM ${g(gemm.fp32)} GFLOP/s fp32 / ${g(gemm.int4)} int4, ${(dispatchSecPerLayer * 1e3).toFixed(3)} ms dispatch per layer`,
  };
}

/**
 * A machine never probed: the rates as fractions of the ISA's peaks and of the memory bandwidth (the stated
 * default, a known platform's figure or a bandwidth-only probe), with a stated dispatch cost. Fitted, with
 * `CPU_DEFAULT_MODEL`'s factors, to the decoders measured on two days on a 2-vCPU AMD EPYC (AVX-512 VNNI;
 * ISA peaks 332 GFLOP/s fp32 and 1,329 GOP/s int8; bandwidth probe 21.1 and 38.4 GB/s): the same peaks on
 * both days while the prompts ran 1.6× faster on the second, so no fixed fraction fits both closer than about
 * ±45 % — what the decoder-layer probe is for. `floatCompute`: the int4 rate of a CPU with no int8 peak.
 */
export const CPU_RATES_FROM_PEAKS = {
  int8: 0.042,
  gemm: 0.67,
  floatCompute: 0.17,
  bandwidth: 1.07,
  dispatchSecPerLayer: 0.043e-3,
} as const;

export function cpuRatesFromPeaks(device: { peakFlops: number | null; peakInt8Ops?: number | null | undefined; bandwidthBytesPerSec: number | null }): CpuRates | null {
  if (device.peakFlops === null && device.bandwidthBytesPerSec === null) return null;
  const f = CPU_RATES_FROM_PEAKS;
  const fp32 = device.peakFlops === null ? NaN : device.peakFlops * f.gemm;
  const int8 = device.peakInt8Ops ?? null;
  return {
    int4OpsPerSec: int8 !== null ? int8 * f.int8 : device.peakFlops === null ? NaN : device.peakFlops * f.floatCompute,
    readBytesPerSec: device.bandwidthBytesPerSec === null ? NaN : device.bandwidthBytesPerSec * f.bandwidth,
    gemmFlopsPerSec: { fp32, int4: fp32 },
    dispatchSecPerLayer: f.dispatchSecPerLayer,
    source: 'peaks',
    basis: `the ISA's peaks and the bandwidth: int8 peak × ${f.int8}, fp32 peak × ${f.gemm}, bandwidth × ${f.bandwidth}, ${(f.dispatchSecPerLayer * 1e3).toFixed(3)} ms dispatch per layer`,
  };
}
