/**
 * Percentile with linear interpolation between closest ranks (numpy's default, "type 7"):
 * rank h = (n − 1)·q/100, value = x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]). `sorted` must be ascending.
 * Here, below the layers, so the runtime's CPU probe and the reports' statistics share one definition.
 */
export function percentileSorted(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = ((n - 1) * q) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (h - lo) * (b - a);
}
