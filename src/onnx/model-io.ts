import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ModelscoutError, errorMessage } from '../errors.js';
import { sweepStaleTemps, temporarySibling, withOutputLock } from '../util/atomic-write.js';
import { float16ToFloat32 } from '../util/float16.js';
import type { LockWait } from '../util/file-lock.js';
import {
  DataLocation,
  DataType,
  dataTypeBits,
  dataTypeName,
  decodeModel,
  elementCount,
  encodeModel,
  forEachGraph,
  rawByteLength,
  type OnnxModel,
  type OnnxTensor,
} from './proto.js';

/**
 * Reading and writing ONNX models with external data.
 *
 * - The `.onnx` protobuf itself is read whole (protobuf caps it below 2 GiB anyway); tensor bytes that
 *   live in external files are read lazily, tensor by tensor, with positioned reads on a file handle, so
 *   data files larger than 2 GiB (beyond what `readFile` accepts) are fine.
 * - Writing streams every tensor into one external data file at aligned offsets, asking for each
 *   tensor's bytes only when it is its turn, so peak memory is the largest tensor (or the largest chunk
 *   when data comes in chunks) plus the graph. Both files appear atomically (temp + rename).
 */

/** A single read or write syscall moves at most this much (Node/libuv cap reads near 2^31 - 1). */
const MAX_IO_BYTES = 1 << 30;

export interface LoadedModel {
  /** Absolute path of the `.onnx` file. */
  path: string;
  /** Folder external data locations are relative to. */
  dir: string;
  model: OnnxModel;
  /** Size of the `.onnx` file in bytes. */
  fileSize: number;
}

/** Reads and decodes a model. Any problem is one E_MODEL line naming the file (exit 2). */
export async function readModel(path: string): Promise<LoadedModel> {
  const absolute = resolve(path);
  let size: number;
  try {
    const info = await stat(absolute);
    if (!info.isFile()) throw new ModelscoutError('E_MODEL', `${path} is not a file`, { suggestions: ['Pass the path of a .onnx file or a model folder.'] });
    size = info.size;
  } catch (error) {
    if (error instanceof ModelscoutError) throw error;
    throw new ModelscoutError('E_NOT_FOUND', `model file ${path} not found`, { suggestions: ['Check the path; `modelscout synth` or `modelscout pull` create model folders.'] });
  }
  if (size >= 2 ** 31) {
    throw new ModelscoutError('E_MODEL', `${path} is ${size} bytes: a serialized ONNX protobuf must be below 2 GiB`, {
      suggestions: ['Re-export the model with its weights in external data.'],
    });
  }
  const bytes = await readFile(absolute);
  let model: OnnxModel;
  try {
    model = decodeModel(bytes);
  } catch (error) {
    throw corruptModel(path, errorMessage(error));
  }
  // A protobuf cut exactly between two fields still decodes; an ONNX model without its graph or without
  // opset imports is what such a cut leaves behind, so reject those too.
  if (!model.graph) throw corruptModel(path, 'no graph');
  if (model.opset_import.length === 0) throw corruptModel(path, 'no opset_import');
  if (!model.ir_version) throw corruptModel(path, 'no ir_version');
  if (model.graph.output.length === 0) throw corruptModel(path, 'the graph has no outputs');
  const loaded: LoadedModel = { path: absolute, dir: dirname(absolute), model, fileSize: size };
  await checkExternalRanges(loaded);
  return loaded;
}

/** One external data file of a model: its `location` as written, the checked path and its size. */
export interface ExternalDataFile {
  location: string;
  path: string;
  size: number;
}

/**
 * Every external data file the model references, each location checked by `resolveExternalLocation` and
 * each a regular file (not a folder, a device or a FIFO that would hang a reader). The one place readers
 * (inspect, bench, quantize) turn `location`s into files.
 */
