/**
 * From what the user names (a model folder or an `.onnx` file) to the files of each variant, their bytes
 * and hashes, the modelscout metadata (synthetic? quantized how?) and the architecture from config.json.
 * Folder layout: transformers.js / onnx-community (`config.json` + `onnx/model.onnx`, `onnx/model_fp16.onnx`,
 * `onnx/model_q4.onnx`), or the `.onnx` files directly in the folder.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { modelSpecFromHfConfig, type ModelSpec } from '../catalog/index.js';
import { describeSnapshotPath } from '../hub/cache.js';
import { ModelscoutError, errorMessage, invalidValue } from '../errors.js';
import { detectDecoderSignature, type DecoderSignature } from '../onnx/decoder-signature.js';
import { readModelscoutMetadata, type ModelscoutMetadata } from '../onnx/metadata.js';
import { externalDataFiles, readModel } from '../onnx/model-io.js';
import type { OnnxModel } from '../onnx/proto.js';
import { VARIANT_FILES, VARIANT_NAMES, type VariantName } from '../estimate/weights.js';

export type VariantSelection = readonly VariantName[] | 'all';

export interface LocatedModel {
  /** As the user wrote it. */
  ref: string;
  /** Display id: the Hub repo id for a pulled snapshot, else the folder name (or the file name for a lone .onnx). */
  id: string;
  path: string;
  /** variant → absolute .onnx path, only the variants that exist. */
  files: Partial<Record<VariantName, string>>;
  /** config.json next to the model, if any. */
  configPath: string | null;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Variant of a lone .onnx by its transformers.js file name; null when the name does not say. */
export function variantFromFileName(file: string): VariantName | null {
  const name = basename(file);
  for (const v of VARIANT_NAMES) if (name === VARIANT_FILES[v]) return v;
  if (/_q4f16\.onnx$/.test(name)) return 'q4f16';
  if (/_fp16\.onnx$/.test(name)) return 'fp16';
  if (/_(q4|int4)\.onnx$/.test(name)) return 'q4';
  if (/_(int8|quantized)\.onnx$/.test(name)) return 'int8';
  return null;
}

/**
 * Finds a model's files. Throws a usage error (exit 2) for a path that does not exist or holds no
 * model files.
 */
export async function locateModel(ref: string): Promise<LocatedModel> {
  const path = resolve(ref);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ModelscoutError('E_NOT_FOUND', `model ${ref} not found`, {
      suggestions: ['Pass a model folder (config.json + onnx/model*.onnx) or an .onnx file; `modelscout synth` or `modelscout pull` create one.'],
    });
  }
  if (info.isFile()) {
    if (extname(path) !== '.onnx') throw invalidValue('model', ref, 'a model folder or an .onnx file');
    const dir = dirname(path);
    const configCandidates = [join(dir, 'config.json'), join(dirname(dir), 'config.json')];
    let configPath: string | null = null;
    for (const c of configCandidates) if (await isFile(c)) { configPath = c; break; }
    const id = describeSnapshotPath(dir)?.repo ?? (basename(dir) === 'onnx' ? basename(dirname(dir)) : basename(path, '.onnx'));
    // The variant of a lone file is settled later from its name or metadata; keep it under a provisional key.
    return { ref, id, path, files: { [variantFromFileName(path) ?? 'fp32']: path }, configPath };
  }
  const files: Partial<Record<VariantName, string>> = {};
  for (const v of VARIANT_NAMES) {
    for (const sub of ['onnx', '.']) {
      const candidate = join(path, sub, VARIANT_FILES[v]);
      if (await isFile(candidate)) {
        files[v] = candidate;
        break;
      }
    }
  }
  if (Object.keys(files).length === 0) {
    throw new ModelscoutError('E_NOT_FOUND', `model folder ${ref} has no model files (looked for onnx/${Object.values(VARIANT_FILES).join(', onnx/')})`, {
      suggestions: ['Create one with `modelscout synth` or `modelscout pull`, or pass an .onnx file.'],
    });
  }
  const configPath = (await isFile(join(path, 'config.json'))) ? join(path, 'config.json') : null;
  // A pulled model's folder is its snapshot, named by a commit hash: the repo id is what people recognize.
  return { ref, id: describeSnapshotPath(path)?.repo ?? basename(path), path, files, configPath };
}

/**
 * The variants to run: all that exist for `all`; the named ones, which must exist; by default fp32 when
 * present, else the first that exists (q4, fp16, q4f16, int8). A lone .onnx file is whatever it is: naming one
 * variant relabels it (its name may not follow the transformers.js convention).
 */
