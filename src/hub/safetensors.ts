import { open } from 'node:fs/promises';
import { ModelscoutError, errorMessage, jsonSyntaxReason } from '../errors.js';

/**
 * safetensors headers: an 8-byte little-endian length, then that many bytes of JSON mapping each tensor name
 * to `{dtype, shape, data_offsets}` (and an optional `__metadata__`). Reading the header alone gives the exact
 * parameter count and stored dtypes of a checkpoint without its weights (format:
 * https://huggingface.co/docs/safetensors/index#format). The Hub serves it with two range requests.
 */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2,
  I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1, F4: 0.5, F6_E2M3: 0.75, F6_E3M2: 0.75,
};

/** Headers larger than this are refused (the format's own limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface DtypeShare {
  dtype: string;
  tensors: number;
  params: number;
  bytes: number;
}

export interface SafetensorsSummary {
  file: string;
  headerBytes: number;
  tensors: number;
  params: number;
  bytes: number;
  dtypes: DtypeShare[];
}

/** The header length from the first 8 bytes; throws on a value no real file has. */
export function headerLength(prefix: Uint8Array, file: string): number {
  if (prefix.length < 8) throw badHeader(file, `only ${prefix.length} bytes`);
  const n = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (n < 2n || n > BigInt(MAX_HEADER_BYTES)) throw badHeader(file, `a header length of ${n} bytes`);
  return Number(n);
}

/** Sums a parsed header per dtype. */
export function summarizeHeader(file: string, headerText: string): SafetensorsSummary {
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (error) {
    throw badHeader(file, `its header is not JSON (${jsonSyntaxReason(error)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw badHeader(file, 'its header is not a JSON object');
  const byDtype = new Map<string, DtypeShare>();
  let tensors = 0;
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const { dtype, shape } = (info ?? {}) as { dtype?: unknown; shape?: unknown };
    if (typeof dtype !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw badHeader(file, `tensor ${name} has no dtype or shape`);
    const params = (shape as number[]).reduce((a, b) => a * b, 1);
    const share = byDtype.get(dtype) ?? { dtype, tensors: 0, params: 0, bytes: 0 };
    share.tensors += 1;
    share.params += params;
    share.bytes += params * (SAFETENSORS_DTYPE_BYTES[dtype] ?? 0);
    byDtype.set(dtype, share);
    tensors += 1;
  }
  const dtypes = [...byDtype.values()].sort((a, b) => b.params - a.params);
  return {
    file,
    headerBytes: Buffer.byteLength(headerText),
    tensors,
    params: dtypes.reduce((s, d) => s + d.params, 0),
    bytes: dtypes.reduce((s, d) => s + d.bytes, 0),
    dtypes,
  };
}

/** Totals over the shards of a checkpoint. */
export function mergeSummaries(summaries: SafetensorsSummary[]): { files: number; tensors: number; params: number; bytes: number; dtypes: DtypeShare[] } {
  const byDtype = new Map<string, DtypeShare>();
  for (const s of summaries) {
    for (const d of s.dtypes) {
      const share = byDtype.get(d.dtype) ?? { dtype: d.dtype, tensors: 0, params: 0, bytes: 0 };
      share.tensors += d.tensors;
      share.params += d.params;
      share.bytes += d.bytes;
      byDtype.set(d.dtype, share);
    }
  }
  const dtypes = [...byDtype.values()].sort((a, b) => b.params - a.params);
  return {
    files: summaries.length,
    tensors: summaries.reduce((s, x) => s + x.tensors, 0),
    params: dtypes.reduce((s, d) => s + d.params, 0),
    bytes: dtypes.reduce((s, d) => s + d.bytes, 0),
    dtypes,
  };
}

/** Reads the header of a local .safetensors file (the first 8 + n bytes only). */
export async function readSafetensorsHeader(path: string, label = path): Promise<SafetensorsSummary> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw new ModelscoutError('E_FILE', `cannot read ${path}: ${errorMessage(error)}`);
  });
  try {
    const { size } = await handle.stat();
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const n = headerLength(prefix.subarray(0, Math.min(8, size)), label);
    if (8 + n > size) throw badHeader(label, `a ${n}-byte header in a ${size}-byte file (truncated)`);
    const header = Buffer.alloc(n);
    await handle.read(header, 0, n, 8);
    return summarizeHeader(label, header.toString('utf8'));
  } finally {
    await handle.close();
  }
}

function badHeader(file: string, what: string): ModelscoutError {
  return new ModelscoutError('E_MODEL', `${file} is not a readable safetensors file: ${what}`, {
    suggestions: ['Check the file is complete; safetensors files start with an 8-byte header length and a JSON header.'],
  });
}
