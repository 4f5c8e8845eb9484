/**
 * The decoder's I/O as the loaded session reports it (names, element types, shapes), recognised by the one
 * decoder recogniser (`onnx/decoder-signature.ts`) and turned into the feed names and types the decoder loop
 * and the KV layouts use. Reading it from the session (not the file) means it is what ONNX Runtime will
 * actually run.
 */
import type * as ort from 'onnxruntime-node';
import { NEW_KV_ALL_OUTPUT } from '../onnx/fused/new-kv-outputs.js';
import { recognizeDecoder, unsupportedDecoder, type DecoderFloatType, type IoTensorInfo } from '../onnx/decoder-signature.js';

export type IntType = 'int64' | 'int32';

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
  logitsType: DecoderFloatType;
  /** Vocabulary size when the logits shape states it. */
  vocabSize: number | null;
  layers: KvLayer[];
  kvType: DecoderFloatType;
  kvHeads: number;
  headDim: number;
  /** Which axis of a KV tensor is the sequence (2 in [batch, heads, seq, head_dim]). */
  kvSeqAxis: number;
  /**
   * The appended layout's one output with every layer's new positions (`present_new.all`, see
   * src/onnx/fused/new-kv-outputs.ts), when the session has it; null otherwise.
   */
  newKvAll: string | null;
}

type Meta = ort.InferenceSession.ValueMetadata;
type TensorMeta = Extract<Meta, { isTensor: true }>;

/** Session metadata as the recogniser reads it; a non-tensor value keeps its name with no tensor type. */
function ioInfo(list: readonly Meta[]): IoTensorInfo[] {
  return list.map((m) => (m.isTensor ? { name: m.name, dtype: (m as TensorMeta).type, shape: [...(m as TensorMeta).shape] } : { name: m.name, dtype: 'non-tensor', shape: null }));
}

function intType(t: IoTensorInfo | null): IntType {
  return t?.dtype === 'int32' ? 'int32' : 'int64';
}

/**
 * Detects the decoder I/O of a loaded session; throws `E_UNSUPPORTED` naming what was found when it does not
 * fit, or when the cache shapes leave kv_heads or head_dim symbolic (the caches could not be allocated).
 */
export function detectDecoderIo(inputs: readonly Meta[], outputs: readonly Meta[], modelName = 'model'): DecoderIo {
  const ins = ioInfo(inputs);
  const outs = ioInfo(outputs);
  const sig = recognizeDecoder(ins, outs, modelName);
  if (sig.numKvHeads === null || sig.headDim === null) throw unsupportedDecoder(ins, outs, 'the KV cache shapes do not state kv_heads and head_dim as numbers', modelName);
  return {
    inputIds: sig.inputIds.name,
    inputIdsType: intType(sig.inputIds),
    attentionMask: sig.attentionMask?.name ?? null,
    attentionMaskType: intType(sig.attentionMask),
    positionIds: sig.positionIds?.name ?? null,
    positionIdsType: intType(sig.positionIds),
    logitsToKeep: sig.logitsToKeep?.name ?? null,
    useCacheBranch: sig.useCacheBranch?.name ?? null,
    logits: sig.logits.name,
    logitsType: sig.logits.dtype as DecoderFloatType,
    vocabSize: sig.vocabSize,
    layers: sig.pastKeyNames.map((pastKey, i) => ({ pastKey, pastValue: sig.pastValueNames[i]!, presentKey: sig.presentKeyNames[i]!, presentValue: sig.presentValueNames[i]! })),
    kvType: sig.kvDtype,
    kvHeads: sig.numKvHeads,
    headDim: sig.headDim,
    kvSeqAxis: 2,
    newKvAll: outputs.some((o) => o.name === NEW_KV_ALL_OUTPUT) ? NEW_KV_ALL_OUTPUT : null,
  };
}

export function floatBytes(t: DecoderFloatType): number {
  return t === 'float16' ? 2 : 4;
}

/** 2 · layers · kv_heads · head_dim · dtype_bytes: KV bytes per token of one sequence. */
export function kvBytesPerToken(io: Pick<DecoderIo, 'layers' | 'kvHeads' | 'headDim' | 'kvType'>): number {
  return 2 * io.layers.length * io.kvHeads * io.headDim * floatBytes(io.kvType);
}
