/**
 * The client's own limit (`npm run bench:serve-client`): serve-bench (the built CLI) against the simulated
 * server in its own process, at rising concurrency and chunk rates; per level, the p99 of the difference
 * between the client's TTFT/ITL and the server's record of when it wrote each chunk, the chunk rate, the
 * client's event-loop delay, and whether the client called itself limited. Repeats each level and prints
 * medians, with the machine's load average beside them. Loopback only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestRecord, ServeReport } from '../src/report/serve-schema.js';
import { percentileSorted } from '../src/report/stats.js';
import type { SimRecord } from '../src/serve/sim/server.js';
import { startSimProcess } from '../test/serve/sim-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const levels = (process.env.LEVELS ?? '16,64,128,256').split(',').map(Number);
const repeats = Number(process.env.REPEATS ?? 3);
const workers = Number(process.env.WORKERS ?? 1);
const outputLen = Number(process.env.OUTPUT_LEN ?? 64);
const p99 = (xs: number[]): number => (xs.length ? percentileSorted([...xs].sort((a, b) => a - b), 99) : Number.NaN);
const median = (xs: number[]): number => percentileSorted([...xs].sort((a, b) => a - b), 50);

// Step time 5 ms + 0.03 ms per running sequence: 256 streams → 12.7 ms steps → about 20,000 chunks/s.
const sim = await startSimProcess(['--decode-base-ms', '5', '--decode-per-seq-ms', '0.03', '--prefill-ms-per-token', '0.001', '--max-batch', '1024']);
const dir = await mkdtemp(join(tmpdir(), 'modelscout-serve-client-'));
try {
  process.stdout.write(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (2 shared cores)\n`);
  process.stdout.write('| concurrency | workers | chunks/s | TTFT Δ p99 ms | ITL Δ p99 ms | E2EL Δ p99 ms | send→receipt p99 ms | write→read p99 ms | client ELD p99 ms | client-limited | load 1m |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n');
  for (const c of levels) {
    const rows: { rate: number; ttft: number; itl: number; e2el: number; up: number; down: number; eld: number; limited: boolean; load: number }[] = [];
    for (let k = 0; k < repeats; k += 1) {
      await fetch(`${sim.url}/sim/records`, { method: 'DELETE' });
      const detailed = join(dir, `c${c}-${k}.jsonl`);
      // Exit 3 (client-limited) still writes the report: that is the figure this script is after.
      const out = spawnSync(process.execPath, ['bin/run.js', 'serve-bench', '--base-url', sim.url, '--max-concurrency', String(c), '--num-prompts', String(c * 3), '--warmup', String(c), '--input-len', '16', '--output-len', String(outputLen), '--tokenizer', 'none', '--client-limit-ms', '2', '--workers', String(workers), '--save-detailed', detailed, '--json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).stdout;
      const report = JSON.parse(out) as ServeReport;
      const server = new Map(((await (await fetch(`${sim.url}/sim/records`, { method: 'DELETE' })).json()) as SimRecord[]).map((r) => [r.id, r]));
      const records = (await readFile(detailed, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RequestRecord).filter((r) => !r.warmup && r.error === null);
      const dT: number[] = [];
      const dI: number[] = [];
      const dE: number[] = [];
      const up: number[] = [];
      const down: number[] = [];
      let chunks = 0;
      let first = Number.POSITIVE_INFINITY;
      let last = 0;
      for (const r of records) {
        const s = server.get(r.response_id ?? '');
        if (!s || s.chunk_sent_at_ms.length !== r.chunk_at_ms.length) continue;
        const sent = s.chunk_sent_at_ms;
        dT.push(Math.abs((r.chunk_at_ms[0] as number) - r.sent_at_ms - ((sent[0] as number) - s.received_at_ms)));
        dE.push(Math.abs((r.chunk_at_ms[r.chunk_at_ms.length - 1] as number) - r.sent_at_ms - ((sent[sent.length - 1] as number) - s.received_at_ms)));
        for (let i = 1; i < sent.length; i += 1) dI.push(Math.abs((r.chunk_at_ms[i] as number) - (r.chunk_at_ms[i - 1] as number) - ((sent[i] as number) - (sent[i - 1] as number))));
        // Absolute transit on the shared clock: client send → server receipt, and server write → client read.
        up.push(s.received_at_ms - r.sent_at_ms);
        for (let i = 0; i < sent.length; i += 1) down.push((r.chunk_at_ms[i] as number) - (sent[i] as number));
        chunks += r.chunk_at_ms.length;
        first = Math.min(first, r.sent_at_ms);
        last = Math.max(last, r.end_at_ms);
      }
      const level = report.levels[0];
      rows.push({ rate: (chunks / (last - first)) * 1000, ttft: p99(dT), itl: p99(dI), e2el: p99(dE), up: p99(up), down: p99(down), eld: level?.client.event_loop_delay_ms?.p99 ?? Number.NaN, limited: level?.client.limited ?? true, load: loadavg()[0] ?? 0 });
    }
    const m = (f: (r: (typeof rows)[number]) => number): string => median(rows.map(f)).toFixed(2);
    process.stdout.write(`| ${c} | ${workers} | ${m((r) => r.rate)} | ${m((r) => r.ttft)} | ${m((r) => r.itl)} | ${m((r) => r.e2el)} | ${m((r) => r.up)} | ${m((r) => r.down)} | ${m((r) => r.eld)} | ${rows.filter((r) => r.limited).length}/${rows.length} | ${m((r) => r.load)} |\n`);
  }
} finally {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
