import { describe, expect, it } from 'vitest';
import { findModel, loadCatalog } from '../../src/catalog/index.js';
import { belowSizeClass, closeness, inSizeClass, qualityProxy } from '../../src/recommend/rank.js';
import type { Candidate } from '../../src/recommend/types.js';
import { loadDefaultTree } from '../../src/tree/load.js';
import { listPaths } from '../../src/tree/walk.js';
import { renderRecommendation } from '../../src/ui/render-recommendation.js';
import { GiB, makeHardware, recommendOn } from './helpers.js';

const classes = Object.fromEntries(listPaths(loadDefaultTree()).map((p) => [p.leaf.id, p.leaf.sizeClass]));

function tier(c: Candidate): number {
  const met = (c.meets.decodeTokensPerSec ? 1 : 0) + (c.meets.ttft ? 1 : 0);
  return (c.fit === 'fits' ? 0 : 10) + (2 - met);
}

function closenessOf(c: Candidate, targets: { decodeTokensPerSec: number; maxTtftMs: number }): number {
  return closeness({ decodeTokPerSec: c.speed.decodeTokPerSec, ttftMs: c.speed.ttftMs }, targets);
}

describe('size classes', () => {
  it('places real models by total parameters with the stated tolerance', () => {
    const catalog = loadCatalog();
    const ids = (id: string): string[] => catalog.filter((m) => inSizeClass(m, classes[id]!)).map((m) => m.id);
    expect(ids('small')).toContain('gemma-2-9b');
    expect(ids('small')).not.toContain('qwen2.5-14b'); // 14.8B > 13B + 5%
    expect(ids('mid')).toEqual(expect.arrayContaining(['mistral-7b-v0.3', 'qwen2.5-14b', 'mixtral-8x7b-v0.1', 'llama-3.1-70b', 'qwen2.5-72b']));
    expect(ids('mid')).not.toContain('qwen2.5-3b');
    expect(ids('flagship')).toEqual(['qwen2.5-72b', 'qwen3-235b-a22b', 'llama-3.1-70b', 'llama-3.1-405b', 'deepseek-v3']);
    expect(belowSizeClass(findModel('qwen3-32b'), classes.flagship!)).toBe(true);
    expect(belowSizeClass(findModel('llama-3.1-70b'), classes.flagship!)).toBe(false);
  });

  it('uses √(total × active) as the quality proxy of a MoE model', () => {
    const moe = findModel('qwen3-30b-a3b');
    expect(qualityProxy(moe)).toBeCloseTo(Math.sqrt(moe.paramsTotal * moe.paramsActive), 0);
    expect(qualityProxy(findModel('qwen3-8b'))).toBe(findModel('qwen3-8b').paramsTotal);
  });
});

