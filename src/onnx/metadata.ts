import type { OnnxModel, OnnxStringEntry } from './proto.js';

/**
 * The `metadata_props` keys modelscout writes on a ModelProto and every report reads back: whether the
 * weights are synthetic, how the model was built, and how it was quantized. Values are strings (ONNX
 * metadata is string → string); JSON where a value is structured.
 */
export const METADATA_KEYS = {
  /** "true" when the weights are seeded random numbers (speed and memory are real, text is not). */
  synthetic: 'modelscout.synthetic',
  /** Seed of the synthetic weights (decimal integer). */
  seed: 'modelscout.seed',
  /** What the architecture came from: a catalog id, a config.json path, or a Hugging Face repo. */
  source: 'modelscout.source',
  /** Decoder layers present in this file (`--layers N` builds fewer than the real model has). */
  numLayersBuilt: 'modelscout.num_layers_built',
  /** Decoder layers of the real architecture. */
  numLayersFull: 'modelscout.num_layers_full',
  /** "standard" (plain ONNX ops) or "fused" (ONNX Runtime contrib attention ops). */
  graph: 'modelscout.graph',
  /** JSON object written by the quantizer (method, block size, symmetric, accuracy level, ...). */
  quantization: 'modelscout.quantization',
} as const;

export type GraphKind = 'standard' | 'fused';

export interface ModelscoutMetadata {
  synthetic: boolean;
  seed: number | null;
  source: string | null;
  numLayersBuilt: number | null;
  numLayersFull: number | null;
  graph: GraphKind | null;
  /** Parsed `modelscout.quantization`; null when absent or not valid JSON. */
  quantization: Record<string, unknown> | null;
  /** Every metadata entry of the model, modelscout's or not. */
  all: Record<string, string>;
}

export function metadataMap(model: OnnxModel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of model.metadata_props) if (entry.key !== undefined) out[entry.key] = entry.value ?? '';
  return out;
}

/** Sets (or replaces) metadata entries on a model, keeping the order of existing keys. */
export function setMetadata(model: OnnxModel, values: Record<string, string | number | boolean | object>): void {
  for (const [key, raw] of Object.entries(values)) {
    const value = typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
    const existing = model.metadata_props.find((e: OnnxStringEntry) => e.key === key);
    if (existing) existing.value = value;
    else model.metadata_props.push({ key, value });
  }
}

export function readModelscoutMetadata(model: OnnxModel): ModelscoutMetadata {
  const all = metadataMap(model);
  const int = (key: string): number | null => {
    const text = all[key];
    if (text === undefined || !/^-?\d+$/.test(text.trim())) return null;
    return Number(text);
  };
  const graphValue = all[METADATA_KEYS.graph];
  let quantization: Record<string, unknown> | null = null;
  const quantText = all[METADATA_KEYS.quantization];
  if (quantText !== undefined) {
    try {
      const parsed: unknown = JSON.parse(quantText);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) quantization = parsed as Record<string, unknown>;
    } catch {
      quantization = null;
    }
  }
  return {
    synthetic: all[METADATA_KEYS.synthetic] === 'true',
    seed: int(METADATA_KEYS.seed),
    source: all[METADATA_KEYS.source] ?? null,
    numLayersBuilt: int(METADATA_KEYS.numLayersBuilt),
    numLayersFull: int(METADATA_KEYS.numLayersFull),
    graph: graphValue === 'standard' || graphValue === 'fused' ? graphValue : null,
    quantization,
    all,
  };
}
