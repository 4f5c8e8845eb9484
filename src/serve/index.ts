/**
 * `serve-bench` end to end: check the target (models, auth, a probe request), build the seeded workload,
 * run the load levels (one, a sweep, or a --find-max search), count tokens after each level (never during
 * it: tokenizing on the event loop would slow the client), summarize every level from its raw records, and
 * judge SLOs, the client's own limit and a baseline. Network, files and processes are at this edge;
 * figures come from the pure modules.
 */
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { ModelscoutError } from '../errors.js';
import { loadTokenizer, type LocalTokenizer } from '../hub/tokenizer.js';
import type { LevelResult, RequestRecord, ServeReport, Slo } from '../report/serve-schema.js';
import { SERVE_SCHEMA_VERSION } from '../report/serve-schema.js';
import { compareServeReports, decideServeOutcome } from '../report/serve-compare.js';
import type { Clock } from './clock.js';
import { summarizeLevel } from './metrics.js';
import type { BodyOptions, Endpoint } from './openai.js';
import { runLevel, type LevelPlan, type LevelRun } from './runner.js';
import { findMax, type SearchDimension } from './search.js';
import { authHeaders, endpointPath, listModels, normalizeBaseUrl, probe, serverTokenizer } from './target.js';
import { createPools, runLevelInWorkers } from './workers.js';
import { jsonlWorkload, randomWorkload, sharegptWorkload, type TokenizerPort, type Workload } from './workload.js';

export type DatasetSpec =
  | { kind: 'random'; inputLen: number; outputLen: number; rangeRatio: number }
  | { kind: 'sharegpt' | 'jsonl'; file: string; outputLen: number | null };

export interface ServeBenchOptions {
  baseUrls: string[];
  endpoint: Endpoint;
  model: string | null;
  apiKey: string | null;
  headers: Record<string, string>;
  timeoutS: number;
  dataset: DatasetSpec;
  prefixLen: number;
  ignoreEos: boolean;
  temperature: number;
  seed: number;
  requestRate: number | null;
  burstiness: number;
  maxConcurrency: number | null;
  numPrompts: number;
  durationS: number | null;
  warmupRequests: number;
  warmupS: number;
  sweep: { dimension: SearchDimension; values: number[] } | null;
  findMax: { dimension: SearchDimension; start: number; limit: number } | null;
  slos: Slo[];
  percentiles: number[];
  maxFailurePct: number;
  clientLimitMs: number;
  workers: number;
  /** 'auto': the server's /tokenize when it has one. */
  tokenizer: 'auto' | 'none';
  /** A model folder (or tokenizer.json) whose tokenizer counts tokens locally; wins over the server's. */
  tokenizerPath: string | null;
  baseline: { report: ServeReport; path: string } | null;
  maxRegressionPct: number;
  inconclusivePass: boolean;
  /**
   * `--shard i/n --start-at T`: this load generator sends request k of the shared seeded schedule when
   * k mod n = i, starting at the absolute time T (epoch ms) like every other shard; the report keeps its raw
   * records for `serve-bench merge`.
   */
  shard?: { index: number; of: number; startAtMs: number } | null;
}

export interface ServeBenchDeps {
  clock: Clock;
  tool: { name: string; version: string };
  argv: string[];
  /** A load level starting (`running`) or done (its counts and throughput). */
  onProgress?: (message: string, stage: 'start' | 'done') => void;
  /** Receives each level's raw records (for --save-detailed). */
  onRecords?: (records: RequestRecord[]) => void;
}

/** A local tokenizer.json as the workload's tokenizer (no special tokens: the server adds its own). */
function localTokenizerPort(t: LocalTokenizer): TokenizerPort {
  return {
    source: 'tokenizer',
    encode: (text) => Promise.resolve(t.encode(text, { addSpecialTokens: false })),
    decode: (ids) => Promise.resolve(t.decode(ids)),
  };
}

