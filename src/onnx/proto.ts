import protobuf from 'protobufjs';
import { ModelscoutError } from '../errors.js';
import { ONNX_PROTO_SCHEMA } from './onnx-schema.js';

/**
 * ONNX `ModelProto` decode/encode on protobufjs with the schema in `onnx-schema.ts`.
 *
 * Representation: plain objects with the ONNX field names (snake_case), every int64 as a JS number,
 * every repeated field present as an array (possibly empty), absent scalars absent, `bytes` as
 * `Uint8Array` views into the decoded buffer (zero-copy). All realistic ONNX int64 values are below
 * 2^53 except the INT64_MAX / INT64_MIN sentinels (e.g. `Slice` ends); those decode to ±2^63 and are
 * written back as exactly INT64_MAX / INT64_MIN (protobufjs' `Long.fromValue` saturates), so they
 * survive a round trip. Other values above 2^53 would lose precision.
 *
 * Unknown fields (tags newer than this schema) are dropped by protobufjs on decode, so they are not
 * preserved on re-encode. The schema covers the current ONNX IR, so in practice this only concerns
 * fields added to ONNX after it was written.
 */

// ---------------------------------------------------------------------------------------------------
// Types

export interface OnnxStringEntry {
  key?: string;
  value?: string;
}

export interface OnnxOpsetId {
  domain?: string;
  version?: number;
}

export interface OnnxTensorSegment {
  begin?: number;
  end?: number;
}

