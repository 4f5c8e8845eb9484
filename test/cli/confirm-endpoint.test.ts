import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimServer, type SimOptions } from '../../src/serve/sim/server.js';
import { parseRecommendation } from '../helpers/recommendation.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
const servers: SimServer[] = [];

async function sim(options: Partial<SimOptions>): Promise<string> {
  const s = new SimServer(options);
  servers.push(s);
  return s.listen(0, '127.0.0.1');
}

/** recommend on 8× H100 at a 256-token context and 4 streams, the top candidate confirmed on `endpoint` args. */
function recommend(extra: string[], apiKey = '') {
  const base = ['recommend', '--latency', 'relaxed', '--gpu', 'H100-80GB', '--ram', '24GiB', '--device', 'gpu', '--context', '256', '--concurrency', '4', '--quick', '--candidates', '1'];
  return execa(process.execPath, ['bin/run.js', ...base, '--calibration', join(dir, 'cal.json'), '--work-dir', join(dir, 'work'), ...extra], {
    cwd: ROOT,
    reject: false,
    env: { HF_HUB_OFFLINE: '1', OPENAI_API_KEY: apiKey },
    timeout: 120_000,
  });
}

/** Output with its wrapping undone (lines are wrapped to the terminal width). */
const flat = (text: string): string => text.replace(/\s+/g, ' ');

