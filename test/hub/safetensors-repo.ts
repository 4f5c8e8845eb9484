import { modelSpecFromHfConfig } from '../../src/catalog/hf-config.js';
import { listWeightTensors } from '../../src/catalog/tensors.js';
import type { ServedFile } from './hub-server.js';

/**
 * Real safetensors files for a config: every weight tensor of its architecture (one per layer and expert, as
 * transformers names them closely enough), in `dtype`, with zero data; optionally split into shards with a
 * `model.safetensors.index.json`, plus `extra` tensors the architecture does not count (e.g. an MTP head).
 */
export interface SafetensorsRepoOptions {
  dtype?: 'BF16' | 'F32' | 'F16';
  shards?: number;
  extra?: Record<string, number[]>;
}

const BYTES = { BF16: 2, F16: 2, F32: 4 } as const;

export function safetensorsFile(tensors: [string, number[]][], dtype: keyof typeof BYTES): { data: Buffer; params: number } {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  let params = 0;
  for (const [name, shape] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype, shape, data_offsets: [offset, offset + n * BYTES[dtype]] };
    offset += n * BYTES[dtype];
    params += n;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return { data: Buffer.concat([length, json, Buffer.alloc(offset)]), params };
}

export function safetensorsRepoFiles(config: Record<string, unknown>, options: SafetensorsRepoOptions = {}): { files: ServedFile[]; params: number } {
  const dtype = options.dtype ?? 'BF16';
  const spec = modelSpecFromHfConfig(config, { source: 'fixture' });
  const tensors: [string, number[]][] = [];
  for (const group of listWeightTensors(spec)) {
    for (let i = 0; i < group.count; i += 1) tensors.push([`model.${group.name.replace(/\*/g, String(i))}.${i}`, group.rows === 1 ? [group.cols] : [group.cols, group.rows]]);
  }
  for (const [name, shape] of Object.entries(options.extra ?? {})) tensors.push([name, shape]);
  const files: ServedFile[] = [{ path: 'config.json', data: Buffer.from(`${JSON.stringify(config, null, 2)}\n`) }];
  const shards = options.shards ?? 1;
  let params = 0;
  if (shards === 1) {
    const file = safetensorsFile(tensors, dtype);
    files.push({ path: 'model.safetensors', data: file.data });
    params = file.params;
  } else {
    const weightMap: Record<string, string> = {};
    const per = Math.ceil(tensors.length / shards);
    for (let s = 0; s < shards; s += 1) {
      const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const part = tensors.slice(s * per, (s + 1) * per);
      for (const [t] of part) weightMap[t] = name;
      const file = safetensorsFile(part, dtype);
      files.push({ path: name, data: file.data });
      params += file.params;
    }
    files.push({ path: 'model.safetensors.index.json', data: Buffer.from(JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap })) });
  }
  return { files, params };
}

/** Small configs of several architectures, with the keys their real config.json files use. */
export const TINY_CONFIGS: Record<string, Record<string, unknown>> = {
  llama: { model_type: 'llama', hidden_size: 64, intermediate_size: 160, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 3, vocab_size: 300, max_position_embeddings: 2048, tie_word_embeddings: false, torch_dtype: 'bfloat16' },
  qwen3: { model_type: 'qwen3', hidden_size: 64, intermediate_size: 192, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, num_hidden_layers: 2, vocab_size: 320, max_position_embeddings: 4096, tie_word_embeddings: true, sliding_window: null, use_sliding_window: false },
  gemma3: {
    model_type: 'gemma3',
    architectures: ['Gemma3ForConditionalGeneration'],
    text_config: { model_type: 'gemma3_text', hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, num_key_value_heads: 1, head_dim: 32, num_hidden_layers: 6, vocab_size: 256, max_position_embeddings: 8192, sliding_window: 512, sliding_window_pattern: 6, hidden_activation: 'gelu_pytorch_tanh' },
  },
  mixtral: { model_type: 'mixtral', hidden_size: 64, intermediate_size: 96, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, vocab_size: 200, max_position_embeddings: 4096, num_local_experts: 4, num_experts_per_tok: 2 },
  deepseek_v3: {
    model_type: 'deepseek_v3', hidden_size: 64, intermediate_size: 128, moe_intermediate_size: 32, num_attention_heads: 4, num_key_value_heads: 4, num_hidden_layers: 3, vocab_size: 256,
    max_position_embeddings: 4096, kv_lora_rank: 32, q_lora_rank: 48, qk_rope_head_dim: 8, qk_nope_head_dim: 16, v_head_dim: 16, n_routed_experts: 8, num_experts_per_tok: 2, n_shared_experts: 1, first_k_dense_replace: 1,
  },
};
