import { describe, expect, it } from 'vitest';
import { findModel } from '../../src/catalog/index.js';
import { GGML_TYPES, ggmlBitsPerWeight, ggmlTensorBytes, ggmlType, ggufPresetWeights, ggufWeightsFromTensors } from '../../src/estimate/gguf.js';
import { weightBytes } from '../../src/estimate/weights.js';

describe("llama.cpp's ggml types", () => {
  it('has the block layouts of ggml-common.h (bits per weight)', () => {
    const bpw = (name: string): number => ggmlBitsPerWeight(ggmlType(name));
    expect(bpw('F32')).toBe(32);
    expect(bpw('BF16')).toBe(16);
    expect(bpw('Q4_0')).toBe(4.5);
    expect(bpw('Q5_0')).toBe(5.5);
    expect(bpw('Q8_0')).toBe(8.5);
    expect(bpw('Q4_K')).toBe(4.5);
    expect(bpw('Q5_K')).toBe(5.5);
    expect(bpw('Q6_K')).toBe(6.5625);
    expect(bpw('Q3_K')).toBe(3.4375);
    expect(bpw('Q2_K')).toBe(2.625);
    expect(bpw('IQ4_XS')).toBe(4.25);
    expect(bpw('IQ4_NL')).toBe(4.5);
    // Ids are unique (they are what a GGUF tensor info stores).
    expect(new Set(GGML_TYPES.map((t) => t.id)).size).toBe(GGML_TYPES.length);
  });

  it('sizes a tensor by whole blocks of each row, and refuses rows that are not', () => {
    expect(ggmlTensorBytes(ggmlType('Q4_K'), 4096 * 4096, 4096)).toBe((4096 * 4096 / 256) * 144);
    expect(ggmlTensorBytes(ggmlType('Q8_0'), 896 * 10, 896)).toBe((896 * 10 / 32) * 34);
    expect(ggmlTensorBytes(ggmlType('Q4_K'), 896 * 10, 896)).toBeNull();
  });
});

describe('GGUF preset estimates (llama-quantize mix rules)', () => {
  it('Q4_K_M of Llama-3.1-8B: output and half the attn_v / ffn_down layers in Q6_K, the rest Q4_K', () => {
    const spec = findModel('llama-3.1-8b');
    const w = ggufPresetWeights(spec, 'Q4_K_M');
    const byType = Object.fromEntries(w.types.map((t) => [t.type, t.tensors]));
    // use_more_bits(i, 32): layers 0-3, 28-31 and 6, 9, …, 27 → 16 of 32.
    expect(byType.Q6_K).toBe(1 + 16 + 16);
    expect(byType.Q4_K).toBe(1 + 32 * 5 + 16 + 16);
    expect(byType.F32).toBe(65);
    expect(w.params).toBe(spec.paramsTotal);
    expect(w.bitsPerParam).toBeGreaterThan(4.8);
    expect(w.bitsPerParam).toBeLessThan(5.0);
  });

  it('falls back to 32-blocks where rows are not whole 256-blocks (Qwen2.5-0.5B: hidden 896)', () => {
    const spec = findModel('qwen2.5-0.5b');
    const w = ggufPresetWeights(spec, 'Q4_K_M');
    const byType = Object.fromEntries(w.types.map((t) => [t.type, t.tensors]));
    // Tied token_embd is the output: Q6_K wanted, 896 % 256 ≠ 0 → Q8_0; attn_v on use_more_bits layers Q6_K → Q8_0.
    expect(byType.Q8_0).toBe(1 + 12);
    // q, k, o, gate, up (rows of 896) and the other 12 attn_v: Q4_K → Q5_0.
    expect(byType.Q5_0).toBe(24 * 5 + 12);
    // ffn_down rows are 4864 = 19 × 256: Q6_K on 12 layers, Q4_K on 12.
    expect(byType.Q6_K).toBe(12);
    expect(byType.Q4_K).toBe(12);
  });

  it('Q8_0 keeps every matrix in Q8_0, and the estimate feeds weightBytes', () => {
    const spec = findModel('smollm2-135m');
    const w = ggufPresetWeights(spec, 'Q8_0');
    expect(w.types.map((t) => t.type).sort()).toEqual(['F32', 'Q8_0']);
    const breakdown = weightBytes(spec, 'q4', { gguf: w });
    expect(breakdown.totalBytes).toBe(w.totalBytes);
    expect(breakdown.streamedBytesPerToken).toBe(w.streamedBytesPerToken);
  });

  it('streams the active share of routed experts and one row of an untied table', () => {
    const w = ggufWeightsFromTensors(
      [
        { name: 'token_embd.weight', kind: 'embedding', type: 'F16', elements: 1000, bytes: 2000 },
        { name: 'blk.0.ffn_down_exps.weight', kind: 'routed-expert', type: 'Q4_0', elements: 6400, bytes: 3600 },
        { name: 'blk.0.attn_q.weight', kind: 'other', type: 'Q8_0', elements: 64, bytes: 68 },
      ],
      { preset: 'Q4_0', activeExpertFraction: 0.25, tiedEmbeddings: false, vocabSize: 100 },
    );
    expect(w.totalBytes).toBe(5668);
    expect(w.routedExpertBytes).toBe(3600);
    expect(w.streamedBytesPerToken).toBe(Math.round(2000 / 100 + 3600 * 0.25 + 68));
    expect(w.floatBytes).toBe(2000);
    expect(w.quantizedBytes).toBe(3668);
  });
});
