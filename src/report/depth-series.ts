/**
 * Decode speed against KV-cache depth (`@d` tests): the results of a report grouped by everything but the
 * depth, each group's median decode tok/s in depth order. Shared by the HTML chart and the terminal sparkline,
 * so both show the same series. Pure.
 */
import type { BenchReport, BenchResult } from './schema.js';

export interface DepthPoint {
  depth: number;
  /** Median decode tok/s. */
  decodeTps: number;
  /** 95% CI of the mean, when there are two or more repetitions. */
  ci95: [number, number] | null;
  testId: string;
}

export interface DepthSeries {
  /** e.g. `qwen2.5-0.5b fp32 t2 tg128`: the group, with the test named without its depth. */
  label: string;
  points: DepthPoint[];
}

function groupLabel(r: BenchResult): string {
  const test = r.test.id.replace(/@d\d+/, '');
  const model = r.model.synthetic ? `${r.model.id} (synthetic)` : r.model.id;
  return `${model} ${r.variant.name} ${r.config.device} t${r.config.threads || 'auto'} ${test}`;
}

/** Groups with at least `minPoints` depths (default 2: one depth is not a curve). */
export function decodeTpsByDepth(report: Pick<BenchReport, 'results'>, minPoints = 2): DepthSeries[] {
  const groups = new Map<string, DepthPoint[]>();
  for (const r of report.results) {
    const stat = r.metrics.decode_tps;
    if (r.status !== 'ok' || !stat) continue;
    const label = groupLabel(r);
    const points = groups.get(label) ?? [];
    points.push({ depth: r.test.n_depth, decodeTps: stat.p50, ci95: stat.ci95, testId: r.test.id });
    groups.set(label, points);
  }
  const out: DepthSeries[] = [];
  for (const [label, points] of groups) {
    const depths = new Set(points.map((p) => p.depth));
    if (depths.size < minPoints) continue;
    out.push({ label, points: points.sort((a, b) => a.depth - b.depth) });
  }
  return out;
}