export interface OnnxTensor {
  dims: number[];
  data_type?: number;
  segment?: OnnxTensorSegment;
  float_data: number[];
  int32_data: number[];
  string_data: Uint8Array[];
  int64_data: number[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data: OnnxStringEntry[];
  data_location?: number;
  double_data: number[];
  uint64_data: number[];
  metadata_props: OnnxStringEntry[];
}

export interface OnnxSparseTensor {
  values?: OnnxTensor;
  indices?: OnnxTensor;
  dims: number[];
}

export interface OnnxDimension {
  dim_value?: number;
  dim_param?: string;
  denotation?: string;
}

export interface OnnxTensorShape {
  dim: OnnxDimension[];
}

export interface OnnxTypeTensor {
  elem_type?: number;
  shape?: OnnxTensorShape;
}

export interface OnnxType {
  tensor_type?: OnnxTypeTensor;
  sequence_type?: { elem_type?: OnnxType };
  map_type?: { key_type?: number; value_type?: OnnxType };
  optional_type?: { elem_type?: OnnxType };
  sparse_tensor_type?: OnnxTypeTensor;
  opaque_type?: { domain?: string; name?: string };
  denotation?: string;
}

export interface OnnxValueInfo {
  name?: string;
  type?: OnnxType;
  doc_string?: string;
  metadata_props: OnnxStringEntry[];
}

export interface OnnxAttribute {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  sparse_tensor?: OnnxSparseTensor;
  tp?: OnnxType;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: OnnxTensor[];
  graphs: OnnxGraph[];
  sparse_tensors: OnnxSparseTensor[];
  type_protos: OnnxType[];
}

export interface OnnxNode {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute: OnnxAttribute[];
  doc_string?: string;
  metadata_props: OnnxStringEntry[];
  /** Multi-device annotations; carried through untouched. */
  device_configurations: unknown[];
}

export interface OnnxTensorAnnotation {
  tensor_name?: string;
  quant_parameter_tensor_names: OnnxStringEntry[];
}

export interface OnnxGraph {
  node: OnnxNode[];
  name?: string;
  initializer: OnnxTensor[];
  sparse_initializer: OnnxSparseTensor[];
  doc_string?: string;
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  value_info: OnnxValueInfo[];
  quantization_annotation: OnnxTensorAnnotation[];
  metadata_props: OnnxStringEntry[];
}

export interface OnnxFunction {
  name?: string;
  input: string[];
  output: string[];
  attribute: string[];
  attribute_proto: OnnxAttribute[];
  node: OnnxNode[];
  doc_string?: string;
  opset_import: OnnxOpsetId[];
  domain?: string;
  overload?: string;
  value_info: OnnxValueInfo[];
  metadata_props: OnnxStringEntry[];
}

export interface OnnxModel {
  ir_version?: number;
  opset_import: OnnxOpsetId[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph?: OnnxGraph;
  metadata_props: OnnxStringEntry[];
  /** Training graphs; carried through untouched. */
  training_info: unknown[];
  functions: OnnxFunction[];
  /** Device configurations; carried through untouched. */
  configuration: unknown[];
}

// ---------------------------------------------------------------------------------------------------
// Enums

/** `TensorProto.DataType`. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;

/** `AttributeProto.AttributeType`. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

/** `TensorProto.DataLocation`. */
export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;

/** Lower-case names as onnxruntime-node spells them (`float32`, `float16`, `int64`, ...). */
const DATA_TYPE_NAMES: Record<number, string> = {
  0: 'undefined',
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
  24: 'float8e8m0',
  25: 'uint2',
  26: 'int2',
};

export function dataTypeName(dataType: number | undefined): string {
  return DATA_TYPE_NAMES[dataType ?? 0] ?? `type${String(dataType)}`;
}

/** Bits per element of a fixed-width type; null for strings and unknown types. */
export function dataTypeBits(dataType: number | undefined): number | null {
  switch (dataType) {
    case DataType.FLOAT:
    case DataType.INT32:
    case DataType.UINT32:
      return 32;
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.BOOL:
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
    case DataType.FLOAT8E8M0:
      return 8;
    case DataType.UINT16:
    case DataType.INT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return 16;
    case DataType.INT64:
    case DataType.UINT64:
    case DataType.DOUBLE:
    case DataType.COMPLEX64:
      return 64;
    case DataType.COMPLEX128:
      return 128;
    case DataType.UINT4:
    case DataType.INT4:
    case DataType.FLOAT4E2M1:
      return 4;
    case DataType.UINT2:
    case DataType.INT2:
      return 2;
    default:
      return null;
  }
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Bytes the tensor's content occupies in raw form (sub-byte types packed, rounded up). */
export function rawByteLength(dataType: number | undefined, dims: readonly number[]): number {
  const bits = dataTypeBits(dataType);
  if (bits === null) throw new ModelscoutError('E_MODEL', `tensor data type ${dataTypeName(dataType)} has no fixed width`);
  return Math.ceil((elementCount(dims) * bits) / 8);
}

// ---------------------------------------------------------------------------------------------------
// Codec

let modelType: protobuf.Type | undefined;

function getModelType(): protobuf.Type {
  if (!modelType) {
    const { root } = protobuf.parse(ONNX_PROTO_SCHEMA, { keepCase: true });
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

const TO_OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: Number, enums: Number, arrays: true, defaults: false };

/**
 * Decodes a serialized ModelProto. Throws a plain Error on malformed input; `readModel` turns it into
 * a one-line E_MODEL naming the file.
 */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const type = getModelType();
  const message = type.decode(bytes);
  return type.toObject(message, TO_OBJECT_OPTIONS) as unknown as OnnxModel;
}

/**
 * Serializes a model. The result must stay below 2 GiB (protobuf's limit): keep big tensors external.
 *
 * The metadata properties are written first, before the graph (protobuf accepts fields in any order and
 * concatenated messages merge): a file cut anywhere then lacks its graph or its opset imports, which
 * `readModel` rejects, instead of decoding as a complete model that silently lost its metadata (the
 * `modelscout.synthetic` label among it) — in field-number order the metadata would come last.
 */
export function encodeModel(model: OnnxModel): Uint8Array {
  const type = getModelType();
  // fromObject turns numbers into Longs for int64 fields (saturating at INT64_MAX/MIN) and validates shapes.
  const encode = (value: object): Uint8Array => type.encode(type.fromObject(value as Record<string, unknown>)).finish();
  const metadata = model.metadata_props ?? [];
  if (metadata.length === 0) return encode(model);
  const head = encode({ metadata_props: metadata });
  const tail = encode({ ...model, metadata_props: [] });
  const out = new Uint8Array(head.byteLength + tail.byteLength);
  out.set(head, 0);
  out.set(tail, head.byteLength);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Constructors (all repeated fields present, so objects match what `decodeModel` returns)

export function createTensor(fields: Partial<OnnxTensor> & { name: string; data_type: number; dims: number[] }): OnnxTensor {
  return {
    float_data: [],
    int32_data: [],
    string_data: [],
    int64_data: [],
    external_data: [],
    double_data: [],
    uint64_data: [],
    metadata_props: [],
    ...fields,
  };
}

export function createAttribute(fields: Partial<OnnxAttribute> & { name: string; type: number }): OnnxAttribute {
  return { floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [], ...fields };
}

export function createNode(fields: Partial<OnnxNode> & { op_type: string }): OnnxNode {
  return { input: [], output: [], attribute: [], metadata_props: [], device_configurations: [], ...fields };
}

export function createGraph(fields: Partial<OnnxGraph> = {}): OnnxGraph {
  return {
    node: [],
    initializer: [],
    sparse_initializer: [],
    input: [],
    output: [],
    value_info: [],
    quantization_annotation: [],
    metadata_props: [],
    ...fields,
  };
}

export function createModel(fields: Partial<OnnxModel> = {}): OnnxModel {
  return { opset_import: [], metadata_props: [], training_info: [], functions: [], configuration: [], ...fields };
}

export function createValueInfo(name: string, elemType: number, shape: readonly (number | string | null)[]): OnnxValueInfo {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: { dim: shape.map((d) => (d === null ? {} : typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
    metadata_props: [],
  };
}

/** Shape of a tensor value-info: numbers, symbolic names, or null for an unnamed unknown dim. */
export function valueInfoShape(info: OnnxValueInfo): (number | string | null)[] | null {
  const shape = info.type?.tensor_type?.shape;
  if (!shape) return null;
  return shape.dim.map((d) => (d.dim_value !== undefined ? d.dim_value : d.dim_param !== undefined ? d.dim_param : null));
}

export function valueInfoElemType(info: OnnxValueInfo): number | undefined {
  return info.type?.tensor_type?.elem_type;
}

/** Reads an attribute value of a node (INT, FLOAT, STRING (utf-8), INTS, FLOATS), or undefined. */
export function getAttribute(node: OnnxNode, name: string): number | string | number[] | OnnxAttribute | undefined {
  const attr = node.attribute.find((a) => a.name === name);
  if (!attr) return undefined;
  switch (attr.type) {
    case AttributeType.INT:
      return attr.i ?? 0;
    case AttributeType.FLOAT:
      return attr.f ?? 0;
    case AttributeType.STRING:
      return new TextDecoder().decode(attr.s ?? new Uint8Array());
    case AttributeType.INTS:
      return attr.ints;
    case AttributeType.FLOATS:
      return attr.floats;
    default:
      return attr;
  }
}

/** Visits every graph of a model: the main graph, then subgraphs of GRAPH/GRAPHS attributes, depth first. */
export function forEachGraph(model: OnnxModel, visit: (graph: OnnxGraph, depth: number) => void): void {
  const walk = (graph: OnnxGraph, depth: number): void => {
    visit(graph, depth);
    for (const node of graph.node) {
      for (const attr of node.attribute) {
        if (attr.g) walk(attr.g, depth + 1);
        for (const g of attr.graphs) walk(g, depth + 1);
      }
    }
  };
  if (model.graph) walk(model.graph, 0);
}
