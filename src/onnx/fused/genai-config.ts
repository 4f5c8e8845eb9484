import type { SynthArchitecture } from '../synth/architecture.js';

/**
 * `genai_config.json` for a fused model, in onnxruntime-genai's format (what its model builder writes
 * beside `model.onnx`): the decoder's I/O names, head geometry, context length and the search defaults,
 * with `past_present_share_buffer: true` because GroupQueryAttention can update one preallocated KV buffer
 * in place. genai's format has no key for the `num_logits_to_keep` input; a runtime that does not feed it
 * needs a model built without it.
 */

export interface GenaiConfigOptions {
  arch: SynthArchitecture;
  /** Decoder layers in the file. */
  layers: number;
  /** Model file name relative to the config (e.g. `model.onnx`). */
  filename: string;
  /** Longest sequence the model accepts (the rotary tables' length): context_length and search.max_length. */
  maxLength: number;
  bosTokenId?: number | null;
  eosTokenId?: number | number[] | null;
  padTokenId?: number | null;
}

export interface GenaiConfig {
  model: {
    bos_token_id: number;
    context_length: number;
    decoder: {
      session_options: { log_id: string; provider_options: unknown[] };
      filename: string;
      head_size: number;
      hidden_size: number;
      inputs: Record<string, string>;
      outputs: Record<string, string>;
      num_attention_heads: number;
      num_hidden_layers: number;
      num_key_value_heads: number;
    };
    eos_token_id: number | number[];
    pad_token_id: number;
    type: string;
    vocab_size: number;
  };
  search: {
    diversity_penalty: number;
    do_sample: boolean;
    early_stopping: boolean;
    length_penalty: number;
    max_length: number;
    min_length: number;
    no_repeat_ngram_size: number;
    num_beams: number;
    num_return_sequences: number;
    past_present_share_buffer: boolean;
    repetition_penalty: number;
    temperature: number;
    top_k: number;
    top_p: number;
  };
}

export function makeGenaiConfig(options: GenaiConfigOptions): GenaiConfig {
  const { arch } = options;
  const eos = options.eosTokenId ?? 2;
  const firstEos = Array.isArray(eos) ? (eos[0] ?? 2) : eos;
  const inputs: Record<string, string> = {
    input_ids: 'input_ids',
    attention_mask: 'attention_mask',
    past_key_names: 'past_key_values.%d.key',
    past_value_names: 'past_key_values.%d.value',
  };
  return {
    model: {
      bos_token_id: options.bosTokenId ?? 1,
      context_length: options.maxLength,
      decoder: {
        session_options: { log_id: 'onnxruntime-genai', provider_options: [] },
        filename: options.filename,
        head_size: arch.headDim,
        hidden_size: arch.hiddenSize,
        inputs,
        outputs: {
          logits: 'logits',
          present_key_names: 'present.%d.key',
          present_value_names: 'present.%d.value',
        },
        num_attention_heads: arch.numHeads,
        num_hidden_layers: options.layers,
        num_key_value_heads: arch.numKvHeads,
      },
      eos_token_id: eos,
      pad_token_id: options.padTokenId ?? firstEos,
      type: arch.modelType,
      vocab_size: arch.vocabSize,
    },
    search: {
      diversity_penalty: 0,
      do_sample: false,
      early_stopping: true,
      length_penalty: 1,
      max_length: options.maxLength,
      min_length: 0,
      no_repeat_ngram_size: 0,
      num_beams: 1,
      num_return_sequences: 1,
      past_present_share_buffer: true,
      repetition_penalty: 1,
      temperature: 1,
      top_k: 50,
      top_p: 1,
    },
  };
}