describe('ranking against constructed hardware', () => {
  it('ranks candidates that fit and meet every target first, then by quality (published score or proxy)', () => {
    const rec = recommendOn(makeHardware({ ramGiB: 64, bandwidthGBs: 200, cpuTflops: 20 }), {}, 10);
    expect(rec.outcome).toBe('meets-targets');
    expect(rec.leaf.id).toBe('small');
    expect(rec.candidates).toHaveLength(10);
    const tiers = rec.candidates.map(tier);
    expect([...tiers].sort((a, b) => a - b)).toEqual(tiers);
    for (let i = 1; i < rec.candidates.length; i += 1) {
      const [a, b] = [rec.candidates[i - 1]!, rec.candidates[i]!];
      if (tier(a) !== tier(b)) continue;
      // Meeting every target: quality first. Below the targets: the closest first.
      // (published scores reorder only the models that have one: see quality-scores.test.ts)
      if (a.meets.all && a.quality?.basis === 'proxy' && b.quality?.basis === 'proxy') expect(a.qualityProxy).toBeGreaterThanOrEqual(b.qualityProxy);
      if (a.meets.all && a.quality?.basis === 'score' && b.quality?.basis === 'score') expect(a.quality.score!.score).toBeGreaterThanOrEqual(b.quality.score!.score);
      else expect(closenessOf(a, rec.targets)).toBeGreaterThanOrEqual(closenessOf(b, rec.targets));
    }
    const best = rec.candidates[0]!;
    expect(best.meets).toEqual({ decodeTokensPerSec: true, ttft: true, all: true });
    expect(best.speed.decodeTokPerSec!.value).toBeGreaterThanOrEqual(20);
    expect(best.speed.ttftMs!.value).toBeLessThanOrEqual(500);
    expect(best.memory.totalBytes).toBe(best.memory.weightBytes + best.memory.kvBytes + best.memory.activationBytes + best.memory.runtimeOverheadBytes);
    expect(best.memory.totalBytes).toBeLessThanOrEqual(best.memory.usableBytes);
    expect(rec.hardwareNeeded).toBeNull();
    expect(rec.excluded.map((x) => x.id)).toEqual(['gpt2']); // 1024-token window < 2048
  });

  it('picks the least compressed format that fits and meets the targets, and says what it gave up', () => {
    const rec = recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 100, cpuTflops: 20 }), { answers: { customization: 'yes' }, decodeTokensPerSec: 3, maxTtftMs: 60_000 });
    const qwen14 = rec.candidates.find((c) => c.id === 'qwen2.5-14b');
    expect(qwen14?.format).toBe('int8');
    expect(qwen14?.tradeoffs[0]).toMatch(/^int8 weights needed: fp32 needs 5\d\.\d GiB \(usable 21\.6 GiB available RAM\)$/);
    // With 36 GiB (its int4 weights are held 1.63× by ONNX Runtime) the MoE serves in q4; its fine-tuning does not fit, so it ranks below the models that can be adapted here.
    const moe = recommendOn(makeHardware({ ramGiB: 36, bandwidthGBs: 100, cpuTflops: 20 }), { answers: { customization: 'yes' }, decodeTokensPerSec: 3, maxTtftMs: 60_000 }, 20).candidates.find((c) => c.id === 'qwen3-30b-a3b');
    expect(moe?.format).toBe('q4');
    expect(moe?.reasons.some((r) => /^MoE: all 128 experts resident, 8 active per token/.test(r))).toBe(true);
  });

  it('shows the LoRA and QLoRA fit on the fine-tuning branch', () => {
    const rec = recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20 }), { answers: { customization: 'yes' } });
    expect(rec.leaf).toMatchObject({ id: 'mid', fineTune: true });
    for (const c of rec.candidates) {
      expect(c.finetune).not.toBeNull();
      expect(c.finetune!.qlora.totalBytes).toBeLessThan(c.finetune!.lora.totalBytes);
      expect(c.finetune!.lora.seqLen).toBe(2048);
    }
    const qwen14 = rec.candidates.find((c) => c.id === 'qwen2.5-14b') ?? recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20 }), { answers: { customization: 'yes' } }, 20).candidates.find((c) => c.id === 'qwen2.5-14b')!;
    expect(qwen14.finetune!.lora.fits).toBe(false); // a 14B bf16 base needs ~30 GiB
    expect(qwen14.finetune!.qlora.fits).toBe(true);
    expect(recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20 }), {}).candidates[0]!.finetune).toBeNull();
  });

  it('says plainly that nothing of the 70B+ class fits in 24 GiB, with alternatives below it and the hardware it needs', () => {
    const rec = recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20 }), { answers: { customization: 'no', latency: 'relaxed' } });
    expect(rec.outcome).toBe('nothing-fits');
    expect(rec.candidates).toEqual([]);
    expect(rec.nothingFits!.message).toMatch(/^Nothing of the flagship \(70B\+\) class fits here: even the smallest, Llama-3\.1-70B, needs 5\d\.\d GiB in its most compressed format, and this machine has 21\.6 GiB usable\.$/);
    expect(rec.nothingFits!.alternativesFrom).toBe('below 70B');
    expect(rec.nothingFits!.alternatives.length).toBe(5);
    for (const alt of rec.nothingFits!.alternatives) {
      expect(alt.paramsTotal).toBeLessThan(70e9 * 0.95);
      expect(alt.fit).toBe('fits');
    }
    expect(rec.excluded.map((x) => x.id).sort()).toEqual(['deepseek-v3', 'llama-3.1-405b', 'llama-3.1-70b', 'qwen2.5-72b', 'qwen3-235b-a22b']);
    const need = rec.hardwareNeeded!;
    expect(need.model.id).toBe('llama-3.1-70b');
    expect(need.memoryBytes).toBeGreaterThan(35 * GiB);
    expect(need.options.map((o) => `${o.count}× ${o.name}`)).toContain('1× NVIDIA H100 SXM 80GB');
    expect(need.options.every((o) => o.memoryBytes >= need.memoryBytes && o.bandwidthBytesPerSec >= need.bandwidthBytesPerSec)).toBe(true);
  });

  it('finds the 70B+ class on a what-if H100 (the GPU comes first)', () => {
    const rec = recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20, overrides: { gpu: { key: 'H100-80GB', count: 1 } } }), { answers: { customization: 'no', latency: 'relaxed' } });
    expect(rec.outcome).toBe('meets-targets');
    expect(rec.candidates.map((c) => c.id)).toEqual(['qwen2.5-72b', 'llama-3.1-70b']);
    expect(rec.candidates[0]).toMatchObject({ format: 'q4f16', device: { kind: 'gpu', name: 'NVIDIA H100 SXM 80GB' } });
    expect(rec.devices.considered.map((d) => d.kind)).toEqual(['gpu', 'cpu']);
  });

  it('offers a reduced context when the asked one does not fit', () => {
    const rec = recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20 }), { contextTokens: 131072, concurrency: 4 });
    const c = rec.candidates[0]!;
    expect(c.fit).toBe('reduced-context');
    expect(c.memory.maxContext).toBeLessThan(131072);
    expect(c.memory.maxContext).toBeGreaterThanOrEqual(512);
    expect(c.tradeoffs).toContain(`fits only with a context of ≤ ${c.memory.maxContext} tokens per stream (asked 131072 × 4)`);
    expect(rec.summary).toMatch(/fit here only at a reduced context/);
  });

  it('has no smaller class to fall back on when not even the small class fits', () => {
    const rec = recommendOn(makeHardware({ ramGiB: 0.25, bandwidthGBs: 20 }), {});
    expect(rec.outcome).toBe('nothing-fits');
    expect(rec.nothingFits).toMatchObject({ alternatives: [], alternativesFrom: 'none (there is no smaller class)' });
  });

  it('refuses --device gpu without a GPU, and uses only the CPU with --device cpu', () => {
    expect(() => recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20 }), { device: 'gpu' })).toThrow(/no GPU detected/);
    const rec = recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20, overrides: { gpu: { key: 'RTX-4090', count: 1 } } }), { device: 'cpu' });
    expect(rec.candidates.every((c) => c.device.kind === 'cpu')).toBe(true);
  });
});

