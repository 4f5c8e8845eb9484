/**
 * The prompts of a run: a seeded random workload of given input/output lengths (exact token lengths when a
 * tokenizer is at hand), the ShareGPT JSON layout, or JSON lines of `{prompt | messages, output_len}`, and
 * an optional shared prefix (to see prefix caching). The same seed gives the same prompts and lengths.
 * File reading lives in the caller; this module takes parsed text. Pure apart from the tokenizer it is given.
 */
import { ModelscoutError, jsonSyntaxReason } from '../errors.js';
import { deriveSeed } from './arrivals.js';
import { splitmix32 } from '../util/random.js';

export interface TokenizerPort {
  /** Where its counts come from: the server's /tokenize, a local tokenizer.json. */
  source: 'server_tokenize' | 'tokenizer';
  encode(text: string): Promise<number[]>;
  decode(ids: number[]): Promise<string>;
}

export interface WorkloadItem {
  prompt: string;
  messages: { role: string; content: string }[] | null;
  promptTokens: number | null;
  outputTokens: number;
}

export interface Workload {
  items: WorkloadItem[];
  promptTokensSource: 'server_tokenize' | 'tokenizer' | 'words';
}

/** Common English words: each is one token with its leading space in the usual BPE vocabularies. */
const WORDS = (
  'the of and to in is was for on that with as by at from his it an were are which this be or had not but have ' +
  'one they first new all their after she has two been other when time there who her more also into its years ' +
  'can would year only over most some city may three about out later used up made world between during these ' +
  'many school under no such then where him both state team part early being season through before well high ' +
  'best long while work people life known film second four each group name own west house same will music ' +
  'number year game south north east line road back great place home small water area power river light land'
).split(' ');

function randomWords(rng: () => number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i += 1) out.push(WORDS[Math.floor(rng() * WORDS.length)] as string);
  return out.join(' ');
}

/** A length drawn uniformly from [len·(1 − r), len·(1 + r)] (vLLM's range ratio), at least 1. */
export function drawLength(rng: () => number, len: number, rangeRatio: number): number {
  const lo = Math.max(1, Math.floor(len * (1 - rangeRatio)));
  const hi = Math.max(lo, Math.floor(len * (1 + rangeRatio)));
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/**
 * Text of exactly `tokens` tokens under `tokenizer`: random words, encoded, cut to length, decoded, and
 * checked by encoding again (a decode–encode round trip can merge tokens; then it trims or pads and retries).
 */
export async function exactLengthText(rng: () => number, tokens: number, tokenizer: TokenizerPort): Promise<{ text: string; tokens: number }> {
  let text = randomWords(rng, tokens + 8);
  for (let attempt = 0; attempt < 6; attempt += 1) {
    let ids = await tokenizer.encode(text);
    while (ids.length < tokens) {
      text = `${text} ${randomWords(rng, tokens - ids.length + 4)}`;
      ids = await tokenizer.encode(text);
    }
    const cut = await tokenizer.decode(ids.slice(0, tokens));
    const check = await tokenizer.encode(cut);
    if (check.length === tokens) return { text: cut, tokens };
    text = check.length > tokens ? await tokenizer.decode(check.slice(0, tokens - (check.length - tokens))) : `${cut} ${randomWords(rng, 2)}`;
  }
  const ids = await tokenizer.encode(text);
  return { text, tokens: ids.length };
}

export interface RandomWorkloadOptions {
  count: number;
  inputLen: number;
  outputLen: number;
  rangeRatio: number;
  prefixLen: number;
  seed: number;
  tokenizer: TokenizerPort | null;
}

export async function randomWorkload(o: RandomWorkloadOptions): Promise<Workload> {
  const lengths = splitmix32(deriveSeed(o.seed, 'lengths'));
  const words = splitmix32(deriveSeed(o.seed, 'prompts'));
  const prefixRng = splitmix32(deriveSeed(o.seed, 'prefix'));
  let prefix = '';
  let prefixTokens = 0;
  if (o.prefixLen > 0) {
    if (o.tokenizer) {
      const p = await exactLengthText(prefixRng, o.prefixLen, o.tokenizer);
      prefix = p.text;
      prefixTokens = p.tokens;
    } else {
      prefix = randomWords(prefixRng, o.prefixLen);
      prefixTokens = o.prefixLen;
    }
  }
  const items: WorkloadItem[] = [];
  for (let i = 0; i < o.count; i += 1) {
    const inLen = drawLength(lengths, o.inputLen, o.rangeRatio);
    const outLen = drawLength(lengths, o.outputLen, o.rangeRatio);
    if (o.tokenizer) {
      const body = await exactLengthText(words, inLen, o.tokenizer);
      const prompt = prefix ? `${prefix} ${body.text}` : body.text;
      items.push({ prompt, messages: null, promptTokens: prefixTokens + body.tokens, outputTokens: outLen });
    } else {
      const body = randomWords(words, inLen);
      items.push({ prompt: prefix ? `${prefix} ${body}` : body, messages: null, promptTokens: prefixTokens + inLen, outputTokens: outLen });
    }
  }
  return { items, promptTokensSource: o.tokenizer ? o.tokenizer.source : 'words' };
}

function shuffle<T>(items: T[], rng: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

function wordCount(text: string): number {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}

export interface FileWorkloadOptions {
  count: number;
  /** Overrides the dataset's output lengths when given. */
  outputLen: number | null;
  seed: number;
  tokenizer: TokenizerPort | null;
  file: string;
}

async function countTokens(text: string, tokenizer: TokenizerPort | null): Promise<number> {
  return tokenizer ? (await tokenizer.encode(text)).length : wordCount(text);
}

/** Picks `count` items in a seeded order, cycling when the dataset is shorter. */
function pick<T>(all: T[], count: number, seed: number): T[] {
  const order = shuffle(all, splitmix32(deriveSeed(seed, 'dataset')));
  const out: T[] = [];
  for (let i = 0; i < count; i += 1) out.push(order[i % order.length] as T);
  return out;
}

/** ShareGPT: `[{conversations: [{from: "human", value}, {from: "gpt", value}, …]}]`; the first human turn and the reply after it. */
export async function sharegptWorkload(text: string, o: FileWorkloadOptions): Promise<Workload> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ModelscoutError('E_INPUT', `${o.file} is not JSON: ${jsonSyntaxReason(error)}`, { suggestions: ['Give a ShareGPT file: a JSON array of {"conversations": [{"from": "human", "value": …}, {"from": "gpt", "value": …}]}.'] });
  }
  if (!Array.isArray(data)) throw new ModelscoutError('E_INPUT', `${o.file} is not a ShareGPT file: expected a JSON array`, { suggestions: ['Give a ShareGPT file: a JSON array of {"conversations": [...]} objects.'] });
  const pairs: { prompt: string; reply: string }[] = [];
  for (const entry of data as unknown[]) {
    const conv = (entry as { conversations?: unknown }).conversations;
    if (!Array.isArray(conv) || conv.length < 2) continue;
    const first = conv[0] as { from?: unknown; value?: unknown };
    const second = conv[1] as { from?: unknown; value?: unknown };
    if (typeof first.value !== 'string' || typeof second.value !== 'string' || first.value.trim() === '') continue;
    if (first.from !== 'human' && first.from !== 'user') continue;
    pairs.push({ prompt: first.value, reply: second.value });
  }
  if (pairs.length === 0) throw new ModelscoutError('E_INPUT', `${o.file} holds no usable conversation (a human turn followed by a reply)`, { suggestions: ['Check the file is in the ShareGPT layout.'] });
  const items: WorkloadItem[] = [];
  for (const p of pick(pairs, o.count, o.seed)) {
    const out = o.outputLen ?? Math.max(1, await countTokens(p.reply, o.tokenizer));
    items.push({ prompt: p.prompt, messages: null, promptTokens: await countTokens(p.prompt, o.tokenizer), outputTokens: out });
  }
  return { items, promptTokensSource: o.tokenizer ? o.tokenizer.source : 'words' };
}

