import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { modelSpecFromGguf } from '../../src/catalog/gguf-config.js';
import { modelSpecFromHfConfig } from '../../src/catalog/hf-config.js';
import type { ModelSpec } from '../../src/catalog/model-spec.js';
import { listWeightTensors } from '../../src/catalog/tensors.js';
import { ggufWeightsOf } from '../../src/cli/model-source.js';
import { kvCacheBytesPerToken } from '../../src/estimate/kv-cache.js';
import { readGgufHeader } from '../../src/hub/gguf.js';
import { resolveGguf } from '../../src/hub/resolve-model.js';
import { writeGguf, type MetaValue, type TensorSpec } from '../helpers/gguf-writer.js';
import { TINY_CONFIGS } from './safetensors-repo.js';
import { makeTempDir, removeDir } from './helpers.js';

/**
 * Mixture-of-experts and DeepSeek (MLA) GGUF files, written here with llama.cpp's metadata keys
 * (`{arch}.expert_count`, `expert_used_count`, `expert_feed_forward_length`, `expert_shared_count`,
 * `leading_dense_block_count`, `attention.kv_lora_rank`, `attention.q_lora_rank`, `rope.dimension_count`,
 * `attention.key_length[_mla]`, `attention.value_length[_mla]`): the architecture read from them equals the one
 * read from the model's config.json — parameters, active parameters, experts, MLA ranks and KV cache bytes.
 */
let dir: string;

beforeEach(async () => {
  dir = await makeTempDir('gguf-moe');
});

afterEach(async () => {
  await removeDir(dir);
});

const u32 = (n: number): MetaValue => ({ u32: n });

/** Every weight tensor of `spec`, one GGUF tensor per group (experts as llama.cpp's merged `*_exps` tensors). */
function tensorsOf(spec: ModelSpec): TensorSpec[] {
  return listWeightTensors(spec).map((g, i) => {
    const name = g.role === 'embedding' ? 'token_embd.weight' : g.role === 'lm-head' ? 'output.weight' : g.role === 'routed-expert' ? `g${i}.ffn_exps.weight` : `g${i}.${g.name.replace(/\*/g, 'x')}`;
    return { name, dims: g.count === 1 ? [g.cols, g.rows] : [g.cols, g.rows, g.count], type: 'F32' };
  });
}

function base(arch: string, spec: ModelSpec, extra: Record<string, MetaValue>): Record<string, MetaValue> {
  return {
    'general.architecture': arch,
    'general.name': `tiny ${arch}`,
    'general.file_type': u32(0),
    [`${arch}.context_length`]: u32(spec.maxContext),
    [`${arch}.embedding_length`]: u32(spec.hiddenSize),
    [`${arch}.block_count`]: u32(spec.numLayers),
    [`${arch}.attention.head_count`]: u32(spec.numHeads),
    [`${arch}.vocab_size`]: u32(spec.vocabSize),
    [`${arch}.attention.layer_norm_rms_epsilon`]: { f32: spec.normEps },
    ...extra,
  };
}

function sameArchitecture(fromGguf: ModelSpec, fromConfig: ModelSpec): void {
  expect(fromGguf.paramsTotal).toBe(fromConfig.paramsTotal);
  expect(fromGguf.paramsActive).toBe(fromConfig.paramsActive);
  expect(fromGguf.moe).toEqual(fromConfig.moe);
  expect(fromGguf.mla).toEqual(fromConfig.mla);
  expect(fromGguf.attentionKind).toBe(fromConfig.attentionKind);
  expect(kvCacheBytesPerToken(fromGguf, 'fp16')).toBe(kvCacheBytesPerToken(fromConfig, 'fp16'));
}

async function read(path: string): Promise<{ spec: ModelSpec; params: number }> {
  const header = await readGgufHeader(path);
  return { spec: modelSpecFromGguf({ metadata: header.metadata, tensors: header.tensors, source: path }), params: header.tensors.reduce((s, t) => s + t.elements, 0) };
}

