import { describe, expect, it } from 'vitest';
import { findModel } from '../../src/catalog/index.js';
import { FEASIBLE_EPOCH_SECONDS, finetuneTime, matmulFlopsPerToken } from '../../src/estimate/index.js';
import { formatCoarseDuration } from '../../src/util/format.js';
import { makeHardware, recommendOn } from './helpers.js';

const fitsSomehow = (c: { finetune: { lora: { fits: boolean }; qlora: { fits: boolean } } | null }): boolean => Boolean(c.finetune && (c.finetune.lora.fits || c.finetune.qlora.fits));

describe('the customization leaf ranks by whether the team can fine-tune', () => {
  it('on an RTX 4090, every model whose QLoRA fits ranks above any whose fine-tuning does not', () => {
    const rec = recommendOn(makeHardware({ ramGiB: 64, bandwidthGBs: 50, overrides: { gpu: { key: 'RTX-4090', count: 1 } } }), { answers: { customization: 'yes' } }, 12);
    expect(rec.leaf.fineTune).toBe(true);
    const order = rec.candidates.map(fitsSomehow);
    // All the trues first, then the falses: no model the team cannot adapt leads.
    expect(order).toEqual([...order].sort((a, b) => Number(b) - Number(a)));
    expect(order[0]).toBe(true);
    const moe = rec.candidates.find((c) => c.id === 'qwen3-30b-a3b');
    // Qwen3-30B-A3B's QLoRA (~32 GiB) does not fit 20 GiB usable: it no longer comes first.
    if (moe) {
      expect(fitsSomehow(moe)).toBe(false);
      expect(moe.rank).toBeGreaterThan(rec.candidates.filter(fitsSomehow).length);
    }
    expect(rec.ranking.order[0]).toMatch(/^fine-tuning leaves only: fine-tuning fits/);
    // The line says how long one epoch takes on the GPU.
    expect(rec.candidates[0]!.reasons.find((r) => r.startsWith('fine-tuning'))).toMatch(/QLoRA \d+\.\d GiB \(fits\); one epoch of 10 M tokens ≈ [\d.]+ (h|min|days) on the GPU \(/);
    expect(rec.candidates[0]!.finetune!.epoch).toMatchObject({ tokens: 10_000_000, feasible: true });
  });

  it('where no candidate can be fine-tuned here, says so and names a larger GPU to fine-tune on, serving here', () => {
    // A 6 GiB GPU (and 4 GiB of RAM): a 7B serves in 4-bit, but its QLoRA does not fit. (On a CPU alone that
    // cannot happen any more: ONNX Runtime holds int4 weights 1.63×, more than a QLoRA's NF4 base.)
    const rec = recommendOn(makeHardware({ ramGiB: 4, bandwidthGBs: 50, cpuTflops: 2, overrides: { vramBytes: 6 * 1024 ** 3 } }), { answers: { customization: 'yes' }, decodeTokensPerSec: 1, maxTtftMs: 600_000 }, 5);
    expect(rec.candidates.length).toBeGreaterThan(0);
    expect(rec.candidates.some(fitsSomehow)).toBe(false);
    const top = rec.candidates[0]!;
    const note = rec.notes[0]!;
    expect(note).toMatch(new RegExp(`^Fine-tuning fits on none of the ${rec.candidates.length} candidates? here \\(QLoRA of ${top.name.replace(/[.]/g, '\\.')} needs \\d+\\.\\d GiB, \\d+\\.\\d GiB usable\\)\\. Plan: fine-tune ${top.name.replace(/[.]/g, '\\.')} with (LoRA|QLoRA) on one NVIDIA [^(]+ \\(needs \\d+\\.\\d GiB of \\d+\\.\\d GiB usable; one epoch of 10 M tokens ≈ [^(]+ \\([^)]+\\)\\), then serve the adapted model here \\((q4|q4f16) on the (CPU|GPU)\\)\\.$`));
    expect(rec.summary).toContain('Plan: fine-tune');
  });

  it('"fits" on a small CPU is not "feasible": the epoch time says so and ranks it below a practical one', () => {
    // A 2-core CPU with 24 GiB: LoRA of a 7B fits in memory, but one epoch takes months.
    const rec = recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20, cpuTflops: 0.1 }), { answers: { customization: 'yes' } }, 10);
    const qwen7 = rec.candidates.find((c) => c.id === 'qwen2.5-7b')!;
    expect(qwen7.finetune!.lora.fits).toBe(true);
    expect(qwen7.finetune!.epoch.feasible).toBe(false);
    expect(qwen7.finetune!.epoch.seconds!.value).toBeGreaterThan(FEASIBLE_EPOCH_SECONDS);
    expect(qwen7.reasons.find((r) => r.startsWith('fine-tuning'))).toMatch(/one epoch of 10 M tokens ≈ [\d.]+ (days|years) on the CPU \([^)]+\): fits, but not practical here$/);
    // No candidate is practical on this CPU: the plan names a GPU to fine-tune on.
    expect(rec.candidates.some((c) => c.finetune!.epoch.feasible !== false)).toBe(false);
    expect(rec.notes[0]).toMatch(new RegExp(`^Fine-tuning fits but is practical on none of the ${rec.candidates.length} candidates here \\(`));
    expect(rec.notes[0]).toMatch(/^Fine-tuning fits but is practical on none of the \d+ candidates here \(one epoch of 10 M tokens of .+ takes [\d.]+ (days|years)\)\. Plan: fine-tune .+ on one NVIDIA .+, then serve the adapted model here \((q4|int8) on the CPU\)\.$/);
  });
});

