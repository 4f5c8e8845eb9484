/**
 * The prompts serve-bench sends: exact token lengths under a tokenizer whose words split into several
 * tokens (so a decode–encode round trip is not trivially exact), the range ratio, the shared prefix, the
 * same seed giving the same workload, and the ShareGPT / JSON-lines readers with their one-line refusals.
 */
import { describe, expect, it } from 'vitest';
import { splitmix32 } from '../../src/util/random.js';
import { drawLength, exactLengthText, jsonlWorkload, randomWorkload, sharegptWorkload, type TokenizerPort } from '../../src/serve/workload.js';

/**
 * A sub-word tokenizer: each word becomes pieces of at most three characters, the first carrying the space
 * before it ("▁"). "between" → ["▁bet", "wee", "n"]. Decoding joins the pieces; a cut mid-word decodes to a
 * word fragment that re-encodes to the same pieces.
 */
function pieceTokenizer(): TokenizerPort & { pieces: string[] } {
  const pieces: string[] = [];
  const ids = new Map<string, number>();
  const id = (p: string): number => {
    let v = ids.get(p);
    if (v === undefined) {
      v = pieces.length;
      ids.set(p, v);
      pieces.push(p);
    }
    return v;
  };
  const encodeSync = (text: string): number[] => {
    const out: number[] = [];
    const words = text.split(' ').filter((w, i) => w !== '' || i === 0);
    words.forEach((w, i) => {
      if (w === '') return;
      const lead = i === 0 && !text.startsWith(' ') ? '' : '▁';
      for (let k = 0; k < w.length; k += 3) out.push(id((k === 0 ? lead : '') + w.slice(k, k + 3)));
    });
    return out;
  };
  return {
    pieces,
    source: 'tokenizer',
    encode: (text) => Promise.resolve(encodeSync(text)),
    decode: (list) => Promise.resolve(list.map((i) => pieces[i] ?? '').join('').replace(/▁/g, ' ').replace(/^ /, '')),
  };
}

describe('random workload', () => {
  it('texts of an exact token length under a sub-word tokenizer', async () => {
    const tok = pieceTokenizer();
    const rng = splitmix32(7);
    for (const n of [1, 2, 5, 17, 64, 300]) {
      const t = await exactLengthText(rng, n, tok);
      expect(t.tokens).toBe(n);
      expect((await tok.encode(t.text)).length).toBe(n);
    }
  });

  it('every prompt has the drawn length, and all share the prefix when --prefix-len is set', async () => {
    const tok = pieceTokenizer();
    const w = await randomWorkload({ count: 20, inputLen: 40, outputLen: 16, rangeRatio: 0.5, prefixLen: 25, seed: 3, tokenizer: tok });
    expect(w.promptTokensSource).toBe('tokenizer');
    const prefixes = new Set<string>();
    for (const item of w.items) {
      const ids = await tok.encode(item.prompt);
      expect(ids.length).toBe(item.promptTokens);
      // 25 prefix tokens + a body drawn from [20, 60].
      expect(item.promptTokens).toBeGreaterThanOrEqual(25 + 20);
      expect(item.promptTokens).toBeLessThanOrEqual(25 + 60);
      expect(item.outputTokens).toBeGreaterThanOrEqual(8);
      expect(item.outputTokens).toBeLessThanOrEqual(24);
      prefixes.add(await tok.decode(ids.slice(0, 25)));
    }
    expect(prefixes.size).toBe(1);
    // The bodies differ: a shared prefix, not shared prompts.
    expect(new Set(w.items.map((i) => i.prompt)).size).toBe(20);
  });

  it('the same seed gives the same prompts and lengths; another seed does not', async () => {
    const make = (seed: number) => randomWorkload({ count: 8, inputLen: 30, outputLen: 10, rangeRatio: 0.3, prefixLen: 0, seed, tokenizer: null });
    const [a, b, c] = await Promise.all([make(11), make(11), make(12)]);
    expect(a).toEqual(b);
    expect(a.items.map((i) => i.prompt)).not.toEqual(c.items.map((i) => i.prompt));
    // Without a tokenizer, lengths are counted in words and say so.
    expect(a.promptTokensSource).toBe('words');
    for (const item of a.items) expect(item.prompt.split(' ').length).toBe(item.promptTokens);
  });

  it('range ratio 0 gives the length itself; lengths stay within [len·(1−r), len·(1+r)]', () => {
    const rng = splitmix32(1);
    for (let i = 0; i < 200; i += 1) expect(drawLength(rng, 100, 0)).toBe(100);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i += 1) {
      const n = drawLength(rng, 100, 0.2);
      expect(n).toBeGreaterThanOrEqual(80);
      expect(n).toBeLessThanOrEqual(120);
      seen.add(n);
    }
    expect(Math.min(...seen)).toBe(80);
    expect(Math.max(...seen)).toBe(120);
  });
});

