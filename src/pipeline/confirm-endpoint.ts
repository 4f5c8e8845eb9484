import type { ModelSpec } from '../catalog/model-spec.js';
import { ModelscoutError, invalidValue } from '../errors.js';
import { describeLayout, planLayout, resolveInterconnect, type StatedTopology, type TopologyPlan, type WeightFormat } from '../estimate/index.js';
import { findAccelerator } from '../hardware/accelerators.js';
import { acceleratorAsClusterGpu } from '../hardware/device.js';
import type { EndpointConfirmation, EndpointLevel, EndpointTopology, EndpointWorkload } from '../recommend/confirm-report.js';

export type { EndpointConfirmation, EndpointLevel, EndpointTopology, EndpointWorkload } from '../recommend/confirm-report.js';
import type { Targets } from '../recommend/requirements.js';
import type { ServerMetricsSummary } from '../serve/prometheus.js';
import { engineName, type ServerReportedTopology } from '../serve/server-info.js';
import { decideVerdict } from './verdict.js';

/**
 * Confirming a candidate on the deployment a team runs (`recommend --confirm --base-url URL`): which candidate
 * each server serves, the workload derived from the targets, the estimate for the topology the server runs, and
 * the verdict on what was measured there — the same verdict as a local run, beside per-GPU and per-dollar
 * figures and the server's own KV-cache usage. The measurement itself is the serving benchmark's; this module
 * takes its results as data.
 */

export interface EndpointBinding {
  /** The candidate (catalog id) the server serves; null: the next candidate in rank order without one. */
  candidateId: string | null;
  url: string;
}

