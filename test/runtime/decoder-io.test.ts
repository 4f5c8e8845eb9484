import type * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { detectDecoderIo, kvBytesPerToken } from '../../src/runtime/decoder-io.js';
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

  it('refuses what it cannot drive, saying what it found', () => {
    const noPast = decoder(0);
    const cases: [Meta[], Meta[], RegExp][] = [
      [noPast.inputs, noPast.outputs, /no past_key_values/],
      [decoder(2).inputs.filter((m) => m.name !== 'input_ids'), decoder(2).outputs, /no input_ids/],
      [decoder(2).inputs, decoder(2).outputs.filter((m) => m.name !== 'present.1.value'), /missing present\.1\.value/],
      [[...decoder(2).inputs, t('pixel_values', 'float32', [1, 3, 224, 224])], decoder(2).outputs, /unexpected inputs pixel_values/],
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
      expect((error as Error).message).toMatch(/found inputs input_ids|found inputs attention_mask/);
    }
  });
});
