import { describe, expect, it } from 'vitest';
import { closeCallNote, costPerMillionTokens, decideVerdict, extrapolateStepTime, extrapolateToDepth } from '../../src/pipeline/verdict.js';

const targets = { decodeTokensPerSec: 20, maxTtftMs: 500 };
const GiB = 2 ** 30;

describe('decideVerdict', () => {
  it('confirms a candidate that meets every target, with positive margins', () => {
    const v = decideVerdict({ targets, measured: { decodeTokPerSecPerStream: 30, ttftMs: 250, peakMemoryBytes: 1 * GiB }, usableMemoryBytes: 10 * GiB, extrapolated: false });
    expect(v.status).toBe('confirmed');
    expect(v.reasons).toEqual([]);
    expect(v.checks.find((c) => c.name === 'decode_tps')?.margin_pct).toBeCloseTo(50);
    expect(v.checks.find((c) => c.name === 'ttft_ms')?.margin_pct).toBeCloseTo(50);
  });

  it('rejects a candidate that misses TTFT and says by how much', () => {
    const v = decideVerdict({ targets, measured: { decodeTokPerSecPerStream: 30, ttftMs: 750, peakMemoryBytes: GiB }, usableMemoryBytes: 10 * GiB, extrapolated: false });
    expect(v.status).toBe('rejected');
    expect(v.reasons).toHaveLength(1);
    expect(v.reasons[0]).toBe('time to first token 750 ms exceeds the 500 ms target (+250 ms, 1.5× the target)');
    // The margin in the data keeps its sign convention (negative: the bad side); only the sentence changed.
    expect(v.checks.find((c) => c.name === 'ttft_ms')?.margin_pct).toBeCloseTo(-50);
  });

  it('says a large TTFT miss as how much over and how many times the target, never as a negative excess', () => {
    const v = decideVerdict({ targets, measured: { decodeTokPerSecPerStream: 30, ttftMs: 1113, peakMemoryBytes: GiB }, usableMemoryBytes: 10 * GiB, extrapolated: false });
    expect(v.reasons).toEqual(['time to first token 1113 ms exceeds the 500 ms target (+613 ms, 2.2× the target)']);
    const far = decideVerdict({ targets, measured: { decodeTokPerSecPerStream: 30, ttftMs: 60000, peakMemoryBytes: GiB }, usableMemoryBytes: 10 * GiB, extrapolated: false });
    expect(far.reasons).toEqual(['time to first token 60000 ms exceeds the 500 ms target (+59500 ms, 120× the target)']);
    expect(v.reasons.join()).not.toMatch(/-\d/);
  });

  it('rejects a candidate that misses decode speed', () => {
    const v = decideVerdict({ targets, measured: { decodeTokPerSecPerStream: 15, ttftMs: 100, peakMemoryBytes: GiB }, usableMemoryBytes: 10 * GiB, extrapolated: true });
    expect(v.status).toBe('rejected');
    expect(v.extrapolated).toBe(true);
    expect(v.reasons[0]).toBe('decode 15.0 tok/s per stream is below the 20.0 tok/s target (5.00 tok/s short, 75% of the target)');
  });

  it('rejects a candidate whose measured peak memory does not fit', () => {
    const v = decideVerdict({ targets, measured: { decodeTokPerSecPerStream: 40, ttftMs: 100, peakMemoryBytes: 12 * GiB }, usableMemoryBytes: 10 * GiB, extrapolated: false });
    expect(v.status).toBe('rejected');
    expect(v.checks.find((c) => c.name === 'memory')?.met).toBe(false);
    expect(v.reasons[0]).toBe('peak memory 12.00 GiB does not fit the 10.00 GiB usable here (2.00 GiB over)');
  });

  it('one figure unmeasured beside a real miss is rejected for the miss, not left as estimate-only', () => {
    // TTFT was not measured (null) while decode misses: the miss decides.
    const v = decideVerdict({ targets, measured: { decodeTokPerSecPerStream: 10, ttftMs: null, peakMemoryBytes: GiB }, usableMemoryBytes: 10 * GiB, extrapolated: false });
    expect(v.status).toBe('rejected');
    expect(v.reasons).toEqual(['decode 10.0 tok/s per stream is below the 20.0 tok/s target (10.0 tok/s short, 50% of the target)']);
    expect(v.checks.find((c) => c.name === 'ttft_ms')).toMatchObject({ met: null, measured: null, margin_pct: null });
    // The same unmeasured figure beside figures that all pass leaves it open, naming what is missing.
    const open = decideVerdict({ targets, measured: { decodeTokPerSecPerStream: 30, ttftMs: null, peakMemoryBytes: GiB }, usableMemoryBytes: 10 * GiB, extrapolated: false });
    expect(open).toMatchObject({ status: 'estimate-only', reasons: ['not measured: ttft_ms'] });
  });

  it('marks a candidate that was not measured as estimate-only, and a failed run as error', () => {
    expect(decideVerdict({ targets, measured: null, usableMemoryBytes: GiB, extrapolated: false, notMeasuredReason: 'too large' })).toMatchObject({ status: 'estimate-only', reasons: ['too large'] });
    expect(decideVerdict({ targets, measured: null, usableMemoryBytes: GiB, extrapolated: false, error: 'crashed' }).status).toBe('error');
  });
});