export async function externalDataFiles(loaded: LoadedModel): Promise<ExternalDataFile[]> {
  const files = new Map<string, ExternalDataFile>();
  for (const tensor of externalTensors(loaded.model)) {
    const { location } = externalDataInfo(tensor, loaded.path);
    if (files.has(location)) continue;
    const path = resolveExternalLocation(loaded.dir, location, loaded.path);
    let info;
    try {
      info = await stat(path);
    } catch {
      throw missingExternal(loaded, tensor, location);
    }
    if (!info.isFile()) {
      throw new ModelscoutError('E_MODEL', `${loaded.path}: external data ${JSON.stringify(location)} (tensor ${tensor.name ?? '?'}) is not a regular file`, {
        suggestions: ['Only use models whose external data files sit next to the .onnx file.'],
      });
    }
    files.set(location, { location, path, size: info.size });
  }
  return [...files.values()];
}

function externalTensors(model: OnnxModel): OnnxTensor[] {
  const out: OnnxTensor[] = [];
  forEachGraph(model, (graph) => {
    for (const t of graph.initializer) if (isExternal(t)) out.push(t);
    for (const node of graph.node) {
      for (const attr of node.attribute) {
        if (attr.t && isExternal(attr.t)) out.push(attr.t);
        for (const t of attr.tensors) if (isExternal(t)) out.push(t);
      }
    }
  });
  return out;
}

/**
 * The strict part of reading a model: every external tensor's bytes lie inside its file (a truncated or
 * empty data file, or an offset past its end, is a corrupt model, found before any work starts).
 */
async function checkExternalRanges(loaded: LoadedModel): Promise<void> {
  const tensors = externalTensors(loaded.model);
  if (tensors.length === 0) return;
  const sizes = new Map((await externalDataFiles(loaded)).map((f) => [f.location, f.size]));
  for (const tensor of tensors) {
    const info = externalDataInfo(tensor, loaded.path);
    const fileSize = sizes.get(info.location) ?? 0;
    const needed = tensor.data_type === DataType.STRING || dataTypeBits(tensor.data_type) === null ? null : rawByteLength(tensor.data_type, tensor.dims);
    const length = info.length ?? Math.max(0, fileSize - info.offset);
    if (info.offset > fileSize || info.offset + length > fileSize || (needed !== null && length < needed)) {
      throw new ModelscoutError(
        'E_MODEL',
        `${loaded.path}: tensor ${tensor.name ?? '?'} needs bytes ${info.offset}..${info.offset + Math.max(length, needed ?? 0)} of ${info.location}, which has ${fileSize} bytes (truncated or corrupt)`,
        { suggestions: ['Download or generate the model again.'] },
      );
    }
  }
}

function corruptModel(path: string, detail: string): ModelscoutError {
  return new ModelscoutError('E_MODEL', `${path} is not a valid ONNX model (truncated or corrupt: ${detail})`, {
    suggestions: ['Download or generate the model again.'],
  });
}

// ---------------------------------------------------------------------------------------------------
// External data descriptors

export interface ExternalDataInfo {
  location: string;
  offset: number;
  /** Bytes, or null when the entry omits it (then: to the end of the file). */
  length: number | null;
}

export function isExternal(tensor: OnnxTensor): boolean {
  return tensor.data_location === DataLocation.EXTERNAL;
}

/** Parses a tensor's `external_data` entries; throws E_MODEL on a missing location or a bad number. */
export function externalDataInfo(tensor: OnnxTensor, modelPath = 'model'): ExternalDataInfo {
  const entries = new Map(tensor.external_data.map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) throw new ModelscoutError('E_MODEL', `${modelPath}: tensor ${tensor.name ?? '?'} is external but has no location`);
  const parse = (key: string): number | null => {
    const text = entries.get(key);
    if (text === undefined || text === '') return null;
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
      throw new ModelscoutError('E_MODEL', `${modelPath}: tensor ${tensor.name ?? '?'} has an invalid external ${key} ${JSON.stringify(text)}`);
    }
    return value;
  };
  return { location, offset: parse('offset') ?? 0, length: parse('length') };
}

/**
 * Resolves an external `location` inside the model folder. Absolute paths and any `..` component are
 * rejected (ONNX forbids both; they would let a downloaded model read arbitrary files).
 */
