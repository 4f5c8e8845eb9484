/**
 * A small seeded pseudo-random generator (mulberry32) so fidelity token sequences and test data are the
 * same on every machine and every run.
 */
import { mulberry32 } from '../util/random.js';

export interface SeededRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, bound). */
  int(bound: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

export function createRandom(seed: number): SeededRandom {
  const next = mulberry32(seed);
  let spare: number | undefined;
  return {
    next,
    int: (bound) => Math.floor(next() * bound),
    normal: () => {
      if (spare !== undefined) {
        const value = spare;
        spare = undefined;
        return value;
      }
      const u = 1 - next();
      const v = next();
      const radius = Math.sqrt(-2 * Math.log(u));
      spare = radius * Math.sin(2 * Math.PI * v);
      return radius * Math.cos(2 * Math.PI * v);
    },
  };
}
