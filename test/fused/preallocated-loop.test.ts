import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { detectDecoderIo, type DecoderIo } from '../../src/runtime/decoder-io.js';
import { generateByRecompute, generateGreedy, selfCheck } from '../../src/bench/generate.js';
import { DecoderLoop, logitsRow } from '../../src/runtime/decoder-loop.js';
import { DEFAULT_UBATCH_SIZE } from '../../src/estimate/fit.js';
import { createSession } from '../../src/runtime/session.js';
import { NEW_KV_ALL_OUTPUT, addNewKvOutputs, newKvOutputName } from '../../src/onnx/fused/new-kv-outputs.js';
import { readModel } from '../../src/onnx/model-io.js';
import { modelSpecFromHfConfig } from '../../src/catalog/index.js';
import { buildFusedDecoderModel } from '../../src/onnx/fused/build-fused-decoder.js';
import { writeModel } from '../../src/onnx/model-io.js';
import { resolveSynthArchitecture } from '../../src/onnx/synth/architecture.js';
import { buildDecoderModel } from '../../src/onnx/synth/build-decoder.js';
import { TINY_CONFIGS } from '../helpers/tiny-model.js';

const LAYERS = 2;
const config = TINY_CONFIGS.llama;
const arch = resolveSynthArchitecture(modelSpecFromHfConfig(config, { source: 'llama.json' }), config);
const PROMPTS = [
  [5, 17, 42, 99, 3, 64, 8],
  [12, 7, 120],
];

let dir: string;
let fused: ort.InferenceSession;
let appended: ort.InferenceSession;
let standard: ort.InferenceSession;
let fusedIo: DecoderIo;
let standardIo: DecoderIo;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-prealloc-'));
  const f = buildFusedDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: 3, maxLength: 64 });
  await writeModel(join(dir, 'fused.onnx'), f.model, { tensorData: f.tensorData });
  const s = buildDecoderModel({ arch, layers: LAYERS, dtype: 'fp32', seed: 3 });
  await writeModel(join(dir, 'standard.onnx'), s.model, { tensorData: s.tensorData });
  fused = await ort.InferenceSession.create(join(dir, 'fused.onnx'), { intraOpNumThreads: 1 });
  standard = await ort.InferenceSession.create(join(dir, 'standard.onnx'), { intraOpNumThreads: 1 });
  fusedIo = detectDecoderIo(fused.inputMetadata, fused.outputMetadata);
  appended = (await createSession(join(dir, 'fused.onnx'), { device: 'cpu', threads: 1, graphOptLevel: 'all' }, { kvLayout: 'appended' })).session;
  standardIo = detectDecoderIo(standard.inputMetadata, standard.outputMetadata);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the generation loop with a preallocated KV cache', () => {
  it('reads the fused graph as a decoder with num_logits_to_keep and no position_ids', () => {
    expect(fusedIo.logitsToKeep).toBe('num_logits_to_keep');
    expect(fusedIo.positionIds).toBeNull();
    expect(fusedIo.layers).toHaveLength(LAYERS);
  });

  it('generates what the growing cache and the standard graph generate, batched and left-padded', async () => {
    const growing = await generateGreedy(new DecoderLoop(fused, fusedIo, { kvLayout: 'growing' }), PROMPTS, 6);
    const loop = new DecoderLoop(fused, fusedIo, { kvLayout: 'preallocated' });
    const shared = await generateGreedy(loop, PROMPTS, 6);
    const reference = await generateGreedy(new DecoderLoop(standard, standardIo), PROMPTS, 6);
    expect(shared.ids).toEqual(growing.ids);
    expect(shared.ids).toEqual(reference.ids);
    expect(loop.kv.layout).toBe('preallocated');
    // 6 new tokens after a 7-token padded prompt: the last step fed 12 positions; the buffers hold 13.
    expect(loop.kv.length).toBe(12);
    expect(loop.kv.measuredBytes()).toBe(2 * LAYERS * PROMPTS.length * arch.numKvHeads * 13 * arch.headDim * 4);
    // Reused across generations of the same shape, and still right.
    const again = await generateGreedy(loop, PROMPTS, 6);
    expect(again.ids).toEqual(shared.ids);
  });

  it('equals full recomputation (the self-check) and a one-by-one generation', async () => {
    const loop = new DecoderLoop(fused, fusedIo, { kvLayout: 'preallocated' });
    const check = await selfCheck(loop, [9, 8, 7, 6, 5], 4, 1e-4);
    expect(check.passed).toBe(true);
    const byRecompute = await generateByRecompute(loop, PROMPTS[1]!, 5);
    const incremental = await generateGreedy(loop, [PROMPTS[1]!], 5);
    expect(incremental.ids[0]).toEqual(byRecompute);
  });

  it('refuses to run past its capacity', async () => {
    const loop = new DecoderLoop(fused, fusedIo, { kvLayout: 'preallocated' });
    loop.reset(1, 4);
    await expect(loop.prefill([[1, 2, 3, 4, 5]])).rejects.toThrow(/overflow/);
  });

  it('fails loudly on a standard graph, whose present would outgrow the buffer', async () => {
    const loop = new DecoderLoop(standard, standardIo, { kvLayout: 'preallocated' });
    await expect(generateGreedy(loop, [PROMPTS[0]!], 3)).rejects.toThrow(/present\.0\.key/);
  });
});

