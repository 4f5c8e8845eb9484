/**
 * A deliberately tiny, independent ONNX protobuf writer for single-node test models. It shares no code with
 * the project's ONNX layer, so the MatMulNBits equality tests check the int4 packing against ONNX Runtime
 * itself rather than against another piece of our own code.
 */

type Bytes = Uint8Array;

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function concat(parts: (Bytes | number[])[]): Bytes {
  const total = parts.reduce((sum, p) => sum + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const tag = (field: number, wire: number): number[] => varint((field << 3) | wire);
const fieldVarint = (field: number, value: number): Bytes => concat([tag(field, 0), varint(value)]);
const fieldBytes = (field: number, value: Bytes): Bytes => concat([tag(field, 2), varint(value.length), value]);
const fieldString = (field: number, value: string): Bytes => fieldBytes(field, new TextEncoder().encode(value));

export const DTYPE = { float32: 1, uint8: 2, int32: 6, int64: 7, float16: 10 } as const;

export interface MiniTensor {
  name: string;
  dtype: number;
  dims: number[];
  data: Bytes;
}

export interface MiniValueInfo {
  name: string;
  dtype: number;
  /** numbers, or strings for symbolic dims */
  dims: (number | string)[];
}

export interface MiniNode {
  opType: string;
  domain?: string;
  name?: string;
  inputs: string[];
  outputs: string[];
  intAttributes?: Record<string, number>;
}

export interface MiniModel {
  nodes: MiniNode[];
  initializers: MiniTensor[];
  inputs: MiniValueInfo[];
  outputs: MiniValueInfo[];
  opsets?: Record<string, number>;
}

function encodeTensor(t: MiniTensor): Bytes {
  return concat([...t.dims.map((d) => fieldVarint(1, d)), fieldVarint(2, t.dtype), fieldString(8, t.name), fieldBytes(9, t.data)]);
}

function encodeValueInfo(v: MiniValueInfo): Bytes {
  const dims = v.dims.map((d) => fieldBytes(1, typeof d === 'number' ? fieldVarint(1, d) : fieldString(2, d)));
  const shape = concat(dims);
  const tensorType = concat([fieldVarint(1, v.dtype), fieldBytes(2, shape)]);
  return concat([fieldString(1, v.name), fieldBytes(2, fieldBytes(1, tensorType))]);
}

function encodeNode(n: MiniNode): Bytes {
  const attributes = Object.entries(n.intAttributes ?? {}).map(([name, value]) =>
    fieldBytes(5, concat([fieldString(1, name), fieldVarint(20, 2), fieldVarint(3, value)])),
  );
  return concat([
    ...n.inputs.map((i) => fieldString(1, i)),
    ...n.outputs.map((o) => fieldString(2, o)),
    fieldString(3, n.name ?? n.opType),
    fieldString(4, n.opType),
    ...attributes,
    fieldString(7, n.domain ?? ''),
  ]);
}

/** Serialized ModelProto (IR 9, default opset 17 plus whatever `opsets` adds). */
export function encodeMiniModel(model: MiniModel): Bytes {
  const graph = concat([
    ...model.nodes.map((n) => fieldBytes(1, encodeNode(n))),
    fieldString(2, 'test'),
    ...model.initializers.map((t) => fieldBytes(5, encodeTensor(t))),
    ...model.inputs.map((v) => fieldBytes(11, encodeValueInfo(v))),
    ...model.outputs.map((v) => fieldBytes(12, encodeValueInfo(v))),
  ]);
  const opsets = Object.entries({ '': 17, ...(model.opsets ?? {}) }).map(([domain, version]) =>
    fieldBytes(8, concat([fieldString(1, domain), fieldVarint(2, version)])),
  );
  return concat([fieldVarint(1, 9), fieldString(2, 'modelscout-test'), ...opsets, fieldBytes(7, graph)]);
}

export function bytesOf(view: ArrayBufferView): Bytes {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
