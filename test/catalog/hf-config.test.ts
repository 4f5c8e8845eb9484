import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findModel, loadCatalog, modelSpecFromHfConfig, readModelSpecFromConfigFile, type ModelSpec } from '../../src/catalog/index.js';
import { isModelscoutError } from '../../src/errors.js';
import { kvCacheBytesPerToken } from '../../src/estimate/kv-cache.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/configs/', import.meta.url));
const catalog = loadCatalog();

async function fixture(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
}

/** The architecture facts a config determines (not the catalog-only metadata). */
function facts(spec: ModelSpec): Partial<ModelSpec> {
  const { hiddenSize, numLayers, numHeads, numKvHeads, headDim, intermediateSize, vocabSize, maxContext, tieWordEmbeddings, slidingWindow, slidingWindowPattern, attentionKind, attentionBias, norm, position, moe, mla, paramsTotal, paramsActive } = spec;
  return { hiddenSize, numLayers, numHeads, numKvHeads, headDim, intermediateSize, vocabSize, maxContext, tieWordEmbeddings, slidingWindow, slidingWindowPattern, attentionKind, attentionBias, norm, position, moe, mla, paramsTotal, paramsActive };
}

describe('modelSpecFromHfConfig', () => {
  it.each([
    ['llama-3.1-8b.json', 'llama-3.1-8b'],
    ['qwen2.5-7b.json', 'qwen2.5-7b'],
    ['qwen3-32b.json', 'qwen3-32b'],
    ['qwen3-30b-a3b.json', 'qwen3-30b-a3b'],
    ['mixtral-8x7b.json', 'mixtral-8x7b-v0.1'],
    ['gemma-2-2b.json', 'gemma-2-2b'],
    ['phi-3.5-mini.json', 'phi-3.5-mini-instruct'],
    ['deepseek-v3.json', 'deepseek-v3'],
    ['gpt2.json', 'gpt2'],
  ])('reads %s into the same architecture as the catalog entry %s', async (file, id) => {
    const spec = modelSpecFromHfConfig(await fixture(file), { source: file });
    expect(facts(spec)).toEqual(facts(findModel(id, catalog)));
  });

  it('uses an explicit head_dim over hidden / heads (Qwen3-32B: 128, not 80)', async () => {
    const spec = modelSpecFromHfConfig(await fixture('qwen3-32b.json'), { source: 'x' });
    expect(spec.headDim).toBe(128);
    expect(kvCacheBytesPerToken(spec)).toBe(262_144);
  });

  it('ignores a sliding_window that use_sliding_window disables, and says so', async () => {
    const spec = modelSpecFromHfConfig(await fixture('qwen2.5-7b.json'), { source: 'x' });
    expect(spec.slidingWindow).toBeNull();
    expect(spec.notes?.join(' ')).toMatch(/use_sliding_window is false/);
    expect(kvCacheBytesPerToken(spec)).toBe(57_344);
  });

  it('applies a window when Qwen enables it on every layer', async () => {
    const config = { ...(await fixture('qwen2.5-7b.json')), use_sliding_window: true, sliding_window: 4096, max_window_layers: 0 };
    const spec = modelSpecFromHfConfig(config, { source: 'x' });
    expect(spec.slidingWindow).toBe(4096);
    expect(spec.slidingWindowPattern).toBe('all');
  });

  it('reads Gemma 2 as alternating sliding layers with tied embeddings by default', async () => {
    const spec = modelSpecFromHfConfig(await fixture('gemma-2-2b.json'), { source: 'x' });
    expect(spec).toMatchObject({ headDim: 256, slidingWindow: 4096, slidingWindowPattern: 'alternate', tieWordEmbeddings: true, hiddenAct: 'gelu_pytorch_tanh' });
  });

  it('drops a window longer than the context (Phi-3.5-mini)', async () => {
    const spec = modelSpecFromHfConfig(await fixture('phi-3.5-mini.json'), { source: 'x' });
    expect(spec.slidingWindow).toBeNull();
    expect(spec.attentionKind).toBe('mha');
  });

  it('reads DeepSeek-V3: MLA latent cache, dense first layers, shared expert', async () => {
    const spec = modelSpecFromHfConfig(await fixture('deepseek-v3.json'), { source: 'x' });
    expect(spec.mla).toEqual({ kvLoraRank: 512, qLoraRank: 1536, qkRopeHeadDim: 64, qkNopeHeadDim: 128, vHeadDim: 128 });
    expect(spec.moe).toEqual({ experts: 256, activeExperts: 8, sharedExperts: 1, expertIntermediateSize: 2048, denseLayers: 3 });
    expect(kvCacheBytesPerToken(spec)).toBe(70_272);
    expect(Math.abs(spec.paramsTotal - 671e9) / 671e9).toBeLessThan(0.02);
    expect(Math.abs(spec.paramsActive - 37e9) / 37e9).toBeLessThan(0.02);
  });

  it('reads GPT-2 key names and counts 124M parameters', async () => {
    const spec = modelSpecFromHfConfig(await fixture('gpt2.json'), { source: 'x' });
    expect(spec).toMatchObject({ hiddenSize: 768, numLayers: 12, numHeads: 12, numKvHeads: 12, intermediateSize: 3072, maxContext: 1024, position: 'learned', norm: 'layernorm', tieWordEmbeddings: true });
    // wte 50257·768 + wpe 1024·768 + 12 × (2 LayerNorms, c_attn, c_proj, c_fc, c_proj with biases) + ln_f
    expect(spec.paramsTotal).toBe(124_439_808);
  });

  it('derives id and name from _name_or_path', async () => {
    const spec = modelSpecFromHfConfig(await fixture('llama-3.1-8b.json'), { source: 'x' });
    expect(spec.id).toBe('llama-3.1-8b');
    expect(spec.hfRepo).toBe('meta-llama/Llama-3.1-8B');
  });

  it('names every missing or invalid key in one E_CONFIG error', async () => {
    const config = { ...(await fixture('llama-3.1-8b.json')) };
    delete config.hidden_size;
    config.num_hidden_layers = -3;
    config.vocab_size = '32000';
    try {
      modelSpecFromHfConfig(config, { source: 'my/config.json' });
      expect.unreachable();
    } catch (error) {
      expect(isModelscoutError(error) && error.code).toBe('E_CONFIG');
      const message = (error as Error).message;
      expect(message).toContain('my/config.json');
      expect(message).toContain('missing hidden_size');
      expect(message).toContain('num_hidden_layers must be a positive integer');
      expect(message).toContain('vocab_size must be a positive integer');
    }
  });

  it('an invalid value is one problem, not a second one about a stand-in value', async () => {
    for (const [key, value] of [['hidden_size', 0], ['num_attention_heads', 0], ['head_dim', -1], ['num_key_value_heads', 0]] as const) {
      const config = { ...(await fixture('llama-3.1-8b.json')), [key]: value };
      const message = (() => {
        try {
          modelSpecFromHfConfig(config, { source: 'c.json' });
        } catch (error) {
          return (error as Error).message;
        }
        expect.unreachable(`${key} ${value} was accepted`);
      })();
      expect(message).toBe(`c.json: invalid llama config: ${key} must be a positive integer (got ${value})`);
    }
  });

  it('rejects an unknown model_type without the generic fields, naming them, and non-objects', () => {
    expect(() => modelSpecFromHfConfig({ model_type: 'mamba' }, { source: 'c.json' })).toThrow(/unknown model_type "mamba" and no generic estimate: missing hidden_size, num_hidden_layers/);
    expect(() => modelSpecFromHfConfig([1, 2], { source: 'c.json' })).toThrow(/expected a JSON object/);
    expect(() => modelSpecFromHfConfig({ hidden_size: 1 }, { source: 'c.json' })).toThrow(/missing model_type/);
  });

  it('rejects heads that KV heads do not divide', async () => {
    const config = { ...(await fixture('llama-3.1-8b.json')), num_key_value_heads: 5 };
    expect(() => modelSpecFromHfConfig(config, { source: 'x' })).toThrow(/not a multiple of num_key_value_heads 5/);
  });
});

describe('readModelSpecFromConfigFile', () => {
  it('reads a file', async () => {
    const spec = await readModelSpecFromConfigFile(join(FIXTURES, 'mixtral-8x7b.json'));
    expect(spec.moe?.experts).toBe(8);
  });

  it('reports unreadable and malformed files with their path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelscout-config-'));
    await expect(readModelSpecFromConfigFile(join(dir, 'missing.json'))).rejects.toThrow(/missing\.json: no such file/);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"model_type": "llama",');
    await expect(readModelSpecFromConfigFile(bad)).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringContaining('bad.json is not valid JSON') });
    await expect(readModelSpecFromConfigFile(dir)).rejects.toMatchObject({ code: 'E_FILE' });
  });
});
