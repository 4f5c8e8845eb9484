/**
 * A model's variants for bench and generate: which to run, and each file's bytes and hashes, the modelscout
 * metadata (synthetic? quantized how?) and its decoder signature. The files themselves are found by
 * `onnx/model-folder.ts`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename, relative } from 'node:path';
import { ModelscoutError, errorMessage, invalidValue } from '../errors.js';
import { detectDecoderSignature, type DecoderSignature } from '../onnx/decoder-signature.js';
import { readModelscoutMetadata, type ModelscoutMetadata } from '../onnx/metadata.js';
import { variantNotFound, type ModelFolder } from '../onnx/model-folder.js';
import { externalDataFiles, readModel } from '../onnx/model-io.js';
import type { OnnxModel } from '../onnx/proto.js';
import { VARIANT_NAMES, type VariantName } from '../estimate/weights.js';

export type VariantSelection = readonly VariantName[] | 'all';

/**
 * The variants to run: all that exist for `all`; the named ones, which must exist; by default fp32 when
 * present, else the first that exists (q4, fp16, q4f16, int8). A lone .onnx file is whatever it is: naming one
 * variant relabels it (its name may not follow the transformers.js convention).
 */
export function selectVariants(model: ModelFolder, selection: VariantSelection | undefined): VariantName[] {
  const present = VARIANT_NAMES.filter((v) => model.files[v] !== undefined);
  if (selection === 'all') return present;
  if (selection === undefined || selection.length === 0) {
    const preferred = (['fp32', 'q4', 'fp16', 'q4f16', 'int8'] as const).find((v) => model.files[v] !== undefined);
    return preferred ? [preferred] : [];
  }
  if (model.lone) {
    if (selection.length > 1) throw invalidValue('variant', selection.join(','), 'a single variant for an .onnx file');
    const wanted = selection[0] as VariantName;
    model.files = { [wanted]: model.files[present[0] as VariantName] as string };
    return [wanted];
  }
  const missing = selection.filter((v) => model.files[v] === undefined);
  if (missing.length > 0) throw variantNotFound(model, missing[0] as VariantName, present);
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