/** `--base-url URL` or `--base-url id=URL`, repeatable (`--endpoint` is its older name). */
export function parseEndpointBindings(values: readonly string[]): EndpointBinding[] {
  return values.map((value) => {
    const eq = value.indexOf('=');
    const looksBound = eq > 0 && !value.slice(0, eq).includes('://');
    const id = looksBound ? value.slice(0, eq).trim() : null;
    const url = (looksBound ? value.slice(eq + 1) : value).trim();
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalidValue('--base-url', value, 'a URL of an OpenAI-compatible server (http://host:8000/v1), optionally bound to a candidate as id=URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalidValue('--base-url', value, 'an http:// or https:// URL');
    return { candidateId: id === '' ? null : id, url };
  });
}

/**
 * Binds servers to candidates: `id=URL` to that candidate (it must be one of them), a bare URL to the best
 * ranked candidate not bound yet. Candidates left without a server keep the local path.
 */
export function bindEndpoints(bindings: readonly EndpointBinding[], candidateIds: readonly string[]): { candidateId: string; url: string }[] {
  const out: { candidateId: string; url: string }[] = [];
  const taken = new Set<string>();
  for (const b of bindings) {
    if (b.candidateId === null) continue;
    if (!candidateIds.includes(b.candidateId)) {
      throw new ModelscoutError('E_INPUT', `--base-url ${b.candidateId}=… names no ranked candidate`, {
        suggestions: [`Bind one of: ${candidateIds.join(', ')} (or give the URL alone to bind the best ranked one).`],
      });
    }
    if (taken.has(b.candidateId)) throw invalidValue('--base-url', `${b.candidateId}=${b.url}`, 'one server per candidate');
    taken.add(b.candidateId);
    out.push({ candidateId: b.candidateId, url: b.url });
  }
  for (const b of bindings) {
    if (b.candidateId !== null) continue;
    const next = candidateIds.find((id) => !taken.has(id));
    if (next === undefined) throw invalidValue('--base-url', b.url, `at most one server per ranked candidate (${candidateIds.length})`);
    taken.add(next);
    out.push({ candidateId: next, url: b.url });
  }
  return out;
}

export function endpointWorkload(targets: Pick<Targets, 'contextTokens' | 'concurrency'>): EndpointWorkload {
  const c = Math.max(1, targets.concurrency);
  const sweep = [...new Set([Math.max(1, Math.floor(c / 2)), c, c * 2])].sort((a, b) => a - b);
  return { promptTokens: targets.contextTokens, concurrency: c, sweep };
}

/** The estimate for the topology a deployment runs (stated with --topology, or reported by the server). */
export function estimateForTopology(spec: ModelSpec, format: WeightFormat, stated: StatedTopology, targets: Pick<Targets, 'contextTokens' | 'concurrency'>): TopologyPlan {
  const acc = findAccelerator(stated.gpuKey);
  if (!acc || acc.memoryBytes === null) {
    throw invalidValue('--topology gpu', stated.gpuKey, 'a GPU of the accelerator table, e.g. H100-80GB, H200, A100-80GB, L40S');
  }
  const gpu = acceleratorAsClusterGpu({ ...acc, memoryBytes: acc.memoryBytes });
  const cluster = { gpu, gpusPerNode: stated.gpusPerNode, nodes: stated.nodes, interconnect: resolveInterconnect(acc.name, stated.nodes) };
  return planLayout(spec, format, stated.layout, cluster, { context: targets.contextTokens, promptTokens: targets.contextTokens, concurrency: targets.concurrency });
}

/** The layout a deployment is judged against: the stated one, else the server's, with what the planner needs. */
export interface ResolvedTopology {
  /** The layout to estimate (with its GPU); null when there is none, or the GPU of a reported layout is unknown. */
  plan: StatedTopology | null;
  topology: EndpointTopology;
}

/**
 * Precedence: the stated `--topology` wins; otherwise the layout the server reports, on `gpuKey` (the GPU of
 * `--gpu` or the one detected: no engine reports its GPU model); otherwise none, and the recommendation's
 * own estimate stands. A reported layout that disagrees with the stated one, and a server that accepts less
 * than the target context, are warnings, not errors: the measurement still runs.
 */
export function resolveTopology(stated: StatedTopology | null, reported: ServerReportedTopology | null, gpuKey: string | null, contextTokens: number): ResolvedTopology {
  const warnings: string[] = [];
  const said = reported?.layout ?? null;
  const who = reported?.engine ? `the server (${engineName(reported.engine)}, ${reported.from ?? 'its info endpoint'})` : 'the server';
  if (reported && reported.maxContextTokens !== null && reported.maxContextTokens < contextTokens) {
    warnings.push(`${who} accepts at most ${reported.maxContextTokens} tokens per request, less than the ${contextTokens}-token target context: long requests may be refused`);
  }
  if (stated) {
    const s = stated.layout;
    if (said && (said.tp !== s.tp || said.pp !== s.pp || said.dp !== s.dp)) {
      warnings.push(`${who} reports ${describeLayout(said)}, but --topology states ${describeLayout(s)}: the stated layout is used`);
    }
    return { plan: stated, topology: { source: 'stated', layout: { ...s }, reported, warnings } };
  }
  if (said) {
    if (gpuKey === null) warnings.push(`${who} reports ${describeLayout(said)} but not its GPU: give --gpu KEY for the per-GPU estimate of that layout`);
    const total = said.tp * said.pp * said.dp;
    const nodes = reported?.nodes ?? null;
    const gpusPerNode = nodes !== null ? Math.ceil(total / nodes) : Math.min(8, total);
    const plan = gpuKey === null ? null : { layout: { ...said }, gpuKey, gpusPerNode, nodes: nodes ?? Math.ceil(total / gpusPerNode) };
    return { plan, topology: { source: 'server', layout: { ...said }, reported, warnings } };
  }
  return { plan: null, topology: { source: 'recommendation', layout: null, reported, warnings } };
}

export interface JudgeEndpointInput {
  candidateId: string;
  url: string;
  targets: Pick<Targets, 'contextTokens' | 'concurrency' | 'decodeTokensPerSec' | 'maxTtftMs'>;
  levels: readonly EndpointLevel[];
  estimate: TopologyPlan | null;
  /** Where the layout came from; without it the estimate is taken as the stated layout's. */
  topology?: EndpointTopology;
  /** The GPU the stated topology names (for the report). */
  gpuName?: string | null;
  /** The recommendation's own estimate, used when no topology was stated. */
  fallbackEstimate?: { decodeTokPerSecPerStream: number | null; ttftMs: number | null } | null;
  server: ServerMetricsSummary | null;
  /** GPUs of the whole deployment (stated or from the estimate's layout); null when unknown. */
  gpus: number | null;
  pricePerHourUsd: number | null;
  /** Set when the server could not be measured. */
  error?: string;
}

/** The verdict on a deployment, with the estimate, the server's view and the normalised figures beside it. */
export function judgeEndpoint(input: JudgeEndpointInput): EndpointConfirmation {
  const workload = endpointWorkload(input.targets);
  const level = input.levels.find((l) => l.concurrency === workload.concurrency) ?? null;
  const verdict = decideVerdict({
    targets: input.targets,
    measured: level === null ? null : { decodeTokPerSecPerStream: level.decodeTokPerSecPerStreamP50, ttftMs: level.ttftMsP50, peakMemoryBytes: null },
    usableMemoryBytes: 0,
    checkMemory: false,
    extrapolated: false,
    ...(input.error !== undefined ? { error: input.error } : {}),
    notMeasuredReason: `no measurement at the target concurrency ${workload.concurrency}`,
  });
  const throughput = level?.outputTokPerSec ?? null;
  const gpus = input.gpus ?? (input.estimate ? input.estimate.gpusUsed : null);
  const plan = input.estimate;
  const fallback = plan === null ? (input.fallbackEstimate ?? null) : null;
  const estDecode = plan ? (plan.decode.tokPerSecPerStream?.value ?? null) : (fallback?.decodeTokPerSecPerStream ?? null);
  // One request's TTFT × the target concurrency: the closed loop sends that many prompts together and an
  // engine prefills them in one batch — the same figure the local confirm quotes (one request's × the batch).
  const oneTtft = plan ? (plan.prefill.ttftMs?.value ?? null) : (fallback?.ttftMs ?? null);
  const estTtft = oneTtft === null ? null : oneTtft * workload.concurrency;
  const err = (measured: number | null | undefined, estimated: number | null): number | null =>
    measured === null || measured === undefined || measured === 0 || estimated === null ? null : ((estimated - measured) / measured) * 100;
  return {
    candidateId: input.candidateId,
    url: input.url,
    workload,
    level,
    levels: [...input.levels],
    verdict,
    ...(input.topology ? { topology: input.topology } : {}),
    estimate: {
      source: plan ? (input.topology?.source === 'server' ? 'server-topology' : 'stated-topology') : fallback ? 'recommendation' : null,
      layout: plan ? { ...plan.layout } : null,
      gpu: plan ? (input.gpuName ?? null) : null,
      perGpuBytes: plan ? plan.perGpu.totalBytes : null,
      usablePerGpuBytes: plan ? plan.perGpu.usableBytes : null,
      fits: plan ? plan.fits : null,
      fitReason: plan ? plan.reason : null,
      decodeTokPerSecPerStream: estDecode,
      ttftMs: estTtft,
      kvCacheUsage: plan?.kvPool.usageAtLoad ?? null,
      formula: plan?.formula ?? null,
    },
    errorPct: { decodeTokPerSecPerStream: err(level?.decodeTokPerSecPerStreamP50, estDecode), ttftMs: err(level?.ttftMsP50, estTtft) },
    server: input.server,
    perGpu: gpus === null ? null : { gpus, outputTokPerSecPerGpu: throughput === null ? null : throughput / gpus },
    cost: input.pricePerHourUsd === null ? null : { pricePerHourUsd: input.pricePerHourUsd, usdPerMillionOutputTokens: throughput === null || throughput <= 0 ? null : input.pricePerHourUsd / ((throughput * 3600) / 1e6) },
  };
}
