import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseVariantList, readBenchConfig, resolveBenchPlan } from '../../src/bench/config.js';
import { ModelscoutError } from '../../src/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, content: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}

describe('bench config', () => {
  it('reads a config file, resolving paths against it, and lets flags win', async () => {
    const p = await write('ok.json', JSON.stringify({
      models: ['models/a', '/abs/b'],
      variants: ['fp32', 'q4'],
      threads: [1, 2],
      tests: ['pp512', 'tg128'],
      repetitions: 3,
      thresholds: { min_decode_tps: 20, max_peak_rss: '2GiB', max_regression_pct: 5 },
      baseline: 'base.json',
    }));
    const file = await readBenchConfig(p);
    expect(file.models).toEqual([join(dir, 'models/a'), '/abs/b']);
    expect(file.baseline).toBe(join(dir, 'base.json'));
    const plan = resolveBenchPlan(file, { repetitions: 7, threads: [2] });
    expect(plan.repetitions).toBe(7);
    expect(plan.threads).toEqual([2]);
    expect(plan.variants).toEqual(['fp32', 'q4']);
    expect(plan.tests.map((t) => t.id)).toEqual(['pp512', 'tg128']);
    expect(plan.thresholds).toEqual({ min_decode_tps: 20, max_ttft_ms: null, max_peak_rss_bytes: 2 * 1024 ** 3, max_regression_pct: 5, inconclusive_pass: false, allow_missing: false });
    expect(plan.devices).toEqual(['cpu']);
    expect(plan.warmup).toBe(1);
  });

  it('the committed example config is valid', async () => {
    const file = await readBenchConfig(join(process.cwd(), 'modelscout.bench.json'));
    expect(file.models?.length).toBeGreaterThan(0);
    expect(() => resolveBenchPlan(file, {})).not.toThrow();
  });

  it('rejects unknown keys, bad values and bad JSON as usage errors naming the key', async () => {
    const cases: [string, RegExp][] = [
      [JSON.stringify({ models: ['a'], repetitons: 3 }), /repetitons|Unrecognized/],
      [JSON.stringify({ models: ['a'], threads: [-1] }), /threads\.0/],
      [JSON.stringify({ models: ['a'], variants: ['int3'] }), /variants/],
      ['{ "models": [', /not valid JSON/],
    ];
    for (const [content, pattern] of cases) {
      const p = await write('bad.json', content);
      const error = await readBenchConfig(p).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelscoutError);
      expect((error as ModelscoutError).exitCode).toBe(2);
      expect((error as Error).message).toMatch(pattern);
    }
    await expect(readBenchConfig(join(dir, 'nope.json'))).rejects.toThrow(/no such file/);
  });

  it('needs a model and a valid threshold', () => {
    expect(() => resolveBenchPlan({}, {})).toThrow(/no model given/);
    expect(() => resolveBenchPlan({}, { models: ['a'], maxPeakRss: 'lots' })).toThrow(/--max-peak-rss/);
  });

  it('parses variant lists', () => {
    expect(parseVariantList('fp32,q4')).toEqual(['fp32', 'q4']);
    expect(parseVariantList('all')).toBe('all');
    expect(parseVariantList('int8,q4f16')).toEqual(['int8', 'q4f16']);
    expect(() => parseVariantList('int4')).toThrow(/invalid variant "int4": expected fp32, fp16, int8, q4, q4f16, all/);
  });
});
