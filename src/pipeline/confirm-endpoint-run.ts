/**
 * `recommend --confirm --base-url URL`: a bound candidate measured on the deployment that serves it, through
 * the serving benchmark (src/serve) with a workload derived from the targets — prompts of the target context,
 * the target concurrency and a short sweep around it, the targets as SLOs — while the server's `/metrics` are
 * sampled at the target level. The verdict, estimate and normalised figures come from confirm-endpoint.ts;
 * the result takes its place among the candidates of the same confirm report as a local measurement.
 */
import type { ModelSpec } from '../catalog/model-spec.js';
import { errorMessage } from '../errors.js';
import type { StatedTopology, TopologyPlan } from '../estimate/index.js';
import { findAccelerator } from '../hardware/accelerators.js';
import type { ConfirmMode, ConfirmedCandidate, CostFigure } from '../recommend/confirm-report.js';
import { COST_YARDSTICK_USD_PER_TOKEN } from '../recommend/confirm-report.js';
import type { Targets } from '../recommend/requirements.js';
import type { Candidate } from '../recommend/types.js';
import type { LevelResult, ServeReport } from '../report/serve-schema.js';
import { epochMs } from '../serve/clock.js';
import { runServeBench, type ServeBenchOptions } from '../serve/index.js';
import { DEFAULT_PERCENTILES } from '../serve/metrics.js';
import { metricsUrlFor, startMetricsSampler, type ServerMetricsSummary } from '../serve/prometheus.js';
import { fetchServerJson, probeServerTopology, type ServerReportedTopology } from '../serve/server-info.js';
import { targetSlos } from '../serve/slo.js';
import { endpointWorkload, estimateForTopology, judgeEndpoint, resolveTopology, type EndpointConfirmation, type EndpointLevel } from './confirm-endpoint.js';
import { MODE_SETTINGS } from './plan.js';
import { costPerMillionTokens } from './verdict.js';

export interface EndpointRunInput {
  candidate: Candidate;
  spec: ModelSpec | null;
  url: string;
  targets: Targets;
  mode: ConfirmMode;
  /** The layout the deployment runs (--topology); null: the one the server reports, else the recommendation's own estimate. */
  stated: StatedTopology | null;
  /** The GPU a layout the server reports runs on (--gpu, or the one detected); null when unknown. */
  gpuKey?: string | null;
  pricePerHourUsd: number | null;
  /** Bearer key for the server (OPENAI_API_KEY); never written anywhere. */
  apiKey: string | null;
  tool: { name: string; version: string };
  say: (line: string) => void;
}

/** Runs one serving level; injected in unit tests. */
export type ServeRunner = (options: ServeBenchOptions) => Promise<ServeReport>;

export const defaultServeRunner: ServeRunner = (options) => runServeBench(options, { clock: epochMs, tool: { name: 'modelscout', version: 'confirm' }, argv: [] });

/** Requests measured per level: enough for a median at every level (three per stream, at least 8). */
export function requestsPerLevel(concurrency: number, mode: ConfirmMode): number {
  const perStream = mode === 'quick' ? 2 : mode === 'thorough' ? 6 : 3;
  return Math.max(8, perStream * concurrency);
}

/** The medians of one serving level as the endpoint verdict reads them. */
export function endpointLevelOf(level: LevelResult, concurrency: number): EndpointLevel {
  const tpot = level.metrics.tpot_ms?.median ?? null;
  return {
    concurrency,
    requests: level.completed,
    ttftMsP50: level.metrics.ttft_ms?.median ?? null,
    decodeTokPerSecPerStreamP50: tpot === null || tpot <= 0 ? null : 1000 / tpot,
    outputTokPerSec: level.completed > 0 ? level.output_throughput : null,
  };
}

