/**
 * The decoder's I/O as the loaded session reports it (names, element types, shapes), checked against the
 * optimum / transformers.js convention that onnxruntime-genai models share: `input_ids`, `attention_mask`,
 * optional `position_ids`, `past_key_values.{i}.key|value` in, `logits` and `present.{i}.key|value` out.
 * Reading it from the session (not the file) means it is what ONNX Runtime will actually run.
 */
import type * as ort from 'onnxruntime-node';
import { ModelscoutError } from '../errors.js';

export type IntType = 'int64' | 'int32';
export type FloatType = 'float32' | 'float16';

export interface KvLayer {
  pastKey: string;
  pastValue: string;
  presentKey: string;
  presentValue: string;
}

export interface DecoderIo {
  inputIds: string;
  inputIdsType: IntType;
  attentionMask: string | null;
  attentionMaskType: IntType;
  positionIds: string | null;
  positionIdsType: IntType;
  /** `num_logits_to_keep` / `logits_to_keep` (scalar int64): fed 1 so only the last position's logits are produced. */
  logitsToKeep: string | null;
  /** optimum's merged decoder switch (`use_cache_branch`, bool [1]). */
  useCacheBranch: string | null;
  logits: string;
  logitsType: FloatType;
  /** Vocabulary size when the logits shape states it. */
  vocabSize: number | null;
  layers: KvLayer[];
  kvType: FloatType;
  kvHeads: number;
  headDim: number;
  /** Which axis of a KV tensor is the sequence (2 in [batch, heads, seq, head_dim]). */
  kvSeqAxis: number;
}

type Meta = ort.InferenceSession.ValueMetadata;
type TensorMeta = Extract<Meta, { isTensor: true }>;

function tensorMeta(list: readonly Meta[], name: string): TensorMeta | null {
  const m = list.find((x) => x.name === name);
  return m && m.isTensor ? (m as TensorMeta) : null;
}

function describe(list: readonly Meta[]): string {
  return list.map((m) => (m.isTensor ? `${m.name}:${(m as TensorMeta).type}[${(m as TensorMeta).shape.join(',')}]` : m.name)).join(' ');
}

function unsupported(inputs: readonly Meta[], outputs: readonly Meta[], why: string): ModelscoutError {
  return new ModelscoutError('E_MODEL', `unsupported decoder signature: ${why}; found inputs ${describe(inputs)}; outputs ${describe(outputs)}`, {
    suggestions: ['Export the model with KV cache (optimum `text-generation-with-past`, or transformers.js / onnx-community files).'],
  });
}

function intType(m: TensorMeta | null, fallback: IntType): IntType {
  if (!m) return fallback;
  return m.type === 'int32' ? 'int32' : 'int64';
}

/** Detects the decoder I/O of a loaded session; throws `E_MODEL` naming what was found when it does not fit. */
export function detectDecoderIo(inputs: readonly Meta[], outputs: readonly Meta[]): DecoderIo {
  const inputIds = tensorMeta(inputs, 'input_ids');
  if (!inputIds) throw unsupported(inputs, outputs, 'no input_ids input (inputs_embeds-only models are not supported)');
  const logits = tensorMeta(outputs, 'logits');
  if (!logits) throw unsupported(inputs, outputs, 'no logits output');
  if (logits.type !== 'float32' && logits.type !== 'float16') throw unsupported(inputs, outputs, `logits of type ${logits.type}`);
  const pastRe = /^past_key_values\.(\d+)\.(key|value)$/;
  const indices = new Set<number>();
  for (const m of inputs) {
    const r = pastRe.exec(m.name);
    if (r) indices.add(Number(r[1]));
  }
  if (indices.size === 0) throw unsupported(inputs, outputs, 'no past_key_values.{i}.key|value inputs (a model without KV cache)');
  const layers: KvLayer[] = [];
  const n = Math.max(...indices) + 1;
  let kvType: FloatType | null = null;
  let kvHeads: number | null = null;
  let headDim: number | null = null;
  for (let i = 0; i < n; i += 1) {
    const layer = { pastKey: `past_key_values.${i}.key`, pastValue: `past_key_values.${i}.value`, presentKey: `present.${i}.key`, presentValue: `present.${i}.value` };
    for (const [name, list] of [[layer.pastKey, inputs], [layer.pastValue, inputs], [layer.presentKey, outputs], [layer.presentValue, outputs]] as const) {
      const m = tensorMeta(list, name);
      if (!m) throw unsupported(inputs, outputs, `missing ${name}`);
      if (m.type !== 'float32' && m.type !== 'float16') throw unsupported(inputs, outputs, `${name} of type ${m.type}`);
      if (kvType === null) kvType = m.type;
      else if (kvType !== m.type) throw unsupported(inputs, outputs, `mixed KV cache types (${kvType}, ${m.type})`);
      if (m.shape.length !== 4) throw unsupported(inputs, outputs, `${name} has rank ${m.shape.length}, expected 4 [batch, kv_heads, seq, head_dim]`);
      const heads = m.shape[1];
      const dim = m.shape[3];
      if (typeof heads === 'number') kvHeads ??= heads;
      if (typeof dim === 'number') headDim ??= dim;
    }
    layers.push(layer);
  }
  if (kvHeads === null || headDim === null) throw unsupported(inputs, outputs, 'the KV cache shapes do not state kv_heads and head_dim as numbers');
  const mask = tensorMeta(inputs, 'attention_mask');
  const pos = tensorMeta(inputs, 'position_ids');
  const keep = tensorMeta(inputs, 'num_logits_to_keep') ?? tensorMeta(inputs, 'logits_to_keep');
  const branch = tensorMeta(inputs, 'use_cache_branch');
  const known = new Set(['input_ids', 'attention_mask', 'position_ids', keep?.name, branch?.name, ...layers.flatMap((l) => [l.pastKey, l.pastValue])]);
  const extra = inputs.filter((m) => !known.has(m.name));
  if (extra.length > 0) throw unsupported(inputs, outputs, `unexpected inputs ${extra.map((m) => m.name).join(', ')}`);
  const vocab = logits.shape[2];
  return {
    inputIds: inputIds.name,
    inputIdsType: intType(inputIds, 'int64'),
    attentionMask: mask?.name ?? null,
    attentionMaskType: intType(mask, 'int64'),
    positionIds: pos?.name ?? null,
    positionIdsType: intType(pos, 'int64'),
    logitsToKeep: keep?.name ?? null,
    useCacheBranch: branch?.name ?? null,
    logits: logits.name,
    logitsType: logits.type,
    vocabSize: typeof vocab === 'number' ? vocab : null,
    layers,
    kvType: kvType ?? 'float32',
    kvHeads,
    headDim,
    kvSeqAxis: 2,
  };
}

export function floatBytes(t: FloatType): number {
  return t === 'float16' ? 2 : 4;
}

/** 2 · layers · kv_heads · head_dim · dtype_bytes: KV bytes per token of one sequence. */
export function kvBytesPerToken(io: Pick<DecoderIo, 'layers' | 'kvHeads' | 'headDim' | 'kvType'>): number {
  return 2 * io.layers.length * io.kvHeads * io.headDim * floatBytes(io.kvType);
}
