/**
 * Server-side figures from an engine's Prometheus `/metrics`: the text exposition format parsed, and the names
 * vLLM, SGLang and TGI give the same quantities mapped onto one set — KV-cache usage, running and waiting
 * requests, prefix-cache hit rate. Pure parsing and mapping; the sampler takes its fetch and clock from the
 * caller.
 */

export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses Prometheus text format 0.0.4: `name{label="v",…} value [timestamp]` lines; `#` lines and blank
 * lines skipped. Values `NaN`, `+Inf`, `-Inf` are kept as numbers. Malformed lines are skipped, not fatal: a
 * scrape that half-parses still yields what it can.
 */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const out: PrometheusSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!match) continue;
    const value = parseValue(match[4]!);
    if (value === null) continue;
    out.push({ name: match[1]!, labels: parseLabels(match[3] ?? ''), value });
  }
  return out;
}

function parseValue(text: string): number | null {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const n = Number(text);
  return Number.isNaN(n) ? null : n;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return labels;
}

export const SERVER_ENGINES = ['vllm', 'sglang', 'tgi'] as const;
export type ServerEngine = (typeof SERVER_ENGINES)[number];

/** One quantity as an engine names it: a gauge read directly, or a ratio of two counters' increments. */
type Source = { gauge: string; scale?: number } | { hits: string; queries: string };

interface EngineMap {
  kvCacheUsage: Source[];
  running: Source[];
  waiting: Source[];
  prefixCacheHitRate: Source[];
}

/**
 * Metric names per engine, newest first where they were renamed.
 * - vLLM (docs.vllm.ai, Production Metrics; docs/design/metrics.md): `vllm:kv_cache_usage_perc` (0–1; V0 named it
 *   `vllm:gpu_cache_usage_perc`), `vllm:num_requests_running`, `vllm:num_requests_waiting`, prefix cache as counters
 *   `vllm:prefix_cache_hits_total` / `vllm:prefix_cache_queries_total` (V0: gauge `vllm:gpu_prefix_cache_hit_rate`).
 * - SGLang (`--enable-metrics`): `sglang:token_usage` (KV pool fraction in use), `sglang:num_running_reqs`,
 *   `sglang:num_queue_reqs`, `sglang:cache_hit_rate`.
 * - TGI: `tgi_batch_current_size` (running), `tgi_queue_size` (waiting); it exports no KV usage or prefix cache.
 */
export const ENGINE_METRICS: Record<ServerEngine, EngineMap> = {
  vllm: {
    kvCacheUsage: [{ gauge: 'vllm:kv_cache_usage_perc' }, { gauge: 'vllm:gpu_cache_usage_perc' }],
    running: [{ gauge: 'vllm:num_requests_running' }],
    waiting: [{ gauge: 'vllm:num_requests_waiting' }],
    prefixCacheHitRate: [
      { hits: 'vllm:prefix_cache_hits_total', queries: 'vllm:prefix_cache_queries_total' },
      { hits: 'vllm:prefix_cache_hits', queries: 'vllm:prefix_cache_queries' },
      { gauge: 'vllm:gpu_prefix_cache_hit_rate' },
    ],
  },
  sglang: {
    kvCacheUsage: [{ gauge: 'sglang:token_usage' }],
    running: [{ gauge: 'sglang:num_running_reqs' }],
    waiting: [{ gauge: 'sglang:num_queue_reqs' }],
    prefixCacheHitRate: [{ gauge: 'sglang:cache_hit_rate' }],
  },
  tgi: {
    kvCacheUsage: [],
    running: [{ gauge: 'tgi_batch_current_size' }],
    waiting: [{ gauge: 'tgi_queue_size' }],
    prefixCacheHitRate: [],
  },
};

/** Which engine a scrape comes from, by its metric prefixes; null when none is recognised. */
export function detectEngine(samples: readonly PrometheusSample[]): ServerEngine | null {
  if (samples.some((s) => s.name.startsWith('vllm:'))) return 'vllm';
  if (samples.some((s) => s.name.startsWith('sglang:'))) return 'sglang';
  if (samples.some((s) => s.name.startsWith('tgi_'))) return 'tgi';
  return null;
}

/** The sum over label sets (several model names, DP ranks or engines behind one endpoint), or null when absent. */
function total(samples: readonly PrometheusSample[], name: string): number | null {
  const found = samples.filter((s) => s.name === name && Number.isFinite(s.value));
  return found.length === 0 ? null : found.reduce((sum, s) => sum + s.value, 0);
}

/** The mean over label sets, for fractions (usage of several engines is their mean, not their sum). */
function mean(samples: readonly PrometheusSample[], name: string): number | null {
  const found = samples.filter((s) => s.name === name && Number.isFinite(s.value));
  return found.length === 0 ? null : found.reduce((sum, s) => sum + s.value, 0) / found.length;
}

/** One scrape, mapped. Counters are kept raw so a rate can be taken between two scrapes. */
export interface ServerMetricsSample {
  /** Milliseconds since the run's origin (the caller's clock). */
  atMs: number;
  /** Fraction 0–1 of the KV-cache blocks in use; null when the engine does not export it. */
  kvCacheUsage: number | null;
  running: number | null;
  waiting: number | null;
  /** A gauge hit rate (SGLang, vLLM V0); null when only counters exist (see `prefixCounters`). */
  prefixCacheHitRate: number | null;
  prefixCounters: { hits: number; queries: number } | null;
}