describe('rendering a recommendation', () => {
  it('prints the path, the class and why, the targets, the table and the nothing-fits verdict', () => {
    const rec = recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20 }), { answers: { customization: 'no', latency: 'relaxed' } }, 3);
    const text = renderRecommendation(rec);
    expect(text).toContain('CPU: Test CPU (CPU, 8 cores) — 24.0 GiB available RAM of 24.0 GiB, 20.0 GB/s (override)');
    expect(text).toContain('  1. Does the job need domain customization (fine-tuning / LoRA)?  → no, prompting is enough\n');
    expect(text).toContain('Size class: Flagship models, 70B+ [flagship, 70B+ parameters]');
    expect(text).toContain('Targets (latency acceptable): decode ≥ 5 tok/s per stream [latency acceptable], TTFT ≤ 10.0 s [latency acceptable], context 2048 tokens [default], concurrency 1 [default]');
    expect(text).toContain('✗ Nothing of the flagship (70B+) class fits here');
    expect(text).toContain('Best alternatives below 70B:');
    expect(text).toMatch(/│ # │ Model +│ Params +│ Quality +│ Format +│ Weights +│ KV +│ Total +│ Fits +│ Decode\/stream │ TTFT +│/);
    expect(text).toContain('Hardware for the class: To fit and meet the targets, the smallest of the class, Llama-3.1-70B');
  });

  it('adds the LoRA / QLoRA column on the fine-tuning branch', () => {
    const text = renderRecommendation(recommendOn(makeHardware({ ramGiB: 24, bandwidthGBs: 20 }), { answers: { customization: 'yes' } }, 10));
    expect(text).toMatch(/│ LoRA \/ QLoRA +│/);
    expect(text).toMatch(/✗ \d+\.\d GiB \/ ✓ \d+\.\d GiB/);
  });
});
