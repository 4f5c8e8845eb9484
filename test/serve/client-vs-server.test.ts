/**
 * The client's figures against the simulated server's own record of when it wrote every chunk (server in
 * its own process, over real loopback sockets). At concurrency 1 the client reads every chunk within 1 ms
 * of its write at p99, and no later than its own largest event-loop stall allows; TTFT and E2EL are taken
 * against the server's writes from the client's send, since the request's way in (0.7 ms at the median on a
 * 2-vCPU host) is latency the client rightly counts and the server cannot see. At 256 within 2 ms at p99 —
 * unless the client says it was the bottleneck (its event-loop delay or send lag p99 above 2 ms), which is
 * the contract on a busy machine: it must never report wrong figures as valid.
 */
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentileSorted } from '../../src/report/stats.js';
import type { RequestRecord } from '../../src/report/serve-schema.js';
import { epochMs } from '../../src/serve/clock.js';
import { requestFigures, summarizeLevel } from '../../src/serve/metrics.js';
import { runLevel } from '../../src/serve/runner.js';
import type { SimRecord } from '../../src/serve/sim/server.js';
import { randomWorkload } from '../../src/serve/workload.js';
import { startSimProcess, type SimProcess } from './sim-process.js';

let sim: SimProcess;

beforeAll(async () => {
  sim = await startSimProcess(['--decode-base-ms', '8', '--decode-per-seq-ms', '0.02', '--prefill-ms-per-token', '0.01']);
});
afterAll(async () => {
  await sim.stop();
});

async function serverRecords(): Promise<Map<string, SimRecord>> {
  const res = await fetch(`${sim.url}/sim/records`, { method: 'DELETE' });
  const list = (await res.json()) as SimRecord[];
  return new Map(list.map((r) => [r.id, r]));
}

interface Diffs {
  ttft: number[];
  e2el: number[];
  tpot: number[];
  itl: number[];
  /** Server receipt − client send, per request: the request's way in. */
  wayIn: number[];
  /** Client read − server write, per chunk: the chunk's way out. */
  wayOut: number[];
  /** TTFT and E2EL against the server's writes timed from the client's send (the way in counted on both sides). */
  ttftFromSend: number[];
  e2elFromSend: number[];
}

function compare(records: RequestRecord[], server: Map<string, SimRecord>): Diffs {
  const d: Diffs = { ttft: [], e2el: [], tpot: [], itl: [], wayIn: [], wayOut: [], ttftFromSend: [], e2elFromSend: [] };
  for (const r of records) {
    expect(r.error).toBeNull();
    const s = server.get(r.response_id as string);
    expect(s, r.response_id ?? 'no id').toBeDefined();
    if (!s) continue;
    const f = requestFigures(r);
    const sent = s.chunk_sent_at_ms;
    expect(r.chunk_at_ms.length).toBe(sent.length);
    const sTtft = (sent[0] as number) - s.received_at_ms;
    const sE2el = (sent[sent.length - 1] as number) - s.received_at_ms;
    const out = s.chunk_tokens.reduce((a, b) => a + b, 0);
    expect(r.output_tokens).toBe(out);
    d.ttft.push(Math.abs((f.ttftMs as number) - sTtft));
    d.e2el.push(Math.abs((f.e2elMs as number) - sE2el));
    d.tpot.push(Math.abs((f.tpotMs as number) - (sE2el - sTtft) / (out - 1)));
    for (let i = 1; i < sent.length; i += 1) d.itl.push(Math.abs((f.itlMs[i - 1] as number) - ((sent[i] as number) - (sent[i - 1] as number))));
    d.wayIn.push(s.received_at_ms - r.sent_at_ms);
    d.ttftFromSend.push(Math.abs((f.ttftMs as number) - ((sent[0] as number) - r.sent_at_ms)));
    d.e2elFromSend.push(Math.abs((f.e2elMs as number) - ((sent[sent.length - 1] as number) - r.sent_at_ms)));
    for (let i = 0; i < sent.length; i += 1) d.wayOut.push((r.chunk_at_ms[i] as number) - (sent[i] as number));
  }
  return d;
}

