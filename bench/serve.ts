/**
 * serve-bench against a real engine (`npm run bench:serve`): llama.cpp's llama-server from
 * a CPU build of llama.cpp (LLAMA_BIN: the folder holding llama-server and llama-quantize), serving a random-weight SmolLM2-135M-shaped Q4_0 GGUF on 127.0.0.1, measured
 * at concurrency 1, 4 and 16. Beside modelscout's TTFT and TPOT it prints the engine's own per-response
 * `timings` (prompt_ms: prefill; predicted_per_token_ms: decode), which should agree within a few ms at
 * concurrency 1 (TTFT also holds the HTTP round trip and tokenization, so it sits slightly above prompt_ms).
 * Env: LLAMA_BIN (folder of llama-server and llama-quantize), PEER (a folder with make_random_gguf.py, which writes the random-weight GGUF), LEVELS.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestRecord, ServeReport } from '../src/report/serve-schema.js';
import { percentileSorted } from '../src/report/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'peer-llama.cpp');
const BIN = process.env.LLAMA_BIN ?? join(CACHE, 'llama.cpp', 'build', 'bin');
const PEER = process.env.PEER ?? join(ROOT, '..', 'shared', 'peer');
const LEVELS = (process.env.LEVELS ?? '1,4,16').split(',').map(Number);
const PORT = Number(process.env.PORT ?? 8187);
const median = (xs: number[]): number => (xs.length ? percentileSorted([...xs].sort((a, b) => a - b), 50) : Number.NaN);

if (!existsSync(join(BIN, 'llama-server')) || !existsSync(join(BIN, 'llama-quantize'))) {
  process.stderr.write(`no llama-server/llama-quantize in ${BIN}: build llama.cpp (CPU, Release) and set LLAMA_BIN to its bin folder\n`);
  process.exit(2);
}
const gguf = join(CACHE, 'gguf', 'smollm2-135m-q4_0.gguf');
if (!existsSync(gguf)) {
  await mkdir(join(CACHE, 'gguf'), { recursive: true });
  const f16 = join(CACHE, 'gguf', 'smollm2-135m-f16.gguf');
  const mk = spawnSync('python3', [join(PEER, 'make_random_gguf.py'), 'smollm2-135m', f16], { env: { ...process.env, GGUF_PY: join(CACHE, 'llama.cpp', 'gguf-py') }, stdio: 'inherit' });
  if (mk.status !== 0) process.exit(1);
  const q = spawnSync(join(BIN, 'llama-quantize'), [f16, gguf, 'Q4_0'], { stdio: 'ignore' });
  if (q.status !== 0) process.exit(1);
}
const maxC = Math.max(...LEVELS);
const server = spawn(join(BIN, 'llama-server'), ['-m', gguf, '--host', '127.0.0.1', '--port', String(PORT), '-t', '2', '-np', String(maxC), '-c', String(maxC * 256), '--metrics'], { stdio: 'ignore' });
const url = `http://127.0.0.1:${PORT}`;
const dir = await mkdtemp(join(tmpdir(), 'modelscout-bench-serve-'));
try {
  for (let i = 0; ; i += 1) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (i > 120) throw new Error('llama-server did not come up within 60 s');
    await new Promise((r) => setTimeout(r, 500));
  }
  process.stdout.write(`llama-server ${gguf} (random weights), -t 2 -np ${maxC}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} on 2 shared cores\n`);
  process.stdout.write('| concurrency | req/s | out tok/s | TTFT p50 ms | engine prompt_ms p50 | TPOT p50 ms | engine predicted_per_token_ms p50 | client-limited |\n|---:|---:|---:|---:|---:|---:|---:|---|\n');
  for (const c of LEVELS) {
    const detailed = join(dir, `c${c}.jsonl`);
    const run = spawnSync(process.execPath, ['bin/run.js', 'serve-bench', '--base-url', url, '--max-concurrency', String(c), '--num-prompts', String(Math.max(8, c * 3)), '--warmup', String(Math.max(2, c)), '--input-len', '64', '--output-len', '32', '--ignore-eos', '--client-limit-ms', '5', '--save-detailed', detailed, '--json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
    const report = JSON.parse(run.stdout) as ServeReport;
    const level = report.levels[0];
    const recs = (await readFile(detailed, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RequestRecord).filter((r) => !r.warmup && r.error === null);
    const promptMs = recs.map((r) => r.server_timings?.prompt_ms).filter((v): v is number => v !== undefined);
    const perTok = recs.map((r) => r.server_timings?.predicted_per_token_ms).filter((v): v is number => v !== undefined);
    const f = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(2));
    process.stdout.write(`| ${c} | ${f(level?.request_throughput)} | ${f(level?.output_throughput)} | ${f(level?.metrics.ttft_ms?.median)} | ${f(median(promptMs))} | ${f(level?.metrics.tpot_ms?.median)} | ${f(median(perTok))} | ${level?.client.limited ? 'yes' : 'no'} |\n`);
  }
} finally {
  server.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
}
