import { describe, expect, it } from 'vitest';
import { findModel } from '../../src/catalog/index.js';
import { MODE_SETTINGS, confirmTest, floatModelBytes, partialDepthsFor, predictBenchSec, predictBuildSec, variantForFormat, DEFAULT_THROUGHPUTS } from '../../src/pipeline/plan.js';

describe('the benchmark test derived from the targets', () => {
  it('prompts with the context asked for and batches the concurrency', () => {
    expect(confirmTest({ contextTokens: 512, concurrency: 1 }, 32)).toMatchObject({ id: 'pp512+tg32', n_prompt: 512, n_gen: 32, batch_size: 1 });
    expect(confirmTest({ contextTokens: 2048, concurrency: 4 }, 16)).toMatchObject({ id: 'pp2048+tg16/b4', batch_size: 4 });
  });

  it('keeps prompt plus generated tokens inside a reduced context or the model window', () => {
    expect(confirmTest({ contextTokens: 8192, concurrency: 2 }, 32, 4096).n_prompt).toBe(4064);
  });

  it('measures int4 formats as q4 and float formats as the device float', () => {
    expect(variantForFormat('q4', 'cpu')).toBe('q4');
    expect(variantForFormat('int8', 'cpu')).toBe('q4');
    expect(variantForFormat('fp32', 'cpu')).toBe('fp32');
    expect(variantForFormat('fp16', 'gpu')).toBe('fp16');
  });

  it('has more runs and tokens the more thorough the mode', () => {
    expect(MODE_SETTINGS.quick.repetitions).toBeLessThan(MODE_SETTINGS.standard.repetitions);
    expect(MODE_SETTINGS.standard.repetitions).toBeLessThan(MODE_SETTINGS.thorough.repetitions);
    expect(MODE_SETTINGS.quick.genTokens).toBeLessThan(MODE_SETTINGS.thorough.genTokens);
  });
});

describe('planning time', () => {
  const spec = findModel('qwen2.5-7b');
  const device = { kind: 'cpu' as const, name: 'cpu', count: 1, memoryTotalBytes: 32e9, memoryAvailableBytes: 24e9, bandwidthBytesPerSec: 20e9, bandwidthSource: 'default' as const, peakFlops: 2e11, peakFlopsSource: 'default' as const, runtimeOverheadBytes: 0 };
  const test = confirmTest({ contextTokens: 512, concurrency: 1 }, 32);

  it('predicts a partial-depth model to cost a fraction of the full one', () => {
    const at = (layers: number): number => predictBenchSec({ spec, layers, variant: 'q4', test, device, efficiency: undefined, repetitions: 3, warmup: 1, throughputs: DEFAULT_THROUGHPUTS, slowdown: null });
    expect(at(2)).toBeLessThan(at(spec.numLayers) / 5);
    expect(floatModelBytes(spec, 2)).toBeLessThan(floatModelBytes(spec, spec.numLayers) / 4);
  });

  it('scales uncalibrated predictions up, calibrated ones barely, and a measured slowdown exactly', () => {
    const base = { spec, layers: 2, variant: 'q4' as const, test, device, repetitions: 3, warmup: 1, throughputs: { ...DEFAULT_THROUGHPUTS, processSec: 0, loadBytesPerSec: Infinity } };
    // The same efficiency figures, once as stated defaults and once fitted: only the pessimism differs.
    const calibrated = predictBenchSec({ ...base, efficiency: { decode: 0.6, prefill: 0.3, source: 'calibrated' }, slowdown: null });
    const uncalibrated = predictBenchSec({ ...base, efficiency: { decode: 0.6, prefill: 0.3, source: 'default' }, slowdown: null });
    expect(uncalibrated / calibrated).toBeCloseTo(4 / 1.2, 6);
    expect(predictBenchSec({ ...base, efficiency: { decode: 0.6, prefill: 0.3, source: 'default' }, slowdown: 2 }) / uncalibrated).toBeCloseTo(2 / 4, 6);
    // Without calibration the stated CPU model is used, with the same pessimism.
    const stated = predictBenchSec({ ...base, efficiency: undefined, slowdown: null });
    expect(predictBenchSec({ ...base, efficiency: undefined, slowdown: 2 }) / stated).toBeCloseTo(2 / 4, 6);
  });

  it('builds partial models only for architectures deeper than the deeper partial depth', () => {
    expect(partialDepthsFor(28, [1, 2])).toEqual([1, 2]);
    expect(partialDepthsFor(2, [1, 2])).toBeNull();
  });
});

describe('predictBuildSec', () => {
  it('counts only the steps the work dir does not already hold', () => {
    const spec = findModel('smollm2-135m');
    const bytes = floatModelBytes(spec, 30);
    const t = { ...DEFAULT_THROUGHPUTS, synthBytesPerSec: 100e6, quantizeBytesPerSec: 50e6 };
    const synth = bytes / 100e6;
    const quantize = bytes / 50e6;
    expect(predictBuildSec(spec, 30, t, true)).toBeCloseTo(synth + quantize, 9);
    expect(predictBuildSec(spec, 30, t, true, { float: true, q4: false })).toBeCloseTo(quantize, 9);
    expect(predictBuildSec(spec, 30, t, true, { float: false, q4: true })).toBe(0);
    expect(predictBuildSec(spec, 30, t, false, { float: false, q4: true })).toBeCloseTo(synth, 9);
    expect(predictBuildSec(spec, 30, t, false, { float: true, q4: true })).toBe(0);
  });
});
