import { describe, expect, it } from 'vitest';
import { loadCatalog, type ModelSpec } from '../../src/catalog/index.js';
import { recommend } from '../../src/recommend/recommend.js';
import { RANKING_METRIC, rankingScore } from '../../src/recommend/rank.js';
import { resolveRequirements } from '../../src/recommend/requirements.js';
import type { Recommendation } from '../../src/recommend/types.js';
import { recommendationSchema } from '../../src/recommend/schema.js';
import { loadDefaultTree } from '../../src/tree/load.js';
import { renderRecommendation } from '../../src/ui/render-recommendation.js';
import { makeHardware } from './helpers.js';

/** Published quality scores in the catalog, and how the ranking uses them (the parameter proxy stays the fallback). */
const strong = makeHardware({ ramGiB: 256, bandwidthGBs: 2000, cpuTflops: 400 });

function rank(catalog: ModelSpec[], top = 20): Recommendation {
  const tree = loadDefaultTree();
  return recommend({ tree, requirements: resolveRequirements(tree, {}), hardware: strong, catalog, top });
}

describe('published scores in the catalog', () => {
  it('every score names its metric, a source URL and a date; the ranking metric covers the models of one evaluation', () => {
    const catalog = loadCatalog();
    for (const m of catalog) {
      for (const s of m.scores ?? []) {
        expect(s.source).toMatch(/https:\/\/\S+/);
        expect(s.date).toMatch(/^20\d\d-\d\d-\d\d$/);
        expect(s.score).toBeGreaterThan(0);
      }
    }
    const ranked = catalog.filter((m) => rankingScore(m)).map((m) => [m.id, rankingScore(m)!.score]);
    // Qwen2.5 Technical Report (arXiv:2412.15115) Tables 2-5, MMLU-Pro row, base models.
    expect(Object.fromEntries(ranked)).toEqual({
      'qwen2.5-0.5b': 15.7,
      'qwen2.5-1.5b': 28.5,
      'qwen2.5-3b': 34.6,
      'qwen2.5-7b': 45.0,
      'qwen2.5-14b': 51.2,
      'qwen2.5-32b': 55.1,
      'qwen2.5-72b': 58.1,
      'gemma-2-2b': 23.0,
      'gemma-2-9b': 44.7,
      'gemma-2-27b': 49.1,
    });
    // Meta's chain-of-thought MMLU-Pro is another setting: recorded, never the ranking's metric.
    expect(catalog.find((m) => m.id === 'llama-3.1-8b')!.scores).toEqual([expect.objectContaining({ metric: expect.stringMatching(/^MMLU-Pro \(CoT\).*Meta evaluation/), score: 37.1 })]);
    expect(rankingScore(catalog.find((m) => m.id === 'llama-3.1-8b')!)).toBeNull();
    expect(RANKING_METRIC).toMatch(/MMLU-Pro/);
  });
});

