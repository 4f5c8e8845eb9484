import { describe, expect, it } from 'vitest';
import { findModel } from '../../src/catalog/index.js';
import { parseStatedTopology } from '../../src/estimate/topology.js';
import { bindEndpoints, endpointWorkload, estimateForTopology, judgeEndpoint, parseEndpointBindings, resolveTopology, type EndpointLevel } from '../../src/pipeline/confirm-endpoint.js';
import { summarizeServerMetrics } from '../../src/serve/prometheus.js';
import type { ServerReportedTopology } from '../../src/serve/server-info.js';

const TARGETS = { contextTokens: 2048, concurrency: 8, decodeTokensPerSec: 20, maxTtftMs: 1000 };

describe('--base-url bindings', () => {
  it('parses URL and id=URL; rejects what is not an http(s) URL', () => {
    expect(parseEndpointBindings(['http://127.0.0.1:8000/v1', 'llama-3.1-70b=http://127.0.0.1:8001/v1'])).toEqual([
      { candidateId: null, url: 'http://127.0.0.1:8000/v1' },
      { candidateId: 'llama-3.1-70b', url: 'http://127.0.0.1:8001/v1' },
    ]);
    expect(() => parseEndpointBindings(['not a url'])).toThrow(/--base-url/);
    expect(() => parseEndpointBindings(['x=ftp://host/'])).toThrow(/http/);
  });
  it('binds named candidates first, then bare URLs to the best ranked free candidates', () => {
    const ids = ['llama-3.1-405b', 'deepseek-v3', 'qwen2.5-72b'];
    const bound = bindEndpoints(parseEndpointBindings(['http://127.0.0.1:1/v1', 'llama-3.1-405b=http://127.0.0.1:2/v1']), ids);
    expect(bound).toEqual([
      { candidateId: 'llama-3.1-405b', url: 'http://127.0.0.1:2/v1' },
      { candidateId: 'deepseek-v3', url: 'http://127.0.0.1:1/v1' },
    ]);
    expect(() => bindEndpoints(parseEndpointBindings(['gpt-9=http://127.0.0.1:1/v1']), ids)).toThrow(/names no ranked candidate/);
  });
});

describe('--topology', () => {
  it('parses tp, pp, gpu and fills GPUs per node and nodes', () => {
    expect(parseStatedTopology('tp=8,pp=2,gpu=H100-80GB')).toEqual({ layout: { tp: 8, pp: 2, dp: 1 }, gpuKey: 'H100-80GB', gpusPerNode: 8, nodes: 2 });
    expect(parseStatedTopology('tp=4, gpu=L40S')).toEqual({ layout: { tp: 4, pp: 1, dp: 1 }, gpuKey: 'L40S', gpusPerNode: 4, nodes: 1 });
    expect(() => parseStatedTopology('pp=2,gpu=H100-80GB')).toThrow(/--topology/);
    expect(() => parseStatedTopology('tp=8,gpu=H100-80GB,colour=red')).toThrow(/--topology/);
    expect(() => parseStatedTopology('tp=8,pp=2,gpu=H100-80GB,gpus=4,nodes=2')).toThrow(/enough GPUs/);
  });
  it('the estimate for a stated topology is the planner on that layout', () => {
    const plan = estimateForTopology(findModel('llama-3.1-405b'), 'fp16', parseStatedTopology('tp=8,pp=2,gpu=H100-80GB'), TARGETS);
    expect(plan.layout).toEqual({ tp: 8, pp: 2, dp: 1 });
    expect(plan.fits).toBe(true);
    expect(plan.kvPool.usageAtLoad).toBeGreaterThan(0);
    expect(plan.kvPool.usageAtLoad).toBeLessThan(1);
    expect(() => estimateForTopology(findModel('llama-3.1-8b'), 'fp16', parseStatedTopology('tp=1,gpu=TPU-v5'), TARGETS)).toThrow(/--topology gpu/);
  });
});

