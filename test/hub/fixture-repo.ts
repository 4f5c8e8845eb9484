import { createHash } from 'node:crypto';
import type { ServedFile } from './hub-server.js';

/**
 * A transformers.js-style repo (the layout of onnx-community/*), generated at test time: configs,
 * tokenizer files, fp32 and q4 graphs with external data, an fp16 graph without, and files `pull` must
 * leave alone (README, safetensors). Graph bytes are deterministic filler: these tests check transport,
 * caching and verification, not ONNX parsing (the integration test pulls a real synthetic model).
 */
export const FIXTURE_SIZES = {
  'onnx/model.onnx': 24_000,
  'onnx/model.onnx_data': 400_000,
  'onnx/model_q4.onnx': 30_000,
  'onnx/model_q4.onnx_data': 120_000,
  'onnx/model_q4.onnx_data_1': 60_000,
  'onnx/model_fp16.onnx': 220_000,
  'model.safetensors': 300_000,
} as const;

export function fixtureRepoFiles(seed = 'fixture'): ServedFile[] {
  const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  const files: ServedFile[] = [
    { path: '.gitattributes', data: Buffer.from('*.onnx filter=lfs diff=lfs merge=lfs -text\n*.onnx_data* filter=lfs diff=lfs merge=lfs -text\n') },
    { path: 'README.md', data: Buffer.from('---\nlibrary_name: transformers.js\n---\n# tiny test model\n') },
    { path: 'config.json', data: json({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2, vocab_size: 256, max_position_embeddings: 512, rms_norm_eps: 1e-5, tie_word_embeddings: false, torch_dtype: 'float32' }) },
    { path: 'generation_config.json', data: json({ bos_token_id: 1, eos_token_id: 2, max_length: 512 }) },
    { path: 'tokenizer.json', data: json({ version: '1.0', model: { type: 'BPE', vocab: Object.fromEntries(Array.from({ length: 256 }, (_, i) => [`t${i}`, i])), merges: [] } }) },
    { path: 'tokenizer_config.json', data: json({ bos_token: '<s>', eos_token: '</s>', model_max_length: 512 }) },
    { path: 'special_tokens_map.json', data: json({ bos_token: '<s>', eos_token: '</s>' }) },
  ];
  for (const [path, size] of Object.entries(FIXTURE_SIZES)) files.push({ path, data: fillerBytes(`${seed}:${path}`, size) });
  return files;
}

/** Deterministic bytes (sha256 in counter mode), so sizes and checksums are stable between runs. */
export function fillerBytes(seed: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (let block = 0; offset < size; block += 1) {
    const digest = createHash('sha256').update(`${seed}#${block}`).digest();
    offset += digest.copy(out, offset, 0, Math.min(digest.length, size - offset));
  }
  return out;
}
