import { open, type FileHandle } from 'node:fs/promises';
import { ModelscoutError, errorMessage } from '../errors.js';
import { ggmlTensorBytes, ggmlTypeById, GGUF_FILE_TYPES, type GgufTensorBytes } from '../catalog/ggml-types.js';

/**
 * A streaming reader of GGUF headers (llama.cpp's model file format): the metadata key/values and the tensor
 * infos, never the weights. Reads in 1 MiB chunks, so a 40 GB file costs a few MB of reads (the tokenizer
 * arrays are the bulk of a header). Format: llama.cpp `ggml/include/gguf.h` and `docs/gguf.md`
 * (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): magic `GGUF`, version (2 or 3), tensor count,
 * metadata count (u64 each), the key/values, the tensor infos (name, dims, type, offset), then the tensor data
 * at the next multiple of `general.alignment` (32 unless set). Little-endian only.
 */
export type GgufValue = number | bigint | boolean | string | GgufArray;

/** Arrays longer than `GGUF_ARRAY_KEEP` keep only their length and element type (the tokenizer's vocabulary). */
export interface GgufArray {
  type: string;
  length: number;
  values: GgufValue[] | null;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: `dims[0]` is the row length (ne[0]). */
  dims: number[];
  typeId: number;
  type: string;
  offset: number;
  elements: number;
  bytes: number;
}

export interface GgufHeader {
  path: string;
  version: number;
  fileBytes: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Where the tensor data starts (after the header, aligned). */
  dataOffset: number;
  /** Sum of the tensors' bytes as their types and shapes give them. */
  tensorBytes: number;
  architecture: string;
  /** `general.file_type` as a name (e.g. `Q4_K_M`), or null when the file does not say. */
  fileType: string | null;
}

export const GGUF_ARRAY_KEEP = 64;
const CHUNK = 1 << 20;
const MAX_STRING = 1 << 26;
const VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;

function badFile(path: string, what: string): ModelscoutError {
  return new ModelscoutError('E_MODEL', `${path} is not a readable GGUF file: ${what}`, {
    suggestions: ['Check the file is complete (compare its size with the source) and was written by llama.cpp or gguf-py.'],
  });
}

/** Buffered little-endian reads over a file handle, refilled in chunks. */
class ChunkedReader {
  private buffer = Buffer.alloc(0);
  private bufferStart = 0;
  position = 0;

  constructor(private readonly handle: FileHandle, readonly size: number, private readonly path: string) {}

  private async ensure(bytes: number, what: string): Promise<void> {
    const end = this.position + bytes;
    if (end > this.size) throw badFile(this.path, `truncated header (${what} runs past the end of the ${this.size}-byte file)`);
    if (end <= this.bufferStart + this.buffer.length) return;
    const keep = this.buffer.subarray(this.position - this.bufferStart);
    const want = Math.min(Math.max(CHUNK, bytes), this.size - this.position);
    const fresh = Buffer.alloc(want - keep.length);
    let filled = 0;
    while (filled < fresh.length) {
      const { bytesRead } = await this.handle.read(fresh, filled, fresh.length - filled, this.position + keep.length + filled);
      if (bytesRead === 0) throw badFile(this.path, `truncated header (${what})`);
      filled += bytesRead;
    }
    this.buffer = Buffer.concat([keep, fresh]);
    this.bufferStart = this.position;
  }

  private at(): number {
    return this.position - this.bufferStart;
  }

  async bytes(n: number, what: string): Promise<Buffer> {
    await this.ensure(n, what);
    const out = this.buffer.subarray(this.at(), this.at() + n);
    this.position += n;
    return out;
  }

  async u32(what: string): Promise<number> {
    await this.ensure(4, what);
    const v = this.buffer.readUInt32LE(this.at());
    this.position += 4;
    return v;
  }

  /** A u64 that must fit a JS number (counts, lengths, dims, offsets). */
  async u64(what: string): Promise<number> {
    await this.ensure(8, what);
    const v = this.buffer.readBigUInt64LE(this.at());
    this.position += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw badFile(this.path, `${what} is ${v}, beyond any real file`);
    return Number(v);
  }

  async string(what: string): Promise<string> {
    const length = await this.u64(`${what} length`);
    if (length > MAX_STRING) throw badFile(this.path, `${what} claims ${length} bytes`);
    return (await this.bytes(length, what)).toString('utf8');
  }

  async scalar(type: (typeof VALUE_TYPES)[number], what: string): Promise<GgufValue> {
    const sizes: Record<string, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };
    if (type === 'string') return this.string(what);
    const size = sizes[type]!;
    await this.ensure(size, what);
    const o = this.at();
    const b = this.buffer;
    this.position += size;
    switch (type) {
      case 'u8': return b.readUInt8(o);
      case 'i8': return b.readInt8(o);
      case 'u16': return b.readUInt16LE(o);
      case 'i16': return b.readInt16LE(o);
      case 'u32': return b.readUInt32LE(o);
      case 'i32': return b.readInt32LE(o);
      case 'f32': return Number(b.readFloatLE(o).toPrecision(7));
      case 'bool': return b.readUInt8(o) !== 0;
      case 'u64': return narrow(b.readBigUInt64LE(o));
      case 'i64': return narrow(b.readBigInt64LE(o));
      default: return b.readDoubleLE(o);
    }
  }
}