async function run(concurrency: number, numRequests: number, outputLen: number) {
  await serverRecords();
  const pool = new Pool(sim.url, { connections: concurrency + 1 });
  try {
    const wl = await randomWorkload({ count: numRequests, inputLen: 16, outputLen, rangeRatio: 0, prefixLen: 0, seed: 5, tokenizer: null });
    const plan = { label: `concurrency=${concurrency}`, maxConcurrency: concurrency, requestRate: null, burstiness: 1, seed: 5, numRequests, durationS: null, warmupRequests: 0, warmupS: 0 };
    // A first pass warms connections and the JIT; the measured pass follows.
    await runLevel({ ...plan, numRequests: Math.min(numRequests, concurrency) }, { targets: [{ baseUrl: sim.url, path: '/v1/completions', dispatcher: pool }], items: wl.items, body: { endpoint: 'completions', model: 'sim-model', ignoreEos: true, temperature: 0, streamUsage: true, seed: null }, headers: {}, timeoutMs: 60_000, clock: epochMs, maxFailureShare: 0.5 });
    await serverRecords();
    const levelRun = await runLevel(plan, { targets: [{ baseUrl: sim.url, path: '/v1/completions', dispatcher: pool }], items: wl.items, body: { endpoint: 'completions', model: 'sim-model', ignoreEos: true, temperature: 0, streamUsage: true, seed: null }, headers: {}, timeoutMs: 60_000, clock: epochMs, maxFailureShare: 0.5 });
    const level = summarizeLevel({ label: plan.label, maxConcurrency: concurrency, requestRate: null, startedAt: '', records: levelRun.records, percentiles: [50, 99], slos: [], client: { eventLoopDelayMs: levelRun.eventLoopDelayMs, limitMs: 2 }, stopped: levelRun.stopped });
    return { records: levelRun.records, level, server: await serverRecords() };
  } finally {
    await pool.close();
  }
}

const p99 = (xs: number[]): number => percentileSorted([...xs].sort((a, b) => a - b), 99);
const p50 = (xs: number[]): number => percentileSorted([...xs].sort((a, b) => a - b), 50);

describe('client figures against the server record', () => {
  it('concurrency 1: TTFT, E2EL (from the send), ITL and chunk reads within 0.5 ms at the median, 1 ms plus the client\'s own stalls in the tail (or the run says the client was limited)', async () => {
    const { records, level, server } = await run(1, 12, 24);
    const d = compare(records, server);
    // Causality on the one clock: nothing is received before it was sent, no chunk read before it was written.
    expect(Math.min(...d.wayIn, ...d.wayOut)).toBeGreaterThanOrEqual(-0.05);
    // A systematic error shows at the median; the tails may hold what the client's own stalls add.
    const stall = level.client.event_loop_delay_ms ?? { p99: 0, max: 0 };
    if (!level.client.limited) {
      for (const [name, xs] of [['TTFT', d.ttftFromSend], ['E2EL', d.e2elFromSend], ['ITL', d.itl], ['chunk read', d.wayOut]] as const) {
        expect(p50(xs), `${name} p50 ${p50(xs).toFixed(3)} ms`).toBeLessThanOrEqual(0.5);
        expect(p99(xs), `${name} p99 ${p99(xs).toFixed(3)} ms, client stall p99 ${stall.p99.toFixed(3)} ms`).toBeLessThanOrEqual(1 + stall.p99);
        expect(Math.max(...xs), `${name} worst ${Math.max(...xs).toFixed(3)} ms, client stall ${stall.max.toFixed(3)} ms`).toBeLessThanOrEqual(1 + stall.max);
      }
      expect(Math.max(...d.tpot)).toBeLessThanOrEqual(0.1);
    } else expect(level.valid).toBe(false);
    expect(level.completed).toBe(12);
  }, 120_000);

  it('concurrency 256: p99 of the differences within 2 ms (or the run says the client was limited)', async () => {
    const { records, level, server } = await run(256, 512, 16);
    const d = compare(records, server);
    const worst = Math.max(p99(d.ttft), p99(d.itl), p99(d.e2el), p99(d.tpot));
    if (!level.client.limited) expect(worst, `p99 difference ${worst.toFixed(3)} ms`).toBeLessThanOrEqual(2);
    else {
      expect(level.valid).toBe(false);
      expect(level.client.reasons.length).toBeGreaterThan(0);
    }
    expect(level.completed).toBe(512);
  }, 180_000);
});
