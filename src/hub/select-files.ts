import { ModelscoutError, invalidValue } from '../errors.js';

/**
 * Which files of a repo `pull` fetches: the configs, the tokenizer, and the chosen ONNX variants with
 * their external data, named the way transformers.js / onnx-community repos name them
 * (`onnx/model.onnx`, `onnx/model_fp16.onnx`, `onnx/model_q4.onnx`, `onnx/model_q4f16.onnx`,
 * `onnx/model.onnx_data`, `onnx/model.onnx_data_1`, …). Pure.
 */
export const VARIANTS = ['q4', 'q4f16', 'fp16', 'fp32'] as const;
export type Variant = (typeof VARIANTS)[number];
/** What `--variant` accepts: one variant, `all` (every ONNX file), or `auto` (the first available of q4, q4f16, fp16, fp32). */
export type VariantChoice = Variant | 'all' | 'auto';

/** A file in a repo listing, with what is needed to name its blob and verify it. */
export interface RepoFile {
  path: string;
  /** Real size in bytes (for an LFS file, the size of the object, not of the pointer). */
  size: number;
  /** Git blob id (sha1 of `blob <size>\0<content>`); for an LFS file, that of the pointer. */
  gitOid: string;
  /** LFS object id: the sha256 of the content, for LFS files. */
  sha256?: string | undefined;
}

/** Files that make a model usable besides the graph: configs and every tokenizer format transformers.js reads. */
export const SUPPORT_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'chat_template.jinja',
  'chat_template.json',
] as const;

/** Suffixes of transformers.js dtypes in ONNX file names; a stem without one is fp32. */
const DTYPE_SUFFIXES: readonly [string, string][] = [
  ['_q4f16', 'q4f16'],
  ['_q4', 'q4'],
  ['_int4', 'int4'],
  ['_fp16', 'fp16'],
  ['_quantized', 'q8'],
  ['_int8', 'int8'],
  ['_uint8', 'uint8'],
  ['_bnb4', 'bnb4'],
];

/**
 * An ONNX file name as transformers.js reads it: the stem and the dtype its suffix names (`onnx/model_q4.onnx`
 * → model, q4; `decoder_model_merged.onnx` → decoder_model_merged, fp32), or null when it is not an .onnx
 * file. The one table of these suffixes: pull selects files by it, the model folder names variants by it.
 */
export function parseOnnxFileName(path: string): { stem: string; dtype: string } | null {
  if (!path.toLowerCase().endsWith('.onnx')) return null;
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1, -'.onnx'.length);
  for (const [suffix, dtype] of DTYPE_SUFFIXES) if (base.endsWith(suffix)) return { stem: base.slice(0, -suffix.length), dtype };
  return { stem: base, dtype: 'fp32' };
}

/** The dtype of an ONNX file from its name (`onnx/model_q4.onnx` → `q4`), or null when it is not an .onnx file. */
export function onnxDtype(path: string): string | null {
  return parseOnnxFileName(path)?.dtype ?? null;
}

/** External data of an ONNX file: `<path>_data`, `<path>_data_<n>` (ONNX Runtime, transformers.js) and `<path>.data`. */
export function isExternalDataOf(onnxPath: string, candidate: string): boolean {
  if (candidate === `${onnxPath}.data`) return true;
  if (!candidate.startsWith(`${onnxPath}_data`)) return false;
  const rest = candidate.slice(`${onnxPath}_data`.length);
  return rest === '' || /^_\d+$/.test(rest);
}

export interface FileSelection {
  files: RepoFile[];
  /** Variants chosen (empty with `all` when the repo has only other dtypes). */
  variants: string[];
  /** The ONNX graphs chosen, in repo order. */
  onnx: string[];
}

export interface SelectOptions {
  variant: VariantChoice;
  include: readonly string[];
  /** For messages: `org/name@rev`. */
  label: string;
}

export function availableVariants(paths: readonly string[]): string[] {
  const found = new Set(paths.map(onnxDtype).filter((d): d is string => d !== null));
  const ordered: string[] = VARIANTS.filter((v) => found.has(v));
  for (const d of found) if (!ordered.includes(d)) ordered.push(d);
  return ordered;
}

export function selectFiles(files: readonly RepoFile[], options: SelectOptions): FileSelection {
  const paths = files.map((f) => f.path);
  const available = availableVariants(paths);
  if (available.length === 0) {
    throw new ModelscoutError('E_MODEL', `${options.label} has no ONNX files`, {
      suggestions: [
        'Pull an ONNX export instead (onnx-community/* repos hold transformers.js exports).',
        'Build one with `optimum-cli export onnx --model <repo> <dir>` and pass the folder, or run `modelscout synth <catalog-id>`.',
      ],
    });
  }
  let variants: string[];
  if (options.variant === 'all') variants = available;
  else if (options.variant === 'auto') variants = [VARIANTS.find((v) => available.includes(v)) ?? available[0] ?? 'fp32'];
  else if (available.includes(options.variant)) variants = [options.variant];
  else throw invalidValue(`--variant for ${options.label}`, options.variant, available, ['Use --variant all to fetch every ONNX file of the repo.']);

  const onnx = paths.filter((p) => {
    const dtype = onnxDtype(p);
    return dtype !== null && variants.includes(dtype);
  });
  const includes = options.include.map(globToRegExp);
  const support = new Set<string>(SUPPORT_FILES);
  const selected = files.filter((f) =>
    support.has(f.path)
    || onnx.includes(f.path)
    || onnx.some((o) => isExternalDataOf(o, f.path))
    || includes.some((re) => re.test(f.path)));
  return { files: selected, variants, onnx };
}

/**
 * fnmatch-style globs, as `huggingface-cli download --include` reads them: `*` matches any run of
 * characters (slashes included), `?` one character, `[abc]` / `[!abc]` a set.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i] as string;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        out += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, end);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      out += `[${set.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}
