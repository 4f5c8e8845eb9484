import { describe, expect, it } from 'vitest';
import { findModel, listWeightTensors, paramCount } from '../../src/catalog/index.js';
import { int4BitsPerWeight, int4MatrixBytes, parseWeightFormat, routedExpertBytes, streamedWeightBytesPerStep, weightBytes } from '../../src/estimate/weights.js';

describe('int4 (MatMulNBits) bytes', () => {
  it('counts packed codes, scales and zero points of one matrix exactly', () => {
    // K = 4096, N = 4096, block 32 → 128 blocks per column: 128·16 code bytes + 128·4 scale bytes.
    expect(int4MatrixBytes(4096, 4096, { blockSize: 32, symmetric: true, scaleDtype: 'fp32' })).toBe(4096 * (128 * 16 + 128 * 4));
    // Asymmetric adds ceil(128/2) = 64 zero-point bytes per column.
    expect(int4MatrixBytes(4096, 4096, { blockSize: 32, symmetric: false, scaleDtype: 'fp32' })).toBe(4096 * (128 * 16 + 128 * 4 + 64));
    // K not a multiple of the block: K = 100 → 4 blocks (padded codes), 4 fp16 scales, ceil(4/2) zero-point bytes.
    expect(int4MatrixBytes(100, 3, { blockSize: 32, symmetric: false, scaleDtype: 'fp16' })).toBe(3 * (4 * 16 + 4 * 2 + 2));
    // Odd block count: each column's zero points start on a fresh byte (3 blocks → 2 bytes).
    expect(int4MatrixBytes(96, 5, { blockSize: 32, symmetric: false, scaleDtype: 'fp32' })).toBe(5 * (3 * 16 + 3 * 4 + 2));
  });

  it('gives the bits per weight of each setting', () => {
    expect(int4BitsPerWeight({ blockSize: 32, symmetric: true, scaleDtype: 'fp32' })).toBe(5);
    expect(int4BitsPerWeight({ blockSize: 32, symmetric: true, scaleDtype: 'fp16' })).toBe(4.5);
    expect(int4BitsPerWeight({ blockSize: 32, symmetric: false, scaleDtype: 'fp16' })).toBe(4.625);
    expect(int4BitsPerWeight({ blockSize: 128, symmetric: false, scaleDtype: 'fp16' })).toBe(4.15625);
  });

  it('rejects block sizes MatMulNBits does not accept', () => {
    expect(() => int4MatrixBytes(64, 64, { blockSize: 48, scaleDtype: 'fp32' })).toThrow(/power of two/);
    expect(() => int4MatrixBytes(64, 64, { blockSize: 8, scaleDtype: 'fp32' })).toThrow(/power of two/);
  });
});