async function buildWorkload(o: ServeBenchOptions, count: number, tokenizer: TokenizerPort | null): Promise<Workload> {
  const d = o.dataset;
  if (d.kind === 'random') {
    return randomWorkload({ count, inputLen: d.inputLen, outputLen: d.outputLen, rangeRatio: d.rangeRatio, prefixLen: o.prefixLen, seed: o.seed, tokenizer });
  }
  let text: string;
  try {
    text = await readFile(d.file, 'utf8');
  } catch (error) {
    throw new ModelscoutError('E_FILE', `cannot read --dataset file ${d.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { suggestions: ['Check the path after --dataset-path.'] });
  }
  const fo = { count, outputLen: d.outputLen, seed: o.seed, tokenizer, file: d.file };
  const w = d.kind === 'sharegpt' ? await sharegptWorkload(text, fo) : await jsonlWorkload(text, fo);
  if (o.prefixLen > 0) {
    // A shared prefix in front of every dataset prompt, from the seeded random words.
    const prefix = await randomWorkload({ count: 1, inputLen: o.prefixLen, outputLen: 1, rangeRatio: 0, prefixLen: 0, seed: o.seed, tokenizer });
    const p = prefix.items[0];
    if (p) for (const item of w.items) {
      item.prompt = `${p.prompt} ${item.prompt}`;
      if (item.promptTokens !== null && p.promptTokens !== null) item.promptTokens += p.promptTokens;
      if (item.messages && item.messages[0]) item.messages = [{ ...item.messages[0], content: `${p.prompt} ${item.messages[0].content}` }, ...item.messages.slice(1)];
    }
  }
  return w;
}

/** Counts output tokens with the tokenizer after the level, and fills `tokens_source` where usage was missing. */
async function countOutputTokens(run: LevelRun, tokenizer: TokenizerPort | null): Promise<void> {
  if (!tokenizer) return;
  for (let i = 0; i < run.records.length; i += 1) {
    const r = run.records[i] as RequestRecord;
    if (r.error) continue;
    try {
      r.tokenizer_completion_tokens = (await tokenizer.encode(run.texts[i] ?? '')).length;
    } catch {
      continue;
    }
    if (r.usage_completion_tokens === null) {
      r.output_tokens = r.tokenizer_completion_tokens;
      r.tokens_source = 'tokenizer';
    }
  }
}

export async function runServeBench(o: ServeBenchOptions, deps: ServeBenchDeps): Promise<ServeReport> {
  const startedAt = new Date();
  const load1 = loadavg()[0] ?? null;
  const timeoutMs = o.timeoutS * 1000;
  const baseUrls = o.baseUrls.map(normalizeBaseUrl);
  const headers = authHeaders(o.apiKey, o.headers);
  const keySet = o.apiKey !== null;
  const notes: string[] = [];
  const maxLevelConcurrency = Math.max(o.maxConcurrency ?? 0, ...(o.sweep?.dimension === 'concurrency' ? o.sweep.values : []), o.findMax?.dimension === 'concurrency' ? o.findMax.limit : 0);
  const connections = maxLevelConcurrency > 0 ? Math.ceil(maxLevelConcurrency / o.workers) + 1 : null;
  const pools = createPools(baseUrls, connections, timeoutMs);
  try {
    const first = baseUrls[0] as string;
    const firstPool = pools.get(first) as NonNullable<ReturnType<typeof pools.get>>;
    let model = o.model;
    for (const url of baseUrls) {
      const models = await listModels(pools.get(url) as NonNullable<ReturnType<typeof pools.get>>, url, headers, timeoutMs, keySet);
      if (model === null) {
        if (!models || models.length === 0) throw new ModelscoutError('E_INPUT', `${url}/v1/models lists no model`, { suggestions: ['Pass --model with the name the server serves.'] });
        model = models[0] as string;
      } else if (models && models.length > 0 && !models.includes(model)) {
        throw new ModelscoutError('E_NOT_FOUND', `${url} does not serve model ${JSON.stringify(model)} (it serves: ${models.slice(0, 5).join(', ')})`, { suggestions: ['Pass --model with one of the served names, or leave it out to use the first.'] });
      }
    }
    const resolvedModel = model as string;
    const baseBody: BodyOptions = { endpoint: o.endpoint, model: resolvedModel, ignoreEos: o.ignoreEos, temperature: o.temperature, streamUsage: true, seed: null };
    const pr = await probe(firstPool, first, endpointPath(first, o.endpoint), headers, baseBody, timeoutMs, deps.clock, keySet);
    notes.push(...pr.notes);
    const body: BodyOptions = { ...baseBody, streamUsage: pr.streamUsage };
    const tokenizer = o.tokenizerPath !== null ? localTokenizerPort(await loadTokenizer(o.tokenizerPath)) : o.tokenizer === 'auto' ? await serverTokenizer(firstPool, first, headers, resolvedModel, timeoutMs) : null;
    if (!tokenizer && o.dataset.kind === 'random') notes.push('no tokenizer: random prompts are counted in words (one word ≈ one token), not exact token lengths');

    // Enough distinct prompts for the longest level; duration-bound levels cycle through them.
    const levelValues = o.sweep?.values ?? [];
    const perLevel = o.numPrompts + o.warmupRequests;
    const workload = await buildWorkload(o, Math.max(1, Math.min(perLevel, 5000)), tokenizer);
    const targets = baseUrls.map((u) => ({ baseUrl: u, path: endpointPath(u, o.endpoint), dispatcher: pools.get(u) as NonNullable<ReturnType<typeof pools.get>> }));
    const levels: LevelResult[] = [];
    const shardRecords: RequestRecord[] = [];
    if (o.shard && deps.clock() > o.shard.startAtMs) notes.push(`shard ${o.shard.index}/${o.shard.of}: ready ${Math.round(deps.clock() - o.shard.startAtMs)} ms after --start-at; requests due before then went out late (see send_lag_ms)`);

    const runOne = async (maxConcurrency: number | null, requestRate: number | null, label: string, stopWhenOverSaturated: boolean): Promise<LevelResult> => {
      deps.onProgress?.(`${label}: running`, 'start');
      const plan: LevelPlan = { label, maxConcurrency, requestRate, burstiness: o.burstiness, seed: o.seed, numRequests: o.numPrompts, durationS: o.durationS, warmupRequests: o.warmupRequests, warmupS: o.warmupS };
      const levelStart = new Date().toISOString();
      const run =
        o.workers > 1
          ? await runLevelInWorkers({ plan, targets: targets.map((t) => ({ baseUrl: t.baseUrl, path: t.path })), items: workload.items, body, headers, timeoutMs, maxFailureShare: o.maxFailurePct / 100, stopWhenOverSaturated, connections }, o.workers)
          : await runLevel(plan, { targets, items: workload.items, body, headers, timeoutMs, clock: deps.clock, maxFailureShare: o.maxFailurePct / 100, stopWhenOverSaturated, ...(o.shard ? { worker: { index: o.shard.index, of: o.shard.of }, startAtMs: o.shard.startAtMs } : {}) });
      if (o.shard) shardRecords.push(...run.records);
      await countOutputTokens(run, tokenizer);
      deps.onRecords?.(run.records);
      const level = summarizeLevel({ label, maxConcurrency, requestRate, startedAt: levelStart, records: run.records, percentiles: o.percentiles, slos: o.slos, client: { eventLoopDelayMs: run.eventLoopDelayMs, limitMs: o.clientLimitMs }, stopped: run.stopped });
      levels.push(level);
      deps.onProgress?.(`${label}: ${level.completed} ok, ${level.failed} failed, ${level.request_throughput.toFixed(2)} req/s`, 'done');
      return level;
    };
    const label = (c: number | null, r: number | null): string => [c !== null ? `concurrency=${c}` : null, r !== null ? `rate=${r}` : null].filter(Boolean).join(' ') || 'all-at-once';

    let findMaxResult: ServeReport['find_max'] = null;
    if (o.findMax) {
      const fm = o.findMax;
      findMaxResult = await findMax(
        { dimension: fm.dimension, start: fm.start, limit: fm.limit },
        async (value) => {
          const c = fm.dimension === 'concurrency' ? value : o.maxConcurrency;
          const r = fm.dimension === 'rate' ? value : o.requestRate;
          return runOne(c, r, label(c, r), true);
        },
      );
    } else if (o.sweep) {
      for (const v of levelValues) {
        const c = o.sweep.dimension === 'concurrency' ? v : o.maxConcurrency;
        const r = o.sweep.dimension === 'rate' ? v : o.requestRate;
        const level = await runOne(c, r, label(c, r), false);
        if (level.stopped && !level.valid && level.failed > 0 && level.completed === 0) break;
      }
    } else {
      await runOne(o.maxConcurrency, o.requestRate, label(o.maxConcurrency, o.requestRate), false);
    }

    const comparison = o.baseline ? compareServeReports(o.baseline.report, levels, { thresholdPct: o.maxRegressionPct, baselinePath: o.baseline.path }) : null;
    const outcome = decideServeOutcome(levels, findMaxResult, comparison, o.inconclusivePass);
    const cpu = cpus();
    return {
      schema_version: SERVE_SCHEMA_VERSION,
      kind: 'serve-bench',
      tool: deps.tool,
      run: { started_at: startedAt.toISOString(), finished_at: new Date().toISOString(), argv: deps.argv },
      environment: { node: process.version, os: { platform: process.platform, arch: process.arch }, cpu: { model: cpu[0]?.model ?? 'unknown', cores: cpu.length }, load_avg_1m: load1 },
      target: { base_urls: baseUrls, endpoint: o.endpoint, model: resolvedModel, header_names: Object.keys(o.headers), timeout_s: o.timeoutS, stream_usage: body.streamUsage },
      workload: {
        dataset: o.dataset.kind,
        dataset_file: o.dataset.kind === 'random' ? null : o.dataset.file,
        input_len: o.dataset.kind === 'random' ? o.dataset.inputLen : null,
        output_len: o.dataset.kind === 'random' ? o.dataset.outputLen : o.dataset.outputLen,
        range_ratio: o.dataset.kind === 'random' ? o.dataset.rangeRatio : 0,
        prefix_len: o.prefixLen,
        ignore_eos: o.ignoreEos,
        temperature: o.temperature,
        seed: o.seed,
        num_prompts: o.durationS === null ? o.numPrompts : null,
        duration_s: o.durationS,
        warmup_requests: o.warmupRequests,
        warmup_s: o.warmupS,
        prompt_tokens_source: workload.promptTokensSource,
      },
      load: { request_rate: o.requestRate, burstiness: o.burstiness, max_concurrency: o.maxConcurrency, workers: o.workers, sweep: o.sweep },
      percentiles: o.percentiles,
      slo: o.slos,
      levels,
      find_max: findMaxResult,
      comparison,
      notes,
      outcome,
      ...(o.shard ? { shard: { index: o.shard.index, of: o.shard.of, start_at: new Date(o.shard.startAtMs).toISOString() }, records: shardRecords } : {}),
    };
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
  }
}
