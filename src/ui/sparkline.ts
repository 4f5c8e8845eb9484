/**
 * Compact charts for the terminal: a sparkline of block characters, and decode tok/s against KV depth for
 * the bench table (shown on a TTY only; pipes and files get the plain table). Pure: returns strings.
 */
import type { DepthSeries } from '../report/depth-series.js';
import { formatNumber } from '../report/render.js';

const BLOCKS = '▁▂▃▄▅▆▇█';

/**
 * One block per value, scaled between `min` (default 0, so heights compare as ratios) and the largest value.
 * Non-finite values are a space.
 */
export function sparkline(values: readonly number[], min = 0): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return ' '.repeat(values.length);
  const max = Math.max(...finite);
  const span = max - min;
  return values
    .map((v) => {
      if (!Number.isFinite(v)) return ' ';
      const level = span <= 0 ? BLOCKS.length - 1 : Math.round(((Math.max(min, v) - min) / span) * (BLOCKS.length - 1));
      return BLOCKS[level];
    })
    .join('');
}

/** One line per series: `label  ▇▅▃▁  40.0 tok/s @d0 → 25.0 tok/s @d2048`. */
export function depthSparklines(series: readonly DepthSeries[]): string[] {
  if (series.length === 0) return [];
  const width = Math.max(...series.map((s) => s.label.length));
  const lines = ['Decode tok/s against KV depth (0 at the bottom):'];
  for (const s of series) {
    const first = s.points[0];
    const last = s.points[s.points.length - 1];
    if (!first || !last) continue;
    lines.push(`  ${s.label.padEnd(width)}  ${sparkline(s.points.map((p) => p.decodeTps))}  ${formatNumber(first.decodeTps)} @d${first.depth} → ${formatNumber(last.decodeTps)} @d${last.depth}`);
  }
  return lines;
}