describe('weightBytes', () => {
  const llama = findModel('llama-3.1-8b');
  const qwen = findModel('qwen2.5-0.5b');

  it('is parameters × bytes for float formats', () => {
    const { total } = paramCount(llama);
    expect(weightBytes(llama, 'fp32').totalBytes).toBe(total * 4);
    expect(weightBytes(llama, 'fp16').totalBytes).toBe(total * 2);
    expect(weightBytes(llama, 'bf16').totalBytes).toBe(total * 2);
    expect(weightBytes(llama, 'fp16').floatTensors).toEqual([]);
  });

  it('stores the tied table once in int4 by default; keeps norms and biases float and says so', () => {
    const q4 = weightBytes(qwen, 'q4');
    expect(q4.floatTensors).toEqual(expect.arrayContaining(['norms', 'biases']));
    expect(q4.floatTensors).not.toContain('embed_tokens');
    // Qwen2.5-0.5B ties its LM head to the embedding table: no separate lm_head tensor.
    expect(listWeightTensors(qwen).some((g) => g.role === 'lm-head')).toBe(false);
    // Every MatMul weight and the table in int4 at 4.25 bits (block 128, fp32 scales, symmetric).
    const matmulElements = listWeightTensors(qwen).filter((g) => g.quantizable).reduce((s, g) => s + g.rows * g.cols * g.count, 0);
    const table = 151_936 * 896;
    expect(q4.quantizedBytes).toBe((matmulElements + table) * 4.25 / 8);
    expect(q4.totalBytes).toBe(q4.quantizedBytes + q4.floatBytes);
    // The LM head reads the whole int4 table every step.
    expect(q4.streamedBytesPerToken).toBe(q4.totalBytes);
  });

  it('keeps a float tied table for the lookup and an int4 copy for the LM head without quantizeEmbeddings', () => {
    const plain = weightBytes(qwen, 'q4', { int4: { quantizeEmbeddings: false } });
    const table = 151_936 * 896;
    expect(plain.floatTensors).toContain('embed_tokens');
    expect(plain.floatBytes).toBeGreaterThan(table * 4);
    const matmulElements = listWeightTensors(qwen).filter((g) => g.quantizable).reduce((s, g) => s + g.rows * g.cols * g.count, 0);
    expect(plain.quantizedBytes).toBe((matmulElements + table) * 4.25 / 8);
    // One float row for the lookup plus the int4 head, not the whole float table.
    expect(plain.streamedBytesPerToken).toBe(plain.totalBytes - table * 4 + 896 * 4);
    expect(plain.totalBytes - weightBytes(qwen, 'q4').totalBytes).toBe(table * 4);
  });

  it('makes q4f16 smaller than q4 (fp16 scales and float tensors)', () => {
    const q4 = weightBytes(llama, 'q4');
    const q4f16 = weightBytes(llama, 'q4f16');
    expect(q4f16.totalBytes).toBeLessThan(q4.totalBytes);
    expect(q4f16.int4?.bitsPerWeight).toBe(4.125);
    expect(weightBytes(llama, 'q4', { int4: { blockSize: 128, symmetric: false } }).int4?.bitsPerWeight).toBe(4.28125);
  });

  it('stores an untied embedding table as GatherBlockQuantized int4 by default', () => {
    const plain = weightBytes(llama, 'q4', { int4: { quantizeEmbeddings: false } });
    const withEmbeddings = weightBytes(llama, 'q4');
    // 128,256 rows × (4096/128 blocks × (64 code bytes + 4 scale bytes)) instead of 128,256 × 4096 × 4 bytes.
    expect(plain.totalBytes - withEmbeddings.totalBytes).toBe(128_256 * 4096 * 4 - 128_256 * 32 * 68);
    expect(withEmbeddings.floatTensors).not.toContain('embed_tokens');
    expect(plain.floatTensors).toContain('embed_tokens');
    // Untied: the lookup streams one int4 row per token.
    expect(plain.streamedBytesPerToken - withEmbeddings.streamedBytesPerToken).toBe(4096 * 4 - 32 * 68);
  });

  it('quantizes the untied LM head and leaves int8 at about 8 bits per MatMul weight', () => {
    expect(listWeightTensors(llama).find((g) => g.role === 'lm-head')).toMatchObject({ rows: 4096, cols: 128_256, quantizable: true });
    const int8 = weightBytes(llama, 'int8');
    const matmulElements = listWeightTensors(llama).filter((g) => g.quantizable).reduce((s, g) => s + g.rows * g.cols * g.count, 0);
    expect(int8.quantizedBytes).toBeGreaterThanOrEqual(matmulElements);
    expect(int8.quantizedBytes).toBeLessThan(matmulElements * 1.001);
  });

  it('streams one embedding row per token when untied, the whole table when tied', () => {
    const fp16 = weightBytes(llama, 'fp16');
    const table = 128_256 * 4096 * 2;
    expect(fp16.streamedBytesPerToken).toBe(fp16.totalBytes - table + 4096 * 2);
    const tied = weightBytes(qwen, 'fp16');
    expect(tied.streamedBytesPerToken).toBe(tied.totalBytes);
  });

  it('streams only the active experts of a MoE model', () => {
    const moe = findModel('mixtral-8x7b-v0.1');
    const w = weightBytes(moe, 'fp16');
    const { active } = paramCount(moe);
    // All experts resident; per token about the active parameters (less the gathered embedding table).
    expect(w.totalBytes).toBe(paramCount(moe).total * 2);
    expect(w.streamedBytesPerToken).toBe(active * 2 - 32_000 * 4096 * 2 + 4096 * 2);
    // A batch of 8 tokens touches 8·(1 − (6/8)^8) ≈ 7.2 of the 8 experts on average.
    const routed = routedExpertBytes(moe, 'fp16');
    const batch8 = streamedWeightBytesPerStep(moe, 'fp16', 8);
    expect(batch8).toBe(Math.round(w.streamedBytesPerToken + routed * ((1 - (6 / 8) ** 8) - 2 / 8)));
    expect(streamedWeightBytesPerStep(findModel('llama-3.1-8b'), 'fp16', 8)).toBe(weightBytes(findModel('llama-3.1-8b'), 'fp16').streamedBytesPerToken);
  });

  it('parses format names', () => {
    expect(parseWeightFormat('q4f16')).toBe('q4f16');
    expect(() => parseWeightFormat('q3')).toThrow(/expected fp32, fp16, bf16, int8, q4, q4f16/);
  });
});
