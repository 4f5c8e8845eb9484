/**
 * Test kinds with llama-bench names: `pp<P>` (prefill), `tg<G>` (decode), `pp<P>+tg<G>` (a whole request),
 * an optional `@d<D>` (KV cache first filled with D tokens, untimed) and `/b<B>` (B sequences of different
 * prompt lengths, left-padded). Parsing, the default set, and the seeded synthetic inputs. Pure.
 */
import { createHash } from 'node:crypto';
import { ModelscoutError, invalidValue } from '../errors.js';
import { mulberry32 } from '../util/random.js';

export type TestKind = 'pp' | 'tg' | 'pp+tg';

export interface TestSpec {
  /** Canonical id, e.g. `pp512`, `tg128@d512`, `pp512+tg128/b4`. */
  id: string;
  kind: TestKind;
  /** Prompt tokens per sequence (the padded length when batched); 0 for `tg`. */
  n_prompt: number;
  /** Generated tokens; 0 for `pp`. */
  n_gen: number;
  /** Tokens already in the KV cache before the timed part (untimed fill). */
  n_depth: number;
  batch_size: number;
}

const TEST_ID = /^(?:pp(\d+)\+tg(\d+)|pp(\d+)|tg(\d+))(?:@d(\d+))?(?:\/b(\d+))?$/;

export const TEST_ID_HELP = 'pp<P>, tg<G> or pp<P>+tg<G>, optionally followed by @d<D> (depth) and /b<B> (batch), e.g. pp512, tg128@d512, pp128+tg32/b4';

/** The canonical id of a test. */
export function formatTestId(t: Pick<TestSpec, 'kind' | 'n_prompt' | 'n_gen' | 'n_depth' | 'batch_size'>): string {
  const core = t.kind === 'pp' ? `pp${t.n_prompt}` : t.kind === 'tg' ? `tg${t.n_gen}` : `pp${t.n_prompt}+tg${t.n_gen}`;
  return `${core}${t.n_depth > 0 ? `@d${t.n_depth}` : ''}${t.batch_size > 1 ? `/b${t.batch_size}` : ''}`;
}

/** Parses one test id; throws a usage error naming the bad id and the grammar. */
export function parseTestId(raw: string): TestSpec {
  const text = raw.trim();
  const m = TEST_ID.exec(text);
  if (!m) throw invalidValue('test', text, TEST_ID_HELP);
  const num = (s: string | undefined, fallback: number): number => (s === undefined ? fallback : Number.parseInt(s, 10));
  let kind: TestKind;
  let nPrompt = 0;
  let nGen = 0;
  if (m[1] !== undefined) {
    kind = 'pp+tg';
    nPrompt = num(m[1], 0);
    nGen = num(m[2], 0);
  } else if (m[3] !== undefined) {
    kind = 'pp';
    nPrompt = num(m[3], 0);
  } else {
    kind = 'tg';
    nGen = num(m[4], 0);
  }
  const spec = { kind, n_prompt: nPrompt, n_gen: nGen, n_depth: num(m[5], 0), batch_size: num(m[6], 1) };
  if ((kind !== 'tg' && nPrompt < 1) || (kind !== 'pp' && nGen < 1) || spec.batch_size < 1) {
    throw invalidValue('test', text, 'token counts and batch size of at least 1');
  }
  if (kind === 'pp+tg' && nGen < 2) {
    // decode_tps needs at least one decode step after the first token.
    throw invalidValue('test', text, 'pp<P>+tg<G> with G ≥ 2 (the first token comes from the prefill)');
  }
  return { id: formatTestId(spec), ...spec };
}

/** Parses `128,512` into positive integers (a flag value); `what` names the flag in the error. */
export function parseIntegerList(raw: string, what: string, min = 1): number[] {
  const parts = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw invalidValue(what, raw, `a comma-separated list of integers ≥ ${min}`);
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw invalidValue(what, p, `a comma-separated list of integers ≥ ${min}`);
    const n = Number.parseInt(p, 10);
    if (n < min) throw invalidValue(what, p, `integers ≥ ${min}`);
    return n;
  });
}

export interface TestSelection {
  /** Explicit test ids (`--tests`); when given, the length lists below only add depths and batch sizes. */
  tests?: readonly string[] | undefined;
  promptLengths?: readonly number[] | undefined;
  genTokens?: readonly number[] | undefined;
  depths?: readonly number[] | undefined;
  batchSizes?: readonly number[] | undefined;
}