export function resolveExternalLocation(dir: string, location: string, modelPath = 'model'): string {
  const parts = location.split(/[\\/]/);
  if (isAbsolute(location) || /^[A-Za-z]:/.test(location) || location.startsWith('\\') || parts.includes('..')) {
    throw new ModelscoutError('E_MODEL', `${modelPath}: external data location ${JSON.stringify(location)} must be a relative path inside the model folder`, {
      suggestions: ['Only use models whose external data files sit next to the .onnx file.'],
    });
  }
  const full = resolve(dir, location);
  const rel = relative(dir, full);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw new ModelscoutError('E_MODEL', `${modelPath}: external data location ${JSON.stringify(location)} escapes the model folder`);
  }
  return full;
}

// ---------------------------------------------------------------------------------------------------
// Reading tensor bytes

/** Bytes of the tensor's content in raw (little-endian, packed) form. */
export function tensorByteLength(tensor: OnnxTensor): number {
  if (tensor.data_type === DataType.STRING) throw new ModelscoutError('E_UNSUPPORTED', `tensor ${tensor.name ?? '?'} holds strings, which have no raw byte form`);
  if (isExternal(tensor)) {
    const { length } = externalDataInfo(tensor);
    if (length !== null) return length;
  }
  if (tensor.raw_data) return tensor.raw_data.byteLength;
  return rawByteLength(tensor.data_type, tensor.dims);
}

interface ByteRange {
  /** Offset inside the tensor's raw bytes. */
  offset: number;
  length: number;
}

/**
 * The tensor's raw bytes (or a range of them): from `raw_data`, the typed `*_data` fields, or external
 * data. External reads use positioned reads on a file handle, looped in ≤ 1 GiB steps. The result of a
 * `raw_data` tensor is a view into the decoded buffer and may be unaligned (see `readTensorFloat32`).
 */
export async function readTensorBytes(loaded: LoadedModel, tensor: OnnxTensor, range?: ByteRange): Promise<Uint8Array> {
  if (isExternal(tensor)) return readExternalBytes(loaded, tensor, range);
  const all = tensor.raw_data ?? typedFieldsToBytes(tensor);
  if (!range) return all;
  checkRange(loaded, tensor, range, all.byteLength);
  return all.subarray(range.offset, range.offset + range.length);
}

/** Yields the tensor's raw bytes in chunks of at most `chunkBytes` (for tensors too big to hold at once). */
export async function* readTensorChunks(loaded: LoadedModel, tensor: OnnxTensor, chunkBytes = 64 << 20): AsyncGenerator<Uint8Array> {
  const total = await resolveTensorLength(loaded, tensor);
  for (let offset = 0; offset < total; offset += chunkBytes) {
    yield await readTensorBytes(loaded, tensor, { offset, length: Math.min(chunkBytes, total - offset) });
  }
}

