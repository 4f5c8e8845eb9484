import { ModelscoutError } from '../errors.js';
import { dataTypeName, valueInfoElemType, valueInfoShape, type OnnxGraph, type OnnxModel } from './proto.js';

/**
 * The one recogniser of a decoder-only LLM's I/O with a KV cache, in the Hugging Face optimum /
 * transformers.js / onnxruntime-genai convention:
 *   inputs  input_ids, [attention_mask], [position_ids], [num_logits_to_keep | logits_to_keep], [use_cache_branch],
 *           past_key_values.{i}.key|value
 *   outputs logits, present.{i}.key|value
 * with the caches shaped [batch, kv_heads, sequence, head_dim]. It reads a list of names, dtypes and shapes:
 * `detectDecoderSignature` feeds it a graph's inputs and outputs (inspect, bench), `runtime/decoder-io.ts` a
 * loaded session's metadata (what ONNX Runtime will run).
 */

export interface IoTensorInfo {
  name: string;
  /** onnxruntime-node type name (`float32`, `int64`, ...). */
  dtype: string;
  /** Dims: numbers, symbolic names, or null for an unnamed unknown dim; null when the shape is unknown. */
  shape: (number | string | null)[] | null;
}

/** Element type of a decoder's KV cache and logits. */
export type DecoderFloatType = 'float32' | 'float16';

export interface DecoderSignature {
  inputIds: IoTensorInfo;
  attentionMask: IoTensorInfo | null;
  positionIds: IoTensorInfo | null;
  /** `num_logits_to_keep` or `logits_to_keep` (scalar int64): how many last positions get logits. */
  logitsToKeep: IoTensorInfo | null;
  /** optimum's merged decoder switch (`use_cache_branch`, bool [1]). */
  useCacheBranch: IoTensorInfo | null;
  logits: IoTensorInfo;
  numLayers: number;
  /** KV heads and head dim as declared on the cache tensors (null when every such dim is symbolic). */
  numKvHeads: number | null;
  headDim: number | null;
  kvDtype: DecoderFloatType;
  /** Bytes per element of the cache (4 or 2). */
  kvBytesPerElement: number;
  /** Key + value cache bytes added per token per sequence: 2 × layers × kv_heads × head_dim × bytes. */
  kvBytesPerToken: number | null;
  vocabSize: number | null;
  pastKeyNames: string[];
  pastValueNames: string[];
  presentKeyNames: string[];
  presentValueNames: string[];
}

/** Graph inputs that are real inputs (not initializers listed as inputs, as old exporters did). */
export function graphInputs(graph: OnnxGraph): IoTensorInfo[] {
  const initializers = new Set(graph.initializer.map((t) => t.name));
  return graph.input.filter((v) => !initializers.has(v.name)).map(toInfo);
}

export function graphOutputs(graph: OnnxGraph): IoTensorInfo[] {
  return graph.output.map(toInfo);
}