describe('finetuneTime', () => {
  const spec = findModel('qwen2.5-7b');

  it('is 3 forward passes per token with checkpointing (2 without) at the prefill efficiency', () => {
    const device = { kind: 'gpu' as const, bandwidthSource: 'known' as const, peakFlops: 100e12 };
    const t = finetuneTime({ spec, tokens: 1e6, seqLen: 1, device, efficiency: { decode: 0.5, prefill: 0.5, source: 'calibrated' as const } });
    // At one token per sequence the attention term is one query-key pair: the matmuls dominate.
    expect(t.flopsPerToken / matmulFlopsPerToken(spec)).toBeCloseTo(3, 3);
    expect(t.seconds!.value).toBeCloseTo((1e6 * t.flopsPerToken) / (100e12 * 0.5), 6);
    const noCkpt = finetuneTime({ spec, tokens: 1e6, seqLen: 1, device, gradientCheckpointing: false, efficiency: { decode: 0.5, prefill: 0.5, source: 'calibrated' as const } });
    expect(noCkpt.flopsPerToken / t.flopsPerToken).toBeCloseTo(2 / 3, 6);
    // Longer sequences add attention, so more FLOPs per token.
    expect(finetuneTime({ spec, tokens: 1e6, seqLen: 4096, device }).flopsPerToken).toBeGreaterThan(t.flopsPerToken * 1.05);
    // The band: a faster device than assumed is quicker.
    expect(t.seconds!.low).toBeLessThan(t.seconds!.value);
    expect(t.seconds!.high).toBeGreaterThan(t.seconds!.value);
  });

  it('has no time without a peak FLOP/s, and formats durations by their size', () => {
    expect(finetuneTime({ spec, tokens: 1e6, seqLen: 2048, device: { kind: 'gpu', bandwidthSource: 'known' as const, peakFlops: null } })).toMatchObject({ seconds: null, feasible: null });
    expect([formatCoarseDuration(30), formatCoarseDuration(600), formatCoarseDuration(3 * 3600), formatCoarseDuration(10 * 86400), formatCoarseDuration(2 * 365 * 86400)]).toEqual(['30 s', '10 min', '3 h', '10 days', '2 years']);
  });
});
