import { listWeightTensors, type WeightTensorGroup } from '../catalog/tensors.js';
import type { ModelSpec } from '../catalog/model-spec.js';
import { invalidValue } from '../errors.js';
import type { GgufWeights } from './gguf.js';

/**
 * Weight formats (variants) a model can be run in:
 * - `fp32`, `fp16`, `bf16`: every tensor in that float type.
 * - `int8`: the weight of every MatMul in int8 with one scale and one zero point per tensor (ONNX Runtime's
 *   dynamic quantization default); everything else stays fp32.
 * - `q4`: the weight of every MatMul as int4 `MatMulNBits`, block-wise along K, with fp32 scales, and the
 *   token-embedding table as int4 `GatherBlockQuantized` (a tied table is one int4 table that the LM head's
 *   `MatMulNBits` reads too); norms and biases stay fp32. This is what `modelscout quantize` writes
 *   (`model_q4.onnx`); with `quantizeEmbeddings: false` the table stays float (transformers.js' `q4`), and a
 *   tied LM head then gets an int4 copy of its own.
 * - `q4f16`: the same with fp16 scales and fp16 for every float tensor (transformers.js' `q4f16`).
 * The block size, symmetry and scale type of the int4 formats are options (`Int4Options`).
 */
export const WEIGHT_FORMATS = ['fp32', 'fp16', 'bf16', 'int8', 'q4', 'q4f16'] as const;
export type WeightFormat = (typeof WEIGHT_FORMATS)[number];

/**
 * The variants a model file can hold, named as the weight formats and found by the transformers.js /
 * onnx-community file names (`VARIANT_FILES`): what `bench` and `generate` measure, `quantize` writes (`q4`
 * from an fp32 model, `q4f16` from an fp16 one), `pull` fetches and `recommend` ranks. bf16 has no such file.
 */
export const VARIANT_NAMES = ['fp32', 'fp16', 'int8', 'q4', 'q4f16'] as const satisfies readonly WeightFormat[];
export type VariantName = (typeof VARIANT_NAMES)[number];
export const VARIANT_FILES: Record<VariantName, string> = {
  fp32: 'model.onnx',
  fp16: 'model_fp16.onnx',
  int8: 'model_int8.onnx',
  q4: 'model_q4.onnx',
  q4f16: 'model_q4f16.onnx',
};

export type FloatDtype = 'fp32' | 'fp16' | 'bf16';

export interface Int4Options {
  /** Block size along K: a power of two ≥ 16 (MatMulNBits); 128 by default, as `modelscout quantize` and ONNX Runtime's own int4 quantizer (transformers.js and onnxruntime-genai exports use 32). */
  blockSize?: number;
  /** Symmetric blocks have no zero points (the kernel uses 8); asymmetric ones store a 4-bit zero point per block. */
  symmetric?: boolean;
  /** Scale dtype (the dtype of the activations): fp32 for `q4`, fp16 for `q4f16` unless set. */
  scaleDtype?: 'fp32' | 'fp16';
  /**
   * Store the token-embedding table as 4-bit `GatherBlockQuantized` (blocks along the hidden axis, the
   * `MatMulNBits` byte layout). On by default, as `modelscout quantize` does (llama.cpp's Q4_0 files
   * quantize the table too). A tied table is then stored once, in int4, and read by the LM head's
   * `MatMulNBits` as well; off, it stays float and a tied LM head gets an int4 copy.
   */
  quantizeEmbeddings?: boolean;
}

export const DEFAULT_INT4: Required<Omit<Int4Options, 'scaleDtype'>> = { blockSize: 128, symmetric: true, quantizeEmbeddings: true };

const FLOAT_BYTES: Record<FloatDtype, number> = { fp32: 4, fp16: 2, bf16: 2 };

export function isWeightFormat(value: string): value is WeightFormat {
  return (WEIGHT_FORMATS as readonly string[]).includes(value);
}

export function parseWeightFormat(value: string): WeightFormat {
  if (!isWeightFormat(value)) throw invalidValue('weight format', value, WEIGHT_FORMATS);
  return value;
}

/** The float type of the tensors a format leaves unquantized. */
export function floatDtypeOf(format: WeightFormat): FloatDtype {
  switch (format) {
    case 'fp16':
    case 'q4f16':
      return 'fp16';
    case 'bf16':
      return 'bf16';
    default:
      return 'fp32';
  }
}