describe('judging a deployment', () => {
  const levels: EndpointLevel[] = [
    { concurrency: 4, requests: 40, ttftMsP50: 300, decodeTokPerSecPerStreamP50: 30, outputTokPerSec: 120 },
    { concurrency: 8, requests: 80, ttftMsP50: 450, decodeTokPerSecPerStreamP50: 24, outputTokPerSec: 192 },
    { concurrency: 16, requests: 160, ttftMsP50: 1400, decodeTokPerSecPerStreamP50: 15, outputTokPerSec: 240 },
  ];
  it('the workload follows the targets: prompt = context, concurrency = target, a sweep around it', () => {
    expect(endpointWorkload(TARGETS)).toEqual({ promptTokens: 2048, concurrency: 8, sweep: [4, 8, 16] });
    expect(endpointWorkload({ contextTokens: 512, concurrency: 1 }).sweep).toEqual([1, 2]);
  });
  it('confirmed at the target concurrency, with per-GPU and per-dollar figures and the KV usage beside the estimate', () => {
    const estimate = estimateForTopology(findModel('llama-3.1-70b'), 'fp16', parseStatedTopology('tp=4,gpu=H100-80GB'), TARGETS);
    const server = summarizeServerMetrics('vllm', [
      { atMs: 0, kvCacheUsage: 0.1, running: 8, waiting: 0, prefixCacheHitRate: null, prefixCounters: null },
      { atMs: 500, kvCacheUsage: 0.2, running: 8, waiting: 0, prefixCacheHitRate: null, prefixCounters: null },
    ]);
    const result = judgeEndpoint({ candidateId: 'llama-3.1-70b', url: 'http://127.0.0.1:8000/v1', targets: TARGETS, levels, estimate, server, gpus: null, pricePerHourUsd: 8 });
    expect(result.verdict.status).toBe('confirmed');
    expect(result.verdict.checks.map((c) => c.name)).not.toContain('memory');
    expect(result.level?.concurrency).toBe(8);
    expect(result.perGpu).toEqual({ gpus: 4, outputTokPerSecPerGpu: 48 });
    expect(result.cost?.usdPerMillionOutputTokens).toBeCloseTo(8 / ((192 * 3600) / 1e6), 10);
    expect(result.estimate.kvCacheUsage).toBeCloseTo(estimate.kvPool.usageAtLoad!, 12);
    expect(result.server?.kvCacheUsage?.max).toBe(0.2);
    // The TTFT estimate beside the measurement is the target's 8 prompts prefilled together, as the local confirm quotes it.
    expect(result.estimate.ttftMs).toBeCloseTo(estimate.prefill.ttftMs!.value * 8, 6);
  });
  it('rejected names the target missed and by how much; no level at the target is estimate only', () => {
    const slow = levels.map((l) => ({ ...l, ttftMsP50: l.ttftMsP50! * 3 }));
    const rejected = judgeEndpoint({ candidateId: 'x', url: 'http://127.0.0.1:1/v1', targets: TARGETS, levels: slow, estimate: null, server: null, gpus: 8, pricePerHourUsd: null });
    expect(rejected.verdict.status).toBe('rejected');
    expect(rejected.verdict.reasons.join(' ')).toMatch(/time to first token 1350 ms exceeds/);
    expect(rejected.verdict.checks.find((c) => c.name === 'ttft_ms' || c.unit === 'ms')?.margin_pct).toBeCloseTo(-35, 5);
    const none = judgeEndpoint({ candidateId: 'x', url: 'http://127.0.0.1:1/v1', targets: TARGETS, levels: levels.slice(0, 1), estimate: null, server: null, gpus: null, pricePerHourUsd: null });
    expect(none.verdict.status).toBe('estimate-only');
    expect(none.perGpu).toBeNull();
  });
});

describe('the layout a deployment is judged against: stated, else reported by the server', () => {
  const sglang = (tp: number, pp = 1, extra: Partial<ServerReportedTopology> = {}): ServerReportedTopology => ({
    engine: 'sglang',
    from: 'GET /get_server_info',
    layout: { tp, pp, dp: 1 },
    nodes: pp,
    model: 'm',
    maxContextTokens: 131072,
    kvCapacityTokens: null,
    note: 'SGLang reports …',
    ...extra,
  });
  const silent: ServerReportedTopology = { engine: 'vllm', from: 'GET /v1/models', layout: null, nodes: null, model: 'm', maxContextTokens: null, kvCapacityTokens: null, note: 'vLLM does not report its parallel sizes' };

  it('the stated --topology wins; a reported layout that disagrees is a warning naming both', () => {
    const stated = parseStatedTopology('tp=8,gpu=H100-80GB');
    const r = resolveTopology(stated, sglang(4, 2), 'A100-80GB', 2048);
    expect(r.plan).toBe(stated);
    expect(r.topology).toMatchObject({ source: 'stated', layout: { tp: 8, pp: 1, dp: 1 } });
    expect(r.topology.warnings).toEqual(['the server (SGLang, GET /get_server_info) reports TP 4 × PP 2, but --topology states TP 8: the stated layout is used']);
    expect(resolveTopology(stated, sglang(8), null, 2048).topology.warnings).toEqual([]);
  });

  it('without --topology the reported layout is used on the known GPU, its nodes from the server', () => {
    const r = resolveTopology(null, sglang(8, 2), 'H100-80GB', 2048);
    expect(r.topology).toMatchObject({ source: 'server', layout: { tp: 8, pp: 2, dp: 1 }, warnings: [] });
    expect(r.plan).toEqual({ layout: { tp: 8, pp: 2, dp: 1 }, gpuKey: 'H100-80GB', gpusPerNode: 8, nodes: 2 });
    const plan = estimateForTopology(findModel('llama-3.1-405b'), 'fp16', r.plan!, TARGETS);
    expect(plan.layout).toEqual({ tp: 8, pp: 2, dp: 1 });
  });

  it('a reported layout without a known GPU is kept, with no plan and a warning to give --gpu', () => {
    const r = resolveTopology(null, sglang(4), null, 2048);
    expect(r.plan).toBeNull();
    expect(r.topology.source).toBe('server');
    expect(r.topology.warnings.join(' ')).toMatch(/not its GPU: give --gpu KEY/);
  });

  it('neither stated nor reported: the recommendation; a server context shorter than the target is a warning', () => {
    const r = resolveTopology(null, { ...silent, maxContextTokens: 1024 }, 'H100-80GB', 2048);
    expect(r.plan).toBeNull();
    expect(r.topology).toMatchObject({ source: 'recommendation', layout: null });
    expect(r.topology.warnings).toEqual(['the server (vLLM, GET /v1/models) accepts at most 1024 tokens per request, less than the 2048-token target context: long requests may be refused']);
  });

  it('the report says where the estimate came from', () => {
    const r = resolveTopology(null, sglang(8), 'H100-80GB', 2048);
    const estimate = estimateForTopology(findModel('llama-3.1-70b'), 'fp16', r.plan!, TARGETS);
    const levels: EndpointLevel[] = [{ concurrency: 8, requests: 16, ttftMsP50: 400, decodeTokPerSecPerStreamP50: 30, outputTokPerSec: 200 }];
    const e = judgeEndpoint({ candidateId: 'llama-3.1-70b', url: 'http://x/v1', targets: TARGETS, levels, estimate, topology: r.topology, server: null, gpus: 8, pricePerHourUsd: null });
    expect(e.estimate.source).toBe('server-topology');
    expect(e.topology?.source).toBe('server');
  });
});
