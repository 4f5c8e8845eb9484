/**
 * Baseline comparison and the CI outcome of a serving run, with the noise-aware rule of `bench`
 * (`judgeChange`: a change beyond the threshold whose Welch 95% interval excludes zero is a regression;
 * one whose interval straddles the threshold is inconclusive). Levels match by label. Exit codes as
 * `bench`: 0 pass, 1 fail (failed requests, a missed SLO, a regression), 3 inconclusive — and 3 when the
 * client, not the server, limited a level (the figures then say nothing about the server). Pure.
 */
import { EXIT_CODES } from '../errors.js';
import { combineVerdicts, judgeChange, type Direction } from './compare.js';
import type { Distribution, LevelResult, ServeReport } from './serve-schema.js';

type Comparison = NonNullable<ServeReport['comparison']>;

const DIST_METRICS: readonly { metric: 'ttft_ms' | 'tpot_ms' | 'itl_ms' | 'e2el_ms'; direction: Direction }[] = [
  { metric: 'ttft_ms', direction: 'lower_is_better' },
  { metric: 'tpot_ms', direction: 'lower_is_better' },
  { metric: 'itl_ms', direction: 'lower_is_better' },
  { metric: 'e2el_ms', direction: 'lower_is_better' },
];

function asStat(d: Distribution): { n: number; mean: number; stddev: number | null } {
  // The report keeps numpy's population std; Welch wants the sample std.
  return { n: d.n, mean: d.mean, stddev: d.n > 1 ? d.std * Math.sqrt(d.n / (d.n - 1)) : null };
}

export function compareServeReports(baseline: ServeReport, levels: readonly LevelResult[], options: { thresholdPct: number; baselinePath: string | null }): Comparison {
  const rows: Comparison['results'] = [];
  const byLabel = new Map(levels.map((l) => [l.label, l]));
  for (const b of baseline.levels) {
    const c = byLabel.get(b.label);
    if (!c) continue;
    for (const { metric, direction } of DIST_METRICS) {
      const mb = b.metrics[metric];
      const mc = c.metrics[metric];
      if (!mb || !mc) continue;
      rows.push({ level: c.label, metric, direction, baseline: mb.mean, current: mc.mean, unit: 'ms', ...judgeChange(asStat(mb), asStat(mc), direction, options.thresholdPct) });
    }
    for (const metric of ['output_throughput', 'request_throughput'] as const) {
      rows.push({ level: c.label, metric, direction: 'higher_is_better', baseline: b[metric], current: c[metric], unit: metric === 'output_throughput' ? 'tok/s' : 'req/s', ...judgeChange({ n: 1, mean: b[metric], stddev: null }, { n: 1, mean: c[metric], stddev: null }, 'higher_is_better', options.thresholdPct) });
    }
  }
  return { baseline_path: options.baselinePath, threshold_pct: options.thresholdPct, results: rows, verdict: combineVerdicts(rows.map((r) => r.verdict)) };
}

export function decideServeOutcome(levels: readonly LevelResult[], findMax: ServeReport['find_max'], comparison: Comparison | null, inconclusivePass: boolean): ServeReport['outcome'] {
  const reasons: string[] = [];
  const limited = levels.filter((l) => l.client.limited);
  for (const l of limited) reasons.push(`${l.label}: the client was the bottleneck (${l.client.reasons.join('; ')}); the figures are not the server's`);
  if (limited.length > 0) return { status: 'invalid', exit_code: EXIT_CODES.inconclusive, reasons };
  let fail = false;
  if (findMax) {
    if (findMax.best === null) {
      fail = true;
      reasons.push(`find-max: no level met every SLO${findMax.stopped ? ` (${findMax.stopped})` : ''}`);
    }
  } else {
    for (const l of levels) {
      if (l.failed > 0) {
        fail = true;
        reasons.push(`${l.label}: ${l.failed} of ${l.num_requests} requests failed (${l.first_errors[0] ?? ''})`);
      }
      if (l.stopped) {
        fail = true;
        reasons.push(`${l.label}: stopped: ${l.stopped}`);
      }
      if (l.slo_met === false) {
        fail = true;
        for (const s of l.slo.filter((x) => !x.met)) reasons.push(`${l.label}: ${s.metric} p${s.percentile} ${s.value_ms === null ? 'n/a' : s.value_ms.toFixed(1)} ms > ${s.limit_ms} ms`);
      }
    }
  }
  const regressed = comparison?.results.filter((r) => r.verdict === 'regressed') ?? [];
  for (const r of regressed) reasons.push(`regressed: ${r.level} ${r.metric} ${r.delta_pct.toFixed(1)}%`);
  if (fail || regressed.length > 0) return { status: 'fail', exit_code: EXIT_CODES.failed, reasons };
  const inconclusive = comparison?.results.filter((r) => r.verdict === 'inconclusive') ?? [];
  if (inconclusive.length > 0) {
    for (const r of inconclusive) reasons.push(`inconclusive: ${r.level} ${r.metric} ${r.delta_pct.toFixed(1)}%`);
    return inconclusivePass ? { status: 'pass', exit_code: EXIT_CODES.ok, reasons } : { status: 'inconclusive', exit_code: EXIT_CODES.inconclusive, reasons };
  }
  return { status: 'pass', exit_code: EXIT_CODES.ok, reasons };
}