/** A TP 8 deployment fast enough for the targets (≈ 6.6 ms a step), speaking `engine`. */
const TP8: Partial<SimOptions> = {
  latency: { prefill_ms_per_token: 0.2, decode_base_ms: 40, decode_per_seq_ms: 0.1, max_batch: 64 },
  topology: { tp: 8, pp: 1, layers: 80, allreduce_ms: 0.01, stage_send_ms: 0.02, kv_tokens_per_gpu: 4096 },
  prefix_cache: true,
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-confirm-endpoint-'));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('recommend --confirm --base-url against the simulated server', { timeout: 180_000 }, () => {
  it('confirms the top candidate on a TP 8 deployment: the verdict beside the stated layout, the server metrics, per-GPU and per-dollar figures', async () => {
    const url = await sim({ latency: { prefill_ms_per_token: 0.2, decode_base_ms: 40, decode_per_seq_ms: 0.1, max_batch: 64 }, topology: { tp: 8, pp: 1, layers: 80, allreduce_ms: 0.01, stage_send_ms: 0.02, kv_tokens_per_gpu: 4096 } });
    const out = join(dir, 'confirmed.json');
    const r = await recommend(['--confirm', '--base-url', `${url}/v1`, '--topology', 'tp=8', '--price-per-hour', '98.32', '--out', out]);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('Confirmation on a deployment (serve-bench: prompts of the 256-token context, concurrency 2, 4, 8');
    expect(r.stdout).toMatch(/deployment, TP 8 .*✓ confirmed/);
    expect(r.stdout).toContain('server metrics (vllm');
    const rec = parseRecommendation(await readFile(out, 'utf8'));
    const c = rec.confirm!.candidates[0]!;
    expect(rec.confirm!.final.status).toBe('confirmed');
    expect(c.source.kind).toBe('endpoint');
    const e = c.endpoint!;
    expect(e.url).toBe(`${url}/v1`);
    expect(e.levels.map((l) => l.concurrency)).toEqual([2, 4, 8]);
    expect(e.level?.concurrency).toBe(4);
    // 40 ms of compute ÷ TP 8 + 2 × 80 all-reduces of 10 µs ≈ 6.6 ms a step: about 150 tok/s per stream, well above 5.
    expect(e.level!.decodeTokPerSecPerStreamP50!).toBeGreaterThan(20);
    expect(e.level!.decodeTokPerSecPerStreamP50!).toBeLessThan(200);
    expect(e.estimate).toMatchObject({ source: 'stated-topology', layout: { tp: 8, pp: 1, dp: 1 }, gpu: 'NVIDIA H100 SXM 80GB', fits: true });
    // vLLM's production API does not say its layout: the stated one is used, and the report says where it came from.
    expect(e.topology).toMatchObject({ source: 'stated', layout: { tp: 8, pp: 1, dp: 1 }, reported: { engine: 'vllm', layout: null }, warnings: [] });
    // With a stated layout, the server's silence about its own is not reported as a problem.
    expect(r.stderr + r.stdout).not.toContain('state the layout with --topology');
    expect(e.estimate.perGpuBytes!).toBeLessThanOrEqual(e.estimate.usablePerGpuBytes!);
    expect(e.server?.engine).toBe('vllm');
    expect(e.server!.running!.max).toBeGreaterThan(0);
    // 4 streams of ≈ 260 tokens on a 4096 × 8 token pool: the server reports a non-zero share of it.
    expect(e.server!.kvCacheUsage!.max).toBeGreaterThan(0);
    expect(e.perGpu).toMatchObject({ gpus: 8 });
    expect(e.perGpu!.outputTokPerSecPerGpu!).toBeCloseTo(e.level!.outputTokPerSec! / 8, 6);
    expect(c.cost!.usdPerMillionTokens).toBeCloseTo(98.32 / ((e.level!.outputTokPerSec! * 3600) / 1e6), 6);
    expect(c.verdict.status).toBe('confirmed');
  });

  it('SGLang without --topology: the layout it reports is used (estimate, per-GPU figures), its metrics mapped; the key never shows', async () => {
    const key = 'sk-sglang-secret-0042';
    const url = await sim({ ...TP8, engine: 'sglang', api_key: key });
    const out = join(dir, 'sglang.json');
    const r = await recommend(['--confirm', '--base-url', `${url}/v1`, '--out', out], key);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/deployment, TP 8 .*✓ confirmed/);
    expect(flat(r.stdout)).toContain('estimate for the layout the server reports (SGLang, GET /get_server_info), TP 8 on NVIDIA H100 SXM 80GB');
    expect(r.stdout).toContain('server metrics (sglang');
    const text = await readFile(out, 'utf8');
    for (const where of [r.stdout, r.stderr, text]) expect(where).not.toContain(key);
    const e = parseRecommendation(text).confirm!.candidates[0]!.endpoint!;
    expect(e.topology).toMatchObject({ source: 'server', layout: { tp: 8, pp: 1, dp: 1 }, reported: { engine: 'sglang', from: 'GET /get_server_info', kvCapacityTokens: 4096 * 8 }, warnings: [] });
    expect(e.estimate).toMatchObject({ source: 'server-topology', layout: { tp: 8, pp: 1, dp: 1 }, gpu: 'NVIDIA H100 SXM 80GB', fits: true });
    expect(e.perGpu).toMatchObject({ gpus: 8 });
    // Filled from SGLang's names: sglang:token_usage, sglang:num_running_reqs, sglang:num_queue_reqs, sglang:cache_hit_rate.
    expect(e.server?.engine).toBe('sglang');
    expect(e.server!.kvCacheUsage!.max).toBeGreaterThan(0);
    expect(e.server!.running!.max).toBeGreaterThan(0);
    expect(e.server!.waiting).not.toBeNull();
    expect(e.server!.prefixCacheHitRate).not.toBeNull();
  });

  it('TGI without --topology: no shard count reported, so the recommendation\'s estimate and a line saying so; running and waiting from tgi_* names', async () => {
    const url = await sim({ ...TP8, engine: 'tgi' });
    const out = join(dir, 'tgi.json');
    const r = await recommend(['--confirm', '--endpoint', `${url}/v1`, '--out', out]); // the flag's older name, still accepted
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(flat(r.stdout)).toContain("TGI's /info does not report its shard count: state the layout with --topology");
    const e = parseRecommendation(await readFile(out, 'utf8')).confirm!.candidates[0]!.endpoint!;
    expect(e.topology).toMatchObject({ source: 'recommendation', layout: null, reported: { engine: 'tgi', from: 'GET /info', layout: null } });
    expect(e.estimate.source).toBe('recommendation');
    expect(e.server?.engine).toBe('tgi');
    expect(e.server!.running!.max).toBeGreaterThan(0);
    expect(e.server!.waiting).not.toBeNull();
    expect(e.server!.kvCacheUsage).toBeNull();
    expect(e.server!.prefixCacheHitRate).toBeNull();
  });

  it('a stated layout that disagrees with the one the server reports (vLLM development mode) wins, with a warning line', async () => {
    const url = await sim({ ...TP8, engine: 'vllm', vllm_dev_mode: true });
    const out = join(dir, 'disagree.json');
    const r = await recommend(['--confirm', '--base-url', `${url}/v1`, '--topology', 'tp=4', '--out', out]);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(flat(r.stdout)).toContain('warning: the server (vLLM, GET /server_info) reports TP 8, but --topology states TP 4: the stated layout is used');
    const e = parseRecommendation(await readFile(out, 'utf8')).confirm!.candidates[0]!.endpoint!;
    expect(e.topology).toMatchObject({ source: 'stated', layout: { tp: 4, pp: 1, dp: 1 }, reported: { engine: 'vllm', layout: { tp: 8, pp: 1, dp: 1 } } });
    expect(e.estimate).toMatchObject({ source: 'stated-topology', layout: { tp: 4, pp: 1, dp: 1 } });
    expect(e.perGpu).toMatchObject({ gpus: 4 });
  });

  it('rejects a deployment slower than the decode target, naming the target and the shortfall (exit 1)', async () => {
    // 40 ms a step: 25 tok/s per stream against a 100 tok/s target.
    const url = await sim({ latency: { prefill_ms_per_token: 0.01, decode_base_ms: 40, decode_per_seq_ms: 0, max_batch: 64 } });
    const r = await recommend(['--target-tps', '100', '--confirm', '--base-url', `${url}/v1`, '--json', '--out', join(dir, 'rejected.json')]);
    expect(r.exitCode, r.stderr).toBe(1);
    const rec = parseRecommendation(r.stdout);
    const c = rec.confirm!.candidates[0]!;
    expect(c.verdict.status).toBe('rejected');
    expect(c.verdict.reasons.join(' ')).toMatch(/decode [\d.]+ tok\/s per stream is below the 100 tok\/s target/);
    // No --topology: the recommendation's own estimate stands beside the measurement.
    expect(c.endpoint!.estimate.source).toBe('recommendation');
  });

  it('says nothing could be measured when the server does not answer (exit 3)', async () => {
    const s = new SimServer();
    const url = await s.listen(0, '127.0.0.1');
    await s.close();
    const r = await recommend(['--confirm', '--base-url', `${url}/v1`, '--json', '--out', join(dir, 'down.json')]);
    expect(r.exitCode, r.stderr).toBe(3);
    const rec = parseRecommendation(r.stdout);
    expect(rec.confirm!.candidates[0]!.verdict.status).toBe('error');
    expect(rec.confirm!.final.status).toBe('not-measured');
  });

  it('refuses bad input in one line with exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--base-url', 'http://127.0.0.1:9/v1'], /--base-url measures a candidate on its deployment, so it needs --confirm/],
      [['--confirm', '--base-url', 'no-such-model=http://127.0.0.1:9/v1'], /names no ranked candidate/],
      [['--confirm', '--base-url', 'not a url'], /--base-url/],
      [['--confirm', '--topology', 'tp=8'], /--topology states the layout of a deployment given with --base-url/],
      [['--confirm', '--base-url', 'http://127.0.0.1:9/v1', '--topology', 'tp=eight'], /--topology/],
    ];
    for (const [args, message] of cases) {
      const r = await recommend(args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
