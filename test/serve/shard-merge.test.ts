import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeReport } from '../../src/report/serve-schema.js';
import { SimServer } from '../../src/serve/sim/server.js';
import { startSimProcess, type SimProcess } from './sim-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = (args: string[]) => execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false, timeout: 120_000 });
let dir: string;
let sim: SimProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-shard-'));
  sim = await startSimProcess();
});

afterAll(async () => {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
});

const read = async (file: string): Promise<ServeReport> => JSON.parse(await readFile(file, 'utf8')) as ServeReport;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)]! + s[Math.ceil(m)]!) / 2;
};

describe('serve-bench --shard i/n --start-at and serve-bench merge', { timeout: 240_000 }, () => {
  const load = (seed: number, prompts = 40) => ['serve-bench', '--base-url', sim.url, '--request-rate', '20', '--num-prompts', String(prompts), '--input-len', '64', '--output-len', '32', '--seed', String(seed), '--client-limit-ms', '1000'];
  // Time for two CLI processes to start on a loaded machine before the shared start.
  const startAt = (): string => new Date(Date.now() + 10_000).toISOString();

  it('two shards merged equal the same seeded schedule run whole: the same requests, percentiles within the simulation noise', async () => {
    // Exit 0, or 3 when this shared machine's load made the client the bottleneck (the figures still compare).
    const ok = [0, 3];
    const whole = await run([...load(7), '--out', join(dir, 'whole.json')]);
    expect(ok, whole.stderr + whole.stdout).toContain(whole.exitCode);
    const at = startAt();
    const [s0, s1] = await Promise.all([run([...load(7), '--shard', '0/2', '--start-at', at, '--out', join(dir, 's0.json')]), run([...load(7), '--shard', '1/2', '--start-at', at, '--out', join(dir, 's1.json')])]);
    expect(ok, s0.stderr + s0.stdout).toContain(s0.exitCode);
    expect(ok, s1.stderr + s1.stdout).toContain(s1.exitCode);
    const shard0 = await read(join(dir, 's0.json'));
    const shard1 = await read(join(dir, 's1.json'));
    // Both were ready before the shared start (else their first requests went out late, bunched together).
    expect([...shard0.notes, ...shard1.notes].filter((n) => n.includes('after --start-at'))).toEqual([]);
    expect(shard0.shard).toEqual({ index: 0, of: 2, start_at: at });
    // Shard 0 sent the even requests of the schedule, at their scheduled times from the shared start.
    expect(shard0.records!.map((r) => r.index)).toEqual(Array.from({ length: 20 }, (_, k) => 2 * k));
    expect(Math.min(...shard0.records!.map((r) => r.scheduled_at_ms))).toBeGreaterThanOrEqual(Date.parse(at));

    const merged = await run(['serve-bench', 'merge', join(dir, 's0.json'), join(dir, 's1.json'), '--out', join(dir, 'merged.json')]);
    expect(ok, merged.stderr + merged.stdout).toContain(merged.exitCode);
    expect(merged.stdout).toContain('merged from 2 shards');
    const m = await read(join(dir, 'merged.json'));
    const w = await read(join(dir, 'whole.json'));
    const [ml, wl] = [m.levels[0]!, w.levels[0]!];
    expect(m.records!.map((r) => r.index)).toEqual(Array.from({ length: 40 }, (_, k) => k));
    expect(ml.completed).toBe(40);
    expect(ml.completed).toBe(wl.completed);
    expect(ml.total_output_tokens).toBe(wl.total_output_tokens);
    expect(ml.total_input_tokens).toBe(wl.total_input_tokens);
    // Percentiles of the merged run come from its records, not from the shards' own figures.
    expect(ml.metrics.ttft_ms!.median).toBeCloseTo(median(m.records!.map((r) => r.first_token_at_ms! - r.sent_at_ms)), 6);
    // The same arrival schedule: request k is due at the same offset from the start in the whole run and in the shards.
    const offsets = (r: ServeReport): number[] => r.records!.map((x) => x.scheduled_at_ms - r.records![0]!.scheduled_at_ms);
    await run([...load(7), '--save-detailed', join(dir, 'whole.jsonl')]);
    const wholeRecords = (await readFile(join(dir, 'whole.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as NonNullable<ServeReport['records']>[number]);
    const wholeOffsets = wholeRecords.sort((a, b) => a.index - b.index).map((x) => x.scheduled_at_ms - wholeRecords[0]!.scheduled_at_ms);
    offsets(m).forEach((o, k) => expect(o).toBeCloseTo(wholeOffsets[k]!, 3));
    // The same schedule against the same simulated server: throughput and latencies agree within its noise.
    expect(Math.abs(ml.request_throughput - wl.request_throughput) / wl.request_throughput).toBeLessThan(0.3);
    expect(Math.abs(ml.metrics.tpot_ms!.median - wl.metrics.tpot_ms!.median) / wl.metrics.tpot_ms!.median).toBeLessThan(0.3);
    expect(Math.abs(ml.metrics.ttft_ms!.median - wl.metrics.ttft_ms!.median)).toBeLessThan(Math.max(10, wl.metrics.ttft_ms!.median));
  });

  it('refuses shards of different runs, a shard twice, a missing shard and a report that is no shard, in one line (exit 2)', async () => {
    const at = startAt();
    const other = await run([...load(8, 4), '--shard', '1/2', '--start-at', at, '--out', join(dir, 'other.json')]);
    expect([0, 3], other.stderr).toContain(other.exitCode);
    const cases: [string[], RegExp][] = [
      [[join(dir, 's0.json'), join(dir, 'other.json')], /are shards of different runs: the start time \(--start-at\) differs/],
      [[join(dir, 's0.json'), join(dir, 's0.json')], /are both shard 0\/2/],
      [[join(dir, 's0.json')], /shard 1\/2 missing/],
      [[join(dir, 's0.json'), join(dir, 'whole.json')], /whole\.json is not a shard report/],
    ];
    for (const [files, message] of cases) {
      const r = await run(['serve-bench', 'merge', ...files]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('checks --shard and --start-at before sending anything (exit 2)', async () => {
    const s = new SimServer();
    const url = await s.listen(0, '127.0.0.1');
    try {
      const base = ['serve-bench', '--base-url', url, '--num-prompts', '2'];
      const cases: [string[], RegExp][] = [
        [['--shard', '0/2'], /--shard needs --start-at/],
        [['--start-at', startAt()], /--start-at needs --shard/],
        [['--shard', '2/2', '--start-at', startAt()], /--shard/],
        [['--shard', '0/2', '--start-at', 'tomorrow'], /--start-at/],
        [['--shard', '0/2', '--start-at', startAt(), '--sweep', 'concurrency=1,2'], /cannot be combined with --sweep/],
      ];
      for (const [args, message] of cases) {
        const r = await run([...base, ...args]);
        expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(message);
      }
      expect(s.records).toHaveLength(0);
    } finally {
      await s.close();
    }
  });
});
