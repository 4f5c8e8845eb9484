import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDecoderIo, kvBytesPerToken } from '../../src/runtime/decoder-io.js';
import { generateByRecompute, generateGreedy, selfCheck, selfCheckTolerance } from '../../src/bench/generate.js';
import { DecoderLoop, argmaxF16, argmaxF32, halfToFloat } from '../../src/runtime/decoder-loop.js';
import { measureTest } from '../../src/bench/measure.js';
import { parseTestId, selectTests } from '../../src/bench/scenarios.js';
import { createSession } from '../../src/runtime/session.js';
import { buildTinyModel, type TinyArch } from '../helpers/tiny-model.js';

let dir: string;
const loops = new Map<string, DecoderLoop>();

async function loopFor(arch: TinyArch, dtype: 'fp32' | 'fp16' = 'fp32'): Promise<DecoderLoop> {
  const key = `${arch}-${dtype}`;
  const existing = loops.get(key);
  if (existing) return existing;
  const model = await buildTinyModel({ arch, dtype, layers: 2, dir: join(dir, key) });
  const { session } = await createSession(model.modelFile, { device: 'cpu', threads: 1, graphOptLevel: 'all' });
  const loop = new DecoderLoop(session, detectDecoderIo(session.inputMetadata, session.outputMetadata));
  loops.set(key, loop);
  return loop;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-gen-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the generation loop on tiny synthetic models', () => {
  for (const arch of ['llama', 'qwen2', 'gpt2'] as const) {
    it(`${arch}: greedy generation with the KV cache equals full recomputation`, async () => {
      const loop = await loopFor(arch);
      const seen = new Set<number>();
      for (const prompt of [[5, 17, 42, 9, 100, 3], [99, 4, 120]]) {
        const withCache = await generateGreedy(loop, [prompt], 12);
        const reference = await generateByRecompute(loop, prompt, 12);
        expect(withCache.ids[0]).toEqual(reference);
        for (const id of reference) seen.add(id);
        expect(withCache.tokenTimesMs).toHaveLength(12);
        expect(withCache.runMs).toHaveLength(12);
      }
      // The ids must not be trivially constant, or the comparison would prove little.
      expect(seen.size).toBeGreaterThan(2);
    });

    it(`${arch}: batched left-padded generation equals one-by-one generation`, async () => {
      const loop = await loopFor(arch);
      const prompts = [[5, 17, 42, 9, 100, 3], [7, 8], [60, 61, 62, 63]];
      const batched = await generateGreedy(loop, prompts, 10);
      for (let i = 0; i < prompts.length; i += 1) {
        const single = await generateGreedy(loop, [prompts[i]!], 10);
        expect(batched.ids[i], `sequence ${i}`).toEqual(single.ids[0]);
      }
    });
  }

  it('fp16: the loop runs a float16 KV cache and agrees with recomputation', async () => {
    const loop = await loopFor('llama', 'fp16');
    expect(loop.io.kvType).toBe('float16');
    const prompt = [5, 17, 42, 9];
    expect((await generateGreedy(loop, [prompt], 8)).ids[0]).toEqual(await generateByRecompute(loop, prompt, 8));
  });

  it('the self-check passes on a correct loop and fails when the cache is corrupted', async () => {
    const loop = await loopFor('llama');
    const prompt = [5, 17, 42, 9, 100, 3, 8, 1];
    const good = await selfCheck(loop, prompt, 4, 1e-3);
    expect(good.passed).toBe(true);
    expect(good.positions).toBe(5);
    // Scale every present tensor the loop keeps: incremental decoding now sees a wrong past.
    const kv = loop.kv as { update: (o: ort.InferenceSession.OnnxValueMapType) => void };
    const original = kv.update.bind(loop.kv);
    kv.update = (outputs) => {
      for (const [name, value] of Object.entries(outputs)) {
        if (name.startsWith('present.')) {
          const data = (value as ort.Tensor).data as Float32Array;
          for (let i = 0; i < data.length; i += 1) data[i] = (data[i] as number) * 0.5;
        }
      }
      original(outputs);
    };
    try {
      const bad = await selfCheck(loop, prompt, 4, 1e-3);
      expect(bad.passed).toBe(false);
      expect(bad.max_abs_diff).toBeGreaterThan(bad.tolerance);
      // The wider tolerance used for int4 models still catches a broken cache.
      const quantizedTolerance = selfCheckTolerance({ kvType: 'float32', logitsType: 'float32' }, true);
      expect((await selfCheck(loop, prompt, 4, quantizedTolerance)).passed).toBe(false);
    } finally {
      kv.update = original;
    }
  });

  it('KV cache bytes: analytic equals measured (Σ present dims) for every kind of test', async () => {
    const loop = await loopFor('qwen2');
    expect(kvBytesPerToken(loop.io)).toBe(2 * 2 * 2 * 16 * 4);
    for (const test of selectTests({ tests: ['pp12', 'tg6', 'pp12+tg6', 'tg4@d9', 'pp5+tg3@d4/b3'] })) {
      const m = await measureTest(loop, test, { repetitions: 2, warmup: 0, seed: 1, vocabSize: 128 });
      expect(m.kv.measured_bytes, test.id).toBe(m.kv.analytic_bytes);
      expect(m.samples).toHaveLength(2);
      // Same seed, same inputs, greedy: both repetitions generate the same ids.
      expect(m.samples[0]!.output_ids_sha256).toBe(m.samples[1]!.output_ids_sha256);
    }
  });

  it('measures the fields each kind of test defines', async () => {
    const loop = await loopFor('llama');
    const pp = await measureTest(loop, parseTestId('pp8'), { repetitions: 3, warmup: 1, seed: 1, vocabSize: 128 });
    expect(pp.metrics.prefill_tps?.n).toBe(3);
    expect(pp.metrics.decode_tps).toBeNull();
    expect(pp.warmup_ms).toHaveLength(1);
    const tg = await measureTest(loop, parseTestId('tg5'), { repetitions: 2, warmup: 0, seed: 1, vocabSize: 128 });
    expect(tg.metrics.prefill_tps).toBeNull();
    expect(tg.samples[0]!.decode_steps).toBe(5);
    expect(tg.samples[0]!.itl_ms).toHaveLength(5);
    expect(tg.metrics.itl_ms?.n).toBe(10);
    const req = await measureTest(loop, parseTestId('pp6+tg4/b2'), { repetitions: 2, warmup: 0, seed: 1, vocabSize: 128 });
    expect(req.prompt_lengths).toEqual([6, 5]);
    const s = req.samples[0]!;
    expect(s.decode_steps).toBe(3);
    expect(s.ttft_ms).toBeCloseTo((s.prefill_ms ?? 0) + (s.first_sample_ms ?? 0), 9);
    // decode_tps = B·(G−1) / (t_G − t_1)
    expect(req.metrics.decode_tps?.max).toBeCloseTo(Math.max(...req.samples.map((x) => (2 * 3) / (x.decode_ms as number) * 1000)), 6);
    const overhead = s.harness_overhead_pct as number;
    expect(overhead).toBeGreaterThanOrEqual(0);
    expect(overhead).toBeLessThan(100);
  });
});

describe('argmax helpers', () => {
  it('argmaxF32 takes the first maximum inside the window', () => {
    expect(argmaxF32(new Float32Array([9, 1, 5, 5, 2]), 1, 4)).toBe(1);
    expect(argmaxF32(new Float32Array([-3, -1, -2]), 0, 3)).toBe(1);
  });

  it('argmaxF16 orders half bits like their values, negatives included', () => {
    // 0xbc00 = −1, 0xc000 = −2, 0x3c00 = 1, 0x4000 = 2, 0x0000 = 0
    expect(argmaxF16(new Uint16Array([0xc000, 0xbc00]), 0, 2)).toBe(1);
    expect(argmaxF16(new Uint16Array([0xbc00, 0x0000, 0x3c00, 0x4000, 0x3c00]), 0, 5)).toBe(3);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3555)).toBeCloseTo(1 / 3, 3);
  });
});