const SHAREGPT = JSON.stringify([
  { id: 'a', conversations: [{ from: 'human', value: 'what is the capital of france' }, { from: 'gpt', value: 'paris is the capital' }] },
  { id: 'b', conversations: [{ from: 'gpt', value: 'a reply first is skipped' }, { from: 'human', value: 'x' }] },
  { id: 'c', conversations: [{ from: 'human', value: 'only one turn' }] },
  { id: 'd', conversations: [{ from: 'user', value: 'name three rivers' }, { from: 'assistant', value: 'the nile the amazon the danube' }] },
  { id: 'e', conversations: [{ from: 'human', value: '   ' }, { from: 'gpt', value: 'empty prompt is skipped' }] },
]);

describe('ShareGPT dataset', () => {
  const o = { count: 6, outputLen: null, seed: 5, tokenizer: null, file: 'sg.json' };

  it('takes the first human turn and sizes the output by the reply after it', async () => {
    const w = await sharegptWorkload(SHAREGPT, o);
    expect(w.items).toHaveLength(6);
    const seen = new Map(w.items.map((i) => [i.prompt, i]));
    expect([...seen.keys()].sort()).toEqual(['name three rivers', 'what is the capital of france']);
    expect(seen.get('what is the capital of france')).toMatchObject({ promptTokens: 6, outputTokens: 4 });
    expect(seen.get('name three rivers')).toMatchObject({ promptTokens: 3, outputTokens: 6 });
  });

  it('--output-len overrides the replies; the seed fixes the order', async () => {
    const a = await sharegptWorkload(SHAREGPT, { ...o, outputLen: 9 });
    expect(a.items.every((i) => i.outputTokens === 9)).toBe(true);
    const b = await sharegptWorkload(SHAREGPT, { ...o, outputLen: 9 });
    expect(b.items.map((i) => i.prompt)).toEqual(a.items.map((i) => i.prompt));
  });

  it('counts with the tokenizer when one is given', async () => {
    const tok = pieceTokenizer();
    const w = await sharegptWorkload(SHAREGPT, { ...o, tokenizer: tok });
    expect(w.promptTokensSource).toBe('tokenizer');
    for (const i of w.items) expect(i.promptTokens).toBe((await tok.encode(i.prompt)).length);
    // "what is the capital of france" → wha+t|is|the|cap+ita+l|of|fra+nce = 10 pieces, more than its 6 words.
    expect(w.items.find((i) => i.prompt.startsWith('what'))?.promptTokens).toBe(10);
  });

  it('refuses what is not ShareGPT in one line', async () => {
    await expect(sharegptWorkload('{not json', o)).rejects.toThrow(/sg\.json is not JSON/);
    await expect(sharegptWorkload('{"conversations": []}', o)).rejects.toThrow(/expected a JSON array/);
    await expect(sharegptWorkload('[{"conversations": [{"from": "gpt", "value": "x"}, {"from": "human", "value": "y"}]}]', o)).rejects.toThrow(/no usable conversation/);
  });
});

describe('JSON-lines dataset', () => {
  const o = { count: 4, outputLen: null, seed: 1, tokenizer: null, file: 'd.jsonl' };

  it('reads prompts and chat messages with their output lengths (CRLF and blank lines allowed)', async () => {
    const text = '{"prompt": "tell me a story", "output_len": 32}\r\n\n{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}], "output_len": 8}\n';
    const w = await jsonlWorkload(text, o);
    expect(w.items).toHaveLength(4);
    const story = w.items.find((i) => i.messages === null);
    expect(story).toMatchObject({ prompt: 'tell me a story', promptTokens: 4, outputTokens: 32 });
    const chat = w.items.find((i) => i.messages !== null);
    expect(chat?.messages).toEqual([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }]);
    expect(chat).toMatchObject({ promptTokens: 4, outputTokens: 8 });
  });

  it('names the line that is wrong', async () => {
    await expect(jsonlWorkload('{"prompt": "a", "output_len": 3}\n{oops}\n', o)).rejects.toThrow(/d\.jsonl line 2 is not JSON/);
    await expect(jsonlWorkload('{"prompt": "a"}\n', o)).rejects.toThrow(/line 1 has no positive integer output_len/);
    await expect(jsonlWorkload('{"prompt": "a", "output_len": 2.5}\n', o)).rejects.toThrow(/line 1 has no positive integer output_len/);
    await expect(jsonlWorkload('{"text": "a", "output_len": 3}\n', o)).rejects.toThrow(/line 1 has neither "prompt"/);
    await expect(jsonlWorkload('\n\n', o)).rejects.toThrow(/has no rows/);
  });

  it('--output-len stands in for a missing output_len', async () => {
    const w = await jsonlWorkload('{"prompt": "a b c"}\n', { ...o, outputLen: 5 });
    expect(w.items.every((i) => i.outputTokens === 5 && i.promptTokens === 3)).toBe(true);
  });
});