describe('the appended KV layout (the graph returns only the new positions)', () => {
  it('adds one new-positions output per present, one with all of them, and keeps the presents', async () => {
    expect(newKvOutputName('present.3.key')).toBe('present_new.3.key');
    expect(appended.outputNames).toEqual(expect.arrayContaining(['present.0.key', 'present_new.0.key', 'present_new.1.value', NEW_KV_ALL_OUTPUT]));
    expect(appended.outputNames).toHaveLength(2 + 4 * LAYERS);
    // A standard graph (no GroupQueryAttention) is refused in one line.
    const s = await readModel(join(dir, 'standard.onnx'));
    expect(() => addNewKvOutputs(s.model)).toThrow(/appended KV layout needs a fused graph/);
  });

  it('generates what the growing cache and the standard graph generate, batched and left-padded, and never fetches a present', async () => {
    const io = detectDecoderIo(appended.inputMetadata, appended.outputMetadata);
    const loop = new DecoderLoop(appended, io, { kvLayout: 'appended' });
    const got = await generateGreedy(loop, PROMPTS, 6);
    const reference = await generateGreedy(new DecoderLoop(standard, standardIo), PROMPTS, 6);
    expect(got.ids).toEqual(reference.ids);
    expect(loop.kv.layout).toBe('appended');
    // Only the logits and the one concatenated output cross into JavaScript.
    expect(Object.keys(loop.kv.fetches?.() ?? {}).sort()).toEqual([NEW_KV_ALL_OUTPUT, io.logits].sort());
    expect(loop.kv.length).toBe(12);
    expect(loop.kv.measuredBytes()).toBe(2 * LAYERS * PROMPTS.length * arch.numKvHeads * 13 * arch.headDim * 4);
    const again = await generateGreedy(loop, PROMPTS, 6);
    expect(again.ids).toEqual(got.ids);
    // A session without the concatenated output: one output per present, the same tokens.
    const perPresent = new DecoderLoop(appended, { ...io, newKvAll: null }, { kvLayout: 'appended' });
    expect((await generateGreedy(perPresent, PROMPTS, 6)).ids).toEqual(got.ids);
  });

  it('equals full recomputation (the self-check), and a cache that skips the copy-in does not', async () => {
    const io = detectDecoderIo(appended.inputMetadata, appended.outputMetadata);
    const loop = new DecoderLoop(appended, io, { kvLayout: 'appended' });
    const check = await selfCheck(loop, [9, 8, 7, 6, 5], 4, 1e-4);
    expect(check.passed).toBe(true);
    const byRecompute = await generateByRecompute(loop, PROMPTS[1]!, 5);
    expect((await generateGreedy(loop, [PROMPTS[1]!], 5)).ids[0]).toEqual(byRecompute);
    // A cache that stores zeros instead of the new positions must be caught by the check.
    const broken = new DecoderLoop(appended, io, { kvLayout: 'appended' });
    const update = broken.kv.update.bind(broken.kv);
    broken.kv.update = (outputs): void => {
      const zeroed: Record<string, ort.Tensor> = {};
      for (const [name, value] of Object.entries(outputs)) {
        const t = value as ort.Tensor;
        zeroed[name] = name.startsWith('present_new.') ? new ort.Tensor('float32', new Float32Array(t.data.length), t.dims) : t;
      }
      update(zeroed);
    };
    const bad = await selfCheck(broken, [9, 8, 7, 6, 5], 4, 1e-4);
    expect(bad.passed).toBe(false);
  });
});

