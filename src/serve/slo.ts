/**
 * Service-level objectives of a serving run: `ttft_p99=2000ms,tpot_p99=200ms,e2el_p99=8s` (a metric, a
 * percentile, a limit), the MLPerf Inference server-scenario presets, and the two targets `recommend`
 * takes (a TTFT and a per-stream decode rate) expressed as median limits. Pure.
 */
import { invalidValue } from '../errors.js';
import type { Slo } from '../report/serve-schema.js';

/** MLPerf Inference server scenario, p99 limits (mlcommons/inference loadgen/mlperf.conf). */
export const SLO_PRESETS: Record<string, { ttft_ms: number; tpot_ms: number }> = {
  'llama2-70b': { ttft_ms: 2000, tpot_ms: 200 },
  'llama2-70b-interactive': { ttft_ms: 450, tpot_ms: 40 },
  'llama3.1-8b': { ttft_ms: 2000, tpot_ms: 100 },
  'llama3.1-8b-interactive': { ttft_ms: 500, tpot_ms: 30 },
  'llama3.1-405b': { ttft_ms: 6000, tpot_ms: 175 },
  'llama3.1-405b-interactive': { ttft_ms: 4500, tpot_ms: 80 },
  'mixtral-8x7b': { ttft_ms: 2000, tpot_ms: 200 },
  'deepseek-r1': { ttft_ms: 2000, tpot_ms: 80 },
  'deepseek-r1-interactive': { ttft_ms: 1500, tpot_ms: 15 },
};

const METRICS = ['ttft', 'tpot', 'itl', 'e2el'] as const;

/** A duration: "200ms", "2s", "1.5s" or a bare number of milliseconds. */
export function parseDurationMs(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(text);
  if (!m) throw invalidValue(what, text, 'a duration such as 200ms or 2s');
  const v = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
  if (!(v > 0)) throw invalidValue(what, text, 'a duration greater than 0');
  return v;
}

/** Parses `ttft_p99=2000ms,tpot_p99=200ms`; a metric without a percentile (`e2el=5s`) means p99. */
export function parseSloList(text: string): Slo[] {
  const out: Slo[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq === -1) throw invalidValue('--slo entry', part, 'METRIC_pP=LIMIT, e.g. ttft_p99=2000ms (metrics: ttft, tpot, itl, e2el)');
    const key = part.slice(0, eq).trim().toLowerCase();
    const m = /^(ttft|tpot|itl|e2el)(?:_p(\d+(?:\.\d+)?))?$/.exec(key);
    if (!m) throw invalidValue('--slo metric', key, `${METRICS.map((x) => `${x}_pNN`).join(', ')}`);
    const percentile = m[2] === undefined ? 99 : Number(m[2]);
    if (!(percentile > 0 && percentile <= 100)) throw invalidValue('--slo percentile', m[2], 'a percentile between 0 and 100');
    out.push({ metric: `${m[1] as (typeof METRICS)[number]}_ms`, percentile, limit_ms: parseDurationMs(part.slice(eq + 1), `--slo ${key}`), source: 'flag' });
  }
  return out;
}

export function presetSlos(name: string): Slo[] {
  const p = SLO_PRESETS[name];
  if (!p) throw invalidValue('--slo-preset', name, Object.keys(SLO_PRESETS));
  return [
    { metric: 'ttft_ms', percentile: 99, limit_ms: p.ttft_ms, source: `mlperf:${name}` },
    { metric: 'tpot_ms', percentile: 99, limit_ms: p.tpot_ms, source: `mlperf:${name}` },
  ];
}

/** `recommend`'s targets as SLOs on the median: --max-ttft MS and --target-tps N (per stream, so TPOT ≤ 1000 ÷ N). */
export function targetSlos(maxTtftMs: number | undefined, targetTps: number | undefined): Slo[] {
  const out: Slo[] = [];
  if (maxTtftMs !== undefined) out.push({ metric: 'ttft_ms', percentile: 50, limit_ms: maxTtftMs, source: 'target' });
  if (targetTps !== undefined) out.push({ metric: 'tpot_ms', percentile: 50, limit_ms: 1000 / targetTps, source: 'target' });
  return out;
}

/** Later entries for the same metric and percentile replace earlier ones (flags after presets). */
export function mergeSlos(...lists: Slo[][]): Slo[] {
  const byKey = new Map<string, Slo>();
  for (const list of lists) for (const s of list) byKey.set(`${s.metric}@${s.percentile}`, s);
  return [...byKey.values()];
}
