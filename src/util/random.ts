/**
 * Seeded uniform generators on [0, 1): the same seed gives the same sequence on every machine. Two
 * algorithms, each kept because what it seeds must stay reproducible across versions: mulberry32 for
 * bench prompts and quantize's fidelity tokens, splitmix32 for serve-bench's schedules and workloads.
 */

/** mulberry32: a 32-bit state advanced by a constant and mixed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** splitmix32-style mixing of a 32-bit counter; fast and well spread. */
export function splitmix32(seed: number): () => number {
  let state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    z = (z ^ (z >>> 15)) >>> 0;
    return z / 4294967296;
  };
}