function narrow(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

async function readValue(reader: ChunkedReader, typeId: number, key: string, path: string): Promise<GgufValue> {
  const type = VALUE_TYPES[typeId];
  if (type === undefined) throw badFile(path, `metadata ${key} has unknown value type ${typeId}`);
  if (type !== 'array') return reader.scalar(type, key);
  const elementTypeId = await reader.u32(`${key} element type`);
  const elementType = VALUE_TYPES[elementTypeId];
  if (elementType === undefined || elementType === 'array') throw badFile(path, `metadata ${key} has an array of unsupported type ${elementTypeId}`);
  const length = await reader.u64(`${key} length`);
  // Every element takes at least one byte: a count larger than the rest of the file is corruption.
  if (length > reader.size - reader.position) throw badFile(path, `metadata ${key} claims ${length} elements`);
  const keep = length <= GGUF_ARRAY_KEEP;
  const values: GgufValue[] = [];
  for (let i = 0; i < length; i += 1) {
    const v = await reader.scalar(elementType, key);
    if (keep) values.push(v);
  }
  return { type: elementType, length, values: keep ? values : null };
}

/** Reads the header and tensor infos of a GGUF file. Throws one-line `E_MODEL` errors for anything malformed. */
export async function readGgufHeader(path: string): Promise<GgufHeader> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ModelscoutError('E_FILE', `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : errorMessage(error)}`);
  }
  try {
    const { size } = await handle.stat();
    const reader = new ChunkedReader(handle, size, path);
    const magic = (await reader.bytes(4, 'magic')).toString('latin1');
    if (magic !== 'GGUF') throw badFile(path, `it starts with ${JSON.stringify(magic)}, not "GGUF"`);
    const version = await reader.u32('version');
    if (version < 2 || version > 3) throw badFile(path, `GGUF version ${version} (this reader knows 2 and 3)`);
    const tensorCount = await reader.u64('tensor count');
    const kvCount = await reader.u64('metadata count');
    if (tensorCount > size / 24 || kvCount > size / 12) throw badFile(path, `it claims ${tensorCount} tensors and ${kvCount} metadata entries`);
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i += 1) {
      const key = await reader.string(`metadata key ${i}`);
      const typeId = await reader.u32(`type of ${key}`);
      metadata.set(key, await readValue(reader, typeId, key, path));
    }
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < tensorCount; i += 1) {
      const name = await reader.string(`tensor name ${i}`);
      const nDims = await reader.u32(`${name} dimensions`);
      if (nDims < 1 || nDims > 4) throw badFile(path, `tensor ${name} has ${nDims} dimensions`);
      const dims: number[] = [];
      for (let d = 0; d < nDims; d += 1) dims.push(await reader.u64(`${name} shape`));
      const typeId = await reader.u32(`${name} type`);
      const offset = await reader.u64(`${name} offset`);
      const type = ggmlTypeById(typeId);
      if (!type) throw badFile(path, `tensor ${name} has unknown ggml type ${typeId}`);
      const elements = dims.reduce((a, b) => a * b, 1);
      const bytes = ggmlTensorBytes(type, elements, dims[0]!);
      if (bytes === null) throw badFile(path, `tensor ${name} rows of ${dims[0]} are not whole ${type.name} blocks of ${type.blockSize}`);
      tensors.push({ name, dims, typeId, type: type.name, offset, elements, bytes });
    }
    const alignmentValue = metadata.get('general.alignment');
    const alignment = typeof alignmentValue === 'number' && alignmentValue > 0 ? alignmentValue : 32;
    const dataOffset = Math.ceil(reader.position / alignment) * alignment;
    const tensorBytes = tensors.reduce((s, t) => s + t.bytes, 0);
    const end = tensors.reduce((m, t) => Math.max(m, t.offset + t.bytes), 0);
    if (dataOffset + end > size) throw badFile(path, `the tensors need ${dataOffset + end} bytes but the file has ${size} (truncated)`);
    const architecture = metadata.get('general.architecture');
    if (typeof architecture !== 'string') throw badFile(path, 'no general.architecture');
    const fileTypeId = metadata.get('general.file_type');
    return {
      path,
      version,
      fileBytes: size,
      metadata,
      tensors,
      alignment,
      dataOffset,
      tensorBytes,
      architecture,
      fileType: typeof fileTypeId === 'number' ? GGUF_FILE_TYPES[fileTypeId] ?? `file type ${fileTypeId}` : null,
    };
  } finally {
    await handle.close();
  }
}

/** The tensors as the estimator sees them (routed experts and the input embedding table marked). */
export function ggufTensorBytes(header: Pick<GgufHeader, 'tensors'>): GgufTensorBytes[] {
  return header.tensors.map((t) => ({
    name: t.name,
    kind: /_exps\.weight$/.test(t.name) ? 'routed-expert' : t.name === 'token_embd.weight' ? 'embedding' : 'other',
    type: t.type,
    elements: t.elements,
    bytes: t.bytes,
  }));
}

/** Plain JSON of the metadata (arrays as their length when long), for reports. */
export function ggufMetadataJson(metadata: Map<string, GgufValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of metadata) out[k] = jsonValue(v);
  return out;
}

function jsonValue(v: GgufValue): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'object') return v.values === null ? { type: v.type, length: v.length } : v.values.map(jsonValue);
  return v;
}
