import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog, type ModelSpec } from '../../src/catalog/index.js';
import { kvCacheBytesPerToken, slidingLayerCount } from '../../src/estimate/kv-cache.js';
import { WEIGHT_FORMATS, weightBytes } from '../../src/estimate/weights.js';
import { resolveModel } from '../../src/hub/resolve-model.js';

/**
 * Golden: every catalog model, written out as the config.json its Hub repo has (the keys transformers
 * writes), resolved through the model-reference path, gives the catalog's figures exactly.
 */
function configOf(m: ModelSpec): Record<string, unknown> {
  if (m.modelType === 'gpt2') {
    return { model_type: 'gpt2', n_embd: m.hiddenSize, n_layer: m.numLayers, n_head: m.numHeads, n_positions: m.maxContext, n_inner: null, vocab_size: m.vocabSize, layer_norm_epsilon: m.normEps, activation_function: m.hiddenAct };
  }
  const config: Record<string, unknown> = {
    model_type: m.modelType,
    hidden_size: m.hiddenSize,
    num_hidden_layers: m.numLayers,
    num_attention_heads: m.numHeads,
    num_key_value_heads: m.numKvHeads,
    intermediate_size: m.intermediateSize,
    vocab_size: m.vocabSize,
    max_position_embeddings: m.maxContext,
    tie_word_embeddings: m.tieWordEmbeddings,
    rms_norm_eps: m.normEps,
    rope_theta: m.ropeTheta,
    hidden_act: m.hiddenAct,
    attention_bias: m.attentionBias,
  };
  if (m.headDim * m.numHeads !== m.hiddenSize) config.head_dim = m.headDim;
  if (m.slidingWindow !== null) config.sliding_window = m.slidingWindow;
  if (m.moe) {
    if (m.modelType === 'mixtral') Object.assign(config, { num_local_experts: m.moe.experts, num_experts_per_tok: m.moe.activeExperts });
    else Object.assign(config, { num_experts: m.moe.experts, n_routed_experts: m.moe.experts, num_experts_per_tok: m.moe.activeExperts, moe_intermediate_size: m.moe.expertIntermediateSize, n_shared_experts: m.moe.sharedExperts, first_k_dense_replace: m.moe.denseLayers });
  }
  if (m.mla) Object.assign(config, { kv_lora_rank: m.mla.kvLoraRank, q_lora_rank: m.mla.qLoraRank, qk_rope_head_dim: m.mla.qkRopeHeadDim, qk_nope_head_dim: m.mla.qkNopeHeadDim, v_head_dim: m.mla.vHeadDim });
  return config;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-golden-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('catalog models through the config path', () => {
  const catalog = loadCatalog();
  it('covers the whole catalog', () => {
    expect(catalog.length).toBeGreaterThanOrEqual(31);
  });

  it.each(catalog.map((m) => [m.id, m] as const))('%s: same parameters, KV cache and weight bytes', async (id, m) => {
    const path = join(dir, `${id}.json`);
    await writeFile(path, JSON.stringify(configOf(m)));
    const { spec } = await resolveModel(path, { settings: { endpoint: 'http://127.0.0.1:9', token: undefined, tokenSource: null, cacheDir: dir, offline: true, downloadTimeoutSec: 1 }, fetch: globalThis.fetch, userAgent: 't', catalog, metaCacheDir: dir });
    expect(spec.paramsTotal).toBe(m.paramsTotal);
    expect(spec.paramsActive).toBe(m.paramsActive);
    expect(spec.attentionKind).toBe(m.attentionKind);
    expect(kvCacheBytesPerToken(spec, 'fp16')).toBe(kvCacheBytesPerToken(m, 'fp16'));
    expect(slidingLayerCount(spec)).toBe(slidingLayerCount(m));
    for (const format of WEIGHT_FORMATS) expect(weightBytes(spec, format).totalBytes, format).toBe(weightBytes(m, format).totalBytes);
  });
});