export function mapServerMetrics(samples: readonly PrometheusSample[], engine: ServerEngine, atMs: number): ServerMetricsSample {
  const map = ENGINE_METRICS[engine];
  const gauge = (sources: Source[], combine: typeof total): number | null => {
    for (const s of sources) {
      if (!('gauge' in s)) continue;
      const v = combine(samples, s.gauge);
      if (v !== null) return v * (s.scale ?? 1);
    }
    return null;
  };
  let prefixCounters: ServerMetricsSample['prefixCounters'] = null;
  for (const s of map.prefixCacheHitRate) {
    if (!('hits' in s)) continue;
    const hits = total(samples, s.hits);
    const queries = total(samples, s.queries);
    if (hits !== null && queries !== null) {
      prefixCounters = { hits, queries };
      break;
    }
  }
  return {
    atMs,
    kvCacheUsage: gauge(map.kvCacheUsage, mean),
    running: gauge(map.running, total),
    waiting: gauge(map.waiting, total),
    prefixCacheHitRate: prefixCounters === null ? gauge(map.prefixCacheHitRate, mean) : null,
    prefixCounters,
  };
}

export interface ServerMetricsSummary {
  engine: ServerEngine;
  samples: number;
  /** Peak and mean over the samples; null when the engine does not export the figure. */
  kvCacheUsage: { max: number; mean: number } | null;
  running: { max: number; mean: number } | null;
  waiting: { max: number; mean: number } | null;
  /** Hits ÷ queries between the first and last scrape (counters), else the mean of the gauge. */
  prefixCacheHitRate: number | null;
  /** Names looked for, per figure, so a reader can check them against the engine's version. */
  metricNames: Record<'kvCacheUsage' | 'running' | 'waiting' | 'prefixCacheHitRate', string[]>;
}

/** Summarises the scrapes of one run. */
export function summarizeServerMetrics(engine: ServerEngine, samples: readonly ServerMetricsSample[]): ServerMetricsSummary {
  const stat = (pick: (s: ServerMetricsSample) => number | null): { max: number; mean: number } | null => {
    const values = samples.map(pick).filter((v): v is number => v !== null);
    if (values.length === 0) return null;
    return { max: Math.max(...values), mean: values.reduce((a, b) => a + b, 0) / values.length };
  };
  let hitRate: number | null;
  const counted = samples.filter((s) => s.prefixCounters !== null);
  if (counted.length >= 2) {
    const first = counted[0]!.prefixCounters!;
    const last = counted[counted.length - 1]!.prefixCounters!;
    const queries = last.queries - first.queries;
    hitRate = queries > 0 ? (last.hits - first.hits) / queries : null;
  } else {
    hitRate = stat((s) => s.prefixCacheHitRate)?.mean ?? null;
  }
  const names = (sources: Source[]): string[] => sources.flatMap((s) => ('gauge' in s ? [s.gauge] : [`${s.hits} ÷ ${s.queries}`]));
  const map = ENGINE_METRICS[engine];
  return {
    engine,
    samples: samples.length,
    kvCacheUsage: stat((s) => s.kvCacheUsage),
    running: stat((s) => s.running),
    waiting: stat((s) => s.waiting),
    prefixCacheHitRate: hitRate,
    metricNames: { kvCacheUsage: names(map.kvCacheUsage), running: names(map.running), waiting: names(map.waiting), prefixCacheHitRate: names(map.prefixCacheHitRate) },
  };
}

export interface MetricsSamplerOptions {
  /** The `/metrics` URL. */
  url: string;
  intervalMs: number;
  /** Injected: fetch the URL's text (throws or rejects when it cannot). */
  fetchText: (url: string) => Promise<string>;
  /** Injected: milliseconds on the run's clock. */
  now: () => number;
  /** Forces the mapping; detected from the first scrape otherwise. */
  engine?: ServerEngine;
}

/**
 * Samples `/metrics` every `intervalMs` until stopped. A failed scrape is counted, not fatal (the measurement
 * matters more than the server's view of it); `stop()` resolves to the summary, or null when no scrape could be
 * mapped (no /metrics, or an engine that is none of the three).
 */
export function startMetricsSampler(options: MetricsSamplerOptions): { stop: () => Promise<{ summary: ServerMetricsSummary | null; failures: number; lastError: string | null }> } {
  const samples: ServerMetricsSample[] = [];
  let engine: ServerEngine | null = options.engine ?? null;
  let failures = 0;
  let lastError: string | null = null;
  let inFlight: Promise<void> = Promise.resolve();
  const scrape = async (): Promise<void> => {
    try {
      const text = await options.fetchText(options.url);
      const parsed = parsePrometheusText(text);
      engine ??= detectEngine(parsed);
      if (engine !== null) samples.push(mapServerMetrics(parsed, engine, options.now()));
    } catch (error) {
      failures += 1;
      lastError = error instanceof Error ? error.message : String(error);
    }
  };
  inFlight = scrape();
  const timer = setInterval(() => {
    inFlight = inFlight.then(scrape);
  }, options.intervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await inFlight;
      await scrape(); // one last view at the end of the run
      return { summary: engine === null || samples.length === 0 ? null : summarizeServerMetrics(engine, samples), failures, lastError };
    },
  };
}

/** The `/metrics` URL next to an OpenAI-compatible base URL (`http://host:8000/v1` → `http://host:8000/metrics`). */
export function metricsUrlFor(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.pathname = '/metrics';
  url.search = '';
  return url.toString();
}