/** Exact bytes of one `[K, N]` MatMul weight as `MatMulNBits` 4-bit: packed codes, scales, zero points. */
export function int4MatrixBytes(k: number, n: number, options: Int4Options & { scaleDtype: 'fp32' | 'fp16' }): number {
  const blockSize = options.blockSize ?? DEFAULT_INT4.blockSize;
  const symmetric = options.symmetric ?? DEFAULT_INT4.symmetric;
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw invalidValue('int4 block size', blockSize, 'a power of two of at least 16 (16, 32, 64, 128, 256)');
  const kBlocks = Math.ceil(k / blockSize);
  const codes = kBlocks * (blockSize / 2); // B: [N, kBlocks, blockSize/2] uint8, padded to whole blocks
  const scales = kBlocks * (options.scaleDtype === 'fp16' ? 2 : 4); // [N, kBlocks]
  const zeroPoints = symmetric ? 0 : Math.ceil(kBlocks / 2); // [N, ceil(kBlocks/2)] uint8, two nibbles a byte
  return n * (codes + scales + zeroPoints);
}

/** Bits stored per weight of a large matrix (K a multiple of the block): 4 + scale and zero-point share. */
export function int4BitsPerWeight(options: Int4Options & { scaleDtype: 'fp32' | 'fp16' }): number {
  const blockSize = options.blockSize ?? DEFAULT_INT4.blockSize;
  const scaleBits = options.scaleDtype === 'fp16' ? 16 : 32;
  const zeroBits = options.symmetric ?? DEFAULT_INT4.symmetric ? 0 : 4;
  return 4 + (scaleBits + zeroBits) / blockSize;
}

export interface WeightBytesOptions {
  int4?: Int4Options;
  /**
   * The weights as llama.cpp stores them (a GGUF file's tensors, or a preset's mix): they replace the
   * format's bytes; the format then only names the analogous ONNX format (activations, KV dtype).
   */
  gguf?: GgufWeights;
}

export interface WeightBreakdown {
  format: WeightFormat;
  /** All weights resident in memory (every expert of a MoE model). */
  totalBytes: number;
  /** Bytes of the quantized MatMul weights (0 for float formats). */
  quantizedBytes: number;
  /** Bytes of the tensors kept in float (`floatDtype`). */
  floatBytes: number;
  floatDtype: FloatDtype;
  /** Which tensors stay float, in words (e.g. `embed_tokens, norms, q/k/v biases`). */
  floatTensors: string[];
  /** Bytes one decode step streams for one token: active experts only, one row of a gathered embedding table. */
  streamedBytesPerToken: number;
  /** The average bits stored per parameter (total bytes × 8 / parameters). */
  bitsPerParam: number;
  /** The int4 settings used, when the format is q4 / q4f16. */
  int4: { blockSize: number; symmetric: boolean; scaleDtype: 'fp32' | 'fp16'; quantizeEmbeddings: boolean; bitsPerWeight: number } | null;
}

function describeFloatTensor(group: WeightTensorGroup): string {
  switch (group.role) {
    case 'embedding':
      return 'embed_tokens';
    case 'position-embedding':
      return 'position embeddings';
    case 'norm':
      return 'norms';
    case 'bias':
      return 'biases';
    default:
      return group.name;
  }
}