describe('MoE GGUF files', () => {
  it('qwen3moe: expert_count, expert_used_count and expert_feed_forward_length → the Qwen3-MoE architecture', async () => {
    const config = { model_type: 'qwen3_moe', hidden_size: 64, intermediate_size: 128, moe_intermediate_size: 32, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, num_hidden_layers: 2, vocab_size: 300, max_position_embeddings: 4096, num_experts: 8, num_experts_per_tok: 2, tie_word_embeddings: false };
    const want = modelSpecFromHfConfig(config, { source: 'config' });
    const path = join(dir, 'qwen3moe.gguf');
    await writeGguf(path, base('qwen3moe', want, {
      'qwen3moe.attention.head_count_kv': u32(2),
      'qwen3moe.attention.key_length': u32(32),
      'qwen3moe.attention.value_length': u32(32),
      'qwen3moe.feed_forward_length': u32(128),
      'qwen3moe.expert_count': u32(8),
      'qwen3moe.expert_used_count': u32(2),
      'qwen3moe.expert_feed_forward_length': u32(32),
    }), tensorsOf(want));
    const { spec, params } = await read(path);
    expect(spec.modelType).toBe('qwen3_moe');
    expect(spec.moe).toMatchObject({ experts: 8, activeExperts: 2, expertIntermediateSize: 32 });
    sameArchitecture(spec, want);
    expect(params).toBe(want.paramsTotal);
    // A decode step streams the active experts' share of the routed-expert bytes only.
    const resolved = await resolveGguf(path);
    const weights = ggufWeightsOf(resolved.gguf!, resolved.spec);
    // The routed experts are the merged *_exps tensors: 2 layers × 8 experts × 3 matrices × 64 × 32, F32.
    expect(weights.routedExpertBytes).toBe(2 * 8 * 3 * 64 * 32 * 4);
    const embedding = 300 * 64 * 4;
    expect(weights.streamedBytesPerToken).toBe(Math.round(weights.totalBytes - weights.routedExpertBytes * (1 - 2 / 8) - embedding + embedding / 300));
  });

  it('llama with expert_count → Mixtral', async () => {
    const want = modelSpecFromHfConfig(TINY_CONFIGS.mixtral!, { source: 'config' });
    const path = join(dir, 'mixtral.gguf');
    await writeGguf(path, base('llama', want, {
      'llama.attention.head_count_kv': u32(2),
      'llama.feed_forward_length': u32(96),
      'llama.expert_count': u32(4),
      'llama.expert_used_count': u32(2),
    }), tensorsOf(want));
    const { spec, params } = await read(path);
    expect(spec.modelType).toBe('mixtral');
    expect(spec.moe).toMatchObject({ experts: 4, activeExperts: 2, expertIntermediateSize: 96, sharedExperts: 0 });
    sameArchitecture(spec, want);
    expect(params).toBe(want.paramsTotal);
  });
});

describe('DeepSeek (deepseek2) GGUF files: MLA keys', () => {
  const want = modelSpecFromHfConfig(TINY_CONFIGS.deepseek_v3!, { source: 'config' });
  const common = {
    'deepseek2.feed_forward_length': u32(128),
    'deepseek2.attention.kv_lora_rank': u32(32),
    'deepseek2.attention.q_lora_rank': u32(48),
    'deepseek2.rope.dimension_count': u32(8),
    'deepseek2.expert_count': u32(8),
    'deepseek2.expert_used_count': u32(2),
    'deepseek2.expert_shared_count': u32(1),
    'deepseek2.expert_feed_forward_length': u32(32),
    'deepseek2.leading_dense_block_count': u32(1),
  };

  it('as converters wrote them before MLA was run as MQA: head_count_kv = heads, key_length = nope + rope', async () => {
    const path = join(dir, 'deepseek-old.gguf');
    await writeGguf(path, base('deepseek2', want, {
      ...common,
      'deepseek2.attention.head_count_kv': u32(4),
      'deepseek2.attention.key_length': u32(16 + 8),
      'deepseek2.attention.value_length': u32(16),
    }), tensorsOf(want));
    const { spec, params } = await read(path);
    expect(spec.mla).toEqual({ kvLoraRank: 32, qLoraRank: 48, qkRopeHeadDim: 8, qkNopeHeadDim: 16, vHeadDim: 16 });
    expect(spec.moe).toEqual({ experts: 8, activeExperts: 2, sharedExperts: 1, expertIntermediateSize: 32, denseLayers: 1 });
    sameArchitecture(spec, want);
    expect(params).toBe(want.paramsTotal);
  });

  it('as llama.cpp writes them now (MLA as MQA): head_count_kv 1, key_length = kv_lora_rank + rope, and the *_mla lengths', async () => {
    const path = join(dir, 'deepseek-mqa.gguf');
    await writeGguf(path, base('deepseek2', want, {
      ...common,
      'deepseek2.attention.head_count_kv': u32(1),
      'deepseek2.attention.key_length': u32(32 + 8),
      'deepseek2.attention.value_length': u32(32),
      'deepseek2.attention.key_length_mla': u32(16 + 8),
      'deepseek2.attention.value_length_mla': u32(16),
    }), tensorsOf(want));
    const { spec, params } = await read(path);
    expect(spec.mla).toEqual({ kvLoraRank: 32, qLoraRank: 48, qkRopeHeadDim: 8, qkNopeHeadDim: 16, vHeadDim: 16 });
    sameArchitecture(spec, want);
    expect(params).toBe(want.paramsTotal);
  });

  it('a q_lora_rank of 0 (DeepSeek-V2-Lite) means no query compression', async () => {
    const lite = { ...TINY_CONFIGS.deepseek_v3!, q_lora_rank: null };
    const liteSpec = modelSpecFromHfConfig(lite, { source: 'config' });
    const path = join(dir, 'deepseek-lite.gguf');
    await writeGguf(path, base('deepseek2', liteSpec, {
      ...common,
      'deepseek2.attention.q_lora_rank': u32(0),
      'deepseek2.attention.head_count_kv': u32(4),
      'deepseek2.attention.key_length': u32(24),
      'deepseek2.attention.value_length': u32(16),
    }), tensorsOf(liteSpec));
    const { spec } = await read(path);
    expect(spec.mla?.qLoraRank).toBeNull();
    sameArchitecture(spec, liteSpec);
  });
});
