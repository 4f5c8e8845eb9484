/**
 * Arrival schedules of an open-loop load: gaps drawn from a gamma distribution with shape = burstiness
 * and scale = 1 ÷ (rate × burstiness), so the mean gap is 1 ÷ rate whatever the burstiness (1 = Poisson,
 * exponential gaps; below 1 burstier, above 1 more regular) — the definition of `vllm bench serve`. Like
 * vLLM, the gaps are then scaled so the whole schedule spans exactly N ÷ rate. Seeded: the same seed gives
 * the same schedule. Pure.
 */
import { splitmix32 } from '../util/random.js';

/** A derived, independent seed for one purpose (prompts, lengths, arrivals), so changing one leaves the others. */
export function deriveSeed(seed: number, purpose: string): number {
  let h = (Math.trunc(seed) ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < purpose.length; i += 1) h = Math.imul(h ^ purpose.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function standardNormal(rng: () => number): number {
  // Box–Muller; 1 − u keeps the logarithm finite.
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** One gamma(shape, scale) draw: Marsaglia–Tsang (2000), with the shape < 1 boost u^(1/shape). */
export function gammaSample(rng: () => number, shape: number, scale: number): number {
  if (!(shape > 0) || !(scale > 0)) throw new RangeError('gamma needs shape > 0 and scale > 0');
  if (shape < 1) return gammaSample(rng, shape + 1, scale) * Math.pow(1 - rng(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v * scale;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * scale;
  }
}

export interface ArrivalOptions {
  /** Requests per second; Infinity sends everything at once. */
  rate: number;
  /** Gamma shape; 1 = Poisson. */
  burstiness: number;
  seed: number;
}

/** `count` raw inter-arrival gaps in seconds (not rescaled). */
export function arrivalGaps(count: number, options: ArrivalOptions): number[] {
  if (!Number.isFinite(options.rate)) return new Array<number>(count).fill(0);
  const rng = splitmix32(deriveSeed(options.seed, 'arrivals'));
  const scale = 1 / (options.rate * options.burstiness);
  const gaps: number[] = [];
  for (let i = 0; i < count; i += 1) gaps.push(gammaSample(rng, options.burstiness, scale));
  return gaps;
}

/**
 * Send offsets in milliseconds from the start of the run, one per request, ascending: request i goes at
 * the sum of the gaps before it (the first at 0), the gaps scaled so that all `count` of them span exactly
 * count ÷ rate seconds, as in vLLM.
 */
export function arrivalOffsetsMs(count: number, options: ArrivalOptions): number[] {
  if (count === 0) return [];
  if (!Number.isFinite(options.rate)) return new Array<number>(count).fill(0);
  const gaps = arrivalGaps(count, options);
  let total = 0;
  for (const g of gaps) total += g;
  const target = count / options.rate;
  const k = total > 0 ? target / total : 1;
  const offsets: number[] = [];
  let t = 0;
  for (let i = 0; i < count; i += 1) {
    offsets.push(t * 1000);
    t += (gaps[i] as number) * k;
  }
  return offsets;
}
