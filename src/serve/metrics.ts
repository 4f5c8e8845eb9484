/**
 * Per-request figures and per-level summaries, computed only from raw request records (never from other
 * summaries, so a merged or sharded run aggregates the same way). Definitions are the serving-metrics
 * contract: TTFT to the first content event, E2EL to the last content event, TPOT = (E2EL − TTFT) ÷
 * (output tokens − 1), ITL the gaps between content events; percentiles by numpy's linear interpolation.
 * Pure.
 */
import { mean as meanOf, percentileSorted, tQuantile975 } from '../report/stats.js';
import { ERROR_CLASSES, type Distribution, type ErrorClass, type LevelResult, type RequestRecord, type Slo } from '../report/serve-schema.js';

/** The prefix of a level's `stopped` when it ended because the server fell behind (the level stays valid). */
export const OVER_SATURATED = 'over-saturated';

export const DEFAULT_PERCENTILES: readonly number[] = [50, 90, 95, 99];

export interface RequestFigures {
  ttfbMs: number | null;
  ttftMs: number | null;
  e2elMs: number | null;
  tpotMs: number | null;
  itlMs: number[];
  queueMs: number;
  sendLagMs: number;
}

export function requestFigures(r: RequestRecord): RequestFigures {
  const ok = r.error === null;
  const last = r.chunk_at_ms.length > 0 ? (r.chunk_at_ms[r.chunk_at_ms.length - 1] as number) : null;
  const ttft = ok && r.first_token_at_ms !== null ? r.first_token_at_ms - r.sent_at_ms : null;
  const e2el = ok && last !== null ? last - r.sent_at_ms : null;
  const out = r.output_tokens;
  const tpot = ttft !== null && e2el !== null && out !== null && out >= 2 ? (e2el - ttft) / (out - 1) : null;
  const itl: number[] = [];
  if (ok) for (let i = 1; i < r.chunk_at_ms.length; i += 1) itl.push((r.chunk_at_ms[i] as number) - (r.chunk_at_ms[i - 1] as number));
  return {
    ttfbMs: ok && r.first_byte_at_ms !== null ? r.first_byte_at_ms - r.sent_at_ms : null,
    ttftMs: ttft,
    e2elMs: e2el,
    tpotMs: tpot,
    itlMs: itl,
    queueMs: r.slot_at_ms - r.scheduled_at_ms,
    sendLagMs: r.sent_at_ms - r.slot_at_ms,
  };
}

export function percentileKey(p: number): string {
  return `p${String(p)}`;
}

/** mean, population std (numpy's default, as vLLM), median, min, max, the percentiles, and the t interval of the mean. */
export function distribution(values: readonly number[], percentiles: readonly number[], unit = 'ms'): Distribution | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const m = meanOf(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  const std = Math.sqrt(ss / n);
  const pct: Record<string, number> = {};
  const arr = sorted as unknown as readonly number[];
  for (const p of percentiles) pct[percentileKey(p)] = percentileSorted(arr, p);
  const sampleSd = n > 1 ? Math.sqrt(ss / (n - 1)) : null;
  const half = sampleSd === null ? null : tQuantile975(n - 1) * (sampleSd / Math.sqrt(n));
  return {
    unit,
    n,
    mean: m,
    std,
    median: percentileSorted(arr, 50),
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    percentiles: pct,
    ci95_mean: half === null ? null : [m - half, m + half],
  };
}

/**
 * A distribution-free 95% interval of the p-th percentile from order statistics (normal approximation to
 * the binomial: ranks n·q ± 1.96·√(n·q·(1 − q))), or null when the sample is too small to bound it.
 */
export function percentileInterval(values: readonly number[], p: number): [number, number] | null {
  const n = values.length;
  if (n < 2) return null;
  const q = p / 100;
  const half = 1.96 * Math.sqrt(n * q * (1 - q));
  const lo = Math.floor(n * q - half);
  const hi = Math.ceil(n * q + half);
  if (lo < 0 || hi > n - 1) {
    const sorted = [...values].sort((a, b) => a - b);
    // Unbounded on one side: the interval reaches the extreme sample.
    return [sorted[Math.max(0, lo)] as number, sorted[Math.min(n - 1, hi)] as number];
  }
  const sorted = [...values].sort((a, b) => a - b);
  return [sorted[lo] as number, sorted[hi] as number];
}

function boundedBySample(n: number, p: number): boolean {
  const q = p / 100;
  const half = 1.96 * Math.sqrt(n * q * (1 - q));
  return Math.floor(n * q - half) >= 0 && Math.ceil(n * q + half) <= n - 1;
}