function toInfo(v: OnnxGraph['input'][number]): IoTensorInfo {
  return { name: v.name ?? '', dtype: dataTypeName(valueInfoElemType(v)), shape: valueInfoShape(v) };
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;
const PRESENT = /^present\.(\d+)\.(key|value)$/;
const KNOWN_INPUTS = new Set(['input_ids', 'attention_mask', 'position_ids', 'num_logits_to_keep', 'logits_to_keep', 'use_cache_branch']);

/** The signature of a model file's graph; `E_UNSUPPORTED` naming what was found when it is not a decoder with a KV cache. */
export function detectDecoderSignature(model: OnnxModel, modelName = 'model'): DecoderSignature {
  const graph = model.graph;
  if (!graph) throw new ModelscoutError('E_MODEL', `${modelName} has no graph`);
  return recognizeDecoder(graphInputs(graph), graphOutputs(graph), modelName);
}

/** The error for I/O that is not a decoder this project can drive: what is wrong, what was found, what to use. */
export function unsupportedDecoder(inputs: readonly IoTensorInfo[], outputs: readonly IoTensorInfo[], why: string, modelName = 'model'): ModelscoutError {
  const found = `inputs [${inputs.map((i) => i.name).join(', ')}], outputs [${outputs.map((o) => o.name).join(', ')}]`;
  return new ModelscoutError('E_UNSUPPORTED', `${modelName}: not a supported decoder signature (${why}); found ${truncate(found)}`, {
    suggestions: ['Use a decoder-only model exported with a KV cache (optimum `text-generation-with-past`, or transformers.js / onnx-community files).'],
  });
}

/**
 * kv_heads and head_dim of a cache tensor: `[batch, kv_heads, sequence, head_dim]`, or the direct KV layout's
 * in-memory graph's `[batch, kv_heads, 1, sequence, head_dim]` (src/onnx/fused/split-attention.ts).
 */
function kvDims(t: IoTensorInfo): { heads: number | string | null | undefined; dim: number | string | null | undefined } {
  return { heads: t.shape?.[1], dim: t.shape?.[t.shape.length - 1] };
}

/**
 * Recognises a decoder's I/O from names, dtypes and shapes. Throws `E_UNSUPPORTED` (see `unsupportedDecoder`)
 * for a missing input_ids, logits or KV-cache tensor, an input it does not know, layers not numbered 0..n-1,
 * a KV cache that is not float32/float16 of one type, or a cache tensor whose rank is not 4.
 */
export function recognizeDecoder(inputs: readonly IoTensorInfo[], outputs: readonly IoTensorInfo[], modelName = 'model'): DecoderSignature {
  const fail = (why: string): never => {
    throw unsupportedDecoder(inputs, outputs, why, modelName);
  };
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const inputIds = byName.get('input_ids') ?? fail('no input_ids input (inputs_embeds-only models are not supported)');
  if (inputIds.dtype !== 'int64' && inputIds.dtype !== 'int32') fail(`input_ids is ${inputIds.dtype}, expected int64`);
  const unknown = inputs.filter((i) => !KNOWN_INPUTS.has(i.name) && !PAST.test(i.name)).map((i) => i.name);
  if (unknown.length > 0) fail(`unsupported input(s) ${unknown.join(', ')}`);
  const logits = outputs.find((o) => o.name === 'logits') ?? fail('no logits output');
  if (logits.dtype !== 'float32' && logits.dtype !== 'float16') fail(`logits of type ${logits.dtype}`);

  const past = collectLayers(inputs, PAST);
  const present = collectLayers(outputs, PRESENT);
  if (past.size === 0) fail('no past_key_values.{i}.key|value inputs (a model without KV cache)');
  const numLayers = Math.max(...past.keys()) + 1;
  const cache: IoTensorInfo[][] = [];
  for (let i = 0; i < numLayers; i++) {
    const inLayer = past.get(i);
    const outLayer = present.get(i);
    cache.push([
      inLayer?.key ?? fail(`past_key_values.${i}.key missing (layers must be numbered 0..${numLayers - 1})`),
      inLayer?.value ?? fail(`past_key_values.${i}.value missing (layers must be numbered 0..${numLayers - 1})`),
      outLayer?.key ?? fail(`present.${i}.key output missing`),
      outLayer?.value ?? fail(`present.${i}.value output missing`),
    ]);
  }

  const kvDtype = cache[0]![0]!.dtype;
  if (kvDtype !== 'float32' && kvDtype !== 'float16') fail(`KV cache dtype ${kvDtype} (supported: float32, float16)`);
  let numKvHeads: number | null = null;
  let headDim: number | null = null;
  for (const t of cache.flat()) {
    if (t.dtype !== kvDtype) fail(`${t.name} is ${t.dtype} but past_key_values.0.key is ${kvDtype}`);
    if (t.shape && t.shape.length !== 4 && !(t.shape.length === 5 && t.shape[2] === 1)) fail(`${t.name} has rank ${t.shape.length}, expected [batch, kv_heads, sequence, head_dim]`);
    const { heads, dim } = kvDims(t);
    if (typeof heads === 'number') numKvHeads ??= heads;
    if (typeof dim === 'number') headDim ??= dim;
  }
  const kvBytesPerElement = kvDtype === 'float16' ? 2 : 4;
  // Layers may differ in head dim in principle; sum per layer when every past tensor declares numbers.
  let kvBytesPerToken: number | null = 0;
  for (const [key, value] of cache) {
    for (const t of [key!, value!]) {
      const { heads, dim } = kvDims(t);
      if (kvBytesPerToken !== null && typeof heads === 'number' && typeof dim === 'number') kvBytesPerToken += heads * dim * kvBytesPerElement;
      else kvBytesPerToken = null;
    }
  }
  const vocab = logits.shape?.[logits.shape.length - 1];
  const names = (slot: number): string[] => cache.map((layer) => layer[slot]!.name);
  return {
    inputIds,
    attentionMask: byName.get('attention_mask') ?? null,
    positionIds: byName.get('position_ids') ?? null,
    logitsToKeep: byName.get('num_logits_to_keep') ?? byName.get('logits_to_keep') ?? null,
    useCacheBranch: byName.get('use_cache_branch') ?? null,
    logits,
    numLayers,
    numKvHeads,
    headDim,
    kvDtype: kvDtype as DecoderFloatType,
    kvBytesPerElement,
    kvBytesPerToken,
    vocabSize: typeof vocab === 'number' ? vocab : null,
    pastKeyNames: names(0),
    pastValueNames: names(1),
    presentKeyNames: names(2),
    presentValueNames: names(3),
  };
}

interface LayerPair {
  key?: IoTensorInfo;
  value?: IoTensorInfo;
}

function collectLayers(list: readonly IoTensorInfo[], pattern: RegExp): Map<number, LayerPair> {
  const layers = new Map<number, LayerPair>();
  for (const info of list) {
    const match = pattern.exec(info.name);
    if (!match) continue;
    const index = Number(match[1]);
    const pair = layers.get(index) ?? {};
    pair[match[2] as 'key' | 'value'] = info;
    layers.set(index, pair);
  }
  return layers;
}

function truncate(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
