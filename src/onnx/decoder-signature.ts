import { ModelscoutError } from '../errors.js';
import { dataTypeName, valueInfoElemType, valueInfoShape, type OnnxGraph, type OnnxModel } from './proto.js';

/**
 * Recognises the I/O signature of a decoder-only LLM with a KV cache, in the Hugging Face optimum /
 * transformers.js / onnxruntime-genai convention:
 *   inputs  input_ids, attention_mask, [position_ids], [num_logits_to_keep], past_key_values.{i}.key|value
 *   outputs logits, present.{i}.key|value
 * with the caches shaped [batch, kv_heads, sequence, head_dim].
 */

export interface IoTensorInfo {
  name: string;
  /** onnxruntime-node type name (`float32`, `int64`, ...). */
  dtype: string;
  /** Dims: numbers, symbolic names, or null for an unnamed unknown dim; null when the shape is unknown. */
  shape: (number | string | null)[] | null;
}

export type KvDtype = 'float32' | 'float16';

export interface DecoderSignature {
  inputIds: IoTensorInfo;
  attentionMask: IoTensorInfo | null;
  positionIds: IoTensorInfo | null;
  numLogitsToKeep: IoTensorInfo | null;
  logits: IoTensorInfo;
  numLayers: number;
  /** KV heads and head dim as declared on the cache inputs (null when the dim is symbolic). */
  numKvHeads: number | null;
  headDim: number | null;
  kvDtype: KvDtype;
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
const KNOWN_INPUTS = new Set(['input_ids', 'attention_mask', 'position_ids', 'num_logits_to_keep']);

export function detectDecoderSignature(model: OnnxModel, modelName = 'model'): DecoderSignature {
  const graph = model.graph;
  if (!graph) throw new ModelscoutError('E_MODEL', `${modelName} has no graph`);
  const inputs = graphInputs(graph);
  const outputs = graphOutputs(graph);
  const found = `inputs [${inputs.map((i) => i.name).join(', ')}], outputs [${outputs.map((o) => o.name).join(', ')}]`;
  const fail = (what: string): never => {
    throw new ModelscoutError('E_UNSUPPORTED', `${modelName}: not a supported decoder signature (${what}); found ${truncate(found)}`, {
      suggestions: ['Use a decoder-only model exported with a KV cache (optimum / transformers.js "with past" layout, e.g. an onnx-community repo).'],
    });
  };
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const inputIds = byName.get('input_ids') ?? fail('no input_ids input');
  if (inputIds.dtype !== 'int64' && inputIds.dtype !== 'int32') fail(`input_ids is ${inputIds.dtype}, expected int64`);
  const unknown = inputs.filter((i) => !KNOWN_INPUTS.has(i.name) && !PAST.test(i.name)).map((i) => i.name);
  if (unknown.length > 0) fail(`unsupported input(s) ${unknown.join(', ')}`);

  const past = collectLayers(inputs, PAST);
  const present = collectLayers(outputs, PRESENT);
  if (past.size === 0) fail('no past_key_values.{i}.key|value inputs (a model without KV cache)');
  const numLayers = past.size;
  for (let i = 0; i < numLayers; i++) {
    const entry = past.get(i);
    if (!entry?.key || !entry.value) fail(`past_key_values.${i}.key/value missing (layers must be numbered 0..${numLayers - 1})`);
    const out = present.get(i);
    if (!out?.key || !out.value) fail(`present.${i}.key/value output missing`);
  }
  const logits = outputs.find((o) => o.name === 'logits') ?? fail('no logits output');

  const first = past.get(0)!.key!;
  const kvDtype = first.dtype;
  if (kvDtype !== 'float32' && kvDtype !== 'float16') fail(`KV cache dtype ${kvDtype} (supported: float32, float16)`);
  let numKvHeads: number | null = null;
  let headDim: number | null = null;
  for (let i = 0; i < numLayers; i++) {
    for (const t of [past.get(i)!.key!, past.get(i)!.value!]) {
      if (t.dtype !== kvDtype) fail(`${t.name} is ${t.dtype} but past_key_values.0.key is ${kvDtype}`);
      if (t.shape && t.shape.length !== 4) fail(`${t.name} has rank ${t.shape.length}, expected [batch, kv_heads, sequence, head_dim]`);
      const heads = t.shape?.[1];
      const dim = t.shape?.[3];
      if (i === 0 && t === past.get(0)!.key) {
        numKvHeads = typeof heads === 'number' ? heads : null;
        headDim = typeof dim === 'number' ? dim : null;
      }
    }
  }
  const kvBytesPerElement = kvDtype === 'float16' ? 2 : 4;
  // Layers may differ in head dim in principle; sum per layer when every layer declares numbers.
  let kvBytesPerToken: number | null = 0;
  for (let i = 0; i < numLayers; i++) {
    for (const t of [past.get(i)!.key!, past.get(i)!.value!]) {
      const heads = t.shape?.[1];
      const dim = t.shape?.[3];
      if (kvBytesPerToken !== null && typeof heads === 'number' && typeof dim === 'number') kvBytesPerToken += heads * dim * kvBytesPerElement;
      else kvBytesPerToken = null;
    }
  }
  const vocab = logits.shape?.[logits.shape.length - 1];
  const names = (map: Map<number, LayerPair>, kind: 'key' | 'value'): string[] =>
    Array.from({ length: numLayers }, (_, i) => map.get(i)![kind]!.name);
  return {
    inputIds,
    attentionMask: byName.get('attention_mask') ?? null,
    positionIds: byName.get('position_ids') ?? null,
    numLogitsToKeep: byName.get('num_logits_to_keep') ?? null,
    logits,
    numLayers,
    numKvHeads,
    headDim,
    kvDtype: kvDtype as KvDtype,
    kvBytesPerElement,
    kvBytesPerToken,
    vocabSize: typeof vocab === 'number' ? vocab : null,
    pastKeyNames: names(past, 'key'),
    pastValueNames: names(past, 'value'),
    presentKeyNames: names(present, 'key'),
    presentValueNames: names(present, 'value'),
  };
}

interface LayerPair {
  key?: IoTensorInfo;
  value?: IoTensorInfo;
}

function collectLayers(list: IoTensorInfo[], pattern: RegExp): Map<number, LayerPair> {
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

