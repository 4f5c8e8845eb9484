import { basename } from 'node:path';
import { ModelscoutError, errorMessage } from '../errors.js';
import { detectDecoderSignature, graphInputs, graphOutputs, type DecoderSignature, type IoTensorInfo } from './decoder-signature.js';
import { openModelFolder, pickModelFile } from './model-folder.js';
import { readModelscoutMetadata, type ModelscoutMetadata } from './metadata.js';
import { externalDataFiles, readModel, tensorByteLength } from './model-io.js';
import { DataType, dataTypeName, elementCount, forEachGraph, getAttribute, type OnnxModel, type OnnxTensor } from './proto.js';

/**
 * `inspect`: what an ONNX model file holds — I/O signature, ops, opsets, parameters and bytes by dtype,
 * weight format (float or int4 MatMulNBits with its block size), the decoder layout read from the
 * `past_key_values.*` inputs with its KV-cache bytes per token, and the modelscout metadata.
 */

export interface ModelVariantFile {
  /** transformers.js dtype name: fp32, fp16, q4, q4f16, q8 (model_quantized), int8, uint8, bnb4, ... */
  variant: string;
  file: string;
}

export interface DtypeTotals {
  dtype: string;
  tensors: number;
  parameters: number;
  bytes: number;
}

export interface WeightFormatSummary {
  /** fp32 | fp16 | int4 | int8 | mixed | none */
  kind: string;
  description: string;
  floatMatMuls: number;
  matMulNBits: {
    count: number;
    bits: number[];
    blockSizes: number[];
    accuracyLevels: number[];
    /** Nodes without a zero_points input (zero point 8). */
    symmetric: number;
  };
}

export interface InspectReport {
  file: string;
  /** Other model files of the folder, when a folder was inspected. */
  variants: ModelVariantFile[];
  fileBytes: number;
  externalData: { location: string; bytes: number }[];
  totalBytes: number;
  irVersion: number | null;
  producer: string | null;
  opsets: { domain: string; version: number }[];
  inputs: IoTensorInfo[];
  outputs: IoTensorInfo[];
  nodes: number;
  ops: { op: string; count: number }[];
  /** Elements of the weight initializers (integer shape/index constants excluded; packed int4 counted as K × N). */
  parameters: number;
  initializerBytes: number;
  byDtype: DtypeTotals[];
  weightFormat: WeightFormatSummary;
  decoder: (DecoderSignature & { kvBytesPerTokenFp16: number | null }) | null;
  /** Why the decoder layout could not be detected, when it could not. */
  decoderProblem: string | null;
  synthetic: boolean;
  metadata: ModelscoutMetadata;
}

