import { writeFile } from 'node:fs/promises';
import { ggmlTensorBytes, ggmlType } from '../../src/estimate/gguf.js';

/**
 * A minimal GGUF v3 writer for tests: metadata (numbers as u32 / f32 / u64 by a hint, strings, booleans,
 * arrays of strings or u32), tensor infos and zero-filled tensor data at the aligned offsets, as gguf-py's
 * GGUFWriter lays them out (each tensor's data padded to the alignment).
 */
export type MetaValue = string | boolean | { u32: number } | { f32: number } | { u64: number } | { strings: string[] } | { u32s: number[] };

export interface TensorSpec {
  name: string;
  /** ggml order: dims[0] is the row length. */
  dims: number[];
  type: string;
}

export interface GgufFile {
  bytes: Buffer;
  /** Sum of every tensor's bytes (without padding). */
  tensorBytes: number;
  dataOffset: number;
}

const ALIGN = 32;

function str(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([len, body]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function value(v: MetaValue): Buffer {
  if (typeof v === 'string') return Buffer.concat([u32(8), str(v)]);
  if (typeof v === 'boolean') return Buffer.concat([u32(7), Buffer.from([v ? 1 : 0])]);
  if ('u32' in v) return Buffer.concat([u32(4), u32(v.u32)]);
  if ('u64' in v) return Buffer.concat([u32(10), u64(v.u64)]);
  if ('f32' in v) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v.f32);
    return Buffer.concat([u32(6), b]);
  }
  if ('strings' in v) return Buffer.concat([u32(9), u32(8), u64(v.strings.length), ...v.strings.map(str)]);
  return Buffer.concat([u32(9), u32(4), u64(v.u32s.length), ...v.u32s.map(u32)]);
}

const pad = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export function buildGguf(metadata: Record<string, MetaValue>, tensors: TensorSpec[]): GgufFile {
  const parts: Buffer[] = [Buffer.from('GGUF', 'latin1'), u32(3), u64(tensors.length), u64(Object.keys(metadata).length)];
  for (const [k, v] of Object.entries(metadata)) parts.push(str(k), value(v));
  let offset = 0;
  let tensorBytes = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const type = ggmlType(t.type);
    const elements = t.dims.reduce((a, b) => a * b, 1);
    const bytes = ggmlTensorBytes(type, elements, t.dims[0]!);
    if (bytes === null) throw new Error(`${t.name}: rows of ${t.dims[0]} are not whole ${t.type} blocks`);
    parts.push(str(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(type.id), u64(offset));
    sizes.push(bytes);
    tensorBytes += bytes;
    offset += pad(bytes);
  }
  const header = Buffer.concat(parts);
  const dataOffset = pad(header.length);
  const bytes = Buffer.alloc(dataOffset + offset);
  header.copy(bytes, 0);
  return { bytes, tensorBytes, dataOffset };
}

export async function writeGguf(path: string, metadata: Record<string, MetaValue>, tensors: TensorSpec[]): Promise<GgufFile> {
  const file = buildGguf(metadata, tensors);
  await writeFile(path, file.bytes);
  return file;
}

/** The tensors of a small Llama-architecture model, with the matrices in `matrixType` (norms F32). */
export function llamaTensors(shape: { hidden: number; layers: number; heads: number; kvHeads: number; inter: number; vocab: number; tied: boolean }, matrixType: string, overrides: Record<string, string> = {}): TensorSpec[] {
  const { hidden, layers, heads, kvHeads, inter, vocab } = shape;
  const headDim = hidden / heads;
  const t: TensorSpec[] = [{ name: 'token_embd.weight', dims: [hidden, vocab], type: overrides['token_embd.weight'] ?? matrixType }];
  for (let i = 0; i < layers; i += 1) {
    const m = (name: string, dims: number[]): void => {
      t.push({ name: `blk.${i}.${name}`, dims, type: overrides[name] ?? matrixType });
    };
    t.push({ name: `blk.${i}.attn_norm.weight`, dims: [hidden], type: 'F32' });
    m('attn_q.weight', [hidden, heads * headDim]);
    m('attn_k.weight', [hidden, kvHeads * headDim]);
    m('attn_v.weight', [hidden, kvHeads * headDim]);
    m('attn_output.weight', [heads * headDim, hidden]);
    t.push({ name: `blk.${i}.ffn_norm.weight`, dims: [hidden], type: 'F32' });
    m('ffn_gate.weight', [hidden, inter]);
    m('ffn_up.weight', [hidden, inter]);
    m('ffn_down.weight', [inter, hidden]);
  }
  t.push({ name: 'output_norm.weight', dims: [hidden], type: 'F32' });
  if (!shape.tied) t.push({ name: 'output.weight', dims: [hidden, vocab], type: overrides['output.weight'] ?? matrixType });
  return t;
}

export function llamaMetadata(shape: { hidden: number; layers: number; heads: number; kvHeads: number; inter: number; vocab: number; context: number }, fileType: number, name = 'Tiny Test'): Record<string, MetaValue> {
  return {
    'general.architecture': 'llama',
    'general.name': name,
    'general.file_type': { u32: fileType },
    'llama.context_length': { u32: shape.context },
    'llama.embedding_length': { u32: shape.hidden },
    'llama.block_count': { u32: shape.layers },
    'llama.feed_forward_length': { u32: shape.inter },
    'llama.attention.head_count': { u32: shape.heads },
    'llama.attention.head_count_kv': { u32: shape.kvHeads },
    'llama.rope.freq_base': { f32: 10000 },
    'llama.attention.layer_norm_rms_epsilon': { f32: 1e-5 },
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': { strings: Array.from({ length: shape.vocab }, (_, i) => `t${i}`) },
  };
}
