import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { modelSpecFromHfConfig } from '../../src/catalog/index.js';
import { resolveSynthArchitecture, type SynthArchitecture } from '../../src/onnx/synth/architecture.js';
import { synthesizeModel, type SynthDtype, type SynthResult } from '../../src/onnx/synth/index.js';

/**
 * Tiny synthetic models for tests: a config.json of a small architecture, built by the real `synth` code
 * into `dir` (a few hundred KB, well under a second). Every architecture has 4 layers available.
 *   llama  GQA (4 heads over 2 KV heads, head dim 16), untied LM head, no bias
 *   qwen2  q/k/v bias, GQA (4 heads over 2 KV heads), tied LM head
 *   gpt2   LayerNorm, learned positions, gelu_new, MHA (4 heads), biases everywhere, tied head
 */
export type TinyArch = 'llama' | 'qwen2' | 'gpt2';

export interface TinyModelOptions {
  arch: TinyArch;
  /** Layers to build (1..4, default 2). */
  layers?: number;
  dtype?: SynthDtype;
  seed?: number;
  /** Output folder (created; replaced when it exists). */
  dir: string;
}

export interface TinyModel extends SynthResult {
  /** The config.json the model was built from (full depth). */
  config: Record<string, unknown>;
  configPath: string;
}

export const TINY_CONFIGS: Record<TinyArch, Record<string, unknown>> = {
  llama: {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 64,
    intermediate_size: 96,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 4,
    vocab_size: 128,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
  },
  qwen2: {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_size: 64,
    intermediate_size: 128,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 4,
    vocab_size: 128,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    hidden_act: 'silu',
    tie_word_embeddings: true,
    sliding_window: 32768,
    use_sliding_window: false,
  },
  gpt2: {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    n_embd: 64,
    n_head: 4,
    n_layer: 4,
    n_positions: 128,
    n_inner: null,
    vocab_size: 128,
    layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new',
  },
};

/** The resolved architecture of a tiny config (what the graph builders take). */
export function tinyArch(name: TinyArch): SynthArchitecture {
  const config = TINY_CONFIGS[name];
  return resolveSynthArchitecture(modelSpecFromHfConfig(config, { source: `${name}.json` }), config);
}

export async function buildTinyModel(options: TinyModelOptions): Promise<TinyModel> {
  const config = TINY_CONFIGS[options.arch];
  const configDir = `${options.dir}.config`;
  await mkdir(configDir, { recursive: true });
  const configPath = join(configDir, 'config.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const result = await synthesizeModel({
    source: configPath,
    dtype: options.dtype ?? 'fp32',
    layers: options.layers ?? 2,
    seed: options.seed ?? 1,
    outDir: options.dir,
  });
  return { ...result, config, configPath };
}
