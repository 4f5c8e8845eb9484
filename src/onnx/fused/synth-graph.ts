import type { BuiltModel } from '../graph-builder.js';
import { METADATA_KEYS, type GraphKind } from '../metadata.js';
import type { ModelSpec } from '../../catalog/model-spec.js';
import { resolveSynthArchitecture, type SynthArchitecture } from '../synth/architecture.js';
import { buildDecoderModel, type SynthDtype } from '../synth/build-decoder.js';
import { buildFusedDecoderModel, checkFusedSupport } from './build-fused-decoder.js';
import { makeGenaiConfig, type GenaiConfig } from './genai-config.js';

/**
 * What `synth --graph standard|fused` needs from the graph builders: one entry point that builds either
 * graph from the same seeded weights, and the files a fused model carries beside it.
 */

export interface SynthGraphRequest {
  graph: GraphKind;
  arch: SynthArchitecture;
  layers: number;
  dtype: SynthDtype;
  seed: number;
  /** Fused graph: longest sequence accepted (rotary table rows); default the model's context length. */
  maxLength?: number;
  metadata?: Record<string, string>;
  producerVersion?: string;
}

/** Throws E_UNSUPPORTED when the architecture cannot have the requested graph (call before writing). */
export function checkSynthGraph(graph: GraphKind, arch: SynthArchitecture): void {
  if (graph === 'fused') checkFusedSupport(arch);
}

/** Why `spec` has no fused form (`synth --graph fused` would refuse it), or null when it has one. */
export function fusedUnsupported(spec: ModelSpec): string | null {
  try {
    checkFusedSupport(resolveSynthArchitecture(spec));
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The graph form a synthesized model of `spec` is built in by default (`recommend --confirm`): fused where
 * the architecture has a fused form, standard otherwise. Estimates calibrated per form use it.
 */
export function preferredGraph(spec: ModelSpec): GraphKind {
  return fusedUnsupported(spec) === null ? 'fused' : 'standard';
}

export function buildSynthGraph(request: SynthGraphRequest): BuiltModel {
  const common = {
    arch: request.arch,
    layers: request.layers,
    dtype: request.dtype,
    seed: request.seed,
    ...(request.producerVersion ? { producerVersion: request.producerVersion } : {}),
    metadata: { ...request.metadata, [METADATA_KEYS.graph]: request.graph },
  };
  if (request.graph === 'fused') return buildFusedDecoderModel({ ...common, ...(request.maxLength !== undefined ? { maxLength: request.maxLength } : {}) });
  return buildDecoderModel(common);
}

/**
 * `genai_config.json` for a fused model written at `<folder>/genai_config.json`, the model being at
 * `<folder>/<modelFile>`; token ids come from the source config.json when there is one.
 */
export function fusedGenaiConfig(arch: SynthArchitecture, layers: number, modelFile: string, raw: Record<string, unknown> | null, maxLength?: number): GenaiConfig {
  const id = (key: string): number | null => (typeof raw?.[key] === 'number' ? (raw[key] as number) : null);
  const eos = raw?.eos_token_id;
  const eosTokenId = typeof eos === 'number' ? eos : Array.isArray(eos) && eos.every((e) => typeof e === 'number') ? (eos as number[]) : null;
  return makeGenaiConfig({
    arch,
    layers,
    filename: modelFile,
    maxLength: maxLength ?? arch.maxPositions,
    bosTokenId: id('bos_token_id'),
    eosTokenId,
    padTokenId: id('pad_token_id'),
  });
}