export const DEFAULT_PROMPT_LENGTHS = [512] as const;
export const DEFAULT_GEN_TOKENS = [128] as const;

/**
 * The tests to run, in order and without duplicates. With `tests` they are taken as given (their own
 * @d and /b kept), then crossed with `depths` and `batchSizes` when those are set. Without it, llama-bench
 * style: pp<P> for every prompt length, tg<G> for every generation length, and the combined pp<P>+tg<G>
 * request for every pair, each crossed with depths (default 0) and batch sizes (default 1).
 */
export function selectTests(sel: TestSelection): TestSpec[] {
  const base: TestSpec[] = [];
  if (sel.tests && sel.tests.length > 0) {
    for (const id of sel.tests) base.push(parseTestId(id));
  } else {
    const pls = sel.promptLengths ?? DEFAULT_PROMPT_LENGTHS;
    const gts = sel.genTokens ?? DEFAULT_GEN_TOKENS;
    for (const p of pls) base.push(parseTestId(`pp${p}`));
    for (const g of gts) base.push(parseTestId(`tg${g}`));
    for (const p of pls) for (const g of gts) if (g >= 2) base.push(parseTestId(`pp${p}+tg${g}`));
  }
  const out: TestSpec[] = [];
  const seen = new Set<string>();
  for (const t of base) {
    const depths = sel.depths && sel.depths.length > 0 ? sel.depths : [t.n_depth];
    const batches = sel.batchSizes && sel.batchSizes.length > 0 ? sel.batchSizes : [t.batch_size];
    for (const d of depths) {
      for (const b of batches) {
        const spec = { kind: t.kind, n_prompt: t.n_prompt, n_gen: t.n_gen, n_depth: d, batch_size: b };
        const id = formatTestId(spec);
        if (seen.has(id)) continue;
        seen.add(id);
        out.push({ id, ...spec });
      }
    }
  }
  if (out.length === 0) throw new ModelscoutError('E_USAGE', 'no tests selected', { suggestions: ['Pass --tests pp512,tg128 or --prompt-lengths/--gen-tokens.'] });
  return out;
}

/**
 * Lengths of the B sequences of a batched first chunk (the prompt, or the depth fill when there is one):
 * different on purpose so padding and the attention mask are exercised, from `n` down to about n/2:
 * `n − ⌊i·n/(2B)⌋`, i = 0..B−1 (B=4, n=512 → 512, 448, 384, 320). One sequence: `[n]`.
 */
export function batchSequenceLengths(n: number, batch: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < batch; i += 1) out.push(Math.max(1, n - Math.floor((i * n) / (2 * batch))));
  return out;
}

/** The past length of a test's deepest decode step, 0 when it decodes none (a prompt gives the first token). */
export function deepestDecodeDepth(t: TestSpec): number {
  if (t.kind === 'pp' || (t.kind === 'pp+tg' && t.n_gen < 2)) return 0;
  return kvTokensAtEnd(t) - 1;
}

/** Tokens held in the KV cache per sequence row (padded) at the end of a test. */
export function kvTokensAtEnd(t: TestSpec): number {
  // tg: the start token (or the depth fill), then G steps that each feed one token.
  // pp+tg: the prompt gives the first token; G − 1 steps feed one each (the last token is never fed back).
  if (t.kind === 'tg') return Math.max(t.n_depth, 1) + t.n_gen;
  if (t.kind === 'pp') return t.n_depth + t.n_prompt;
  return t.n_depth + t.n_prompt + t.n_gen - 1;
}

/**
 * `count` synthetic token ids in [lowId, vocab): ids below `lowId` are usually special tokens (BOS, EOS,
 * padding), which would make the prompt unlike real text.
 */
export function syntheticTokenIds(seed: number, count: number, vocabSize: number, lowId = 4): number[] {
  const rng = mulberry32(seed);
  const lo = Math.min(lowId, Math.max(0, vocabSize - 1));
  const span = Math.max(1, vocabSize - lo);
  const out: number[] = new Array<number>(count);
  for (let i = 0; i < count; i += 1) out[i] = lo + Math.floor(rng() * span);
  return out;
}

/** sha256 of token ids written as little-endian int32s (stable across languages and runs). */
export function hashTokenIds(ids: readonly number[] | Int32Array | BigInt64Array): string {
  const buf = Buffer.alloc(ids.length * 4);
  for (let i = 0; i < ids.length; i += 1) buf.writeInt32LE(Number(ids[i]), i * 4);
  return createHash('sha256').update(buf).digest('hex');
}
