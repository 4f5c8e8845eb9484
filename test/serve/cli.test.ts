/**
 * `modelscout serve-bench` run as a subprocess against simulated servers on 127.0.0.1: the report and its
 * JSON Schema, the detailed records, the secrets that must never appear, faults that end in classified
 * errors, and the exit codes.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestRecord, ServeReport } from '../../src/report/serve-schema.js';
import { SimServer, type SimOptions } from '../../src/serve/sim/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'sk-test-SECRET-9f8e7d';

function cli(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, ['bin/run.js', 'serve-bench', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1', OPENAI_API_KEY: '', ...env } });
}

const servers: SimServer[] = [];
async function sim(options: Partial<SimOptions> = {}): Promise<string> {
  const s = new SimServer({ latency: { prefill_ms_per_token: 0.01, decode_base_ms: 2, decode_per_seq_ms: 0.05, max_batch: 64 }, ...options });
  servers.push(s);
  return s.listen();
}

let dir: string;
let keyed: string;
// The machine running the tests may be busy: a generous client limit keeps validity about the code, not the load.
const LOOSE = ['--client-limit-ms', '1000'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-serve-cli-'));
  keyed = await sim({ api_key: KEY });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('serve-bench against the simulated server', () => {
  let report: ServeReport;
  let records: RequestRecord[];
  let out: Awaited<ReturnType<typeof cli>>;

  beforeAll(async () => {
    const detailed = join(dir, 'detailed.jsonl');
    out = await cli(['--base-url', `${keyed}/v1`, '--endpoint', '/v1/chat/completions', '--sweep', 'concurrency=1,4', '--num-prompts', '8', '--warmup', '2', '--input-len', '24', '--output-len', '12', '--slo', 'ttft_p99=5s,tpot_p99=1s', '--save-detailed', detailed, '--out', join(dir, 'report.json'), '--json', ...LOOSE], { OPENAI_API_KEY: KEY });
    expect(out.exitCode, out.stderr).toBe(0);
    report = JSON.parse(out.stdout) as ServeReport;
    records = (await readFile(detailed, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RequestRecord);
  }, 120_000);

  it('writes a report that validates against the committed JSON Schema, and detailed records that validate too', async () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(await readFile(join(ROOT, 'schemas/serve-report.schema.json'), 'utf8')) as object);
    expect(validate(report), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    const validateRecord = ajv.compile(JSON.parse(await readFile(join(ROOT, 'schemas/serve-request-record.schema.json'), 'utf8')) as object);
    for (const r of records) expect(validateRecord(r), JSON.stringify(validateRecord.errors?.slice(0, 2))).toBe(true);
    expect(JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'))).toEqual(report);
  });

  it('runs one level per sweep value, leaves warm-up requests out, and measures what the server sent', () => {
    expect(report.levels.map((l) => l.label)).toEqual(['concurrency=1', 'concurrency=4']);
    for (const l of report.levels) {
      expect(l.completed).toBe(8);
      expect(l.failed).toBe(0);
      expect(l.total_output_tokens).toBe(8 * 12);
      expect(l.tokens_source).toBe('usage');
      expect(l.tokens_per_chunk).toBe(1);
      expect(l.metrics.ttft_ms?.n).toBe(8);
      expect(l.metrics.itl_ms?.n).toBe(8 * 11);
      expect(l.slo_met).toBe(true);
      expect(l.goodput).toBeCloseTo(l.request_throughput, 6);
    }
    expect(records).toHaveLength(2 * 10);
    expect(records.filter((r) => r.warmup)).toHaveLength(4);
    // The server's /tokenize made prompts of exactly 24 tokens (its word tokenizer), and usage agrees.
    expect(report.workload.prompt_tokens_source).toBe('server_tokenize');
    expect(records.every((r) => r.prompt_tokens === 24)).toBe(true);
    expect(report.levels[0]?.tokens_disagreement_pct).toBe(0);
    expect(report.target.model).toBe('sim-model');
  });

  it('never lets the API key reach output, the report or the detailed records', async () => {
    const all = out.stdout + out.stderr + (await readFile(join(dir, 'detailed.jsonl'), 'utf8')) + (await readFile(join(dir, 'report.json'), 'utf8'));
    expect(all).not.toContain(KEY);
    const withFlag = await cli(['--base-url', keyed, '--api-key', KEY, '--header', `X-Extra:${KEY}`, '--num-prompts', '2', '--output-len', '4', '--json', ...LOOSE]);
    expect(withFlag.exitCode, withFlag.stderr).toBe(0);
    expect(withFlag.stdout + withFlag.stderr).not.toContain(KEY);
    expect((JSON.parse(withFlag.stdout) as ServeReport).run.argv).toContain('***');
  });

  it('prints a table on a terminal and markdown on request', async () => {
    const md = await cli(['--base-url', keyed, '--num-prompts', '3', '--output-len', '4', '--format', 'markdown', ...LOOSE], { OPENAI_API_KEY: KEY });
    expect(md.exitCode, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^### serve-bench: sim-model/);
    expect(md.stdout).toContain('| all-at-once | 3/0 |');
  });
});

describe('bad input and faults: one line, a classified error, the right exit code', () => {
  it('401: names the key variable, exit 2', async () => {
    const r = await cli(['--base-url', keyed, '--num-prompts', '2']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^Error: .*401.*\n/);
    expect(r.stderr).toContain('OPENAI_API_KEY');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unreachable server: one line, exit 1', async () => {
    const r = await cli(['--base-url', 'http://127.0.0.1:9', '--num-prompts', '2']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^Error: cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED/);
  });

  it('a model the server does not serve: exit 2 naming what it serves', async () => {
    const r = await cli(['--base-url', keyed, '--model', 'nope', '--num-prompts', '2'], { OPENAI_API_KEY: KEY });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('does not serve model "nope" (it serves: sim-model)');
  });

  it('bad flag values: exit 2', async () => {
    for (const args of [['--slo', 'ttft=fast'], ['--sweep', 'speed=1,2'], ['--find-max', 'concurrency'], ['--warmup', 'soon'], ['--dataset', 'sharegpt']]) {
      const r = await cli(['--base-url', keyed, ...args]);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^Error: /);
    }
  });

  const faultCases: [SimOptions['fault'], string][] = [
    ['http_500', 'http_5xx'],
    ['not_sse', 'malformed'],
    ['malformed', 'malformed'],
    ['cut', 'stream_cut'],
    ['hang', 'timeout'],
  ];
  for (const [fault, cls] of faultCases) {
    it(`fault ${fault} on every 3rd request → ${cls}; the other requests complete`, async () => {
      // The probe is request 1 of the server's count, so faults land on measured requests 2, 5, 8, ….
      const url = await sim({ fault, fault_every: 3 });
      const r = await cli(['--base-url', url, '--max-concurrency', '3', '--num-prompts', '9', '--output-len', '6', '--timeout', '2', '--json', ...LOOSE]);
      const rep = JSON.parse(r.stdout) as ServeReport;
      const l = rep.levels[0];
      expect(l?.failed_by_class[cls as keyof typeof l.failed_by_class], JSON.stringify(l?.first_errors)).toBe(3);
      expect(l?.completed).toBe(6);
      expect(r.exitCode).toBe(1);
      expect(rep.outcome.status).toBe('fail');
    }, 60_000);
  }

  it('a stream that ends without [DONE] but with a finish_reason is complete', async () => {
    const url = await sim({ fault: 'no_done', fault_every: 1 });
    const detailed = join(dir, 'no-done.jsonl');
    const r = await cli(['--base-url', url, '--num-prompts', '4', '--output-len', '5', '--save-detailed', detailed, '--json', ...LOOSE]);
    expect(r.exitCode, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as ServeReport;
    expect(rep.levels[0]?.completed).toBe(4);
    expect(rep.notes.join(' ')).toContain('without data: [DONE]');
    const recs = (await readFile(detailed, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RequestRecord);
    expect(recs.every((x) => !x.done_marker && x.finish_reason === 'length')).toBe(true);
  });

  it('stops a level when more than the stated share fails, with one line of what the server answered', async () => {
    const url = await sim({ fault: 'http_500', fault_every: 1 });
    // Every request fails, so even the probe does: the run ends before the measurement with the answer.
    const r = await cli(['--base-url', url, '--num-prompts', '50']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^Error: the first request to .* failed \(http_5xx\): HTTP 500: .*simulated internal error/);
    const url2 = await sim({ fault: 'http_500', fault_every: 2 });
    const r2 = await cli(['--base-url', url2, '--max-concurrency', '2', '--num-prompts', '60', '--max-failure-pct', '20', '--json', ...LOOSE]);
    const rep = JSON.parse(r2.stdout) as ServeReport;
    expect(rep.levels[0]?.stopped).toMatch(/requests failed; the server answered: http_5xx: HTTP 500/);
    expect(rep.levels[0]?.num_requests).toBeLessThan(60);
    expect(r2.exitCode).toBe(1);
  }, 60_000);

  it('a client-limited level makes the run invalid: exit 3', async () => {
    const url = await sim();
    const r = await cli(['--base-url', url, '--num-prompts', '4', '--output-len', '4', '--client-limit-ms', '0.000001', '--json']);
    const rep = JSON.parse(r.stdout) as ServeReport;
    expect(rep.outcome.status).toBe('invalid');
    expect(rep.levels[0]?.valid).toBe(false);
    expect(r.exitCode).toBe(3);
  });

  it('--baseline: the same server compares as pass (exit 0); a much slower one regresses (exit 1)', async () => {
    const fast = await sim();
    const base = join(dir, 'base.json');
    const args = ['--max-concurrency', '2', '--num-prompts', '16', '--output-len', '8', ...LOOSE];
    const b = await cli(['--base-url', fast, ...args, '--out', base]);
    expect(b.exitCode, b.stderr).toBe(0);
    const slow = await sim({ latency: { prefill_ms_per_token: 0.01, decode_base_ms: 30, decode_per_seq_ms: 0.05, max_batch: 64 } });
    const r = await cli(['--base-url', slow, ...args, '--baseline', base, '--json']);
    const rep = JSON.parse(r.stdout) as ServeReport;
    expect(rep.comparison?.results.find((x) => x.metric === 'tpot_ms')?.verdict).toBe('regressed');
    expect(r.exitCode).toBe(1);
    await writeFile(join(dir, 'not-a-report.json'), '{"schema_version":"1"}');
    const bad = await cli(['--base-url', fast, ...args, '--baseline', join(dir, 'not-a-report.json')]);
    expect(bad.exitCode).toBe(2);
  }, 60_000);
});

describe('--workers', () => {
  it('spreads one schedule over two processes and merges their records', async () => {
    const url = await sim();
    const detailed = join(dir, 'workers.jsonl');
    const r = await cli(['--base-url', url, '--max-concurrency', '4', '--num-prompts', '12', '--output-len', '6', '--workers', '2', '--save-detailed', detailed, '--json', ...LOOSE]);
    expect(r.exitCode, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as ServeReport;
    expect(rep.levels[0]?.completed).toBe(12);
    const recs = (await readFile(detailed, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RequestRecord);
    expect(recs.map((x) => x.index)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(new Set(recs.map((x) => x.worker))).toEqual(new Set([0, 1]));
    expect(recs.every((x) => x.worker === x.index % 2)).toBe(true);
  }, 60_000);
});