/** Float32 copy of a FLOAT or FLOAT16 tensor (4-byte aligned, safe to modify). */
export async function readTensorFloat32(loaded: LoadedModel, tensor: OnnxTensor): Promise<Float32Array> {
  const bytes = await readTensorBytes(loaded, tensor);
  if (tensor.data_type === DataType.FLOAT) {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  if (tensor.data_type === DataType.FLOAT16) {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    return float16ToFloat32(new Uint16Array(copy.buffer, 0, copy.byteLength / 2));
  }
  throw new ModelscoutError('E_UNSUPPORTED', `tensor ${tensor.name ?? '?'} is ${dataTypeName(tensor.data_type)}, not float32/float16`);
}

async function resolveTensorLength(loaded: LoadedModel, tensor: OnnxTensor): Promise<number> {
  if (!isExternal(tensor)) return tensorByteLength(tensor);
  const info = externalDataInfo(tensor, loaded.path);
  if (info.length !== null) return info.length;
  const file = resolveExternalLocation(loaded.dir, info.location, loaded.path);
  const size = (await statExternal(loaded, tensor, file, info.location)).size;
  return Math.max(0, size - info.offset);
}

async function statExternal(loaded: LoadedModel, tensor: OnnxTensor, file: string, location: string): Promise<{ size: number }> {
  try {
    return await stat(file);
  } catch {
    throw missingExternal(loaded, tensor, location);
  }
}

function missingExternal(loaded: LoadedModel, tensor: OnnxTensor, location: string): ModelscoutError {
  return new ModelscoutError('E_MODEL', `${loaded.path}: external data file ${location} not found in ${loaded.dir} (tensor ${tensor.name ?? '?'})`, {
    suggestions: ['Download the model again including its data file(s) next to the .onnx file.'],
  });
}

function checkRange(loaded: LoadedModel, tensor: OnnxTensor, range: ByteRange, total: number): void {
  if (range.offset < 0 || range.length < 0 || range.offset + range.length > total) {
    throw new ModelscoutError('E_INTERNAL', `${loaded.path}: byte range ${range.offset}+${range.length} is outside tensor ${tensor.name ?? '?'} (${total} bytes)`);
  }
}

async function readExternalBytes(loaded: LoadedModel, tensor: OnnxTensor, range?: ByteRange): Promise<Uint8Array> {
  const info = externalDataInfo(tensor, loaded.path);
  const file = resolveExternalLocation(loaded.dir, info.location, loaded.path);
  let handle: FileHandle;
  try {
    handle = await open(file, fsConstants.O_RDONLY);
  } catch {
    throw missingExternal(loaded, tensor, info.location);
  }
  try {
    const fileSize = (await handle.stat()).size;
    const total = info.length ?? Math.max(0, fileSize - info.offset);
    if (info.offset + total > fileSize) {
      throw new ModelscoutError('E_MODEL', `${loaded.path}: tensor ${tensor.name ?? '?'} needs bytes ${info.offset}..${info.offset + total} of ${info.location}, which has ${fileSize} bytes (truncated?)`, {
        suggestions: ['Download or generate the model again.'],
      });
    }
    const wanted = range ?? { offset: 0, length: total };
    checkRange(loaded, tensor, wanted, total);
    return await readFully(handle, info.offset + wanted.offset, wanted.length);
  } finally {
    await handle.close();
  }
}

async function readFully(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  // allocUnsafeSlow: a fresh ArrayBuffer at offset 0 (never a slice of the shared pool), so callers can
  // view it as Float32Array without copying.
  const buffer = Buffer.allocUnsafeSlow(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, Math.min(MAX_IO_BYTES, length - done), position + done);
    if (bytesRead === 0) throw new ModelscoutError('E_MODEL', `unexpected end of external data file at byte ${position + done}`);
    done += bytesRead;
  }
  return buffer;
}