/** Least-squares slope of y against x, or null with fewer than 3 points. */
export function slope(xs: readonly number[], ys: readonly number[]): number | null {
  const n = xs.length;
  if (n < 3) return null;
  const mx = meanOf(xs);
  const my = meanOf(ys);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i += 1) {
    const dx = (xs[i] as number) - mx;
    sxy += dx * ((ys[i] as number) - my);
    sxx += dx * dx;
  }
  return sxx === 0 ? null : sxy / sxx;
}

/** Whether one request met every SLO (per request: its TTFT, TPOT, E2EL, and its largest ITL gap). */
export function requestMeetsSlos(f: RequestFigures, slos: readonly Slo[]): boolean {
  for (const s of slos) {
    const v = s.metric === 'ttft_ms' ? f.ttftMs : s.metric === 'tpot_ms' ? f.tpotMs : s.metric === 'e2el_ms' ? f.e2elMs : f.itlMs.length > 0 ? Math.max(...f.itlMs) : null;
    // A request with one output token has no TPOT: that SLO does not apply to it (vLLM's rule).
    if (v === null) {
      if (s.metric === 'ttft_ms' || s.metric === 'e2el_ms') return false;
      continue;
    }
    if (v > s.limit_ms) return false;
  }
  return true;
}

export interface ClientObservation {
  /** Event-loop delay percentiles during the level, in ms; null when not measured. */
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
  limitMs: number;
}

export interface LevelInput {
  label: string;
  maxConcurrency: number | null;
  requestRate: number | null;
  startedAt: string;
  /** Measured (non-warm-up) and warm-up records together; warm-up ones are left out here. */
  records: readonly RequestRecord[];
  percentiles: readonly number[];
  slos: readonly Slo[];
  client: ClientObservation;
  stopped: string | null;
}

function tokensSourceOf(records: readonly RequestRecord[]): LevelResult['tokens_source'] {
  const set = new Set(records.map((r) => r.tokens_source).filter((s) => s !== null));
  if (set.size === 0) return 'none';
  if (set.size > 1) return 'mixed';
  return [...set][0] as LevelResult['tokens_source'];
}

/**
 * Whether the server fell behind during the level: across it, TTFT (or the wait for a slot) rose by more
 * than the median TTFT and at least 50 ms — the queue is growing, so the figures depend on how long one
 * measures (GuideLLM's over-saturation stop follows the same idea).
 */
export function saturationOf(records: readonly RequestRecord[]): LevelResult['saturation'] {
  const measured = records.filter((r) => !r.warmup);
  const ok = measured.filter((r) => r.error === null && r.first_token_at_ms !== null);
  if (measured.length < 3) return { over_saturated: false, ttft_slope_ms_per_s: null, queue_slope_ms_per_s: null };
  const start = Math.min(...measured.map((r) => r.sent_at_ms));
  const end = Math.max(...measured.map((r) => r.end_at_ms));
  const durationS = Math.max(0, (end - start) / 1000);
  const ttft = ok.map((r) => (r.first_token_at_ms as number) - r.sent_at_ms);
  const ttftSlope = ok.length >= 3 ? slope(ok.map((r) => (r.sent_at_ms - start) / 1000), ttft) : null;
  const queueSlope = slope(measured.map((r) => (r.sent_at_ms - start) / 1000), measured.map((r) => r.slot_at_ms - r.scheduled_at_ms));
  const medianTtft = ttft.length > 0 ? percentileSorted([...ttft].sort((a, b) => a - b), 50) : 0;
  const rise = (s: number | null): number => (s === null ? 0 : s * durationS);
  const bar = Math.max(medianTtft, 50);
  return { over_saturated: rise(ttftSlope) > bar || rise(queueSlope) > bar, ttft_slope_ms_per_s: ttftSlope, queue_slope_ms_per_s: queueSlope };
}

