/**
 * Greedy generation and the harness's self-check on top of the decoder loop (src/runtime/decoder-loop.ts).
 */
import type * as ort from 'onnxruntime-node';
import { ModelscoutError } from '../errors.js';
import type { DecoderIo } from '../runtime/decoder-io.js';
import { DecoderLoop, logitsRow } from '../runtime/decoder-loop.js';

export interface GenerateResult {
  /** Generated ids per sequence (the prompt excluded). */
  ids: number[][];
  /** Time each token became available, in ms from the start of the prefill (index 0: the first token). */
  tokenTimesMs: number[];
  /** ms inside `session.run` for the prefill and each decode step. */
  runMs: number[];
}

/** Greedy generation of `maxNew` tokens for each prompt (left-padded when lengths differ). */
export async function generateGreedy(loop: DecoderLoop, prompts: readonly (readonly number[])[], maxNew: number): Promise<GenerateResult> {
  if (maxNew < 1) throw new RangeError('maxNew must be at least 1');
  let longest = 0;
  for (const p of prompts) longest = Math.max(longest, p.length);
  loop.reset(prompts.length, longest + maxNew);
  const ids: number[][] = prompts.map(() => []);
  const tokenTimesMs: number[] = [];
  const runMs: number[] = [];
  const t0 = process.hrtime.bigint();
  const first = await loop.prefill(prompts);
  runMs.push(first.runNs / 1e6);
  let next = loop.sampleNext();
  tokenTimesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  for (let i = 0; i < prompts.length; i += 1) (ids[i] as number[]).push(next[i] as number);
  for (let k = 1; k < maxNew; k += 1) {
    const ns = await loop.decodeStep();
    runMs.push(ns / 1e6);
    next = loop.next;
    tokenTimesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    for (let i = 0; i < prompts.length; i += 1) (ids[i] as number[]).push(next[i] as number);
  }
  return { ids, tokenTimesMs, runMs };
}

/**
 * The reference: greedy generation that recomputes the whole sequence from an empty cache for every new
 * token (no cache reuse). Slow on purpose; the checks compare the loop against it.
 */
export async function generateByRecompute(loop: DecoderLoop, prompt: readonly number[], maxNew: number): Promise<number[]> {
  const seq = [...prompt];
  const out: number[] = [];
  for (let k = 0; k < maxNew; k += 1) {
    loop.reset(1, seq.length);
    await loop.prefill([seq]);
    const t = loop.sampleNext()[0] as number;
    out.push(t);
    seq.push(t);
  }
  return out;
}

export interface SelfCheckResult {
  passed: boolean;
  max_abs_diff: number;
  tolerance: number;
  positions: number;
}

/** Relative tolerance of the self-check by KV/logits precision: reduced-precision graphs round more. */
export function selfCheckTolerance(io: Pick<DecoderIo, 'kvType' | 'logitsType'>, quantized: boolean): number {
  if (io.kvType === 'float16' || io.logitsType === 'float16') return 2e-2;
  // int4 models usually run MatMulNBits at accuracy level 4, which quantizes activations to int8 per block:
  // a 1-row decode step and a many-row prefill then round differently, by ~1% of the largest logit after a
  // dozen random-weight layers (seen: 1.1e-2 on GPT-2). A broken KV cache differs by O(1), far above 3e-2.
  return quantized ? 3e-2 : 1e-3;
}

/**
 * The check run beside the timing (after a variant's tests): incremental decoding with the KV cache must give the same logits as
 * recomputing the whole sequence. Prefills `promptLength` seeded tokens, decodes `steps` greedy tokens,
 * then runs the whole sequence at once and compares the logits at every decoded position, scaled by the
 * largest reference logit (so the tolerance is relative).
 */
export async function selfCheck(loop: DecoderLoop, prompt: readonly number[], steps: number, tolerance: number): Promise<SelfCheckResult> {
  loop.reset(1, prompt.length + steps + 1);
  await loop.prefill([prompt]);
  const incremental: Float64Array[] = [logitsRow(loop.lastLogits as ort.Tensor, 0, (loop.lastLogits as ort.Tensor).dims[1] as number - 1)];
  const seq = [...prompt];
  for (let k = 0; k < steps; k += 1) {
    const t = loop.sampleNext()[0] as number;
    seq.push(t);
    await loop.decodeStep();
    incremental.push(logitsRow(loop.lastLogits as ort.Tensor, 0, 0));
  }
  loop.reset(1, seq.length);
  const full = await loop.prefill([seq], true);
  const fullLen = full.logits.dims[1] as number;
  let maxDiff = 0;
  let scale = 0;
  for (let k = 0; k < incremental.length; k += 1) {
    // Position of the k-th compared token in the full run; a model that returns only the last
    // position's logits (logits_to_keep without override) can be compared at the last position only.
    const pos = fullLen === seq.length ? prompt.length - 1 + k : fullLen - 1;
    if (fullLen !== seq.length && k !== incremental.length - 1) continue;
    const ref = logitsRow(full.logits, 0, pos);
    const inc = incremental[k] as Float64Array;
    for (let i = 0; i < ref.length; i += 1) {
      const r = ref[i] as number;
      scale = Math.max(scale, Math.abs(r));
      maxDiff = Math.max(maxDiff, Math.abs(r - (inc[i] as number)));
    }
  }
  const rel = maxDiff / Math.max(scale, 1e-6);
  if (!Number.isFinite(rel)) {
    throw new ModelscoutError('E_MODEL', 'self-check: the model produced non-finite logits', { suggestions: ['Check the model with `modelscout generate`.'] });
  }
  return { passed: rel <= tolerance, max_abs_diff: maxDiff, tolerance: tolerance * Math.max(scale, 1e-6), positions: incremental.length };
}
