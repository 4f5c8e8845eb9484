/**
 * Runs one test (scenario) on a loaded decoder: warm-ups (excluded), then timed repetitions with the
 * cache reset before each, and turns the per-repetition timings into the report's metrics.
 *
 * Timestamps (process.hrtime.bigint): t_start before the prefill's inputs are built; the prefill ends when
 * `session.run` returns (logits are host memory on the CPU provider, readable then); token k is available
 * after its argmax. tg<G> starts from an untimed fill (the depth, or one token), so its G steps are all
 * decode; pp<P>+tg<G> takes its first token from the prefill and decodes G − 1 more.
 */
import { kvBytesPerToken } from '../runtime/decoder-io.js';
import type { DecoderLoop } from '../runtime/decoder-loop.js';
import { currentRss, type PeakRss } from './memory.js';
import { batchSequenceLengths, hashTokenIds, kvTokensAtEnd, syntheticTokenIds, type TestSpec } from './scenarios.js';
import { summarize, summarizeRate, type Stat } from '../report/stats.js';

export interface RepetitionSample {
  repetition: number;
  prefill_ms: number | null;
  first_sample_ms: number | null;
  ttft_ms: number | null;
  decode_ms: number | null;
  decode_steps: number;
  itl_ms: number[];
  decode_run_ms: number[];
  harness_overhead_pct: number | null;
  e2e_ms: number;
  output_ids_sha256: string;
  rss_peak_bytes: number | null;
}

export interface MetricStats {
  prefill_ms: Stat | null;
  prefill_tps: Stat | null;
  first_sample_ms: Stat | null;
  ttft_ms: Stat | null;
  tpot_ms: Stat | null;
  itl_ms: Stat | null;
  decode_tps: Stat | null;
  decode_run_ms: Stat | null;
  harness_overhead_pct: Stat | null;
  e2e_ms: Stat | null;
  output_tps: Stat | null;
  total_tps: Stat | null;
}

export interface TestMeasurement {
  prompt_lengths: number[];
  input_ids_sha256: string;
  warmup_ms: number[];
  samples: RepetitionSample[];
  metrics: MetricStats;
  kv: { bytes_per_token: number; tokens_at_end: number; analytic_bytes: number; measured_bytes: number };
  rss_peak_bytes: number | null;
  /** The kernel's high-water mark (Linux): the same exact peak as `rss_peak_bytes` when that is how it was tracked. */
  rss_peak_kernel_bytes: number | null;
  /** The sampling interval of `rss_peak_bytes`; null when the kernel's exact peak was used. */
  rss_sample_interval_ms: number | null;
  /** RSS right after the warm-ups (the session at its working size for this shape). */
  rss_after_warmup_bytes: number;
}

export interface MeasureOptions {
  repetitions: number;
  warmup: number;
  seed: number;
  vocabSize: number;
  rss?: PeakRss | null;
  onProgress?: (message: string) => void;
}

/** The token ids of a test, fixed by the seed and the test id (the same inputs on every repetition). */
export interface TestInputs {
  /** Untimed first chunk (the depth fill; for tg without depth, one token). */
  fill: number[][] | null;
  /** Timed prompt chunk (pp kinds). */
  prompt: number[][] | null;
  promptLengths: number[];
  hash: string;
}

function seedFor(seed: number, id: string, part: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < id.length; i += 1) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return (h + part * 0x85ebca6b) >>> 0;
}

export function buildTestInputs(test: TestSpec, seed: number, vocabSize: number): TestInputs {
  const b = test.batch_size;
  const seqs = (lengths: number[], part: number): number[][] => lengths.map((len, i) => syntheticTokenIds(seedFor(seed, test.id, part * 1000 + i), len, vocabSize));
  let fill: number[][] | null = null;
  let prompt: number[][] | null = null;
  let promptLengths: number[];
  if (test.kind === 'tg') {
    promptLengths = test.n_depth > 0 ? batchSequenceLengths(test.n_depth, b) : new Array<number>(b).fill(1);
    fill = seqs(promptLengths, 1);
  } else if (test.n_depth > 0) {
    promptLengths = batchSequenceLengths(test.n_depth, b);
    fill = seqs(promptLengths, 1);
    prompt = seqs(new Array<number>(b).fill(test.n_prompt), 2);
  } else {
    promptLengths = batchSequenceLengths(test.n_prompt, b);
    prompt = seqs(promptLengths, 2);
  }
  const all = [...(fill ?? []).flat(), ...(prompt ?? []).flat()];
  return { fill, prompt, promptLengths, hash: hashTokenIds(all) };
}