function serveOptions(input: EndpointRunInput, concurrency: number): ServeBenchOptions {
  const { targets } = input;
  return {
    baseUrls: [input.url],
    endpoint: 'completions',
    model: null,
    apiKey: input.apiKey,
    headers: {},
    timeoutS: 300,
    dataset: { kind: 'random', inputLen: targets.contextTokens, outputLen: MODE_SETTINGS[input.mode].genTokens, rangeRatio: 0 },
    prefixLen: 0,
    ignoreEos: true,
    temperature: 0,
    seed: 0,
    requestRate: null,
    burstiness: 1,
    maxConcurrency: concurrency,
    numPrompts: requestsPerLevel(concurrency, input.mode),
    durationS: null,
    warmupRequests: Math.min(concurrency, 4),
    warmupS: 0,
    sweep: null,
    findMax: null,
    slos: targetSlos(targets.maxTtftMs, targets.decodeTokensPerSec),
    percentiles: [...DEFAULT_PERCENTILES],
    maxFailurePct: 50,
    clientLimitMs: 5,
    workers: 1,
    tokenizer: 'auto',
    tokenizerPath: null,
    baseline: null,
    maxRegressionPct: 10,
    inconclusivePass: false,
  };
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

/** Asks the server for its layout; injected in unit tests. */
export type ServerProbe = (url: string, apiKey: string | null) => Promise<ServerReportedTopology>;

export const defaultServerProbe: ServerProbe = (url, apiKey) => probeServerTopology(url, fetchServerJson(apiKey));

/** Measures the deployment at each level of the sweep and judges it at the target concurrency. */
export async function measureEndpoint(input: EndpointRunInput, runServe: ServeRunner = defaultServeRunner, probeServer: ServerProbe = defaultServerProbe): Promise<EndpointConfirmation> {
  const workload = endpointWorkload(input.targets);
  const reported = await probeServer(input.url, input.apiKey);
  const resolved = resolveTopology(input.stated, reported, input.gpuKey ?? null, input.targets.contextTokens);
  // With a stated layout, the server's silence about its own is no news; what it does report is.
  if (!input.stated || reported.layout) input.say(`${input.candidate.name}: ${reported.note}`);
  let estimate: TopologyPlan | null = null;
  let gpuName: string | null = null;
  if (resolved.plan && input.spec) {
    try {
      estimate = estimateForTopology(input.spec, input.candidate.format, resolved.plan, input.targets);
      gpuName = findAccelerator(resolved.plan.gpuKey)?.name ?? resolved.plan.gpuKey;
    } catch (e) {
      // A stated layout is the user's input: its error stops the run. A reported one on a GPU the planner
      // cannot size only loses its estimate.
      if (resolved.topology.source === 'stated') throw e;
      resolved.topology.warnings.push(`no estimate for the reported layout: ${errorMessage(e).split('\n')[0] ?? ''}`);
    }
  }
  for (const w of resolved.topology.warnings) input.say(`${input.candidate.name}: warning: ${w}`);
  const levels: EndpointLevel[] = [];
  let server: ServerMetricsSummary | null = null;
  let error: string | undefined;
  for (const c of workload.sweep) {
    input.say(`${input.candidate.name}: ${input.url} at concurrency ${c} (${requestsPerLevel(c, input.mode)} requests of ${input.targets.contextTokens} prompt tokens)`);
    const sampler = c === workload.concurrency ? startMetricsSampler({ url: metricsUrlFor(input.url), intervalMs: 250, fetchText, now: epochMs }) : null;
    try {
      const report = await runServe(serveOptions(input, c));
      const level = report.levels[0];
      if (level) levels.push(endpointLevelOf(level, c));
    } catch (e) {
      error = errorMessage(e).split('\n')[0] ?? 'the serving benchmark failed';
    } finally {
      if (sampler) server = (await sampler.stop()).summary;
    }
    if (error !== undefined) break;
  }
  const layout = resolved.topology.layout;
  const gpus = layout ? layout.tp * layout.pp * layout.dp : (input.candidate.topology?.gpusUsed ?? null);
  return judgeEndpoint({
    candidateId: input.candidate.id,
    url: input.url,
    targets: input.targets,
    levels,
    estimate,
    topology: resolved.topology,
    gpuName,
    fallbackEstimate: { decodeTokPerSecPerStream: input.candidate.speed.decodeTokPerSec?.value ?? null, ttftMs: input.candidate.speed.ttftMs?.value ?? null },
    server,
    gpus,
    pricePerHourUsd: input.pricePerHourUsd,
    // A failure before the target level leaves nothing to judge: the verdict says why.
    ...(error !== undefined && !levels.some((l) => l.concurrency === workload.concurrency) ? { error } : {}),
  });
}

/** The confirm report's entry for a candidate measured on its deployment. */
export function endpointCandidate(candidate: Candidate, layersFull: number, result: EndpointConfirmation): ConfirmedCandidate {
  const total = result.level?.outputTokPerSec ?? null;
  const price = result.cost?.pricePerHourUsd ?? null;
  const perMillion = price === null || total === null ? null : costPerMillionTokens(price, total);
  const cost: CostFigure | null =
    price === null || total === null || perMillion === null
      ? null
      : { pricePerHourUsd: price, decodeTokPerSecTotal: total, usdPerMillionTokens: perMillion, usdPerToken: perMillion / 1e6, yardstickUsdPerToken: COST_YARDSTICK_USD_PER_TOKEN, belowYardstick: perMillion / 1e6 < COST_YARDSTICK_USD_PER_TOKEN };
  const layout = result.topology?.layout ?? result.estimate.layout;
  return {
    rank: candidate.rank,
    id: candidate.id,
    name: candidate.name,
    device: { kind: candidate.device.kind, name: candidate.device.name },
    format: candidate.format,
    source: {
      kind: 'endpoint',
      synthetic: false,
      repo: null,
      paths: [],
      seed: null,
      reused: false,
      reason: `measured on the deployment at ${result.url}${layout ? ` (TP ${layout.tp}${layout.pp > 1 ? ` × PP ${layout.pp}` : ''}${layout.dp > 1 ? ` × DP ${layout.dp}` : ''})` : ''} with the serving benchmark`,
    },
    depth: { mode: 'none', layersFull, layersMeasured: [] },
    measurements: [],
    verdict: { ...result.verdict, variant: null },
    cost,
    timings: { obtainSec: 0, quantizeSec: 0, benchSec: 0 },
    notes: [],
    endpoint: result,
  };
}
