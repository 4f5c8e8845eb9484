import { invalidValue } from '../errors.js';

/**
 * Parsers for the quantities users type: memory (`24GiB`, `80GB`, `512MiB`), bandwidth (`50GB/s`, `3.35TB/s`)
 * and parameter counts (`14B`, `500M`). Decimal prefixes (GB) are powers of 1000 and binary ones (GiB) of
 * 1024, as written. Sizes need a unit (a bare `24` is more likely GiB than bytes, so it is refused); a
 * bare count is taken as is. Invalid text throws `E_INPUT` naming the value.
 */
const BYTE_FACTORS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const QUANTITY = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i;

/** `24GiB` → 25769803776; `80GB` → 8e10; `512MiB` → 536870912. */
export function parseByteSize(text: string, what = 'memory size'): number {
  const match = QUANTITY.exec(text);
  const factor = match ? BYTE_FACTORS[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw invalidValue(what, text, 'a size such as 24GiB, 80GB or 512MiB');
  }
  const value = Number(match[1]) * factor;
  if (!(value > 0)) throw invalidValue(what, text, 'a size greater than zero, such as 24GiB');
  return Math.round(value);
}

/** `50GB/s` → 5e10; `3.35TB/s` → 3.35e12; `900GiB/s` → binary. The `/s` may be omitted. */
export function parseBandwidth(text: string, what = 'bandwidth'): number {
  const trimmed = text.trim().replace(/\s*(\/s|ps)$/i, '');
  try {
    return parseByteSize(trimmed, what);
  } catch {
    throw invalidValue(what, text, 'a rate such as 50GB/s or 3.35TB/s');
  }
}

const COUNT_FACTORS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, b: 1e9, g: 1e9, t: 1e12 };

/** `14B` → 1.4e10; `500M` → 5e8; `1.5b` → 1.5e9; a bare integer is taken as is. */
export function parseParamCount(text: string, what = 'parameter count'): number {
  const match = QUANTITY.exec(text);
  const factor = match ? COUNT_FACTORS[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) throw invalidValue(what, text, 'a count such as 14B, 500M or 1.5B');
  const value = Number(match[1]) * factor;
  if (!(value > 0)) throw invalidValue(what, text, 'a count greater than zero, such as 14B');
  return Math.round(value);
}
