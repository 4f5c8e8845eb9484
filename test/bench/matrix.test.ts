import { describe, expect, it } from 'vitest';
import { countRuns, expandRunMatrix } from '../../src/bench/matrix.js';
import { selectTests } from '../../src/bench/scenarios.js';

describe('expandRunMatrix', () => {
  const tests = selectTests({ tests: ['pp16', 'tg8'] });

  it('orders by model, variant, device, threads so each model variant loads once', () => {
    const groups = expandRunMatrix({
      models: [{ ref: 'a', variants: ['fp32', 'q4'] }, { ref: 'b', variants: ['fp32'] }],
      devices: ['cpu'],
      threads: [1, 2],
      graphOptLevel: 'all',
      tests,
    });
    expect(groups.map((g) => `${g.model}/${g.variant}/t${g.session.threads}`)).toEqual(['a/fp32/t1', 'a/fp32/t2', 'a/q4/t1', 'a/q4/t2', 'b/fp32/t1', 'b/fp32/t2']);
    expect(groups.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(groups.every((g) => g.tests.map((t) => t.id).join() === 'pp16,tg8')).toBe(true);
    expect(countRuns(groups)).toBe(12);
    expect(new Set(groups.map((g) => g.key)).size).toBe(groups.length);
  });

  it('collapses duplicates and is empty without models', () => {
    const groups = expandRunMatrix({ models: [{ ref: 'a', variants: ['fp32', 'fp32'] }, { ref: 'a', variants: ['fp32'] }], devices: ['cpu'], threads: [0], graphOptLevel: 'all', tests });
    expect(groups).toHaveLength(1);
    expect(expandRunMatrix({ models: [], devices: ['cpu'], threads: [1], graphOptLevel: 'all', tests })).toEqual([]);
  });
});
