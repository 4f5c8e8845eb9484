/**
 * The one place that turns what the user names (a model folder or an `.onnx` file) into a model's files.
 * Folder layout: transformers.js / onnx-community (`config.json` + `onnx/model.onnx`, `onnx/model_fp16.onnx`,
 * `onnx/model_q4.onnx`, ...), or the `.onnx` files directly in the folder. It owns the file name ↔ variant
 * mapping, the display id (a pulled Hub snapshot is shown as its repo id), the config.json lookup and the
 * errors for a model that is missing, empty, not a model, or lacks the variant asked for.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { modelSpecFromHfConfig, type ModelSpec } from '../catalog/index.js';
import { ModelscoutError } from '../errors.js';
import { VARIANT_FILES, VARIANT_NAMES, type VariantName } from '../estimate/weights.js';
import { describeSnapshotPath } from '../hub/cache.js';
import { parseOnnxFileName } from '../hub/select-files.js';

/** One `.onnx` file of a model and what its name says it holds. */
export interface ModelFile {
  /** Absolute path. */
  file: string;
  /** transformers.js dtype name: fp32, fp16, q4, q4f16, q8 (model_quantized), int8, uint8, bnb4, ... (else the file's own name). */
  dtype: string;
  /** The variant bench, generate and recommend know it as, or null when the name maps to none. */
  variant: VariantName | null;
}

export interface ModelFolder {
  /** As the user wrote it. */
  ref: string;
  /** Absolute form of `ref`: the folder, or the `.onnx` file for a lone file. */
  path: string;
  /** The model folder: the folder named, or for a lone file the folder holding it (the parent of `onnx/`). */
  folder: string;
  /** A lone `.onnx` file was named rather than a folder. */
  lone: boolean;
  /** Display id: the Hub repo id for a pulled snapshot, else the folder name (or the file name for a lone .onnx). */
  id: string;
  /** Every `.onnx` file: those in `onnx/` and at the folder's root (onnx/ wins on a name in both), by name; the file itself when lone. */
  onnxFiles: ModelFile[];
  /**
   * variant → absolute path of its transformers.js file (`VARIANT_FILES`), only the variants that exist. A lone
   * file sits under the variant its name says (fp32 when it says none) until `relabelLoneFile` settles it.
   */
  files: Partial<Record<VariantName, string>>;
  /** config.json of the model (next to the file or one folder up for a lone file), if any. */
  configPath: string | null;
}

/** Stems of transformers.js model files: the stem alone is the fp32 file. */
const BASE_NAMES = ['model', 'decoder_model_merged', 'decoder_model'];
/** dtype name → the variant it is measured as. */
const DTYPE_VARIANTS: Record<string, VariantName> = { fp32: 'fp32', fp16: 'fp16', int8: 'int8', q8: 'int8', q4: 'q4', int4: 'q4', q4f16: 'q4f16' };

/**
 * What a model file's name says it holds, by the transformers.js suffixes (`parseOnnxFileName`):
 * `model.onnx` → fp32, `model_q4.onnx` → q4, `decoder_model_merged_fp16.onnx` → fp16, `model_quantized.onnx`
 * → q8 (measured as int8), any `*_q4f16.onnx` → q4f16. A name without a dtype suffix that is not a model
 * stem keeps its own name (`model_custom.onnx` → custom, `tiny.onnx` → tiny) with no variant.
 */
export function variantOfFile(file: string): { dtype: string; variant: VariantName | null } {
  const name = basename(file);
  const parsed = parseOnnxFileName(name);
  let dtype: string;
  if (parsed === null) dtype = name;
  else if (parsed.dtype !== 'fp32' || BASE_NAMES.includes(parsed.stem)) dtype = parsed.dtype;
  else {
    const base = BASE_NAMES.find((b) => parsed.stem.startsWith(`${b}_`));
    dtype = base !== undefined ? parsed.stem.slice(base.length + 1) : parsed.stem;
  }
  return { dtype, variant: DTYPE_VARIANTS[dtype] ?? null };
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function onnxFilesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.onnx') && !f.startsWith('.')).sort();
  } catch {
    return [];
  }
}

const HOW_TO_GET_ONE = '`modelscout synth` or `modelscout pull` create one';

/**
 * Finds a model's files. A path that does not exist or a folder without `.onnx` files is `E_NOT_FOUND`, a file
 * that is not `.onnx` is `E_INPUT` (both exit 2, each with what to pass instead).
 */