const ns = (a: bigint, b: bigint): number => Number(b - a);

/** One timed pass of the test. */
export async function runRepetition(loop: DecoderLoop, test: TestSpec, inputs: TestInputs, repetition: number): Promise<Omit<RepetitionSample, 'rss_peak_bytes'>> {
  const b = test.batch_size;
  const steps = test.kind === 'pp' ? 0 : test.kind === 'tg' ? test.n_gen : test.n_gen - 1;
  loop.reset(b, kvTokensAtEnd(test) + 1);
  const generated = new Int32Array(b * (steps + 1));
  let produced = 0;
  const record = (next: Int32Array): void => {
    for (let i = 0; i < b; i += 1) generated[i * (steps + 1) + produced] = next[i] as number;
    produced += 1;
  };
  let tStart: bigint;
  let tFirst: bigint;
  let prefillMs: number | null = null;
  let firstSampleMs: number | null = null;
  if (test.kind === 'tg') {
    await loop.prefill(inputs.fill as number[][]);
    record(loop.sampleNext());
    tStart = process.hrtime.bigint();
    tFirst = tStart;
  } else {
    if (inputs.fill) {
      await loop.prefill(inputs.fill);
    }
    tStart = process.hrtime.bigint();
    await loop.prefill(inputs.prompt as number[][]);
    const tPrefill = process.hrtime.bigint();
    record(loop.sampleNext());
    tFirst = process.hrtime.bigint();
    prefillMs = ns(tStart, tPrefill) / 1e6;
    firstSampleMs = ns(tPrefill, tFirst) / 1e6;
  }
  // Preallocated: the timed loop itself allocates nothing but the BigInt timestamps.
  const itl = new Float64Array(steps);
  const run = new Float64Array(steps);
  let tPrev = tFirst;
  for (let k = 0; k < steps; k += 1) {
    run[k] = await loop.decodeStep();
    const t = process.hrtime.bigint();
    itl[k] = Number(t - tPrev);
    tPrev = t;
    record(loop.next);
  }
  const tEnd = tPrev;
  let sumItl = 0;
  let sumRun = 0;
  for (let k = 0; k < steps; k += 1) {
    sumItl += itl[k] as number;
    sumRun += run[k] as number;
  }
  const outputIds = Array.from(generated.subarray(0, b * (steps + 1)));
  return {
    repetition,
    prefill_ms: prefillMs,
    first_sample_ms: firstSampleMs,
    ttft_ms: prefillMs === null || firstSampleMs === null ? null : prefillMs + firstSampleMs,
    decode_ms: steps > 0 ? ns(tFirst, tEnd) / 1e6 : null,
    decode_steps: steps,
    itl_ms: Array.from(itl, (v) => v / 1e6),
    decode_run_ms: Array.from(run, (v) => v / 1e6),
    harness_overhead_pct: steps > 0 && sumItl > 0 ? ((sumItl - sumRun) / sumItl) * 100 : null,
    // tg: the decode phase (its fill is untimed); pp kinds: from the prefill's start to the last token.
    e2e_ms: ns(tStart, tEnd) / 1e6,
    output_ids_sha256: hashTokenIds(outputIds),
  };
}

