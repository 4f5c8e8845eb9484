/**
 * `modelscout serve-bench` workloads and load shapes, run as a subprocess against simulated servers on
 * 127.0.0.1: what the server received for ShareGPT and JSON-lines datasets, exact prompt lengths under a
 * local tokenizer.json, a shared prefix that a prefix-caching server answers faster, --duration, a request-rate
 * sweep and a --find-max search over the request rate.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/hub/tokenizer.js';
import type { ServeReport } from '../../src/report/serve-schema.js';
import { SimServer, type SimOptions } from '../../src/serve/sim/server.js';
import { startSimProcess, type SimProcess } from './sim-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The machine running the tests may be busy: a generous client limit keeps validity about the code, not the load.
const LOOSE = ['--client-limit-ms', '1000'];

function cli(args: string[]) {
  return execa(process.execPath, ['bin/run.js', 'serve-bench', ...args, ...LOOSE, '--json'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1', OPENAI_API_KEY: '' } });
}

const servers: SimServer[] = [];
async function sim(options: Partial<SimOptions> = {}): Promise<{ url: string; readonly records: SimServer['records'] }> {
  const s = new SimServer({ record_prompts: true, ...options, latency: { prefill_ms_per_token: 0.01, decode_base_ms: 1, decode_per_seq_ms: 0.05, max_batch: 64, ...options.latency } });
  servers.push(s);
  const url = await s.listen();
  // The first request is serve-bench's probe (does the server stream usage?); the workload follows it.
  return { url, get records() { return s.records.slice(1); } };
}

/** GPT-2's byte → printable-character table, so a byte-level BPE can spell any text. */
function byteAlphabet(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out.push(keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++));
  return out;
}

/** A byte-level BPE whose merges build a few whole words, so most words cost several tokens and some one. */
function byteLevelBpe(): object {
  const vocab: Record<string, number> = { '<|endoftext|>': 0 };
  for (const ch of byteAlphabet()) vocab[ch] = Object.keys(vocab).length;
  const merges: [string, string][] = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['Ġ', 'o'], ['Ġo', 'f'], ['Ġ', 'a'], ['n', 'd'], ['Ġa', 'nd'], ['i', 'n'], ['Ġ', 'in'], ['e', 'r'], ['o', 'n']];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-serve-workloads-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('datasets from files', () => {
  it('ShareGPT: sends the first human turns, asks for as many tokens as the replies held', async () => {
    const s = await sim();
    const file = join(dir, 'sharegpt.json');
    await writeFile(file, JSON.stringify([
      { conversations: [{ from: 'human', value: 'what is the capital of france' }, { from: 'gpt', value: 'paris is the capital of france' }] },
      { conversations: [{ from: 'human', value: 'name two rivers' }, { from: 'gpt', value: 'the nile' }] },
      { conversations: [{ from: 'gpt', value: 'skipped: no human turn first' }, { from: 'human', value: 'x' }] },
    ]));
    const out = await cli(['--base-url', s.url, '--dataset', 'sharegpt', '--dataset-path', file, '--num-prompts', '6', '--max-concurrency', '2', '--tokenizer', 'none']);
    expect(out.exitCode, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as ServeReport;
    expect(report.workload).toMatchObject({ dataset: 'sharegpt', dataset_file: file, prompt_tokens_source: 'words' });
    const sent = s.records.map((r) => [r.prompt, r.max_tokens]);
    expect(sent).toHaveLength(6);
    for (const [prompt, maxTokens] of sent) {
      if (prompt === 'what is the capital of france') expect(maxTokens).toBe(6);
      else expect([prompt, maxTokens]).toEqual(['name two rivers', 2]);
    }
    expect(new Set(sent.map(([p]) => p)).size).toBe(2);
    expect(report.levels[0]?.completed).toBe(6);
  }, 60_000);

  it('JSON lines on the chat endpoint: sends the messages, with each line\'s output length', async () => {
    const s = await sim();
    const file = join(dir, 'chat.jsonl');
    await writeFile(file, [
      JSON.stringify({ messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'say hello' }], output_len: 3 }),
      JSON.stringify({ prompt: 'count to ten', output_len: 7 }),
    ].join('\n'));
    const out = await cli(['--base-url', s.url, '--endpoint', 'chat', '--dataset', 'jsonl', '--dataset-path', file, '--num-prompts', '4', '--tokenizer', 'none']);
    expect(out.exitCode, out.stderr).toBe(0);
    const got = s.records.map((r) => `${r.prompt ?? ''}|${r.max_tokens}`).sort();
    // The sim joins chat message contents with a space; a bare prompt becomes one user message.
    expect([...new Set(got)]).toEqual(['be brief say hello|3', 'count to ten|7']);
    const report = JSON.parse(out.stdout) as ServeReport;
    expect(report.levels[0]?.total_output_tokens).toBe(got.reduce((a, g) => a + Number(g.split('|')[1]), 0));
  }, 60_000);

  it('a dataset file that is not there, or not the layout: one line, exit 2', async () => {
    const s = await sim();
    const missing = await cli(['--base-url', s.url, '--dataset', 'sharegpt', '--dataset-path', join(dir, 'nope.json')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.trim().split('\n')[0]).toMatch(/cannot read --dataset file .*nope\.json/);
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"prompt": "a", "output_len": 2}\nnot json\n');
    const wrong = await cli(['--base-url', s.url, '--dataset', 'jsonl', '--dataset-path', bad]);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/bad\.jsonl line 2 is not JSON/);
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});