describe('a long prompt in passes of at most ubatchSize positions', () => {
  const LONG = Array.from({ length: 11 }, (_, i) => ((i * 13) % 120) + 1);
  const cases = () =>
    [
      ['fused, appended', appended, fusedIo, 'appended'],
      ['fused, growing', fused, fusedIo, 'growing'],
      ['standard, growing', standard, standardIo, 'growing'],
    ] as const;

  /** Runs `body` and returns the input_ids shape of each session run in it (the loop reuses one feeds object, so a spy's recorded arguments change after the fact). */
  const passShapes = async (session: ort.InferenceSession, inputIds: string, body: () => Promise<unknown>): Promise<number[][]> => {
    const shapes: number[][] = [];
    const run = session.run.bind(session) as (...a: unknown[]) => Promise<unknown>;
    const spy = vi.spyOn(session, 'run').mockImplementation(((feeds: Record<string, ort.Tensor>, ...rest: unknown[]) => {
      shapes.push([...(feeds[inputIds] as ort.Tensor).dims]);
      return run(feeds, ...rest);
    }) as never);
    try {
      await body();
    } finally {
      spy.mockRestore();
    }
    return shapes;
  };

  const lastRow = (logits: ort.Tensor): Float64Array => logitsRow(logits, 0, (logits.dims[1] as number) - 1);

  it.each([0, 1, 2])('gives the logits and tokens of one pass (case %#: fused appended, fused growing, standard)', async (k) => {
    const [, session, io, kvLayout] = cases()[k]!;
    const whole = new DecoderLoop(session, io, { kvLayout, ubatchSize: 0 });
    whole.reset(1, LONG.length + 4);
    const one = lastRow((await whole.prefill([LONG])).logits);
    const split = new DecoderLoop(session, io, { kvLayout, ubatchSize: 4 });
    split.reset(1, LONG.length + 4);
    let passes: ort.Tensor | null = null;
    const shapes = await passShapes(session, io.inputIds, async () => {
      passes = (await split.prefill([LONG])).logits;
    });
    expect(shapes).toEqual([
      [1, 4],
      [1, 4],
      [1, 3],
    ]);
    expect(split.pastLength).toBe(11);
    lastRow(passes!).forEach((v, i) => expect(v).toBeCloseTo(one[i]!, 4));
    const a = await generateGreedy(new DecoderLoop(session, io, { kvLayout, ubatchSize: 0 }), [LONG], 4);
    const b = await generateGreedy(new DecoderLoop(session, io, { kvLayout, ubatchSize: 4 }), [LONG], 4);
    expect(b.ids).toEqual(a.ids);
  });

  it('runs several sequences, and a prompt within the default 256, in one pass', async () => {
    const batched = new DecoderLoop(appended, fusedIo, { kvLayout: 'appended', ubatchSize: 4 });
    batched.reset(2, 16);
    const byDefault = new DecoderLoop(appended, fusedIo, { kvLayout: 'appended' });
    byDefault.reset(1, 16);
    const shapes = await passShapes(appended, fusedIo.inputIds, async () => {
      await batched.prefill([LONG, [12, 7, 120]]);
      await byDefault.prefill([LONG]);
    });
    expect(shapes).toEqual([
      [2, 11],
      [1, 11],
    ]);
    expect(DEFAULT_UBATCH_SIZE).toBe(256);
    expect(() => new DecoderLoop(appended, fusedIo, { ubatchSize: -1 })).toThrow(RangeError);
  });
});
