/**
 * `serve-bench merge a.json b.json …`: the shard reports of one run (`--shard i/n --start-at T` on n load
 * generators) combined into one report. The raw records are concatenated — their times are absolute epoch
 * milliseconds, so they share one time line — and every figure is recomputed from them by the same
 * `summarizeLevel` a single run uses: percentiles of the whole run, never averages of the shards'.
 * Shards of different runs (another schedule, load, workload, target or start) are refused.
 */
import { ModelscoutError } from '../errors.js';
import type { LevelResult, RequestRecord, ServeReport } from '../report/serve-schema.js';
import { decideServeOutcome } from '../report/serve-compare.js';
import { summarizeLevel } from './metrics.js';

export interface ShardFile {
  file: string;
  report: ServeReport;
}

/** What must be equal for two reports to be shards of one run. */
function runIdentity(r: ServeReport): Record<string, unknown> {
  return {
    'the start time (--start-at)': r.shard?.start_at,
    'the shard count': r.shard?.of,
    'the model': r.target.model,
    'the endpoint': r.target.endpoint,
    'the workload (dataset, lengths, seed, prompts)': r.workload,
    'the load (rate, burstiness, concurrency)': { ...r.load, workers: undefined },
    'the SLOs': r.slo,
    'the percentiles': r.percentiles,
    'the levels': r.levels.map((l) => l.label),
  };
}

function refuse(message: string, suggestion: string): never {
  throw new ModelscoutError('E_INPUT', message, { suggestions: [suggestion] });
}

export function mergeShardReports(shards: readonly ShardFile[], argv: string[]): ServeReport {
  if (shards.length === 0) refuse('serve-bench merge needs shard reports', 'Pass the --out files of every shard: serve-bench merge a.json b.json …');
  for (const s of shards) {
    if (!s.report.shard || !s.report.records) refuse(`${s.file} is not a shard report (no shard and records)`, 'Write each shard with serve-bench --shard i/n --start-at TIME --out FILE.');
  }
  const first = shards[0]!;
  const identity = runIdentity(first.report);
  for (const s of shards.slice(1)) {
    const other = runIdentity(s.report);
    const differs = Object.keys(identity).find((k) => JSON.stringify(identity[k]) !== JSON.stringify(other[k]));
    if (differs !== undefined) refuse(`${first.file} and ${s.file} are shards of different runs: ${differs} differs`, 'Merge the shards of one run: the same flags and --start-at on every load generator, only --shard i/n differing.');
  }
  const of = first.report.shard!.of;
  const seen = new Map<number, string>();
  for (const s of shards) {
    const i = s.report.shard!.index;
    if (seen.has(i)) refuse(`${seen.get(i)} and ${s.file} are both shard ${i}/${of}`, 'Pass each shard report once.');
    seen.set(i, s.file);
  }
  const missing = Array.from({ length: of }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) refuse(`shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${of}`).join(', ')} missing: the merged figures would leave out ${missing.length === 1 ? 'its' : 'their'} requests`, 'Pass the reports of all shards of the run.');

  const records: RequestRecord[] = shards.flatMap((s) => s.report.records ?? []).sort((a, b) => a.index - b.index);
  const levels: LevelResult[] = first.report.levels.map((level) => {
    const own = shards.map((s) => s.report.levels.find((l) => l.label === level.label)).filter((l): l is LevelResult => l !== undefined);
    const delays = own.map((l) => l.client.event_loop_delay_ms).filter((d) => d !== null);
    return summarizeLevel({
      label: level.label,
      maxConcurrency: level.max_concurrency,
      requestRate: level.request_rate,
      startedAt: own.map((l) => l.started_at).sort()[0] ?? level.started_at,
      records: records.filter((r) => r.level === level.label),
      percentiles: first.report.percentiles,
      slos: first.report.slo,
      // The worst load generator decides whether the clients kept up.
      client: {
        eventLoopDelayMs: delays.length === 0 ? null : { p50: Math.max(...delays.map((d) => d.p50)), p99: Math.max(...delays.map((d) => d.p99)), max: Math.max(...delays.map((d) => d.max)) },
        limitMs: level.client.limit_ms,
      },
      stopped: own.map((l) => l.stopped).find((x) => x !== null) ?? null,
    });
  });
  const ordered = [...shards].sort((a, b) => a.report.shard!.index - b.report.shard!.index);
  const notes = [...new Set(ordered.flatMap((s) => s.report.notes))];
  notes.push(`merged from ${of} shards: ${ordered.map((s) => `${s.file} (${s.report.shard!.index}/${of})`).join(', ')}; every figure recomputed from their ${records.length} records`);
  return {
    ...first.report,
    run: {
      started_at: ordered.map((s) => s.report.run.started_at).sort()[0]!,
      finished_at: ordered.map((s) => s.report.run.finished_at).sort().at(-1)!,
      argv,
    },
    target: { ...first.report.target, base_urls: [...new Set(ordered.flatMap((s) => s.report.target.base_urls))] },
    load: { ...first.report.load, workers: ordered.reduce((n, s) => n + s.report.load.workers, 0) },
    levels,
    find_max: null,
    comparison: null,
    notes,
    outcome: decideServeOutcome(levels, null, null, false),
    shard: null,
    merged_from: ordered.map((s) => ({ file: s.file, shard: s.report.shard!.index, of })),
    records,
  };
}
