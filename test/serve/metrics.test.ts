import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../src/report/serve-schema.js';
import { distribution, requestFigures, requestMeetsSlos } from '../../src/serve/metrics.js';
import { parseSloList, presetSlos } from '../../src/serve/slo.js';

function record(over: Partial<RequestRecord>): RequestRecord {
  return {
    index: 0, level: 'x', worker: 0, warmup: false, base_url: 'http://127.0.0.1:1', response_id: 'r',
    scheduled_at_ms: 1000, slot_at_ms: 1002, sent_at_ms: 1003, first_byte_at_ms: 1010, first_token_at_ms: 1050,
    end_at_ms: 1200, chunk_at_ms: [1050, 1080, 1110, 1150], chunk_chars: [3, 3, 3, 3], prompt_tokens: 10, output_tokens: 7,
    tokens_source: 'usage', usage_completion_tokens: 7, tokenizer_completion_tokens: null, expected_output_tokens: 7,
    finish_reason: 'length', done_marker: true, server_timings: null, error: null, ...over,
  };
}

describe('serving metrics', () => {
  it('percentiles match numpy.percentile (linear) and std is numpy.std (ddof 0)', () => {
    // np.percentile([15, 20, 35, 40, 50], [40, 90]) → [29.0, 46.0]; np.std([2,4,4,4,5,5,7,9]) → 2.0
    const d = distribution([15, 20, 35, 40, 50], [40, 90]);
    expect(d?.percentiles.p40).toBeCloseTo(29, 10);
    expect(d?.percentiles.p90).toBeCloseTo(46, 10);
    expect(d?.median).toBe(35);
    expect(distribution([2, 4, 4, 4, 5, 5, 7, 9], [50])?.std).toBeCloseTo(2, 12);
    expect(distribution([1, 2, 3, 4], [99.9])?.percentiles['p99.9']).toBeCloseTo(3.997, 10);
    expect(distribution([], [50])).toBeNull();
  });

  it('per request: TTFT to the first content event, E2EL to the last, TPOT over output tokens − 1, ITL per chunk, queue and send lag', () => {
    const f = requestFigures(record({}));
    expect(f.ttfbMs).toBe(7);
    expect(f.ttftMs).toBe(47);
    expect(f.e2elMs).toBe(147);
    // Several tokens per chunk: TPOT divides by tokens (7 − 1), ITL stays per chunk.
    expect(f.tpotMs).toBeCloseTo(100 / 6, 12);
    expect(f.itlMs).toEqual([30, 30, 40]);
    expect(f.queueMs).toBe(2);
    expect(f.sendLagMs).toBe(1);
    expect(requestFigures(record({ output_tokens: 1 })).tpotMs).toBeNull();
    expect(requestFigures(record({ error: { class: 'stream_cut', message: 'x', http_status: 200 } })).ttftMs).toBeNull();
  });

  it('a request meets its SLOs only when every one holds', () => {
    const f = requestFigures(record({}));
    expect(requestMeetsSlos(f, parseSloList('ttft_p99=50ms,tpot_p99=20ms'))).toBe(true);
    expect(requestMeetsSlos(f, parseSloList('ttft_p99=40ms,tpot_p99=20ms'))).toBe(false);
    expect(requestMeetsSlos(f, parseSloList('itl=35ms'))).toBe(false);
  });

  it('parses SLO lists and MLPerf presets', () => {
    expect(parseSloList('ttft_p99=2s,tpot_p95=200ms,e2el=1500')).toEqual([
      { metric: 'ttft_ms', percentile: 99, limit_ms: 2000, source: 'flag' },
      { metric: 'tpot_ms', percentile: 95, limit_ms: 200, source: 'flag' },
      { metric: 'e2el_ms', percentile: 99, limit_ms: 1500, source: 'flag' },
    ]);
    expect(presetSlos('llama2-70b-interactive').map((s) => s.limit_ms)).toEqual([450, 40]);
    expect(() => parseSloList('ttft_p99=fast')).toThrow(/invalid/);
    expect(() => presetSlos('gpt-9')).toThrow(/invalid --slo-preset/);
  });
});
