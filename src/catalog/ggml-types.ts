import { invalidValue } from '../errors.js';

/**
 * llama.cpp's tensor types (ggml), as stored in GGUF files: the type id written in each tensor info, the
 * number of weights in one block and the bytes of that block. Source: llama.cpp `ggml/include/ggml.h`
 * (`enum ggml_type`), `ggml/src/ggml.c` (`type_traits`: `blck_size`, `type_size`) and the same table in
 * `gguf-py/gguf/constants.py` (`GGML_QUANT_SIZES`), where the block structs of `ggml/src/ggml-common.h`
 * are spelled out (e.g. Q4_K: 2 + 2 fp16 super-scales + 12 bytes of 6-bit scales + 128 bytes of nibbles per 256).
 */
export interface GgmlType {
  id: number;
  name: string;
  /** Weights per block. */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
}

const QK_K = 256;

export const GGML_TYPES: readonly GgmlType[] = [
  { id: 0, name: 'F32', blockSize: 1, blockBytes: 4 },
  { id: 1, name: 'F16', blockSize: 1, blockBytes: 2 },
  { id: 2, name: 'Q4_0', blockSize: 32, blockBytes: 2 + 16 },
  { id: 3, name: 'Q4_1', blockSize: 32, blockBytes: 2 + 2 + 16 },
  { id: 6, name: 'Q5_0', blockSize: 32, blockBytes: 2 + 4 + 16 },
  { id: 7, name: 'Q5_1', blockSize: 32, blockBytes: 2 + 2 + 4 + 16 },
  { id: 8, name: 'Q8_0', blockSize: 32, blockBytes: 2 + 32 },
  { id: 9, name: 'Q8_1', blockSize: 32, blockBytes: 4 + 4 + 32 },
  { id: 10, name: 'Q2_K', blockSize: QK_K, blockBytes: 2 + 2 + QK_K / 16 + QK_K / 4 },
  { id: 11, name: 'Q3_K', blockSize: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 8 + 12 },
  { id: 12, name: 'Q4_K', blockSize: QK_K, blockBytes: 2 + 2 + QK_K / 2 + 12 },
  { id: 13, name: 'Q5_K', blockSize: QK_K, blockBytes: 2 + 2 + QK_K / 2 + QK_K / 8 + 12 },
  { id: 14, name: 'Q6_K', blockSize: QK_K, blockBytes: 2 + QK_K / 2 + QK_K / 4 + QK_K / 16 },
  { id: 15, name: 'Q8_K', blockSize: QK_K, blockBytes: 4 + QK_K + QK_K / 8 },
  { id: 16, name: 'IQ2_XXS', blockSize: QK_K, blockBytes: 2 + QK_K / 4 },
  { id: 17, name: 'IQ2_XS', blockSize: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 32 },
  { id: 18, name: 'IQ3_XXS', blockSize: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 8 },
  { id: 19, name: 'IQ1_S', blockSize: QK_K, blockBytes: 2 + QK_K / 8 + QK_K / 16 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, blockBytes: 2 + 16 },
  { id: 21, name: 'IQ3_S', blockSize: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4 },
  { id: 22, name: 'IQ2_S', blockSize: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 16 },
  { id: 23, name: 'IQ4_XS', blockSize: QK_K, blockBytes: 2 + 2 + QK_K / 2 + QK_K / 64 },
  { id: 24, name: 'I8', blockSize: 1, blockBytes: 1 },
  { id: 25, name: 'I16', blockSize: 1, blockBytes: 2 },
  { id: 26, name: 'I32', blockSize: 1, blockBytes: 4 },
  { id: 27, name: 'I64', blockSize: 1, blockBytes: 8 },
  { id: 28, name: 'F64', blockSize: 1, blockBytes: 8 },
  { id: 29, name: 'IQ1_M', blockSize: QK_K, blockBytes: QK_K / 8 + QK_K / 16 + QK_K / 32 },
  { id: 30, name: 'BF16', blockSize: 1, blockBytes: 2 },
  { id: 34, name: 'TQ1_0', blockSize: QK_K, blockBytes: 2 + 4 * 13 },
  { id: 35, name: 'TQ2_0', blockSize: QK_K, blockBytes: 2 + 64 },
  { id: 39, name: 'MXFP4', blockSize: 32, blockBytes: 1 + 16 },
];

const BY_ID = new Map(GGML_TYPES.map((t) => [t.id, t]));
const BY_NAME = new Map(GGML_TYPES.map((t) => [t.name, t]));

export function ggmlTypeById(id: number): GgmlType | undefined {
  return BY_ID.get(id);
}

export function ggmlType(name: string): GgmlType {
  const type = BY_NAME.get(name.toUpperCase());
  if (!type) throw invalidValue('ggml type', name, GGML_TYPES.map((t) => t.name));
  return type;
}

/** Bits stored per weight of a type (block bytes × 8 ÷ block size): Q4_0 4.5, Q4_K 4.5, Q6_K 6.5625, Q8_0 8.5. */
export function ggmlBitsPerWeight(type: GgmlType): number {
  return (type.blockBytes * 8) / type.blockSize;
}

/**
 * Bytes of a tensor of `elements` weights whose rows are `rowLength` long (`ne[0]`): ggml quantizes row by
 * row, so a row must be a whole number of blocks (`ggml_row_size`); null when it is not.
 */
export function ggmlTensorBytes(type: GgmlType, elements: number, rowLength: number): number | null {
  if (rowLength % type.blockSize !== 0 || elements % rowLength !== 0) return null;
  return (elements / type.blockSize) * type.blockBytes;
}

/** `general.file_type` of a GGUF (gguf-py `LlamaFileType`) → its name, for the presets and the other common types. */
export const GGUF_FILE_TYPES: Readonly<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M', 13: 'Q3_K_L',
  14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS', 21: 'Q2_K_S', 22: 'IQ3_XS',
  23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S', 29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16',
  36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE',
};

/** One tensor of a GGUF file, reduced to what the estimator needs. */
export interface GgufTensorBytes {
  name: string;
  /** A routed expert tensor (a decode step reads its active share) or the input embedding table (one row when untied). */
  kind: 'routed-expert' | 'embedding' | 'other';
  type: string;
  elements: number;
  bytes: number;
}

