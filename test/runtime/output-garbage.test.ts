import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDecoderIo } from '../../src/runtime/decoder-io.js';
import { DecoderLoop } from '../../src/runtime/decoder-loop.js';
import { cpuOutputBytes, heapCollector, OutputGarbage } from '../../src/runtime/output-garbage.js';
import { createSession } from '../../src/runtime/session.js';
import { buildTinyModel } from '../helpers/tiny-model.js';

const f32 = (n: number): ort.Tensor => new ort.Tensor('float32', new Float32Array(n), [n]);

describe('output garbage accounting', () => {
  it('counts the bytes of CPU outputs', () => {
    expect(cpuOutputBytes({ a: f32(10), b: new ort.Tensor('int64', new BigInt64Array(3), [3]) })).toBe(40 + 24);
    expect(cpuOutputBytes({})).toBe(0);
  });

  it('collects the young generation before a run once the outputs passed the budget, then counts again from zero', () => {
    const kinds: string[] = [];
    const garbage = new OutputGarbage({ outputBudgetBytes: 1000, collect: (type) => kinds.push(type) });
    garbage.add({ logits: f32(100) }); // 400
    garbage.beforeRun();
    garbage.add({ logits: f32(100) }); // 800
    garbage.beforeRun();
    expect(kinds).toEqual([]);
    garbage.add({ logits: f32(100) }); // 1200
    // Counting never collects: the outputs just counted are still in use.
    expect(kinds).toEqual([]);
    garbage.beforeRun();
    expect(kinds).toEqual(['minor']);
    garbage.add({ logits: f32(200) }); // 800
    garbage.beforeRun();
    expect(kinds).toEqual(['minor']);
    garbage.add({ logits: f32(50) }); // 1000
    garbage.beforeRun();
    expect(garbage.collections).toEqual({ minor: 2, major: 0 });
  });

  it('runs a full collection once released cache buffers passed their budget', () => {
    const kinds: string[] = [];
    const garbage = new OutputGarbage({ outputBudgetBytes: 1000, releasedBudgetBytes: 5000, collect: (type) => kinds.push(type) });
    garbage.add({ logits: f32(300) }); // 1200 of output garbage
    garbage.released(5000);
    garbage.beforeRun();
    // One full collection frees the outputs too: no minor one besides, and their count starts again.
    expect(kinds).toEqual(['major']);
    garbage.add({ logits: f32(200) });
    garbage.beforeRun();
    expect(kinds).toEqual(['major']);
    garbage.released(3000);
    garbage.beforeRun();
    expect(kinds).toEqual(['major']);
  });

  it('does nothing without a collector', () => {
    const garbage = new OutputGarbage({ outputBudgetBytes: 1, releasedBudgetBytes: 1, collect: null });
    garbage.add({ logits: f32(1000) });
    garbage.released(1000);
    garbage.beforeRun();
    expect(garbage.collections).toEqual({ minor: 0, major: 0 });
  });

  it("reaches V8's collector without a command-line flag, and its minor collection frees dead buffers", async () => {
    const collect = heapCollector();
    expect(typeof collect).toBe('function');
    const base = process.memoryUsage().arrayBuffers;
    // 16 MiB of dead buffers: below V8's own external-memory trigger, so nothing else frees them.
    for (let i = 0; i < 16; i += 1) new Float32Array(2 ** 18).fill(i);
    const before = process.memoryUsage().arrayBuffers - base;
    collect?.('minor');
    // V8 sweeps the dead buffers on a background thread: give it up to a second.
    let after = process.memoryUsage().arrayBuffers - base;
    for (let i = 0; i < 100 && after >= 2 ** 20; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      after = process.memoryUsage().arrayBuffers - base;
    }
    expect(before).toBeGreaterThanOrEqual(15 * 2 ** 20);
    expect(after).toBeLessThan(2 ** 20);
  });
});

describe('the decoder loop frees the outputs of past steps', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelscout-garbage-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('collects after every run over the budget, and the generation is unchanged', async () => {
    const model = await buildTinyModel({ arch: 'llama', layers: 1, dir: join(dir, 'llama') });
    const { session } = await createSession(model.modelFile, { device: 'cpu', threads: 1, graphOptLevel: 'all' });
    const io = detectDecoderIo(session.inputMetadata, session.outputMetadata);
    const generate = async (garbage: OutputGarbage): Promise<number[]> => {
      const loop = new DecoderLoop(session, io, { outputGarbage: garbage });
      loop.reset(1, 32);
      await loop.prefill([[5, 17, 42]]);
      const ids: number[] = [];
      for (let s = 0; s < 6; s += 1) {
        ids.push(loop.sampleNext()[0] as number);
        await loop.decodeStep();
      }
      return ids;
    };
    const never = await generate(new OutputGarbage({ collect: null }));
    // A budget of one byte: a minor collection after every run.
    const every = new OutputGarbage({ outputBudgetBytes: 1 });
    const collected = await generate(every);
    expect(collected).toEqual(never);
    // Before each run after the first (the prompt pass): six decode steps.
    expect(every.collections.minor).toBe(6);
  });
});
