import { describe, expect, it } from 'vitest';
import { ModelscoutError } from '../../src/errors.js';
import { autoKvLayout } from '../../src/runtime/kv-cache.js';
import { DIRECT_MIN_DEPTH } from '../../src/estimate/speed.js';
import {
  batchSequenceLengths,
  deepestDecodeDepth,
  hashTokenIds,
  kvTokensAtEnd,
  parseIntegerList,
  parseTestId,
  selectTests,
  syntheticTokenIds,
} from '../../src/bench/scenarios.js';

describe('parseTestId', () => {
  it('parses llama-bench names with depth and batch', () => {
    expect(parseTestId('pp512')).toEqual({ id: 'pp512', kind: 'pp', n_prompt: 512, n_gen: 0, n_depth: 0, batch_size: 1 });
    expect(parseTestId('tg128@d512')).toEqual({ id: 'tg128@d512', kind: 'tg', n_prompt: 0, n_gen: 128, n_depth: 512, batch_size: 1 });
    expect(parseTestId(' pp128+tg32@d64/b4 ')).toEqual({ id: 'pp128+tg32@d64/b4', kind: 'pp+tg', n_prompt: 128, n_gen: 32, n_depth: 64, batch_size: 4 });
    // canonical ids drop the defaults
    expect(parseTestId('pp16@d0/b1').id).toBe('pp16');
  });

  it('rejects malformed ids with a usage error', () => {
    for (const bad of ['pp', 'tg0', 'pp0', 'pp512+tg1', 'foo', 'pp512@x3', 'tg12/b0']) {
      expect(() => parseTestId(bad), bad).toThrow(ModelscoutError);
    }
    try {
      parseTestId('pp5x');
      expect.unreachable('pp5x was accepted');
    } catch (e) {
      expect((e as ModelscoutError).exitCode).toBe(2);
      expect((e as Error).message).toContain('"pp5x"');
    }
  });
});

describe('parseIntegerList', () => {
  it('parses comma lists and rejects bad entries', () => {
    expect(parseIntegerList('128,512', '--prompt-lengths')).toEqual([128, 512]);
    expect(parseIntegerList(' 1, 2 ,', '--threads')).toEqual([1, 2]);
    expect(parseIntegerList('0,512', '--depths', 0)).toEqual([0, 512]);
    expect(() => parseIntegerList('0', '--batch-sizes')).toThrow(/--batch-sizes/);
    expect(() => parseIntegerList('12a', '--prompt-lengths')).toThrow(/"12a"/);
    expect(() => parseIntegerList('', '--prompt-lengths')).toThrow(ModelscoutError);
  });
});

describe('selectTests', () => {
  it('defaults to pp512, tg128 and pp512+tg128', () => {
    expect(selectTests({}).map((t) => t.id)).toEqual(['pp512', 'tg128', 'pp512+tg128']);
  });

  it('crosses lengths, depths and batch sizes llama-bench style', () => {
    const ids = selectTests({ promptLengths: [128, 512], genTokens: [32], depths: [0, 256], batchSizes: [1, 4] }).map((t) => t.id);
    expect(ids).toEqual([
      'pp128', 'pp128/b4', 'pp128@d256', 'pp128@d256/b4',
      'pp512', 'pp512/b4', 'pp512@d256', 'pp512@d256/b4',
      'tg32', 'tg32/b4', 'tg32@d256', 'tg32@d256/b4',
      'pp128+tg32', 'pp128+tg32/b4', 'pp128+tg32@d256', 'pp128+tg32@d256/b4',
      'pp512+tg32', 'pp512+tg32/b4', 'pp512+tg32@d256', 'pp512+tg32@d256/b4',
    ]);
  });

  it('takes explicit tests as given and removes duplicates', () => {
    expect(selectTests({ tests: ['pp512', 'tg128@d512', 'pp512', 'pp512+tg128'] }).map((t) => t.id)).toEqual(['pp512', 'tg128@d512', 'pp512+tg128']);
  });
});

describe('inputs', () => {
  it('batched sequences have different lengths, the first is the full length', () => {
    expect(batchSequenceLengths(512, 4)).toEqual([512, 448, 384, 320]);
    expect(batchSequenceLengths(7, 1)).toEqual([7]);
    expect(batchSequenceLengths(1, 3)).toEqual([1, 1, 1]);
  });

  it('KV length at the end of each kind of test', () => {
    expect(kvTokensAtEnd(parseTestId('pp512'))).toBe(512);
    expect(kvTokensAtEnd(parseTestId('pp512@d64'))).toBe(576);
    expect(kvTokensAtEnd(parseTestId('tg128'))).toBe(129);
    expect(kvTokensAtEnd(parseTestId('tg128@d512'))).toBe(640);
    expect(kvTokensAtEnd(parseTestId('pp512+tg128'))).toBe(639);
  });

  it('the past length of the deepest decode step, and which KV layout auto gives each test', () => {
    const depth = (id: string) => deepestDecodeDepth(parseTestId(id));
    // A prompt alone decodes nothing.
    expect(depth('pp512')).toBe(0);
    expect(depth('pp512@d2048')).toBe(0);
    // tg128: the start token, then 128 steps; the last one runs over 128 positions.
    expect(depth('tg128')).toBe(128);
    expect(depth('tg128@d512')).toBe(639);
    // pp512+tg32: 31 steps after the prompt's token, the last over 542 positions.
    expect(depth('pp512+tg32')).toBe(542);
    const layout = (id: string) => autoKvLayout('fused', 'cpu', depth(id));
    // The last step of tg128@d128 runs over 255 positions, one short of DIRECT_MIN_DEPTH (256); tg128@d129's over 256.
    expect(DIRECT_MIN_DEPTH).toBe(256);
    expect(depth('tg128@d128')).toBe(255);
    expect(['pp512', 'tg128', 'pp128+tg32', 'tg128@d128'].map(layout)).toEqual(['appended', 'appended', 'appended', 'appended']);
    expect(['tg128@d129', 'tg128@d512', 'pp512+tg32', 'pp256+tg4'].map(layout)).toEqual(['direct', 'direct', 'direct', 'direct']);
    // Without a depth (unknown work) the direct layout; standard graphs and GPUs keep the growing cache.
    expect(autoKvLayout('fused', 'cpu')).toBe('direct');
    expect(autoKvLayout('standard', 'cpu', 0)).toBe('growing');
    expect(autoKvLayout('fused', 'webgpu', 0)).toBe('growing');
  });

  it('synthetic ids are seeded, in range and avoid special tokens', () => {
    const a = syntheticTokenIds(42, 1000, 100);
    expect(a).toEqual(syntheticTokenIds(42, 1000, 100));
    expect(a).not.toEqual(syntheticTokenIds(43, 1000, 100));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...a)).toBeLessThan(100);
    expect(hashTokenIds([1, 2, 3])).toBe(hashTokenIds(new Int32Array([1, 2, 3])));
    expect(hashTokenIds([1, 2, 3])).not.toBe(hashTokenIds([1, 2, 4]));
  });
});
