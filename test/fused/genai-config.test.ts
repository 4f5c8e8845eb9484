import { describe, expect, it } from 'vitest';
import { modelSpecFromHfConfig } from '../../src/catalog/index.js';
import { makeGenaiConfig } from '../../src/onnx/fused/genai-config.js';
import { computeRopeCaches } from '../../src/onnx/fused/rope-cache.js';
import { resolveSynthArchitecture } from '../../src/onnx/synth/architecture.js';
import { TINY_CONFIGS } from '../helpers/tiny-model.js';

const arch = resolveSynthArchitecture(modelSpecFromHfConfig(TINY_CONFIGS.qwen2, { source: 'qwen2.json' }), TINY_CONFIGS.qwen2);

describe('genai_config.json', () => {
  it("describes the decoder in onnxruntime-genai's format, with a shared KV buffer", () => {
    const config = makeGenaiConfig({ arch, layers: 2, filename: 'model_q4.onnx', maxLength: 512, eosTokenId: [7, 8] });
    expect(config.model.decoder).toMatchObject({
      filename: 'model_q4.onnx',
      head_size: 16,
      hidden_size: 64,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      num_hidden_layers: 2,
      inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', past_key_names: 'past_key_values.%d.key', past_value_names: 'past_key_values.%d.value' },
      outputs: { logits: 'logits', present_key_names: 'present.%d.key', present_value_names: 'present.%d.value' },
    });
    expect(config.model.decoder.inputs).not.toHaveProperty('position_ids');
    expect(config.model).toMatchObject({ context_length: 512, type: 'qwen2', vocab_size: 128, eos_token_id: [7, 8], pad_token_id: 7 });
    expect(config.search).toMatchObject({ max_length: 512, past_present_share_buffer: true, do_sample: false, num_beams: 1 });
  });
});

describe('rotary cos/sin tables', () => {
  it('hold cos/sin of position × inverse frequency, rounded like the standard graph', () => {
    const { cos, sin, halfDim, positions } = computeRopeCaches({ headDim: 16, ropeTheta: 10000, ropeScaling: null }, 40);
    expect(halfDim).toBe(8);
    expect(positions).toBe(40);
    expect(cos[0]).toBe(1);
    expect(sin[0]).toBe(0);
    // position 3, frequency index 2: θ = 3 / 10000^(4/16)
    const angle = Math.fround(3 * Math.fround(1 / 10000 ** (4 / 16)));
    expect(cos[3 * 8 + 2]).toBeCloseTo(Math.cos(angle), 7);
    expect(sin[3 * 8 + 2]).toBeCloseTo(Math.sin(angle), 7);
    // linear scaling divides the frequencies
    const scaled = computeRopeCaches({ headDim: 16, ropeTheta: 10000, ropeScaling: { type: 'linear', factor: 2 } }, 40);
    expect(scaled.sin[6 * 8 + 0]).toBeCloseTo(sin[3 * 8 + 0]!, 6);
  });
});

describe('synth graph dispatch', () => {
  it('builds either graph with its kind in the metadata, and reads token ids for genai_config.json', async () => {
    const { buildSynthGraph, fusedGenaiConfig, checkSynthGraph } = await import('../../src/onnx/fused/synth-graph.js');
    const { readModelscoutMetadata } = await import('../../src/onnx/metadata.js');
    for (const graph of ['standard', 'fused'] as const) {
      const { model } = buildSynthGraph({ graph, arch, layers: 1, dtype: 'fp32', seed: 1, maxLength: 32 });
      expect(readModelscoutMetadata(model).graph).toBe(graph);
      expect(model.graph!.node.some((n) => n.op_type === 'GroupQueryAttention')).toBe(graph === 'fused');
    }
    const config = fusedGenaiConfig(arch, 1, 'onnx/model.onnx', { bos_token_id: 151643, eos_token_id: [151645, 151643] }, 256);
    expect(config.model).toMatchObject({ bos_token_id: 151643, eos_token_id: [151645, 151643], pad_token_id: 151645, context_length: 256 });
    expect(config.model.decoder.filename).toBe('onnx/model.onnx');
    const gpt2 = resolveSynthArchitecture(modelSpecFromHfConfig(TINY_CONFIGS.gpt2, { source: 'gpt2.json' }), TINY_CONFIGS.gpt2);
    expect(() => checkSynthGraph('fused', gpt2)).toThrow(/Llama family/);
    expect(() => checkSynthGraph('standard', gpt2)).not.toThrow();
  });
});