/** Summaries of a test's repetitions (the report's `metrics`). */
export function summarizeSamples(test: TestSpec, samples: readonly RepetitionSample[]): MetricStats {
  const b = test.batch_size;
  const pick = (f: (s: RepetitionSample) => number | null): number[] | null => {
    const v = samples.map(f);
    return v.every((x): x is number => x !== null) && v.length > 0 ? v : null;
  };
  const stat = (values: number[] | null, unit: string): Stat | null => (values && values.length > 0 ? summarize(values, unit) : null);
  const prefill = pick((s) => s.prefill_ms);
  const decode = pick((s) => s.decode_ms);
  const e2e = samples.map((s) => s.e2e_ms);
  const steps = samples[0]?.decode_steps ?? 0;
  const pooledItl = samples.flatMap((s) => s.itl_ms);
  const pooledRun = samples.flatMap((s) => s.decode_run_ms);
  const genTokens = test.kind === 'pp' ? 0 : test.n_gen;
  const promptTokens = test.kind === 'tg' ? 0 : test.n_prompt;
  return {
    prefill_ms: stat(prefill, 'ms'),
    prefill_tps: prefill ? summarizeRate(prefill.map(() => b * test.n_prompt), prefill) : null,
    first_sample_ms: stat(pick((s) => s.first_sample_ms), 'ms'),
    ttft_ms: stat(pick((s) => s.ttft_ms), 'ms'),
    tpot_ms: decode && steps > 0 ? summarize(decode.map((d) => d / steps), 'ms') : null,
    itl_ms: pooledItl.length > 0 ? summarize(pooledItl, 'ms') : null,
    decode_tps: decode && steps > 0 ? summarizeRate(decode.map(() => b * steps), decode) : null,
    decode_run_ms: pooledRun.length > 0 ? summarize(pooledRun, 'ms') : null,
    harness_overhead_pct: stat(pick((s) => s.harness_overhead_pct), '%'),
    e2e_ms: summarize(e2e, 'ms'),
    output_tps: genTokens > 0 ? summarizeRate(e2e.map(() => b * genTokens), e2e) : null,
    total_tps: summarizeRate(e2e.map(() => b * (promptTokens + genTokens)), e2e),
  };
}

/** Warm-ups, then repetitions, with memory tracked over the whole test. */
export async function measureTest(loop: DecoderLoop, test: TestSpec, options: MeasureOptions): Promise<TestMeasurement> {
  const inputs = buildTestInputs(test, options.seed, options.vocabSize);
  const rss = options.rss ?? null;
  rss?.reset();
  const warmupMs: number[] = [];
  for (let w = 0; w < options.warmup; w += 1) {
    options.onProgress?.(`${test.id}: warm-up ${w + 1}/${options.warmup}`);
    warmupMs.push((await runRepetition(loop, test, inputs, -1)).e2e_ms);
  }
  const rssAfterWarmup = currentRss();
  const samples: RepetitionSample[] = [];
  let testPeak = 0;
  for (let r = 0; r < options.repetitions; r += 1) {
    options.onProgress?.(`${test.id}: repetition ${r + 1}/${options.repetitions}`);
    const before = rss ? rss.peak() : 0;
    rss?.reset();
    const s = await runRepetition(loop, test, inputs, r);
    const repPeak = rss ? rss.peak() : null;
    testPeak = Math.max(testPeak, before, repPeak ?? 0);
    samples.push({ ...s, rss_peak_bytes: repPeak });
  }
  const bytesPerToken = kvBytesPerToken(loop.io);
  const tokensAtEnd = kvTokensAtEnd(test);
  return {
    prompt_lengths: inputs.promptLengths,
    input_ids_sha256: inputs.hash,
    warmup_ms: warmupMs,
    samples,
    metrics: summarizeSamples(test, samples),
    kv: {
      bytes_per_token: bytesPerToken,
      tokens_at_end: tokensAtEnd,
      analytic_bytes: bytesPerToken * tokensAtEnd * test.batch_size,
      measured_bytes: loop.kv.measuredBytes(),
    },
    rss_peak_bytes: rss ? testPeak : null,
    rss_peak_kernel_bytes: rss && rss.intervalMs === null ? testPeak : null,
    rss_sample_interval_ms: rss ? rss.intervalMs : null,
    rss_after_warmup_bytes: rssAfterWarmup,
  };
}