describe('costPerMillionTokens', () => {
  it('spreads the hourly price over the tokens generated in an hour', () => {
    // 100 tok/s = 360,000 tok/h; $3.60/h → $10 per million tokens.
    expect(costPerMillionTokens(3.6, 100)).toBeCloseTo(10);
    expect(costPerMillionTokens(3.6, 0)).toBeNull();
  });
});

describe('extrapolateStepTime', () => {
  it('fits fixed and per-layer cost from two depths', () => {
    const r = extrapolateStepTime([{ layers: 2, ms: 12 }, { layers: 4, ms: 22 }], 32);
    expect(r.perLayerMs).toBeCloseTo(5);
    expect(r.fixedMs).toBeCloseTo(2);
    expect(r.ms).toBeCloseTo(162);
  });
  it('scales one depth proportionally', () => {
    expect(extrapolateStepTime([{ layers: 4, ms: 20 }], 40).ms).toBeCloseTo(200);
  });
});

describe('extrapolateToDepth', () => {
  // An estimate of 2 ms fixed + 1 ms per layer; the machine runs 3× slower than estimated.
  const estimate = (layers: number): number => 2 + layers;

  it('takes the line through two depths when its per-layer cost is plausible', () => {
    const r = extrapolateToDepth([{ layers: 1, value: 9 }, { layers: 2, value: 12 }], estimate, 30);
    expect(r.method).toBe('two-depth fit');
    expect(r.perLayer).toBeCloseTo(3);
    expect(r.fixed).toBeCloseTo(6);
    expect(r.full).toBeCloseTo(96);
  });

  it("falls back to the estimate's split, scaled, when noise makes the deeper model look as fast", () => {
    // 2 layers measured faster than 1: a straight fit would give a negative per-layer cost.
    const r = extrapolateToDepth([{ layers: 1, value: 9.3 }, { layers: 2, value: 9.1 }], estimate, 30);
    expect(r.method).toBe('estimate scaled');
    const scale = (9.3 * 3 + 9.1 * 4) / (9 + 16);
    expect(r.scale).toBeCloseTo(scale);
    expect(r.full).toBeCloseTo(scale * 32);
    expect(r.perLayer).toBeCloseTo(scale);
  });
});

describe('closeCallNote', () => {
  const verdict = (decode: number, ttft: number, peak = GiB) => decideVerdict({ targets, measured: { decodeTokPerSecPerStream: decode, ttftMs: ttft, peakMemoryBytes: peak }, usableMemoryBytes: 10 * GiB, extrapolated: false });

  it('names a speed check decided within 10% of its target, on either side of it', () => {
    // gpt2 q4 in a default confirm: 525 ms against 500, and 438–451 ms in runs minutes later.
    expect(closeCallNote(verdict(40, 525))).toBe(
      'a close call: TTFT 525 ms is 5% outside the 500 ms target, nearer than a machine\'s speed can move between runs; measure it again before relying on this verdict',
    );
    expect(closeCallNote(verdict(21, 470))).toBe(
      'a close call: decode 21.0 tok/s per stream is 5% inside the 20.0 tok/s target, and TTFT 470 ms is 6% inside the 500 ms target, nearer than a machine\'s speed can move between runs; measure it again before relying on this verdict',
    );
  });

  it('says nothing when every speed check is 10% or more from its target, or the one near it is memory', () => {
    expect(closeCallNote(verdict(22, 450))).toBeNull();
    expect(closeCallNote(verdict(40, 900))).toBeNull();
    expect(closeCallNote(verdict(40, 200, 9.8 * GiB))).toBeNull();
    expect(closeCallNote(decideVerdict({ targets, measured: { decodeTokPerSecPerStream: null, ttftMs: null, peakMemoryBytes: GiB }, usableMemoryBytes: 10 * GiB, extrapolated: false }))).toBeNull();
  });
});
