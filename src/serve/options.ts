/** Parsing of serve-bench's domain values at the flag boundary, and the argv kept in reports (secrets out). Pure. */
import { invalidValue } from '../errors.js';
import type { SearchDimension } from './search.js';
import { parseDurationMs } from './slo.js';

export function parseNumberList(text: string, what: string, min: number, max: number): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw invalidValue(what, text, 'a comma-separated list of numbers');
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isFinite(n) || n <= min || n > max) throw invalidValue(what, p, `numbers in (${min}, ${max}]`);
    return n;
  });
}

/** `concurrency=1,2,4` or `rate=0.5,1,2`. */
export function parseSweep(text: string): { dimension: SearchDimension; values: number[] } {
  const m = /^\s*(concurrency|rate)\s*=\s*(.+)$/.exec(text);
  if (!m) throw invalidValue('--sweep', text, 'concurrency=1,2,4,… or rate=1,2,4,…');
  const dimension = m[1] as SearchDimension;
  const values = parseNumberList(m[2] as string, '--sweep', 0, 1_000_000);
  if (dimension === 'concurrency' && values.some((v) => !Number.isInteger(v))) throw invalidValue('--sweep', text, 'whole numbers for concurrency');
  return { dimension, values };
}

/** `--warmup 10` (requests) or `--warmup 5s` (seconds from the start of each level). */
export function parseWarmup(text: string): { requests: number; seconds: number } {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { requests: Number(t), seconds: 0 };
  if (/^\d+(\.\d+)?\s*(ms|s)$/.test(t)) return { requests: 0, seconds: parseDurationMs(t, '--warmup') / 1000 };
  throw invalidValue('--warmup', text, 'a number of requests (10) or a duration (5s)');
}

const SECRET_FLAGS = new Set(['--api-key', '--header']);

/** The command line as reports keep it: values of --api-key and --header replaced by ***. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    if (eq > 0 && SECRET_FLAGS.has(a.slice(0, eq))) {
      out.push(`${a.slice(0, eq)}=***`);
    } else if (SECRET_FLAGS.has(a)) {
      out.push(a);
      if (i + 1 < argv.length) {
        out.push('***');
        i += 1;
      }
    } else {
      out.push(a);
    }
  }
  return out;
}