describe('ranking with published scores', () => {
  it('orders the models that have a score by it, in the places they hold; the others keep the parameter order', () => {
    const rec = rank(loadCatalog());
    expect(rec.leaf.id).toBe('small');
    const meetsAll = rec.candidates.filter((c) => c.meets.all && c.fit === 'fits');
    expect(meetsAll.length).toBeGreaterThan(6);
    const ids = meetsAll.map((c) => c.id);
    // By the proxy gemma-2-9b (9.24B) leads Qwen2.5-7B (7.62B); by MMLU-Pro 45.0 > 44.7 Qwen2.5-7B takes the first scored place.
    expect(ids.indexOf('qwen2.5-7b')).toBeLessThan(ids.indexOf('gemma-2-9b'));
    const scored = meetsAll.filter((c) => c.quality!.basis === 'score');
    expect(scored.map((c) => c.quality!.score!.score)).toEqual([...scored.map((c) => c.quality!.score!.score)].sort((a, b) => b - a));
    const proxied = meetsAll.filter((c) => c.quality!.basis === 'proxy');
    expect(proxied.map((c) => c.qualityProxy)).toEqual([...proxied.map((c) => c.qualityProxy)].sort((a, b) => b - a));
    // The places: the slots held by scored models under the proxy order are the same set.
    const byProxy = [...meetsAll].sort((a, b) => b.qualityProxy - a.qualityProxy || a.id.localeCompare(b.id));
    const slots = (list: typeof meetsAll): number[] => list.flatMap((c, i) => (c.quality!.basis === 'score' ? [i] : []));
    expect(slots(meetsAll)).toEqual(slots(byProxy));
    expect(meetsAll.find((c) => c.id === 'qwen2.5-7b')!.quality).toMatchObject({ basis: 'score', score: { metric: RANKING_METRIC, score: 45, date: '2024-12-19' } });
    expect(meetsAll.find((c) => c.id === 'llama-3.1-8b')!.quality).toMatchObject({ basis: 'proxy', score: null, scores: [expect.objectContaining({ score: 37.1 })] });
    expect(recommendationSchema.safeParse(rec).success).toBe(true);
    expect(rec.ranking.qualityScore).toContain(RANKING_METRIC);
  });

  it('a score moves a model only among the scored places: a small model with a high score does not pass unscored ones', () => {
    const catalog = loadCatalog().map((m) => (m.id === 'qwen2.5-0.5b' ? { ...m, scores: [{ metric: RANKING_METRIC, score: 99, source: 'test: https://example.org', date: '2026-01-01' }] } : m));
    const before = rank(loadCatalog(), 30).candidates.filter((c) => c.meets.all).map((c) => c.id);
    const after = rank(catalog, 30).candidates.filter((c) => c.meets.all).map((c) => c.id);
    const scoredIds = new Set(loadCatalog().filter((m) => rankingScore(m)).map((m) => m.id));
    // It takes the first scored place; every unscored model keeps its place.
    const firstScored = before.findIndex((id) => scoredIds.has(id));
    expect(after.indexOf('qwen2.5-0.5b')).toBe(firstScored);
    before.forEach((id, i) => {
      if (!scoredIds.has(id)) expect(after[i]).toBe(id);
    });
    expect(before.indexOf('qwen2.5-0.5b')).toBeGreaterThan(firstScored);
  });

  it('without scores the ranking is the parameter proxy, and says so per model', () => {
    const bare = loadCatalog().map((m) => ({ ...m, scores: [] }));
    const rec = rank(bare);
    const meetsAll = rec.candidates.filter((c) => c.meets.all && c.fit === 'fits');
    expect(meetsAll.every((c) => c.quality!.basis === 'proxy')).toBe(true);
    expect(meetsAll.map((c) => c.qualityProxy)).toEqual([...meetsAll.map((c) => c.qualityProxy)].sort((a, b) => b - a));
    // The reason names the benchmark, not its whole protocol string.
    const smol = rec.candidates.find((c) => c.id === 'smollm2-135m')!;
    expect(smol.reasons.join('\n')).toMatch(/quality: the parameter-count proxy ranked it \(135M effective; no MMLU-Pro score published for it\)/);
  });

  it('a model that misses a target is ranked by closeness, so its score is listed but not used', () => {
    const tree = loadDefaultTree();
    const slow = makeHardware({ ramGiB: 64, bandwidthGBs: 20, cpuTflops: 1 });
    const rec = recommend({ tree, requirements: resolveRequirements(tree, {}), hardware: slow, catalog: loadCatalog(), top: 20 });
    const missed = rec.candidates.find((c) => !c.meets.all && c.id === 'qwen2.5-7b')!;
    expect(missed.quality).toMatchObject({ basis: 'proxy', score: null });
    expect(missed.reasons.join('\n')).toMatch(/quality: the parameter-count proxy ranked it \(7\.6B effective; it misses a target/);
  });

  it('the table says which one ranked each model', () => {
    const text = renderRecommendation(rank(loadCatalog()), 200);
    expect(text).toMatch(/│ Qwen2\.5-7B +│ 7\.62B +│ MMLU-Pro 45\.0 +│/);
    expect(text).toMatch(/│ Llama-3\.1-8B +│ 8\.03B +│ size proxy +│/);
    expect(text).toContain('then quality: a published MMLU-Pro where the catalog has one, else effective parameters');
  });
});