/** Bytes of the model's weights in a format, with what stays float and what one decode step reads. */
export function weightBytes(spec: ModelSpec, format: WeightFormat, options: WeightBytesOptions = {}): WeightBreakdown {
  if (options.gguf) return ggufBreakdown(format, options.gguf);
  const floatDtype = floatDtypeOf(format);
  const floatBytesPerElement = FLOAT_BYTES[floatDtype];
  const isInt4 = format === 'q4' || format === 'q4f16';
  const int4Options = isInt4
    ? {
        blockSize: options.int4?.blockSize ?? DEFAULT_INT4.blockSize,
        symmetric: options.int4?.symmetric ?? DEFAULT_INT4.symmetric,
        scaleDtype: options.int4?.scaleDtype ?? (format === 'q4f16' ? 'fp16' : 'fp32'),
      } as const
    : null;
  const quantizeEmbeddings = int4Options !== null && (options.int4?.quantizeEmbeddings ?? DEFAULT_INT4.quantizeEmbeddings);

  let quantizedBytes = 0;
  let floatBytes = 0;
  let streamed = 0;
  let params = 0;
  const floatTensors = new Set<string>();
  for (const group of listWeightTensors(spec)) {
    const elements = group.rows * group.cols * group.count;
    params += elements;
    let bytes: number;
    if (group.quantizable && format === 'int8') {
      bytes = elements + group.count * 5; // int8 codes + per-tensor fp32 scale and uint8 zero point
      quantizedBytes += bytes;
    } else if (group.quantizable && int4Options) {
      bytes = int4MatrixBytes(group.rows, group.cols, int4Options) * group.count;
      quantizedBytes += bytes;
    } else if (quantizeEmbeddings && int4Options && group.role === 'embedding') {
      // GatherBlockQuantized: one row per token id, blocks along the hidden axis (K = cols, N = rows). A tied
      // table is the same bytes as the LM head's MatMulNBits weight, stored once and streamed in full below.
      bytes = int4MatrixBytes(group.cols, group.rows, int4Options) * group.count;
      quantizedBytes += bytes;
    } else if (int4Options && group.role === 'embedding' && !group.gathered) {
      // A float tied table: the Gather reads one row of it per token; the LM head is an int4 copy that
      // every decode step reads in full.
      bytes = elements * floatBytesPerElement;
      floatBytes += bytes;
      floatTensors.add(describeFloatTensor(group));
      const head = int4MatrixBytes(group.cols, group.rows, int4Options) * group.count;
      quantizedBytes += head;
      streamed += bytes / (group.rows * group.count) + head;
      continue;
    } else {
      bytes = elements * floatBytesPerElement;
      floatBytes += bytes;
      if (format !== 'fp32' && format !== 'fp16' && format !== 'bf16') floatTensors.add(describeFloatTensor(group));
    }
    // A gathered table contributes one row per token; routed experts only the active share.
    streamed += group.gathered ? (bytes / (group.rows * group.count)) : bytes * group.activeFraction;
  }
  const totalBytes = quantizedBytes + floatBytes;
  return {
    format,
    totalBytes,
    quantizedBytes,
    floatBytes,
    floatDtype,
    floatTensors: [...floatTensors],
    streamedBytesPerToken: Math.round(streamed),
    bitsPerParam: (totalBytes * 8) / params,
    int4: int4Options ? { ...int4Options, quantizeEmbeddings, bitsPerWeight: int4BitsPerWeight(int4Options) } : null,
  };
}

function ggufBreakdown(format: WeightFormat, gguf: GgufWeights): WeightBreakdown {
  return {
    format,
    totalBytes: gguf.totalBytes,
    quantizedBytes: gguf.quantizedBytes,
    floatBytes: gguf.floatBytes,
    floatDtype: floatDtypeOf(format),
    floatTensors: [],
    streamedBytesPerToken: gguf.streamedBytesPerToken,
    bitsPerParam: gguf.bitsPerParam,
    int4: null,
  };
}

/**
 * Bytes one decode step streams for a batch of `batch` tokens from different sequences. Dense weights are
 * read once per step whatever the batch; a MoE layer reads every expert some token of the batch routed to:
 * with uniform routing, E × (1 − (1 − k/E)^B) distinct experts.
 */
export function streamedWeightBytesPerStep(spec: ModelSpec, format: WeightFormat, batch: number, options: WeightBytesOptions = {}): number {
  const single = weightBytes(spec, format, options);
  if (!spec.moe || batch <= 1) return single.streamedBytesPerToken;
  const { experts, activeExperts } = spec.moe;
  const touchedFraction = 1 - (1 - activeExperts / experts) ** batch;
  const activeFraction = activeExperts / experts;
  const routed = routedExpertBytes(spec, format, options);
  return Math.round(single.streamedBytesPerToken + routed * (touchedFraction - activeFraction));
}

/** Bytes of all routed experts in a format (0 for dense models). */
export function routedExpertBytes(spec: ModelSpec, format: WeightFormat, options: WeightBytesOptions = {}): number {
  if (!spec.moe) return 0;
  if (options.gguf) return options.gguf.routedExpertBytes;
  const expertsOnly: ModelSpec = spec;
  let bytes = 0;
  const isInt4 = format === 'q4' || format === 'q4f16';
  const scaleDtype = options.int4?.scaleDtype ?? (format === 'q4f16' ? 'fp16' : 'fp32');
  for (const group of listWeightTensors(expertsOnly)) {
    if (group.role !== 'routed-expert') continue;
    const elements = group.rows * group.cols * group.count;
    if (group.quantizable && format === 'int8') bytes += elements + group.count * 5;
    else if (group.quantizable && isInt4) bytes += int4MatrixBytes(group.rows, group.cols, { ...options.int4, scaleDtype }) * group.count;
    else bytes += elements * FLOAT_BYTES[floatDtypeOf(format)];
  }
  return bytes;
}