export function selectVariants(model: LocatedModel, selection: VariantSelection | undefined): VariantName[] {
  const present = VARIANT_NAMES.filter((v) => model.files[v] !== undefined);
  if (selection === 'all') return present;
  if (selection === undefined || selection.length === 0) {
    const preferred = (['fp32', 'q4', 'fp16', 'q4f16', 'int8'] as const).find((v) => model.files[v] !== undefined);
    return preferred ? [preferred] : [];
  }
  const lone = extname(model.path) === '.onnx';
  if (lone) {
    if (selection.length > 1) throw invalidValue('variant', selection.join(','), 'a single variant for an .onnx file');
    const wanted = selection[0] as VariantName;
    model.files = { [wanted]: model.files[present[0] as VariantName] as string };
    return [wanted];
  }
  const missing = selection.filter((v) => model.files[v] === undefined);
  if (missing.length > 0) {
    const v = missing[0] as VariantName;
    throw new ModelscoutError('E_INPUT', `model ${model.ref} has no ${v} variant (${VARIANT_FILES[v]}); it has ${present.join(', ')}`, {
      suggestions: [`Use --variant ${present.join(',')} or all, or create the variant (\`modelscout quantize\` writes model_q4.onnx).`],
    });
  }
  return [...new Set(selection)];
}

export interface VariantFileInfo {
  file: string;
  /** .onnx + external data bytes on disk. */
  bytes: number;
  /** file name (relative to the model path's folder) → sha256. */
  sha256: Record<string, string>;
  metadata: ModelscoutMetadata;
  signature: DecoderSignature;
  /** Positions the graph's own tables hold (rotary cos cache rows, learned position embeddings), or null. */
  positions: number | null;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((resolvePromise, reject) => {
    createReadStream(path, { highWaterMark: 4 << 20 })
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolvePromise())
      .on('error', reject);
  });
  return hash.digest('hex');
}

/**
 * Reads a variant's file for what the report says about it: sizes and hashes (with external data),
 * metadata and the decoder signature. Corrupt or unsupported files throw `E_MODEL` / `E_UNSUPPORTED`.
 */
export async function inspectVariantFile(file: string, baseDir: string): Promise<VariantFileInfo> {
  const loaded = await readModel(file);
  const signature = detectDecoderSignature(loaded.model, basename(file));
  const metadata = readModelscoutMetadata(loaded.model);
  let bytes = loaded.fileSize;
  const sha256: Record<string, string> = { [relative(baseDir, file) || basename(file)]: await sha256File(file) };
  // Locations are resolved and checked (inside the model folder, regular files) by the ONNX reader.
  for (const data of await externalDataFiles(loaded)) {
    try {
      bytes += data.size;
      sha256[relative(baseDir, data.path)] = await sha256File(data.path);
    } catch (error) {
      throw new ModelscoutError('E_MODEL', `${file}: external data ${data.location} cannot be read: ${errorMessage(error)}`, { suggestions: ['Download or generate the model again.'] });
    }
  }
  return { file, bytes, sha256, metadata, signature, positions: graphPositions(loaded.model) };
}

/**
 * The longest sequence the graph can index: rows of a rotary cos cache (fused graphs) or of GPT-2's
 * learned position embeddings (`wpe`). Past it ONNX Runtime reads outside the table (or aborts).
 */
function graphPositions(model: OnnxModel): number | null {
  let rows: number | null = null;
  for (const t of model.graph?.initializer ?? []) {
    const name = t.name ?? '';
    if ((/cos_cache$/.test(name) || /(^|[./])wpe(\.weight)?$/.test(name)) && t.dims.length === 2) {
      const n = Number(t.dims[0]);
      if (Number.isSafeInteger(n) && n > 0) rows = rows === null ? n : Math.min(rows, n);
    }
  }
  return rows;
}

/** The architecture from config.json, or null (no config, or one the catalog parser rejects). */
export async function readArchitecture(configPath: string | null): Promise<{ spec: ModelSpec | null; config: Record<string, unknown> | null }> {
  if (!configPath) return { spec: null, config: null };
  try {
    const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
    try {
      return { spec: modelSpecFromHfConfig(config, { source: configPath }), config };
    } catch {
      return { spec: null, config };
    }
  } catch {
    return { spec: null, config: null };
  }
}

/** Quantization facts from the metadata the quantizer writes (`modelscout.quantization`). */
export function quantizationFromMetadata(meta: ModelscoutMetadata, variant: VariantName): { bits: number; block_size: number | null; symmetric: boolean | null; accuracy_level: number | null } | null {
  const q = meta.quantization;
  if (!q) return variant === 'q4' ? { bits: 4, block_size: null, symmetric: null, accuracy_level: null } : null;
  const num = (...keys: string[]): number | null => {
    for (const k of keys) if (typeof q[k] === 'number') return q[k] as number;
    return null;
  };
  const bool = (...keys: string[]): boolean | null => {
    for (const k of keys) if (typeof q[k] === 'boolean') return q[k] as boolean;
    return null;
  };
  return {
    bits: num('bits') ?? 4,
    block_size: num('block_size', 'blockSize'),
    symmetric: bool('symmetric'),
    accuracy_level: num('accuracy_level', 'accuracyLevel'),
  };
}
