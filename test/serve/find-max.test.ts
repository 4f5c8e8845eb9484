import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LevelResult, Slo } from '../../src/report/serve-schema.js';
import { epochMs } from '../../src/serve/clock.js';
import { runServeBench } from '../../src/serve/index.js';
import { summarizeLevel } from '../../src/serve/metrics.js';
import { findMax } from '../../src/serve/search.js';
import type { RequestRecord } from '../../src/report/serve-schema.js';
import { startSimProcess, type SimProcess } from './sim-process.js';

/** Records of `n` requests whose every inter-token gap is `tpot` ms (TTFT 10 ms, 8 tokens each). */
function recordsWithTpot(n: number, tpot: number): RequestRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const sent = i * 10;
    const chunks = Array.from({ length: 8 }, (_, k) => sent + 10 + k * tpot);
    return {
      index: i, level: 'x', worker: 0, warmup: false, base_url: 'http://127.0.0.1:1', response_id: `r${i}`,
      scheduled_at_ms: sent, slot_at_ms: sent, sent_at_ms: sent, first_byte_at_ms: sent + 5, first_token_at_ms: sent + 10,
      end_at_ms: chunks[7] as number, chunk_at_ms: chunks, chunk_chars: chunks.map(() => 4), prompt_tokens: 4, output_tokens: 8,
      tokens_source: 'usage', usage_completion_tokens: 8, tokenizer_completion_tokens: null, expected_output_tokens: 8,
      finish_reason: 'length', done_marker: true, server_timings: null, error: null,
    };
  });
}

const SLO: Slo[] = [{ metric: 'tpot_ms', percentile: 99, limit_ms: 50, source: 'flag' }];

function fakeLevel(c: number, tpotAt: (c: number) => number): LevelResult {
  return summarizeLevel({ label: `c=${c}`, maxConcurrency: c, requestRate: null, startedAt: '', records: recordsWithTpot(40, tpotAt(c)), percentiles: [50, 99], slos: SLO, client: { eventLoopDelayMs: null, limitMs: 5 }, stopped: null });
}

describe('findMax (the search itself)', () => {
  it('doubles, then bisects to the exact capacity', async () => {
    for (const capacity of [1, 5, 13, 37, 100]) {
      // TPOT 50 ms exactly at the capacity, more above it.
      const r = await findMax({ dimension: 'concurrency', start: 1, limit: 256 }, async (c) => fakeLevel(c, (x) => (x <= capacity ? 20 + (30 * x) / capacity : 60)));
      expect(r.best, `capacity ${capacity}`).toBe(capacity);
      expect(r.first_failing).toBe(capacity + 1);
      expect(r.steps[0]?.phase).toBe('doubling');
    }
  });

  it('says so when even the first level misses, or when the limit is reached', async () => {
    const none = await findMax({ dimension: 'concurrency', start: 1, limit: 64 }, async (c) => fakeLevel(c, () => 80));
    expect(none.best).toBeNull();
    expect(none.stopped).toMatch(/already misses/);
    const all = await findMax({ dimension: 'concurrency', start: 1, limit: 8 }, async (c) => fakeLevel(c, () => 10));
    expect(all.best).toBe(8);
    expect(all.stopped).toMatch(/search limit/);
  });

  it('stops at a client-limited level instead of blaming the server', async () => {
    const r = await findMax({ dimension: 'concurrency', start: 1, limit: 64 }, async (c) => {
      const l = fakeLevel(c, () => 10);
      return c >= 4 ? { ...l, valid: false, client: { ...l.client, limited: true, reasons: ['event-loop delay p99 9 ms > 5 ms'] } } : l;
    });
    expect(r.best).toBe(2);
    expect(r.stopped).toMatch(/client limited the level at 4/);
  });
});

describe('--find-max against the simulated server', () => {
  let sim: SimProcess;
  beforeAll(async () => {
    // TPOT in steady state = 2 ms + 1 ms × running sequences (prefill negligible): 12.5 ms allows 10.
    sim = await startSimProcess(['--decode-base-ms', '2', '--decode-per-seq-ms', '1', '--prefill-ms-per-token', '0.0001', '--max-batch', '64']);
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('finds the known capacity for a TPOT SLO within one step', async () => {
    const report = await runServeBench(
      {
        baseUrls: [sim.url], endpoint: 'completions', model: null, apiKey: null, headers: {}, timeoutS: 60,
        dataset: { kind: 'random', inputLen: 8, outputLen: 48, rangeRatio: 0 }, prefixLen: 0, ignoreEos: true, temperature: 0, seed: 1,
        requestRate: null, burstiness: 1, maxConcurrency: null, numPrompts: 24, durationS: null, warmupRequests: 0, warmupS: 0,
        sweep: null, findMax: { dimension: 'concurrency', start: 1, limit: 64 },
        slos: [{ metric: 'tpot_ms', percentile: 50, limit_ms: 12.5, source: 'flag' }], percentiles: [50, 90, 99],
        maxFailurePct: 50, clientLimitMs: 1000, workers: 1, tokenizer: 'none', tokenizerPath: null, baseline: null, maxRegressionPct: 10, inconclusivePass: false,
      },
      { clock: epochMs, tool: { name: 'modelscout', version: 'test' }, argv: [] },
    );
    const fm = report.find_max;
    expect(fm?.steps.map((s) => s.value).slice(0, 5)).toEqual([1, 2, 4, 8, 16]);
    expect(Math.abs((fm?.best ?? 0) - 10), JSON.stringify(fm?.steps)).toBeLessThanOrEqual(1);
    expect(report.outcome.exit_code).toBe(0);
  }, 180_000);
});