export async function openModelFolder(ref: string): Promise<ModelFolder> {
  const path = resolve(ref);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ModelscoutError('E_NOT_FOUND', `model ${ref} not found`, {
      suggestions: [`Pass a model folder (config.json + onnx/model*.onnx) or an .onnx file; ${HOW_TO_GET_ONE}.`],
    });
  }
  if (!info.isDirectory()) {
    if (extname(path) !== '.onnx') {
      throw new ModelscoutError('E_INPUT', `model ${ref} is not a model folder or an .onnx file`, {
        suggestions: [`Pass a model folder (config.json + onnx/model*.onnx) or an .onnx file; ${HOW_TO_GET_ONE}.`],
      });
    }
    const dir = dirname(path);
    const folder = basename(dir) === 'onnx' ? dirname(dir) : dir;
    let configPath: string | null = null;
    for (const c of [join(dir, 'config.json'), join(dirname(dir), 'config.json')]) {
      if (await isFile(c)) {
        configPath = c;
        break;
      }
    }
    const id = describeSnapshotPath(dir)?.repo ?? (basename(dir) === 'onnx' ? basename(folder) : basename(path, '.onnx'));
    const named = variantOfFile(path);
    return { ref, path, folder, lone: true, id, onnxFiles: [{ file: path, ...named }], files: { [named.variant ?? 'fp32']: path }, configPath };
  }
  const byName = new Map<string, string>();
  for (const sub of ['onnx', '.']) {
    for (const f of await onnxFilesIn(join(path, sub))) if (!byName.has(f)) byName.set(f, join(path, sub, f));
  }
  if (byName.size === 0) {
    throw new ModelscoutError('E_NOT_FOUND', `model folder ${ref} has no .onnx file (looked in ${join(ref, 'onnx')} and ${ref})`, {
      suggestions: [`Pass a folder holding onnx/model*.onnx or an .onnx file; ${HOW_TO_GET_ONE}.`],
    });
  }
  const onnxFiles = [...byName.keys()].sort().map((name) => ({ file: byName.get(name) as string, ...variantOfFile(name) }));
  const files: Partial<Record<VariantName, string>> = {};
  for (const v of VARIANT_NAMES) {
    const file = byName.get(VARIANT_FILES[v]);
    if (file !== undefined) files[v] = file;
  }
  const configPath = (await isFile(join(path, 'config.json'))) ? join(path, 'config.json') : null;
  // A pulled model's folder is its snapshot, named by a commit hash: the repo id is what people recognize.
  return { ref, path, folder: path, lone: false, id: describeSnapshotPath(path)?.repo ?? basename(path), onnxFiles, files, configPath };
}

/** The error for a variant the model lacks; `present` lists what it has, as the caller accepts them. */
export function variantNotFound(model: Pick<ModelFolder, 'ref'>, wanted: string, present: readonly string[]): ModelscoutError {
  const file = (VARIANT_FILES as Record<string, string>)[wanted];
  return new ModelscoutError('E_INPUT', `model ${model.ref} has no ${wanted} variant${file ? ` (${file})` : ''}; it has ${present.join(', ')}`, {
    suggestions: [`Use --variant ${present.join(' or ')}, or create the variant (\`modelscout quantize\` writes model_q4.onnx).`],
  });
}

/**
 * The one file to read when a single model is wanted (`inspect`): the named dtype or file name; else fp32;
 * else the only file. Several files and no choice is a usage error asking for --variant.
 */
export function pickModelFile(model: ModelFolder, wanted?: string): ModelFile {
  const files = model.onnxFiles;
  if (wanted !== undefined && !model.lone) {
    const chosen = files.find((f) => f.dtype === wanted) ?? files.find((f) => basename(f.file) === wanted);
    if (!chosen) throw variantNotFound(model, wanted, files.map((f) => f.dtype));
    return chosen;
  }
  const preferred = files.find((f) => basename(f.file) === VARIANT_FILES.fp32) ?? files.find((f) => f.dtype === 'fp32') ?? (files.length === 1 ? files[0] : undefined);
  if (!preferred) {
    const list = files.map((f) => f.dtype).join(', ');
    throw new ModelscoutError('E_USAGE', `model ${model.ref} holds several models (${list}): choose one with --variant`, { suggestions: [`Run again with --variant ${files[0]!.dtype}.`] });
  }
  return preferred;
}

/** Float model file names, in the order `floatModelFile` prefers them. */
const FLOAT_FILES = [VARIANT_FILES.fp32, VARIANT_FILES.fp16, 'decoder_model_merged.onnx'];

/** The float model to quantize: the file named, or in a folder model.onnx, else model_fp16.onnx, else decoder_model_merged.onnx. */
export function floatModelFile(model: ModelFolder): string {
  if (model.lone) return model.path;
  for (const name of FLOAT_FILES) {
    const found = model.onnxFiles.find((f) => basename(f.file) === name);
    if (found) return found.file;
  }
  throw new ModelscoutError('E_INPUT', `model ${model.ref} has no float model (looked for ${FLOAT_FILES.join(', ')}); it has ${model.onnxFiles.map((f) => basename(f.file)).join(', ')}`, {
    suggestions: ['Pass the float .onnx file itself, or a folder holding onnx/model.onnx.'],
  });
}

/** The architecture from config.json, or null (no config, or one the catalog parser rejects). */
export async function readModelConfig(configPath: string | null): Promise<{ spec: ModelSpec | null; config: Record<string, unknown> | null }> {
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
