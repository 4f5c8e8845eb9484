import { link, copyFile, mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { findModel, modelSpecFromHfConfig, type ModelSpec } from '../../catalog/index.js';
import { ModelscoutError, errorMessage, jsonSyntaxReason } from '../../errors.js';
import { publishDirectory, writeJsonAtomic } from '../../util/atomic-write.js';
import { assertFreeSpace, assertWritableDir } from '../../util/output-path.js';
import type { LockWait } from '../../util/file-lock.js';
import { METADATA_KEYS } from '../metadata.js';
import { writeModel, type WriteProgress } from '../model-io.js';
import { resolveSynthArchitecture, type SynthArchitecture } from './architecture.js';
import type { SynthDtype } from './build-decoder.js';
import { buildSynthGraph, checkSynthGraph, fusedGenaiConfig } from '../fused/synth-graph.js';
import type { GraphKind } from '../metadata.js';

export { syntheticWeight, syntheticWeightChunks, fillSyntheticWeight, weightInit, weightKey } from './weights.js';
export type { WeightInit, WeightLayout } from './weights.js';
export { resolveSynthArchitecture, ropeInverseFrequencies } from './architecture.js';
export type { SynthArchitecture, RopeScaling } from './architecture.js';
export { buildDecoderModel, onnxWeightName } from './build-decoder.js';
export type { SynthDtype, BuildDecoderOptions } from './build-decoder.js';

/**
 * `synth`: builds a decoder-only LLM with the exact architecture of a catalog model or a config.json and
 * seeded random weights, laid out like an onnx-community Hub repo:
 *   <out>/config.json             the HF config (num layers = layers built) + a "modelscout" block
 *   <out>/generation_config.json
 *   <out>/onnx/model.onnx (+ model.onnx_data)            fp32
 *   <out>/onnx/model_fp16.onnx (+ model_fp16.onnx_data)  fp16
 * The folder is published as one unit (util/atomic-write.ts `publishDirectory`): only an empty folder or one
 * modelscout wrote is ever replaced. When it already holds a synthetic model of the same architecture,
 * seed and depth, its other variants (e.g. fp16 next to a new fp32, or a quantized model) are kept.
 */

export interface SynthOptions {
  /** Catalog id, or a path to a config.json (or a folder holding one). */
  source: string;
  /**
   * The model already resolved by the caller (a Hub repo, a .gguf file: sources this layer does not reach);
   * `source` is then not looked up.
   */
  model?: SynthSource;
  dtype: SynthDtype;
  /** Decoder layers to build; default all of them. */
  layers?: number;
  seed: number;
  outDir: string;
  /** Catalog to resolve ids in (default: the built-in one). */
  catalog?: ModelSpec[];
  /** Version written as producer_version. */
  producerVersion?: string;
  onProgress?: (progress: WriteProgress) => void;
  /** Aborts the build (E_INTERRUPTED); the output folder is left as it was. */
  signal?: AbortSignal;
  /** Another run is writing the same output folder: this one waits for it (called once). */
  onWait?: (wait: LockWait) => void;
  /**
   * Runs before the folder is published, with the new model's path: the caller's check that ONNX Runtime
   * loads and runs it (`checkDecoderRuns` of src/runtime/verify.ts; the runtime sits above this layer).
   */
  verify?: (modelPath: string) => Promise<unknown>;
  /** `standard` ONNX ops (default) or ONNX Runtime's `fused` kernels (GroupQueryAttention, …). */
  graph?: GraphKind;
  /** Fused graph: longest sequence it accepts (rotary table rows); default the model's context length. */
  maxLength?: number;
}

export interface SynthResult {
  id: string;
  source: string;
  outDir: string;
  modelFile: string;
  dataFile: string | null;
  dtype: SynthDtype;
  seed: number;
  layersBuilt: number;
  layersFull: number;
  parameters: number;
  modelBytes: number;
  dataBytes: number;
  /** Other variant files kept from the previous content of the folder. */
  keptFiles: string[];
  graph: GraphKind;
  /** `genai_config.json` written beside the model (fused graphs), else null. */
  genaiConfigFile: string | null;
  /** Whether the model was loaded and run one step in ONNX Runtime before it was published. */
  verified: boolean;
}

export const MAX_SEED = 2 ** 32 - 1;

/** Default output folder for a model id (relative to the working directory); a Hub id's `/` becomes `--`. */
export function defaultSynthOutDir(id: string): string {
  return join('models', `${fileSafeId(id)}-synthetic`);
}

/** A model id as one folder name: `org/name` (Hub ids) → `org--name`, as the Hugging Face cache names repos. */
export function fileSafeId(id: string): string {
  return id.replace(/[/\\:]+/g, '--');
}

export function variantFileName(dtype: SynthDtype): string {
  return dtype === 'fp16' ? 'model_fp16.onnx' : 'model.onnx';
}

export interface SynthSource {
  spec: ModelSpec;
  raw: Record<string, unknown> | null;
  /** What `modelscout.source` records: the catalog id, the config path or the model reference as given. */
  label: string;
}
type ResolvedSource = SynthSource;

/**
 * Resolves a catalog id, a Hugging Face repo id known to the catalog, or a config.json path (a folder
 * means its config.json). An existing path wins; otherwise the catalog is asked first.
 */
export async function resolveSynthSource(source: string, catalog?: ModelSpec[]): Promise<ResolvedSource> {
  let path: string | null = null;
  try {
    path = (await stat(source)).isDirectory() ? join(source, 'config.json') : source;
  } catch {
    // Not a file or folder: a catalog id, or a config path whose error names the file below.
  }
  const looksLikeFile = source.endsWith('.json') || source.startsWith('.') || source.startsWith('/') || source.includes('\\');
  if (path === null && !looksLikeFile) {
    try {
      const spec = catalog ? findModel(source, catalog) : findModel(source);
      return { spec, raw: null, label: spec.id };
    } catch (error) {
      if (!source.includes('/')) {
        // Same message, with the advice that fits this command (a positional config path, not --config).
        if (error instanceof ModelscoutError && error.code === 'E_NOT_FOUND') {
          throw new ModelscoutError('E_NOT_FOUND', error.message, {
            suggestions: ['Run `modelscout models` to list the catalog, or pass the path of a Hugging Face config.json instead of an id.'],
          });
        }
        throw error;
      }
      path = source;
    }
  }
  path ??= source;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ModelscoutError('E_FILE', `cannot read config file ${path}: ${code === 'ENOENT' ? 'no such file' : errorMessage(error)}`, {
      suggestions: ['Pass a catalog id (see `modelscout models`) or the path of a Hugging Face config.json.'],
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ModelscoutError('E_CONFIG', `config file ${path} is not valid JSON: ${jsonSyntaxReason(error)}`, {
      suggestions: ["Check the file is the model's config.json, unmodified."],
    });
  }
  const spec = modelSpecFromHfConfig(raw, { source: path });
  return { spec, raw: raw as Record<string, unknown>, label: source };
}

/** Validates the request and returns what will be built (no files touched). */
export async function planSynth(options: Pick<SynthOptions, 'source' | 'model' | 'layers' | 'seed' | 'catalog' | 'graph'>): Promise<{ resolved: ResolvedSource; arch: SynthArchitecture; layers: number }> {
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > MAX_SEED) {
    throw new ModelscoutError('E_INPUT', `invalid seed ${JSON.stringify(options.seed)}: expected an integer from 0 to ${MAX_SEED}`);
  }
  const resolved = options.model ?? (await resolveSynthSource(options.source, options.catalog));
  const arch = resolveSynthArchitecture(resolved.spec, resolved.raw ?? undefined);
  const layers = options.layers ?? arch.numLayers;
  if (!Number.isInteger(layers) || layers < 1 || layers > arch.numLayers) {
    throw new ModelscoutError('E_INPUT', `invalid --layers ${JSON.stringify(options.layers)}: ${resolved.spec.id} has ${arch.numLayers} layers, expected 1 to ${arch.numLayers}`);
  }
  checkSynthGraph(options.graph ?? 'standard', arch);
  return { resolved, arch, layers };
}

export async function synthesizeModel(options: SynthOptions): Promise<SynthResult> {
  const { resolved, arch, layers } = await planSynth(options);
  const graph = options.graph ?? 'standard';
  const outDir = resolve(options.outDir);
  const config = buildHfConfig(resolved, arch, layers, options.seed, graph);
  const generationConfig = buildGenerationConfig(resolved.raw);
  const modelFile = variantFileName(options.dtype);
  const built = buildSynthGraph({
    graph,
    ...(options.maxLength !== undefined ? { maxLength: options.maxLength } : {}),
    arch,
    layers,
    dtype: options.dtype,
    seed: options.seed,
    ...(options.producerVersion ? { producerVersion: options.producerVersion } : {}),
    metadata: {
      [METADATA_KEYS.source]: resolved.label,
      [METADATA_KEYS.numLayersBuilt]: String(layers),
      [METADATA_KEYS.numLayersFull]: String(arch.numLayers),
    },
  });
  const parameters = built.model.graph!.initializer.reduce((sum, t) => sum + (t.name?.startsWith('/') ? 0 : t.dims.reduce((a, d) => a * d, 1)), 0);
  await assertWritableDir(outDir, 'the output folder');
  await assertFreeSpace(dirname(outDir), parameters * (options.dtype === 'fp16' ? 2 : 4), `synthesizing ${resolved.spec.id} (${options.dtype})`);

  // The folder is locked while it is built: a concurrent synth into the same folder waits, then keeps this
  // run's variant (reusableVariants reads the folder as this run published it).
  return publishDirectory(outDir, { kind: 'synth', isOwnFolder: isSynthFolder, ...(options.signal ? { signal: options.signal } : {}), ...(options.onWait ? { onWait: options.onWait } : {}) }, async (tmp, current) => {
    const keep = current === null ? [] : await reusableVariants(current, config, modelFile);
    const onnxDir = join(tmp, 'onnx');
    await mkdir(onnxDir, { recursive: true });
    const keptFiles: string[] = [];
    for (const file of keep) {
      await linkOrCopy(join(outDir, 'onnx', file), join(onnxDir, file));
      keptFiles.push(join('onnx', file));
    }
    const written = await writeModel(join(onnxDir, modelFile), built.model, {
      tensorData: built.tensorData,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (options.verify) await options.verify(join(onnxDir, modelFile));
    config['transformers.js_config'] = await transformersJsConfig(onnxDir);
    await writeJsonAtomic(join(tmp, 'config.json'), config);
    await writeJsonAtomic(join(tmp, 'generation_config.json'), generationConfig);
    if (graph === 'fused') await writeJsonAtomic(join(tmp, 'genai_config.json'), fusedGenaiConfig(arch, layers, `onnx/${modelFile}`, resolved.raw, options.maxLength));
    return {
      id: resolved.spec.id,
      source: resolved.label,
      outDir,
      modelFile: join(outDir, 'onnx', modelFile),
      dataFile: written.dataPath ? join(outDir, 'onnx', `${modelFile}_data`) : null,
      dtype: options.dtype,
      seed: options.seed,
      layersBuilt: layers,
      layersFull: arch.numLayers,
      parameters,
      modelBytes: written.modelBytes,
      dataBytes: written.dataBytes,
      keptFiles,
      verified: options.verify !== undefined,
      graph,
      genaiConfigFile: graph === 'fused' ? join(outDir, 'genai_config.json') : null,
    };
  });
}

const ARCHITECTURE_CLASS: Record<string, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  gpt2: 'GPT2LMHeadModel',
};

/** The config.json of the built model: the source config with the layer count actually built. */
export function buildHfConfig(resolved: ResolvedSource, arch: SynthArchitecture, layers: number, seed: number, graph: GraphKind = 'standard'): Record<string, unknown> {
  const marker = {
    synthetic: true,
    seed,
    source: resolved.label,
    num_layers_built: layers,
    num_layers_full: arch.numLayers,
    graph,
  };
  if (resolved.raw) {
    const config: Record<string, unknown> = { ...resolved.raw };
    delete config['transformers.js_config'];
    if (arch.family === 'gpt2') config.n_layer = layers;
    else config.num_hidden_layers = layers;
    config.modelscout = marker;
    return config;
  }
  const spec = resolved.spec;
  if (arch.family === 'gpt2') {
    return {
      architectures: [ARCHITECTURE_CLASS.gpt2],
      model_type: 'gpt2',
      activation_function: spec.hiddenAct,
      layer_norm_epsilon: spec.normEps,
      n_embd: spec.hiddenSize,
      n_head: spec.numHeads,
      n_inner: spec.intermediateSize,
      n_layer: layers,
      n_positions: spec.maxContext,
      vocab_size: spec.vocabSize,
      tie_word_embeddings: true,
      ...(spec.hfRepo ? { _name_or_path: spec.hfRepo } : {}),
      modelscout: marker,
    };
  }
  const config: Record<string, unknown> = {
    architectures: [ARCHITECTURE_CLASS[spec.modelType] ?? 'LlamaForCausalLM'],
    model_type: spec.modelType,
    hidden_act: spec.hiddenAct,
    hidden_size: spec.hiddenSize,
    intermediate_size: spec.intermediateSize,
    num_attention_heads: spec.numHeads,
    num_key_value_heads: spec.numKvHeads,
    num_hidden_layers: layers,
    max_position_embeddings: spec.maxContext,
    rms_norm_eps: spec.normEps,
    rope_theta: arch.ropeTheta,
    tie_word_embeddings: spec.tieWordEmbeddings,
    vocab_size: spec.vocabSize,
    use_cache: true,
  };
  if (spec.headDim * spec.numHeads !== spec.hiddenSize) config.head_dim = spec.headDim;
  if (spec.modelType === 'llama') config.attention_bias = spec.attentionBias;
  if (spec.modelType === 'qwen2') config.use_sliding_window = false;
  if (spec.hfRepo) config._name_or_path = spec.hfRepo;
  config.modelscout = marker;
  return config;
}

function buildGenerationConfig(raw: Record<string, unknown> | null): Record<string, unknown> {
  const out: Record<string, unknown> = { _from_model_config: true };
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id']) {
    if (raw && raw[key] !== undefined && raw[key] !== null) out[key] = raw[key];
  }
  out.do_sample = false;
  return out;
}

/** transformers.js reads `use_external_data_format` to know which model files have a `_data` file. */
async function transformersJsConfig(onnxDir: string): Promise<Record<string, unknown>> {
  const files = await readdir(onnxDir);
  const external: Record<string, boolean> = {};
  for (const f of files.sort()) if (f.endsWith('.onnx') && files.includes(`${f}_data`)) external[f] = true;
  return Object.keys(external).length > 0 ? { use_external_data_format: external } : {};
}

/**
 * Files of other variants in an existing output folder that may be kept: only when that folder holds a
 * synthetic model with exactly the same config (architecture, seed, depth, source).
 */
async function reusableVariants(outDir: string, config: Record<string, unknown>, writing: string): Promise<string[]> {
  let previous: Record<string, unknown>;
  try {
    previous = JSON.parse(await readFile(join(outDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return [];
  }
  const comparable = (c: Record<string, unknown>): string => {
    const copy = { ...c };
    delete copy['transformers.js_config'];
    return JSON.stringify(copy);
  };
  if (comparable(previous) !== comparable(config)) return [];
  let files: string[];
  try {
    files = await readdir(join(outDir, 'onnx'));
  } catch {
    return [];
  }
  return files.filter((f) => !f.startsWith('.') && f !== writing && f !== `${writing}_data`).sort();
}

/** A folder written by an earlier modelscout synth (before output manifests): its config.json says so. */
async function isSynthFolder(dir: string): Promise<boolean> {
  try {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { modelscout?: { synthetic?: unknown } };
    return config.modelscout?.synthetic === true;
  } catch {
    return false;
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}
