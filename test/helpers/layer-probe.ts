import { CPU_LAYER_PROBE, type CpuLayerProbe } from '../../src/estimate/cpu-rates.js';

/** Timings a decoder-layer probe could report (seconds per layer; per layer and prompt token), for detection tests. */
export const LAYER_PROBE: CpuLayerProbe = {
  shape: { ...CPU_LAYER_PROBE.shape },
  tiny: { ...CPU_LAYER_PROBE.tiny },
  blockSize: 128,
  tinyDecodeSecPerLayer: 30e-6,
  int4DecodeSecPerLayer: 620e-6,
  fp32DecodeSecPerLayer: 2.2e-3,
  int4PromptSecPerTokenLayer: 160e-6,
  fp32PromptSecPerTokenLayer: 150e-6,
};