/** One level's summary from its records. */
export function summarizeLevel(input: LevelInput): LevelResult {
  const records = input.records.filter((r) => !r.warmup);
  const ok = records.filter((r) => r.error === null);
  const figures = records.map(requestFigures);
  const okFigures = ok.map(requestFigures);
  const start = records.length > 0 ? Math.min(...records.map((r) => r.sent_at_ms)) : 0;
  const end = records.length > 0 ? Math.max(...records.map((r) => r.end_at_ms)) : 0;
  const durationS = Math.max(0, (end - start) / 1000);
  const failedByClass = Object.fromEntries(ERROR_CLASSES.map((c) => [c, 0])) as Record<ErrorClass, number>;
  const firstErrors: string[] = [];
  for (const r of records) {
    if (!r.error) continue;
    failedByClass[r.error.class] += 1;
    const line = `${r.error.class}: ${r.error.message}`;
    if (firstErrors.length < 5 && !firstErrors.includes(line)) firstErrors.push(line);
  }
  const totalIn = ok.reduce((a, r) => a + (r.prompt_tokens ?? 0), 0);
  const totalOut = ok.reduce((a, r) => a + (r.output_tokens ?? 0), 0);
  const perS = (x: number): number => (durationS > 0 ? x / durationS : 0);
  const pick = (fn: (f: RequestFigures) => number | null): number[] => okFigures.map(fn).filter((v): v is number => v !== null);
  const ttft = pick((f) => f.ttftMs);
  const tpot = pick((f) => f.tpotMs);
  const e2el = pick((f) => f.e2elMs);
  const itl = okFigures.flatMap((f) => f.itlMs);
  const queue = figures.map((f) => f.queueMs);
  const sendLag = figures.map((f) => f.sendLagMs);
  const valuesOf: Record<Slo['metric'], number[]> = { ttft_ms: ttft, tpot_ms: tpot, itl_ms: itl, e2el_ms: e2el };
  const slo = input.slos.map((s) => {
    const values = valuesOf[s.metric];
    const sorted = [...values].sort((a, b) => a - b);
    const value = sorted.length > 0 ? percentileSorted(sorted, s.percentile) : null;
    const ci = percentileInterval(values, s.percentile);
    const met = value !== null && value <= s.limit_ms;
    let verdict: 'met' | 'missed' | 'uncertain';
    if (value === null) verdict = 'missed';
    else if (ci && boundedBySample(values.length, s.percentile)) verdict = ci[1] <= s.limit_ms ? 'met' : ci[0] > s.limit_ms ? 'missed' : 'uncertain';
    else verdict = met ? 'met' : 'missed';
    return { ...s, value_ms: value, met, ci95_value_ms: ci, verdict };
  });
  let good = 0;
  if (input.slos.length > 0) for (const f of okFigures) if (requestMeetsSlos(f, input.slos)) good += 1;
  const usageAndTokenizer = ok.filter((r) => r.usage_completion_tokens !== null && r.tokenizer_completion_tokens !== null && r.usage_completion_tokens > 0);
  const disagreement = usageAndTokenizer.length > 0
    ? meanOf(usageAndTokenizer.map((r) => (Math.abs((r.usage_completion_tokens as number) - (r.tokenizer_completion_tokens as number)) / (r.usage_completion_tokens as number)) * 100))
    : null;
  const chunks = ok.reduce((a, r) => a + r.chunk_at_ms.length, 0);
  const saturation = saturationOf(records);
  const sendLagDist = distribution(sendLag, input.percentiles);
  const reasons: string[] = [];
  const eld = input.client.eventLoopDelayMs;
  if (eld && eld.p99 > input.client.limitMs) reasons.push(`event-loop delay p99 ${eld.p99.toFixed(2)} ms > ${input.client.limitMs} ms`);
  const lagP99 = sendLag.length > 0 ? percentileSorted([...sendLag].sort((a, b) => a - b), 99) : null;
  if (lagP99 !== null && lagP99 > input.client.limitMs) reasons.push(`send lag p99 ${lagP99.toFixed(2)} ms > ${input.client.limitMs} ms`);
  const limited = reasons.length > 0;
  return {
    label: input.label,
    max_concurrency: input.maxConcurrency,
    request_rate: input.requestRate,
    started_at: input.startedAt,
    duration_s: durationS,
    num_requests: records.length,
    completed: ok.length,
    failed: records.length - ok.length,
    failed_by_class: failedByClass,
    first_errors: firstErrors,
    request_throughput: perS(ok.length),
    output_throughput: perS(totalOut),
    total_token_throughput: perS(totalIn + totalOut),
    total_input_tokens: totalIn,
    total_output_tokens: totalOut,
    tokens_source: tokensSourceOf(ok),
    tokens_disagreement_pct: disagreement,
    tokens_per_chunk: chunks > 0 ? totalOut / chunks : null,
    goodput: input.slos.length > 0 ? perS(good) : null,
    slo_attainment: input.slos.length > 0 && records.length > 0 ? good / records.length : null,
    slo,
    slo_met: input.slos.length > 0 ? slo.every((s) => s.met) && records.length > 0 && ok.length > 0 : null,
    metrics: {
      ttfb_ms: distribution(pick((f) => f.ttfbMs), input.percentiles),
      ttft_ms: distribution(ttft, input.percentiles),
      tpot_ms: distribution(tpot, input.percentiles),
      itl_ms: distribution(itl, input.percentiles),
      e2el_ms: distribution(e2el, input.percentiles),
      queue_ms: distribution(queue, input.percentiles),
      send_lag_ms: sendLagDist,
    },
    saturation,
    client: { limit_ms: input.client.limitMs, event_loop_delay_ms: eld, send_lag_p99_ms: lagP99, limited, reasons },
    valid: !limited && (input.stopped === null || input.stopped.startsWith(OVER_SATURATED)),
    stopped: input.stopped,
  };
}
