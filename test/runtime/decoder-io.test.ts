import type * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { detectDecoderIo, kvBytesPerToken } from '../../src/runtime/decoder-io.js';
import { detectDecoderSignature, recognizeDecoder, type IoTensorInfo } from '../../src/onnx/decoder-signature.js';
import { GraphBuilder } from '../../src/onnx/graph-builder.js';
import { DataType } from '../../src/onnx/proto.js';
import { ModelscoutError } from '../../src/errors.js';

type Meta = ort.InferenceSession.ValueMetadata;
const t = (name: string, type: string, shape: (number | string)[]): Meta => ({ name, isTensor: true, type, shape }) as unknown as Meta;

function decoder(layers: number, kvType = 'float32', extra: Meta[] = []): { inputs: Meta[]; outputs: Meta[] } {
  const inputs: Meta[] = [t('input_ids', 'int64', ['batch', 'seq']), t('attention_mask', 'int64', ['batch', 'total']), t('position_ids', 'int64', ['batch', 'seq']), ...extra];
  const outputs: Meta[] = [t('logits', 'float32', ['batch', 'seq', 151936])];
  for (let i = 0; i < layers; i += 1) {
    for (const kind of ['key', 'value']) {
      inputs.push(t(`past_key_values.${i}.${kind}`, kvType, ['batch', 2, 'past', 64]));
      outputs.push(t(`present.${i}.${kind}`, kvType, ['batch', 2, 'total', 64]));
    }
  }
  return { inputs, outputs };
}