/** Converts the typed `*_data` fields of a tensor to its raw little-endian byte form. */
function typedFieldsToBytes(tensor: OnnxTensor): Uint8Array {
  const count = elementCount(tensor.dims);
  const type = tensor.data_type;
  const bits = dataTypeBits(type);
  if (bits === null) throw new ModelscoutError('E_UNSUPPORTED', `tensor ${tensor.name ?? '?'} has type ${dataTypeName(type)} with no raw byte form`);
  const out = new Uint8Array(Math.ceil((count * bits) / 8));
  const view = new DataView(out.buffer);
  switch (type) {
    case DataType.FLOAT:
      tensor.float_data.forEach((v, i) => view.setFloat32(i * 4, v, true));
      break;
    case DataType.COMPLEX64:
      tensor.float_data.forEach((v, i) => view.setFloat32(i * 4, v, true));
      break;
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      tensor.double_data.forEach((v, i) => view.setFloat64(i * 8, v, true));
      break;
    case DataType.INT64:
      tensor.int64_data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
      break;
    case DataType.UINT32:
      tensor.uint64_data.forEach((v, i) => view.setUint32(i * 4, v, true));
      break;
    case DataType.UINT64:
      tensor.uint64_data.forEach((v, i) => view.setBigUint64(i * 8, BigInt(v), true));
      break;
    case DataType.INT32:
      tensor.int32_data.forEach((v, i) => view.setInt32(i * 4, v, true));
      break;
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
    case DataType.INT16:
    case DataType.UINT16:
      tensor.int32_data.forEach((v, i) => view.setUint16(i * 2, v & 0xffff, true));
      break;
    case DataType.INT4:
    case DataType.UINT4:
    case DataType.FLOAT4E2M1:
      // Two elements per int32 entry already (low nibble first), i.e. one byte each.
      tensor.int32_data.forEach((v, i) => view.setUint8(i, v & 0xff));
      break;
    default:
      // 8-bit types (int8, uint8, bool, float8*): one element per int32 entry.
      tensor.int32_data.forEach((v, i) => view.setUint8(i, v & 0xff));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Writing

export type TensorChunks = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Bytes of one tensor for `writeModel`: given now, or produced when the writer reaches the tensor
 * (a function), possibly as a sequence of chunks, so that only one tensor (or chunk) is in memory.
 */
export type TensorDataSource = Uint8Array | (() => Uint8Array | Promise<Uint8Array> | TensorChunks);

export interface WriteProgress {
  tensorsDone: number;
  tensorsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface WriteModelOptions {
  /** Data for initializers by name; overrides whatever the tensor proto holds (raw, typed or external). */
  tensorData?: ReadonlyMap<string, TensorDataSource>;
  /** The model that external tensors of `model` point into (their bytes are copied chunk by chunk). */
  source?: LoadedModel;
  /** External data file name next to the model; default `<model file name>_data`. `null`: all inline. */
  externalDataFile?: string | null;
  /** Offset alignment in the data file (default 4096: page size, mmap-friendly). */
  alignment?: number;
  /** Tensors of at least this many bytes go to the data file (default 1024, as onnx does). */
  sizeThreshold?: number;
  /** fsync both files before renaming (default false: the rename alone makes interruption safe). */
  sync?: boolean;
  onProgress?: (progress: WriteProgress) => void;
  /** Aborts between chunks (E_INTERRUPTED); no file is left behind. */
  signal?: AbortSignal;
  /** Another run is publishing the same model file: this one waits for it (called once). */
  onWait?: (wait: LockWait) => void;
  /**
   * Last change to the graph once every tensor is written, before it is encoded (e.g. metadata that needs
   * a hash computed meanwhile): the graph and its data file are then published once, together.
   */
  beforeEncode?: (model: OnnxModel) => void | Promise<void>;
}

export interface WriteModelResult {
  modelPath: string;
  /** Absolute path of the data file, or null when every tensor stayed inline. */
  dataPath: string | null;
  modelBytes: number;
  dataBytes: number;
  externalTensors: number;
  inlineTensors: number;
}

interface PendingTensor {
  tensor: OnnxTensor;
  source: TensorDataSource | 'proto' | 'external';
  length: number | null;
  /** Initializers may move to the data file; attribute tensors (Constant values) stay where they are unless already external. */
  initializer: boolean;
}

/**
 * Writes `model` to `path` with its big initializers in one external data file. The input model is not
 * modified. Tensor bytes are fetched one tensor at a time, in initializer order; the file layout is a
 * pure function of the inputs (same model and data → same bytes).
 */
export async function writeModel(path: string, model: OnnxModel, options: WriteModelOptions = {}): Promise<WriteModelResult> {
  const modelPath = resolve(path);
  const alignment = options.alignment ?? 4096;
  const threshold = options.sizeThreshold ?? 1024;
  const dataName = options.externalDataFile === undefined ? `${basename(modelPath)}_data` : options.externalDataFile;
  if (dataName !== null && (dataName.includes('/') || dataName.includes('\\') || dataName === '..' || dataName === '.')) {
    throw new ModelscoutError('E_USAGE', `external data file name ${JSON.stringify(dataName)} must be a plain file name`);
  }
  const out = cloneModel(model);
  const pending = collectTensors(out, options);
  const bytesTotal = pending.reduce((sum, p) => sum + (p.length ?? 0), 0);
  const progress: WriteProgress = { tensorsDone: 0, tensorsTotal: pending.length, bytesDone: 0, bytesTotal };

  await mkdir(dirname(modelPath), { recursive: true });
  await sweepStaleTemps(dirname(modelPath));
  const dataPath = dataName === null ? null : join(dirname(modelPath), dataName);
  const dataTmp = dataPath === null ? null : temporarySibling(dataPath);
  const modelTmp = temporarySibling(modelPath);
  let dataHandle: FileHandle | null = null;
  const writes = new WriteQueue();
  let dataEnd = 0;
  let externalTensors = 0;
  let inlineTensors = 0;
  try {
    for (const item of pending) {
      checkAborted(options.signal);
      const goesExternal =
        dataPath !== null && (item.source === 'external' || (item.initializer && item.length !== null && item.length >= threshold));
      if (goesExternal) {
        if (!dataHandle) dataHandle = await open(dataTmp!, 'w');
        const offset = alignUp(dataEnd, alignment);
        const written = await writeTensorTo(dataHandle, writes, offset, item, options);
        if (item.length !== null && written !== item.length) {
          throw new ModelscoutError('E_INTERNAL', `data for tensor ${item.tensor.name ?? '?'} has ${written} bytes, expected ${item.length} (${dataTypeName(item.tensor.data_type)} ${JSON.stringify(item.tensor.dims)})`);
        }
        dataEnd = offset + written;
        setExternal(item.tensor, dataName!, offset, written);
        externalTensors++;
      } else {
        if (item.source !== 'proto') {
          const bytes = await collectBytes(item, options);
          if (item.length !== null && bytes.byteLength !== item.length) {
            throw new ModelscoutError('E_INTERNAL', `data for tensor ${item.tensor.name ?? '?'} has ${bytes.byteLength} bytes, expected ${item.length}`);
          }
          setInline(item.tensor, bytes);
        }
        inlineTensors++;
      }
      progress.tensorsDone++;
      progress.bytesDone += item.length ?? 0;
      options.onProgress?.({ ...progress });
    }
    await writes.drain();
    if (dataHandle && options.sync) await dataHandle.sync();
    await dataHandle?.close();
    dataHandle = null;

    await options.beforeEncode?.(out);
    const encoded = encodeModel(out);
    const handle = await open(modelTmp, 'w');
    try {
      await writeFully(handle, encoded, 0);
      if (options.sync) await handle.sync();
    } finally {
      await handle.close();
    }
    // Data first: a model file that exists always finds complete data next to it. The two renames are
    // one unit under the model's lock, so concurrent writers of one model never publish one's graph with
    // the other's data.
    if (dataTmp && externalTensors === 0) await rm(dataTmp, { force: true });
    checkAborted(options.signal);
    await withOutputLock(modelPath, async () => {
      if (externalTensors > 0) await rename(dataTmp!, dataPath!);
      await rename(modelTmp, modelPath);
    }, options.onWait ? { onWait: options.onWait } : {});
    return {
      modelPath,
      dataPath: externalTensors > 0 ? dataPath : null,
      modelBytes: encoded.byteLength,
      dataBytes: externalTensors > 0 ? dataEnd : 0,
      externalTensors,
      inlineTensors,
    };
  } catch (error) {
    await writes.drain().catch(() => undefined);
    await dataHandle?.close().catch(() => undefined);
    if (dataTmp) await rm(dataTmp, { force: true });
    await rm(modelTmp, { force: true });
    throw error;
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ModelscoutError('E_INTERRUPTED', 'interrupted: no model was written');
}

function alignUp(value: number, alignment: number): number {
  return alignment > 1 ? Math.ceil(value / alignment) * alignment : value;
}

function collectTensors(model: OnnxModel, options: WriteModelOptions): PendingTensor[] {
  const pending: PendingTensor[] = [];
  const lengthOf = (tensor: OnnxTensor): number | null => {
    if (tensor.data_type === DataType.STRING || dataTypeBits(tensor.data_type) === null) return null;
    return rawByteLength(tensor.data_type, tensor.dims);
  };
  const add = (tensor: OnnxTensor, initializer: boolean): void => {
    const override = initializer && tensor.name !== undefined ? options.tensorData?.get(tensor.name) : undefined;
    if (override !== undefined) {
      pending.push({ tensor, source: override, length: lengthOf(tensor), initializer });
    } else if (isExternal(tensor)) {
      if (!options.source) {
        throw new ModelscoutError('E_INTERNAL', `tensor ${tensor.name ?? '?'} is external but writeModel was given no source model to read it from`);
      }
      pending.push({ tensor, source: 'external', length: lengthOf(tensor), initializer });
    } else {
      pending.push({ tensor, source: 'proto', length: lengthOf(tensor), initializer });
    }
  };
  forEachGraph(model, (graph) => {
    for (const tensor of graph.initializer) add(tensor, true);
    for (const node of graph.node) {
      for (const attr of node.attribute) {
        if (attr.t) add(attr.t, false);
        for (const t of attr.tensors) add(t, false);
      }
    }
  });
  return pending;
}

async function resolveSource(item: PendingTensor, options: WriteModelOptions): Promise<Uint8Array | TensorChunks> {
  if (item.source === 'external') return readTensorChunks(options.source!, item.tensor);
  if (item.source === 'proto') return item.tensor.raw_data ?? typedFieldsToBytes(item.tensor);
  if (item.source instanceof Uint8Array) return item.source;
  return await item.source();
}

async function writeTensorTo(handle: FileHandle, writes: WriteQueue, offset: number, item: PendingTensor, options: WriteModelOptions): Promise<number> {
  const data = await resolveSource(item, options);
  if (data instanceof Uint8Array) {
    await writes.push(handle, data, offset);
    return data.byteLength;
  }
  let written = 0;
  for await (const chunk of data) {
    checkAborted(options.signal);
    await writes.push(handle, chunk, offset + written);
    written += chunk.byteLength;
  }
  return written;
}

/**
 * Keeps up to `depth` positioned writes in flight, so producing the next chunk (CPU, main thread) overlaps
 * writing the previous ones (libuv thread pool). Each chunk must be a fresh buffer, not reused later.
 */
class WriteQueue {
  private readonly inflight: Promise<void>[] = [];
  private failure: unknown = null;

  constructor(private readonly depth = 2) {}

  async push(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
    this.throwIfFailed();
    while (this.inflight.length >= this.depth) await this.inflight.shift();
    this.throwIfFailed();
    this.inflight.push(
      writeFully(handle, data, position).catch((error: unknown) => {
        this.failure ??= error;
      }),
    );
  }

  async drain(): Promise<void> {
    while (this.inflight.length > 0) await this.inflight.shift();
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }
}

async function collectBytes(item: PendingTensor, options: WriteModelOptions): Promise<Uint8Array> {
  const data = await resolveSource(item, options);
  if (data instanceof Uint8Array) return data;
  const chunks: Uint8Array[] = [];
  for await (const chunk of data) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function writeFully(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await handle.write(data, done, Math.min(MAX_IO_BYTES, data.byteLength - done), position + done);
    done += bytesWritten;
  }
}

function clearData(tensor: OnnxTensor): void {
  delete tensor.raw_data;
  tensor.float_data = [];
  tensor.int32_data = [];
  tensor.int64_data = [];
  tensor.double_data = [];
  tensor.uint64_data = [];
}

function setExternal(tensor: OnnxTensor, location: string, offset: number, length: number): void {
  clearData(tensor);
  tensor.data_location = DataLocation.EXTERNAL;
  tensor.external_data = [
    { key: 'location', value: location },
    { key: 'offset', value: String(offset) },
    { key: 'length', value: String(length) },
  ];
}

function setInline(tensor: OnnxTensor, bytes: Uint8Array): void {
  clearData(tensor);
  delete tensor.data_location;
  tensor.external_data = [];
  tensor.raw_data = bytes;
}

/** Deep copy of the message tree; byte buffers are shared (they are never mutated). */
export function cloneModel(model: OnnxModel): OnnxModel {
  return cloneValue(model) as OnnxModel;
}

function cloneValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(cloneValue);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = cloneValue(v);
  return out;
}
