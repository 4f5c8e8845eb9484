/**
 * Renderers of a serving report: a terminal table with one row per load level, markdown for
 * `$GITHUB_STEP_SUMMARY`, and the JSON-lines text of `--save-detailed`. Pure: they return strings.
 */
import Table from 'cli-table3';
import { formatNumber } from './render.js';
import type { Distribution, LevelResult, RequestRecord, ServeReport } from './serve-schema.js';

function dist(d: Distribution | null, key: 'median' | 'p99'): string {
  if (!d) return '–';
  const v = key === 'median' ? d.median : d.percentiles.p99;
  return v === undefined ? '–' : formatNumber(v);
}

const HEADER = ['level', 'ok/failed', 'req/s', 'out tok/s', 'TTFT p50/p99 ms', 'TPOT p50/p99 ms', 'ITL p50/p99 ms', 'E2EL p50 ms', 'goodput', 'SLO', 'client'];

function row(l: LevelResult): string[] {
  const m = l.metrics;
  return [
    l.label,
    `${l.completed}/${l.failed}`,
    formatNumber(l.request_throughput),
    formatNumber(l.output_throughput),
    `${dist(m.ttft_ms, 'median')} / ${dist(m.ttft_ms, 'p99')}`,
    `${dist(m.tpot_ms, 'median')} / ${dist(m.tpot_ms, 'p99')}`,
    `${dist(m.itl_ms, 'median')} / ${dist(m.itl_ms, 'p99')}`,
    dist(m.e2el_ms, 'median'),
    l.goodput === null ? '–' : formatNumber(l.goodput),
    l.slo_met === null ? '–' : l.slo_met ? 'met' : 'missed',
    l.client.limited ? 'LIMITED' : 'ok',
  ];
}

function footer(report: ServeReport): string[] {
  const lines: string[] = [];
  const t = report.target;
  lines.push(`${t.base_urls.join(', ')} · ${t.endpoint} · model ${t.model} · ${report.workload.dataset} dataset · tokens from ${[...new Set(report.levels.map((l) => l.tokens_source))].join('/') || 'n/a'}`);
  if (report.environment.load_avg_1m !== null) lines.push(`load average ${report.environment.load_avg_1m.toFixed(2)} on ${report.environment.cpu.cores} cores when the run started`);
  if (report.slo.length > 0) lines.push(`SLO: ${report.slo.map((s) => `${s.metric.replace('_ms', '')} p${s.percentile} ≤ ${s.limit_ms} ms`).join(', ')}`);
  const fm = report.find_max;
  if (fm) {
    lines.push(`find-max (${fm.dimension}): ${fm.best === null ? 'no level met every SLO' : `highest passing ${fm.best}`}${fm.first_failing !== null ? `, first failing ${fm.first_failing}` : ''}`);
    for (const s of fm.steps) lines.push(`  ${s.phase} ${s.value}: ${s.slo_met ? 'pass' : 'fail'} — ${s.reason}`);
    if (fm.stopped) lines.push(`  ${fm.stopped}`);
  }
  for (const l of report.levels) {
    if (l.client.limited) lines.push(`${l.label}: the client was the bottleneck (${l.client.reasons.join('; ')}) — the figures are not the server's`);
    if (l.stopped) lines.push(`${l.label}: stopped: ${l.stopped}`);
    if (l.saturation.over_saturated) lines.push(`${l.label}: the server is over-saturated (TTFT or the wait for a slot kept climbing)`);
    for (const e of l.first_errors) lines.push(`${l.label}: ${e}`);
  }
  for (const n of report.notes) lines.push(`note: ${n}`);
  if (report.comparison) {
    lines.push(`baseline ${report.comparison.baseline_path ?? ''}: ${report.comparison.verdict} (threshold ${report.comparison.threshold_pct}%)`);
    for (const r of report.comparison.results.filter((x) => x.verdict !== 'pass')) lines.push(`  ${r.level} ${r.metric}: ${r.verdict} ${r.delta_pct.toFixed(1)}%`);
  }
  lines.push(`outcome: ${report.outcome.status} (exit ${report.outcome.exit_code})${report.outcome.reasons.length ? `: ${report.outcome.reasons.join('; ')}` : ''}`);
  return lines;
}

export function renderServeTable(report: ServeReport): string {
  const table = new Table({ head: HEADER, style: { head: [], border: [] } });
  for (const l of report.levels) table.push(row(l));
  return `${table.toString()}\n${footer(report).join('\n')}\n`;
}

export function renderServeMarkdown(report: ServeReport): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = [`### serve-bench: ${esc(report.target.model)} (${report.target.endpoint})`, '', `| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`];
  for (const l of report.levels) lines.push(`| ${row(l).map(esc).join(' | ')} |`);
  lines.push('');
  for (const f of footer(report)) lines.push(`- ${esc(f.trim())}`);
  return `${lines.join('\n')}\n`;
}

/** One record per line (`--save-detailed`). */
export function renderRecordsJsonl(records: readonly RequestRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length > 0 ? '\n' : '');
}