export async function inspectModel(path: string, options: { variant?: string } = {}): Promise<InspectReport> {
  const folder = await openModelFolder(path);
  const { file } = pickModelFile(folder, options.variant);
  const variants = folder.lone ? [] : folder.onnxFiles.map((f) => ({ variant: f.dtype, file: f.file }));
  const loaded = await readModel(file);
  const model = loaded.model;
  const graph = model.graph!;

  const externalData = (await externalDataFiles(loaded)).map((f) => ({ location: f.location, bytes: f.size }));

  const ops = new Map<string, number>();
  let nodes = 0;
  forEachGraph(model, (g) => {
    for (const node of g.node) {
      nodes++;
      const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}::${node.op_type ?? '?'}` : node.op_type ?? '?';
      ops.set(op, (ops.get(op) ?? 0) + 1);
    }
  });

  const { byDtype, parameters, initializerBytes, weightFormat } = summarizeWeights(model, loaded.path);

  let decoder: InspectReport['decoder'] = null;
  let decoderProblem: string | null = null;
  try {
    const sig = detectDecoderSignature(model, basename(file));
    decoder = { ...sig, kvBytesPerTokenFp16: sig.kvBytesPerToken === null ? null : (sig.kvBytesPerToken / sig.kvBytesPerElement) * 2 };
  } catch (error) {
    decoderProblem = errorMessage(error);
  }
  const metadata = readModelscoutMetadata(model);
  const fileBytes = loaded.fileSize;
  return {
    file,
    variants,
    fileBytes,
    externalData,
    totalBytes: fileBytes + externalData.reduce((s, e) => s + e.bytes, 0),
    irVersion: model.ir_version ?? null,
    producer: [model.producer_name, model.producer_version].filter(Boolean).join(' ') || null,
    opsets: model.opset_import.map((o) => ({ domain: o.domain || 'ai.onnx', version: o.version ?? 0 })),
    inputs: graphInputs(graph),
    outputs: graphOutputs(graph),
    nodes,
    ops: [...ops.entries()].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || a.op.localeCompare(b.op)),
    parameters,
    initializerBytes,
    byDtype,
    weightFormat,
    decoder,
    decoderProblem,
    synthetic: metadata.synthetic,
    metadata,
  };
}

const INDEX_TYPES = new Set<number>([DataType.INT64, DataType.INT32, DataType.BOOL]);

function summarizeWeights(model: OnnxModel, modelPath: string): Pick<InspectReport, 'byDtype' | 'parameters' | 'initializerBytes' | 'weightFormat'> {
  const initializers = new Map<string, OnnxTensor>();
  forEachGraph(model, (g) => {
    for (const t of g.initializer) if (t.name) initializers.set(t.name, t);
  });
  // Packed int4 weights: the logical parameter count comes from the node (K × N), not the byte count.
  const packed = new Map<string, { bits: number; params: number }>();
  const nbits = { count: 0, bits: new Set<number>(), blockSizes: new Set<number>(), accuracyLevels: new Set<number>(), symmetric: 0 };
  const floatMatMulTypes = new Map<number, number>();
  let floatMatMuls = 0;
  forEachGraph(model, (g) => {
    for (const node of g.node) {
      if (node.op_type === 'MatMulNBits' && node.domain === 'com.microsoft') {
        nbits.count++;
        const bits = Number(getAttribute(node, 'bits') ?? 4);
        nbits.bits.add(bits);
        nbits.blockSizes.add(Number(getAttribute(node, 'block_size') ?? 0));
        nbits.accuracyLevels.add(Number(getAttribute(node, 'accuracy_level') ?? 0));
        if (!node.input[3]) nbits.symmetric++;
        const weight = node.input[1];
        if (weight) packed.set(weight, { bits, params: Number(getAttribute(node, 'K') ?? 0) * Number(getAttribute(node, 'N') ?? 0) });
      } else if (node.op_type === 'MatMul' || node.op_type === 'Gemm') {
        const w = node.input[1] ? initializers.get(node.input[1]) : undefined;
        if (w && (w.data_type === DataType.FLOAT || w.data_type === DataType.FLOAT16 || w.data_type === DataType.BFLOAT16)) {
          floatMatMuls++;
          floatMatMulTypes.set(w.data_type, (floatMatMulTypes.get(w.data_type) ?? 0) + 1);
        }
      }
    }
  });

  const totals = new Map<string, DtypeTotals>();
  let parameters = 0;
  let initializerBytes = 0;
  for (const [name, t] of initializers) {
    const p = packed.get(name);
    const dtype = p ? `int${p.bits}` : dataTypeName(t.data_type);
    const params = p ? p.params : elementCount(t.dims);
    let bytes: number;
    try {
      bytes = t.data_type === DataType.STRING ? 0 : tensorByteLength(t);
    } catch (error) {
      throw new ModelscoutError('E_MODEL', `${modelPath}: ${errorMessage(error)}`);
    }
    const entry = totals.get(dtype) ?? { dtype, tensors: 0, parameters: 0, bytes: 0 };
    entry.tensors++;
    entry.parameters += params;
    entry.bytes += bytes;
    totals.set(dtype, entry);
    // Integer tensors (shape vectors, indices) are constants, not parameters; they still count as bytes.
    if (p || !INDEX_TYPES.has(t.data_type ?? 0)) parameters += params;
    initializerBytes += bytes;
  }

  const floatName = (type: number): string => (type === DataType.FLOAT16 ? 'fp16' : type === DataType.BFLOAT16 ? 'bf16' : 'fp32');
  const floatKinds = [...floatMatMulTypes.keys()].map(floatName);
  let kind: string;
  let description: string;
  const blockList = [...nbits.blockSizes].sort((a, b) => a - b).join('/');
  if (nbits.count > 0) {
    const bitsList = [...nbits.bits].sort();
    const q = bitsList.length === 1 ? `int${bitsList[0]}` : `int${bitsList.join('/')}`;
    kind = floatMatMuls === 0 ? q : 'mixed';
    const sym = nbits.symmetric === nbits.count ? 'symmetric' : nbits.symmetric === 0 ? 'asymmetric' : `${nbits.symmetric} symmetric`;
    const acc = [...nbits.accuracyLevels].sort().join('/');
    description = `${q} MatMulNBits (block ${blockList}, ${sym}, accuracy level ${acc}) on ${nbits.count} of ${nbits.count + floatMatMuls} weight MatMuls`;
    if (floatMatMuls > 0) description += `; ${floatMatMuls} left in ${floatKinds.join('/')}`;
  } else if (floatMatMuls > 0) {
    kind = floatKinds.length === 1 ? floatKinds[0]! : 'mixed';
    description = `${floatKinds.join('/')} weights on ${floatMatMuls} weight MatMuls`;
  } else {
    kind = 'none';
    description = 'no MatMul with an initializer weight';
  }
  return {
    byDtype: [...totals.values()].sort((a, b) => b.bytes - a.bytes),
    parameters,
    initializerBytes,
    weightFormat: {
      kind,
      description,
      floatMatMuls,
      matMulNBits: {
        count: nbits.count,
        bits: [...nbits.bits].sort((a, b) => a - b),
        blockSizes: [...nbits.blockSizes].sort((a, b) => a - b),
        accuracyLevels: [...nbits.accuracyLevels].sort((a, b) => a - b),
        symmetric: nbits.symmetric,
      },
    },
  };
}
