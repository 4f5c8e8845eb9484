import { ModelscoutError } from '../errors.js';
import { float32ToFloat16 } from '../util/float16.js';
import { METADATA_KEYS, setMetadata } from './metadata.js';
import type { TensorDataSource } from './model-io.js';
import {
  AttributeType,
  DataType,
  createAttribute,
  createGraph,
  createModel,
  createNode,
  createTensor,
  createValueInfo,
  rawByteLength,
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxModel,
  type OnnxTensor,
} from './proto.js';

/**
 * A small builder for ONNX graphs: nodes with stable path-like names (`/model/layers.3/attn/q_proj/MatMul`,
 * outputs `<node name>/output_<i>`), typed attributes, initializers whose bytes may be produced lazily at
 * write time, graph inputs/outputs with symbolic dims, opset imports and metadata.
 *
 * `build()` returns the model plus the lazy tensor data; pass both to `writeModel` so tensors are
 * generated, written and dropped one at a time.
 */

export type AttrValue =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: OnnxTensor }
  | { type: 'graph'; value: OnnxGraph };

/** Typed attribute constructors: `{ axis: attr.int(-1), perm: attr.ints([0, 2, 1, 3]) }`. */
export const attr = {
  int: (value: number): AttrValue => ({ type: 'int', value }),
  float: (value: number): AttrValue => ({ type: 'float', value }),
  string: (value: string): AttrValue => ({ type: 'string', value }),
  ints: (value: number[]): AttrValue => ({ type: 'ints', value }),
  floats: (value: number[]): AttrValue => ({ type: 'floats', value }),
  strings: (value: string[]): AttrValue => ({ type: 'strings', value }),
  tensor: (value: OnnxTensor): AttrValue => ({ type: 'tensor', value }),
  graph: (value: OnnxGraph): AttrValue => ({ type: 'graph', value }),
};

export function toOnnxAttribute(name: string, value: AttrValue): OnnxAttribute {
  const encoder = new TextEncoder();
  switch (value.type) {
    case 'int':
      return createAttribute({ name, type: AttributeType.INT, i: value.value });
    case 'float':
      return createAttribute({ name, type: AttributeType.FLOAT, f: value.value });
    case 'string':
      return createAttribute({ name, type: AttributeType.STRING, s: encoder.encode(value.value) });
    case 'ints':
      return createAttribute({ name, type: AttributeType.INTS, ints: value.value });
    case 'floats':
      return createAttribute({ name, type: AttributeType.FLOATS, floats: value.value });
    case 'strings':
      return createAttribute({ name, type: AttributeType.STRINGS, strings: value.value.map((s) => encoder.encode(s)) });
    case 'tensor':
      return createAttribute({ name, type: AttributeType.TENSOR, t: value.value });
    case 'graph':
      return createAttribute({ name, type: AttributeType.GRAPH, g: value.value });
  }
}

export interface NodeSpec {
  /** Full node name, e.g. `/model/layers.0/attn/q_proj/MatMul`. Must be unique in the graph. */
  name: string;
  op: string;
  /** Empty string skips an optional input. */
  inputs: string[];
  /** Output names; default one output named `<name>/output_0`. A number asks for that many outputs. */
  outputs?: string[] | number;
  domain?: string;
  attributes?: Record<string, AttrValue>;
}

export interface BuiltModel {
  model: OnnxModel;
  /** Lazy bytes of initializers, by name (see `writeModel`'s `tensorData`). */
  tensorData: Map<string, TensorDataSource>;
}

export interface GraphBuilderOptions {
  graphName?: string;
  /** Opset imports by domain (`''` is the default ONNX domain). */
  opsets?: Record<string, number>;
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
}

export class GraphBuilder {
  private readonly graph: OnnxGraph;
  private readonly model: OnnxModel;
  private readonly tensorData = new Map<string, TensorDataSource>();
  private readonly nodeNames = new Set<string>();
  private readonly valueNames = new Set<string>();
  private readonly initializerNames = new Set<string>();
  private readonly constants = new Map<string, string>();

  constructor(options: GraphBuilderOptions = {}) {
    this.graph = createGraph({ name: options.graphName ?? 'main_graph' });
    this.model = createModel({
      ir_version: options.irVersion ?? 8,
      producer_name: options.producerName ?? 'modelscout',
      ...(options.producerVersion !== undefined ? { producer_version: options.producerVersion } : {}),
      ...(options.docString !== undefined ? { doc_string: options.docString } : {}),
      graph: this.graph,
    });
    for (const [domain, version] of Object.entries(options.opsets ?? { '': 17 })) this.addOpset(domain, version);
  }

  addOpset(domain: string, version: number): void {
    const existing = this.model.opset_import.find((o) => (o.domain ?? '') === domain);
    if (existing) existing.version = Math.max(existing.version ?? 0, version);
    else this.model.opset_import.push({ domain, version });
  }

  addInput(name: string, elemType: number, shape: readonly (number | string | null)[]): string {
    this.claimValue(name);
    this.graph.input.push(createValueInfo(name, elemType, shape));
    return name;
  }

  addOutput(name: string, elemType: number, shape: readonly (number | string | null)[]): string {
    this.graph.output.push(createValueInfo(name, elemType, shape));
    return name;
  }

