import { describe, expect, it } from 'vitest';
import { findModel } from '../../src/catalog/index.js';
import { kvCacheBreakdown, kvCacheBytes, kvCacheBytesPerToken, parseKvDtype } from '../../src/estimate/kv-cache.js';

describe('KV cache', () => {
  it('matches the golden per-token figures (GQA)', () => {
    expect(kvCacheBytesPerToken(findModel('llama-3.1-8b'), 'fp16')).toBe(131_072);
    expect(kvCacheBytesPerToken(findModel('llama-3.1-70b'), 'fp16')).toBe(327_680);
    expect(kvCacheBytesPerToken(findModel('qwen2.5-7b'), 'fp16')).toBe(57_344);
  });

  it('scales with dtype, tokens and concurrency', () => {
    const m = findModel('llama-3.1-8b');
    expect(kvCacheBytesPerToken(m, 'fp32')).toBe(262_144);
    expect(kvCacheBytesPerToken(m, 'int8')).toBe(65_536);
    expect(kvCacheBytes(m, { tokens: 8192, dtype: 'fp16', concurrency: 4 })).toBe(131_072 * 8192 * 4);
  });

  it('caps sliding layers at the window unless told not to', () => {
    const gemma = findModel('gemma-2-9b');
    const capped = kvCacheBreakdown(gemma, { tokens: 8192, dtype: 'fp16' });
    expect(capped).toMatchObject({ globalLayers: 21, slidingLayers: 21, slidingTokens: 4096 });
    expect(capped.totalBytes).toBe(172_032 * 8192 + 704_643_072);
    expect(kvCacheBytes(gemma, { tokens: 8192, dtype: 'fp16', capSlidingWindow: false })).toBe(344_064 * 8192);
    expect(kvCacheBytes(gemma, { tokens: 1000, dtype: 'fp16' })).toBe(344_064 * 1000);
  });

  it('caches the MLA latent, not per-head K/V', () => {
    const ds = findModel('deepseek-v3');
    expect(kvCacheBytesPerToken(ds, 'fp16')).toBe((512 + 64) * 61 * 2);
    expect(kvCacheBreakdown(ds, { tokens: 10 }).formula).toContain('kv_lora_rank 512');
  });

  it('treats MQA and MHA by their KV heads', () => {
    const mha = findModel('phi-3.5-mini-instruct');
    expect(kvCacheBytesPerToken(mha, 'fp16')).toBe(2 * 32 * 32 * 96 * 2);
    const mqa = { ...findModel('llama-3.1-8b'), numKvHeads: 1, attentionKind: 'mqa' as const };
    expect(kvCacheBytesPerToken(mqa, 'fp16')).toBe(2 * 32 * 1 * 128 * 2);
  });

  it('parses dtypes', () => {
    expect(parseKvDtype('fp8')).toBe('fp8');
    expect(() => parseKvDtype('fp4')).toThrow(/expected fp32, fp16, bf16, fp8, int8/);
  });
});