describe('prompt lengths and a shared prefix', () => {
  it('--tokenizer-path: every prompt is exactly --input-len tokens under that tokenizer.json', async () => {
    const s = await sim();
    const tokDir = join(dir, 'tok');
    await execa('mkdir', ['-p', tokDir]);
    await writeFile(join(tokDir, 'tokenizer.json'), JSON.stringify(byteLevelBpe()));
    const out = await cli(['--base-url', s.url, '--tokenizer-path', tokDir, '--input-len', '37', '--output-len', '4', '--num-prompts', '6', '--max-concurrency', '3']);
    expect(out.exitCode, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as ServeReport;
    expect(report.workload.prompt_tokens_source).toBe('tokenizer');
    const tok = await loadTokenizer(tokDir);
    const lengths = s.records.map((r) => tok.encode(r.prompt ?? '', { addSpecialTokens: false }).length);
    expect(lengths).toEqual([37, 37, 37, 37, 37, 37]);
    // The same prompts are several times more words-apart than tokens: the tokenizer, not words, sized them.
    expect(s.records.every((r) => r.prompt_tokens < 37)).toBe(true);
  }, 60_000);

  it('--prefix-len: every prompt starts with the same text, which a prefix-caching server answers faster', async () => {
    // Prefill 1 ms a token: 300 uncached prompt tokens cost 300 ms; a cached 280-token prefix leaves ~20 ms.
    const latency = { prefill_ms_per_token: 1, decode_base_ms: 1, decode_per_seq_ms: 0, max_batch: 8 };
    const cached = await sim({ prefix_cache: true, latency });
    const args = ['--input-len', '20', '--output-len', '4', '--num-prompts', '6', '--max-concurrency', '1', '--tokenizer', 'none'];
    const withPrefix = await cli(['--base-url', cached.url, '--prefix-len', '280', ...args]);
    expect(withPrefix.exitCode, withPrefix.stderr).toBe(0);
    const prefixes = new Set(cached.records.map((r) => (r.prompt ?? '').split(' ').slice(0, 280).join(' ')));
    expect(prefixes.size).toBe(1);
    expect(cached.records.slice(1).every((r) => r.cached_tokens >= 280)).toBe(true);

    const uncached = await sim({ prefix_cache: true, latency });
    const noPrefix = await cli(['--base-url', uncached.url, '--input-len', '300', ...args.slice(2)]);
    expect(noPrefix.exitCode, noPrefix.stderr).toBe(0);
    const ttft = (o: typeof withPrefix): number => (JSON.parse(o.stdout) as ServeReport).levels[0]?.metrics.ttft_ms?.median ?? Number.NaN;
    expect(ttft(withPrefix)).toBeLessThan(120);
    expect(ttft(noPrefix)).toBeGreaterThan(250);
    expect((JSON.parse(withPrefix.stdout) as ServeReport).workload.prefix_len).toBe(280);
  }, 60_000);
});

describe('load shapes', () => {
  let proc: SimProcess;
  beforeAll(async () => {
    // TPOT = 2 ms + 1 ms × running sequences; prefill negligible.
    proc = await startSimProcess(['--decode-base-ms', '2', '--decode-per-seq-ms', '1', '--prefill-ms-per-token', '0.0001', '--max-batch', '256']);
  });
  afterAll(async () => {
    await proc.stop();
  });

  it('--duration: the level sends for that long at the request rate, whatever --num-prompts says', async () => {
    const out = await cli(['--base-url', proc.url, '--duration', '2s', '--request-rate', '10', '--burstiness', '50', '--input-len', '8', '--output-len', '4', '--tokenizer', 'none', '--seed', '4']);
    expect(out.exitCode, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as ServeReport;
    expect(report.workload).toMatchObject({ duration_s: 2, num_prompts: null });
    const level = report.levels[0];
    // ~10 requests a second for 2 s, near-regular arrivals (burstiness 50).
    expect(level?.num_requests).toBeGreaterThanOrEqual(16);
    expect(level?.num_requests).toBeLessThanOrEqual(24);
    expect(level?.duration_s).toBeGreaterThan(1.8);
    expect(level?.duration_s).toBeLessThan(4);
  }, 60_000);

  it('--sweep rate=…: one level per rate, each sending at about its rate', async () => {
    const out = await cli(['--base-url', proc.url, '--sweep', 'rate=5,20', '--num-prompts', '30', '--burstiness', '50', '--input-len', '8', '--output-len', '4', '--tokenizer', 'none']);
    expect(out.exitCode, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as ServeReport;
    expect(report.load.sweep).toEqual({ dimension: 'rate', values: [5, 20] });
    expect(report.levels.map((l) => l.request_rate)).toEqual([5, 20]);
    const [slow, fast] = report.levels;
    // 30 requests at 5/s span ~6 s, at 20/s ~1.5 s (plus the last request's time in the server).
    expect(slow?.duration_s).toBeGreaterThan(5);
    expect(fast?.duration_s).toBeLessThan(3.5);
    expect(fast?.request_throughput).toBeGreaterThan(3 * (slow?.request_throughput ?? 0));
  }, 60_000);

  it('--find-max rate: doubles, then bisects to the rate where TPOT p50 crosses the SLO', async () => {
    // Open loop at R requests/s with 40 tokens each: N running ≈ R × 40 × (2 + N) ms, so TPOT = 2 + N ms
    // stays ≤ 12.5 ms up to N = 10.5, R ≈ 21 requests/s.
    const out = await cli(['--base-url', proc.url, '--find-max', 'rate', '--find-max-start', '4', '--find-max-limit', '128', '--slo', 'tpot_p50=12.5ms', '--num-prompts', '60', '--burstiness', '50', '--input-len', '8', '--output-len', '40', '--ignore-eos', '--tokenizer', 'none']);
    expect([0, 1]).toContain(out.exitCode);
    const report = JSON.parse(out.stdout) as ServeReport;
    const fm = report.find_max;
    expect(fm?.dimension).toBe('rate');
    expect(fm?.steps.filter((s) => s.phase === 'doubling').map((s) => s.value)).toEqual([4, 8, 16, 32]);
    expect(fm?.steps.some((s) => s.phase === 'bisection')).toBe(true);
    expect(fm?.best).toBeGreaterThanOrEqual(14);
    expect(fm?.best).toBeLessThanOrEqual(28);
    expect(report.levels.every((l) => l.request_rate !== null && l.max_concurrency === null)).toBe(true);
  }, 120_000);
});