describe('detectDecoderIo', () => {
  it('reads layers, KV heads, head dim, dtype and vocabulary (Qwen2.5-0.5B shape)', () => {
    const { inputs, outputs } = decoder(24);
    const io = detectDecoderIo(inputs, outputs);
    expect(io.layers).toHaveLength(24);
    expect(io).toMatchObject({ kvHeads: 2, headDim: 64, kvType: 'float32', vocabSize: 151936, positionIds: 'position_ids', logitsToKeep: null });
    // 2 · 24 · 2 · 64 · 4 bytes: the figure the estimator uses for Qwen2.5-0.5B at fp32
    expect(kvBytesPerToken(io)).toBe(24_576);
    expect(kvBytesPerToken(detectDecoderIo(...Object.values(decoder(24, 'float16')) as [Meta[], Meta[]]))).toBe(12_288);
  });

  it('accepts num_logits_to_keep and a model without position_ids', () => {
    const { inputs, outputs } = decoder(2, 'float32', [t('num_logits_to_keep', 'int64', [])]);
    const io = detectDecoderIo(inputs.filter((m) => m.name !== 'position_ids'), outputs);
    expect(io.logitsToKeep).toBe('num_logits_to_keep');
    expect(io.positionIds).toBeNull();
  });

  it('reads the direct layout graph\'s five-dimensional caches ([batch, kv_heads, 1, seq, head_dim]) and refuses other ranks', () => {
    const five = (list: Meta[]): Meta[] =>
      list.map((m) => (m.name.startsWith('past_') || m.name.startsWith('present.') ? t(m.name, 'float32', ['batch', 2, 1, 'seq', 64]) : m));
    const { inputs, outputs } = decoder(2);
    const io = detectDecoderIo(five(inputs), five(outputs));
    expect(io).toMatchObject({ kvHeads: 2, headDim: 64 });
    expect(kvBytesPerToken(io)).toBe(2 * 2 * 2 * 64 * 4);
    const wide = (list: Meta[]): Meta[] => list.map((m) => (m.name.startsWith('past_') ? t(m.name, 'float32', ['batch', 2, 3, 'seq', 64]) : m));
    expect(() => detectDecoderIo(wide(inputs), outputs)).toThrow(/has rank 5, expected \[batch, kv_heads, sequence, head_dim\]/);
  });

  it('refuses what it cannot drive, saying what it found', () => {
    const noPast = decoder(0);
    const cases: [Meta[], Meta[], RegExp][] = [
      [noPast.inputs, noPast.outputs, /no past_key_values/],
      [decoder(2).inputs.filter((m) => m.name !== 'input_ids'), decoder(2).outputs, /no input_ids/],
      [decoder(2).inputs, decoder(2).outputs.filter((m) => m.name !== 'present.1.value'), /present\.1\.value output missing/],
      [[...decoder(2).inputs, t('pixel_values', 'float32', [1, 3, 224, 224])], decoder(2).outputs, /unsupported input\(s\) pixel_values/],
    ];
    for (const [inputs, outputs, pattern] of cases) {
      let error: unknown;
      try {
        detectDecoderIo(inputs, outputs);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ModelscoutError);
      expect((error as Error).message).toMatch(pattern);
      expect((error as ModelscoutError).code).toBe('E_UNSUPPORTED');
      expect((error as Error).message).toMatch(/^model: not a supported decoder signature \(.*\); found inputs \[(input_ids|attention_mask), /);
    }
  });
});

/** The same I/O as a graph: what inspect and bench read from the file. */
function graphOf(inputs: Meta[], outputs: Meta[]) {
  const g = new GraphBuilder();
  const type = (name: string): number => ({ int64: DataType.INT64, int32: DataType.INT32, float32: DataType.FLOAT, float16: DataType.FLOAT16, bool: DataType.BOOL })[name]!;
  for (const m of inputs) g.addInput(m.name, type((m as unknown as { type: string }).type), (m as unknown as { shape: (number | string)[] }).shape);
  for (const m of outputs) g.addOutput(m.name, type((m as unknown as { type: string }).type), (m as unknown as { shape: (number | string)[] }).shape);
  return g.build().model;
}

describe('one recogniser for the file and the session', () => {
  it('a graph and a session with the same I/O give the same layers, names, types and sizes', () => {
    const { inputs, outputs } = decoder(3, 'float16', [t('logits_to_keep', 'int64', []), t('use_cache_branch', 'bool', [1])]);
    const sig = detectDecoderSignature(graphOf(inputs, outputs), 'model.onnx');
    const io = detectDecoderIo(inputs, outputs);
    expect(sig).toMatchObject({ numLayers: 3, numKvHeads: 2, headDim: 64, kvDtype: 'float16', kvBytesPerToken: 3 * 2 * 2 * 64 * 2, vocabSize: 151936 });
    expect(sig.logitsToKeep?.name).toBe('logits_to_keep');
    expect(sig.useCacheBranch?.name).toBe('use_cache_branch');
    expect(io).toMatchObject({ kvHeads: 2, headDim: 64, kvType: 'float16', vocabSize: 151936, logitsToKeep: 'logits_to_keep', useCacheBranch: 'use_cache_branch' });
    expect(io.layers.map((l) => [l.pastKey, l.pastValue, l.presentKey, l.presentValue])).toEqual(
      sig.pastKeyNames.map((k, i) => [k, sig.pastValueNames[i], sig.presentKeyNames[i], sig.presentValueNames[i]]),
    );
    expect(kvBytesPerToken(io)).toBe(sig.kvBytesPerToken);
  });

  it('refuses the same things with the same line on both paths', () => {
    const bad: [Meta[], Meta[]][] = [
      [decoder(2).inputs.filter((m) => m.name !== 'past_key_values.0.value'), decoder(2).outputs],
      [decoder(2, 'float32', [t('token_type_ids', 'int64', ['batch', 'seq'])]).inputs, decoder(2).outputs],
      [decoder(2).inputs, decoder(2).outputs.map((m) => (m.name === 'present.1.key' ? t(m.name, 'float16', ['batch', 2, 'total', 64]) : m))],
    ];
    for (const [inputs, outputs] of bad) {
      const messages = [() => detectDecoderSignature(graphOf(inputs, outputs)), () => detectDecoderIo(inputs, outputs)].map((f) => {
        try {
          f();
        } catch (error) {
          return (error as ModelscoutError).code + ' ' + (error as Error).message;
        }
        return 'accepted';
      });
      expect(messages[0]).toMatch(/^E_UNSUPPORTED model: not a supported decoder signature/);
      expect(messages[1]).toBe(messages[0]);
    }
  });

  it('symbolic KV heads: the file is a decoder with unknown cache bytes; a session cannot allocate its caches', () => {
    const info = (name: string, dtype: string, shape: (number | string)[]): IoTensorInfo => ({ name, dtype, shape });
    const inputs = [info('input_ids', 'int64', ['b', 's']), info('past_key_values.0.key', 'float32', ['b', 'h', 'p', 'd']), info('past_key_values.0.value', 'float32', ['b', 'h', 'p', 'd'])];
    const outputs = [info('logits', 'float32', ['b', 's', 'v']), info('present.0.key', 'float32', ['b', 'h', 't', 'd']), info('present.0.value', 'float32', ['b', 'h', 't', 'd'])];
    expect(recognizeDecoder(inputs, outputs)).toMatchObject({ numLayers: 1, numKvHeads: null, headDim: null, kvBytesPerToken: null, vocabSize: null });
    const meta = (list: IoTensorInfo[]) => list.map((i) => t(i.name, i.dtype, i.shape as string[]));
    expect(() => detectDecoderIo(meta(inputs), meta(outputs))).toThrow(/not a supported decoder signature \(the KV cache shapes do not state kv_heads and head_dim as numbers\)/);
  });
});