/** JSON lines: `{"prompt": "…", "output_len": 128}` or `{"messages": [{role, content}, …], "output_len": 128}`. */
export async function jsonlWorkload(text: string, o: FileWorkloadOptions): Promise<Workload> {
  const rows: WorkloadItem[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    let row: { prompt?: unknown; messages?: unknown; output_len?: unknown };
    try {
      row = JSON.parse(line) as typeof row;
    } catch {
      throw new ModelscoutError('E_INPUT', `${o.file} line ${i + 1} is not JSON`, { suggestions: ['Write one {"prompt": …, "output_len": …} object per line.'] });
    }
    const outLen = o.outputLen ?? (typeof row.output_len === 'number' && Number.isInteger(row.output_len) && row.output_len > 0 ? row.output_len : null);
    if (outLen === null) throw new ModelscoutError('E_INPUT', `${o.file} line ${i + 1} has no positive integer output_len`, { suggestions: ['Add "output_len" to every line, or pass --output-len.'] });
    if (typeof row.prompt === 'string') {
      rows.push({ prompt: row.prompt, messages: null, promptTokens: null, outputTokens: outLen });
    } else if (Array.isArray(row.messages) && row.messages.every((m) => typeof (m as { role?: unknown }).role === 'string' && typeof (m as { content?: unknown }).content === 'string')) {
      const messages = row.messages as { role: string; content: string }[];
      rows.push({ prompt: messages.map((m) => m.content).join('\n'), messages, promptTokens: null, outputTokens: outLen });
    } else {
      throw new ModelscoutError('E_INPUT', `${o.file} line ${i + 1} has neither "prompt" (a string) nor "messages" (role/content objects)`, { suggestions: ['Write one {"prompt": …, "output_len": …} object per line.'] });
    }
  }
  if (rows.length === 0) throw new ModelscoutError('E_INPUT', `${o.file} has no rows`, { suggestions: ['Write one {"prompt": …, "output_len": …} object per line.'] });
  const items: WorkloadItem[] = [];
  for (const r of pick(rows, o.count, o.seed)) items.push({ ...r, promptTokens: await countTokens(r.prompt, o.tokenizer) });
  return { items, promptTokensSource: o.tokenizer ? o.tokenizer.source : 'words' };
}