  /**
   * Adds an initializer whose bytes (raw little-endian form) are given now or produced at write time.
   * The byte length is checked when the model is written.
   */
  addInitializer(name: string, dataType: number, dims: number[], data: TensorDataSource, docString?: string): string {
    if (this.initializerNames.has(name)) throw new ModelscoutError('E_INTERNAL', `duplicate initializer ${name}`);
    this.claimValue(name);
    this.initializerNames.add(name);
    this.graph.initializer.push(createTensor({ name, data_type: dataType, dims: [...dims], ...(docString !== undefined ? { doc_string: docString } : {}) }));
    this.tensorData.set(name, data);
    return name;
  }

  /** A small inline constant (shape vectors, scalars, eps), deduplicated by value. */
  constant(dataType: number, dims: number[], values: readonly number[]): string {
    const key = `${dataType}|${dims.join(',')}|${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = `/const/${constantTypeTag(dataType)}/${dims.length === 0 ? 'scalar' : dims.join('x')}/${values.map(formatConst).join('_')}`;
    const bytes = encodeValues(dataType, values);
    if (bytes.byteLength !== rawByteLength(dataType, dims)) throw new ModelscoutError('E_INTERNAL', `constant ${name}: ${values.length} values do not fill dims [${dims.join(', ')}]`);
    this.claimValue(name);
    this.initializerNames.add(name);
    this.graph.initializer.push(createTensor({ name, data_type: dataType, dims: [...dims], raw_data: bytes }));
    this.constants.set(key, name);
    return name;
  }

  int64(values: readonly number[], dims: number[] = [values.length]): string {
    return this.constant(DataType.INT64, dims, values);
  }

  scalarInt64(value: number): string {
    return this.constant(DataType.INT64, [], [value]);
  }

  /** A float scalar in the given float type (FLOAT or FLOAT16). */
  scalarFloat(value: number, dataType: number = DataType.FLOAT): string {
    return this.constant(dataType, [], [value]);
  }

  /** Adds a node; returns its output names. */
  addNode(spec: NodeSpec): string[] {
    if (this.nodeNames.has(spec.name)) throw new ModelscoutError('E_INTERNAL', `duplicate node name ${spec.name}`);
    this.nodeNames.add(spec.name);
    const outputs =
      spec.outputs === undefined
        ? [`${spec.name}/output_0`]
        : typeof spec.outputs === 'number'
          ? Array.from({ length: spec.outputs }, (_, i) => `${spec.name}/output_${i}`)
          : spec.outputs;
    for (const o of outputs) this.claimValue(o);
    this.graph.node.push(
      createNode({
        name: spec.name,
        op_type: spec.op,
        input: spec.inputs,
        output: outputs,
        ...(spec.domain ? { domain: spec.domain } : {}),
        attribute: Object.entries(spec.attributes ?? {}).map(([k, v]) => toOnnxAttribute(k, v)),
      }),
    );
    return outputs;
  }

  /** Shorthand for a one-output node: `b.op('/model/norm/Mul', 'Mul', [x, w])`. */
  op(name: string, op: string, inputs: string[], attributes?: Record<string, AttrValue>, domain?: string): string {
    const spec: NodeSpec = { name, op, inputs };
    if (attributes) spec.attributes = attributes;
    if (domain) spec.domain = domain;
    return this.addNode(spec)[0]!;
  }

  setMetadata(values: Record<string, string | number | boolean | object>): void {
    setMetadata(this.model, values);
  }

  /** Marks the model as synthetic with its seed (the keys every report reads). */
  markSynthetic(seed: number): void {
    this.setMetadata({ [METADATA_KEYS.synthetic]: 'true', [METADATA_KEYS.seed]: String(seed) });
  }

  build(): BuiltModel {
    return { model: this.model, tensorData: this.tensorData };
  }

  private claimValue(name: string): void {
    if (name === '') return;
    if (this.valueNames.has(name)) throw new ModelscoutError('E_INTERNAL', `value ${name} is produced twice`);
    this.valueNames.add(name);
  }
}

function constantTypeTag(dataType: number): string {
  switch (dataType) {
    case DataType.INT64:
      return 'i64';
    case DataType.INT32:
      return 'i32';
    case DataType.FLOAT:
      return 'f32';
    case DataType.FLOAT16:
      return 'f16';
    case DataType.BOOL:
      return 'bool';
    default:
      return `t${dataType}`;
  }
}

function formatConst(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toExponential(6);
}

/** Raw little-endian bytes of small constant values. */
export function encodeValues(dataType: number, values: readonly number[]): Uint8Array {
  switch (dataType) {
    case DataType.INT64: {
      const out = new BigInt64Array(values.length);
      values.forEach((v, i) => (out[i] = BigInt(v)));
      return new Uint8Array(out.buffer);
    }
    case DataType.INT32:
      return new Uint8Array(Int32Array.from(values).buffer);
    case DataType.FLOAT:
      return new Uint8Array(Float32Array.from(values).buffer);
    case DataType.FLOAT16:
      return new Uint8Array(float32ToFloat16(Float32Array.from(values)).buffer);
    case DataType.BOOL:
    case DataType.UINT8:
      return Uint8Array.from(values.map((v) => (v ? (dataType === DataType.BOOL ? 1 : v) : 0)));
    default:
      throw new ModelscoutError('E_INTERNAL', `constants of data type ${dataType} are not supported`);
  }
}
