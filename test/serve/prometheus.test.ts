import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  detectEngine,
  mapServerMetrics,
  metricsUrlFor,
  parsePrometheusText,
  startMetricsSampler,
  summarizeServerMetrics,
  type ServerMetricsSample,
} from '../../src/serve/prometheus.js';

const VLLM = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-70B"} 12.0
vllm:num_requests_running{engine="1",model_name="meta-llama/Llama-3.1-70B"} 4.0
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-70B"} 3.0
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-70B"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="meta-llama/Llama-3.1-70B"} 0.3
vllm:prefix_cache_queries_total{engine="0",model_name="meta-llama/Llama-3.1-70B"} 1000.0
vllm:prefix_cache_hits_total{engine="0",model_name="meta-llama/Llama-3.1-70B"} 250.0
vllm:iteration_tokens_total_bucket{le="+Inf",model_name="meta-llama/Llama-3.1-70B"} 3.0
`;
const SGLANG = `sglang:token_usage{model_name="x"} 0.42
sglang:num_running_reqs{model_name="x"} 7
sglang:num_queue_reqs{model_name="x"} 1
sglang:cache_hit_rate{model_name="x"} 0.6
`;
const TGI = `tgi_queue_size 2
tgi_batch_current_size 9
`;

describe('Prometheus text and engine names', () => {
  it('parses samples with labels, escapes, special values and timestamps; skips comments and junk', () => {
    const samples = parsePrometheusText('# HELP a b\nm{a="x\\"y",b="2"} 1.5 1700000000\nn +Inf\nnot a metric line at all\nq NaN\n');
    expect(samples).toHaveLength(3);
    expect(samples[0]).toEqual({ name: 'm', labels: { a: 'x"y', b: '2' }, value: 1.5 });
    expect(samples[1]!.value).toBe(Infinity);
    expect(Number.isNaN(samples[2]!.value)).toBe(true);
  });

  it('maps vLLM: running and waiting summed over engines, KV usage averaged, prefix hits from counters', () => {
    const parsed = parsePrometheusText(VLLM);
    expect(detectEngine(parsed)).toBe('vllm');
    const s = mapServerMetrics(parsed, 'vllm', 10);
    expect(s).toMatchObject({ atMs: 10, running: 16, waiting: 3, prefixCacheHitRate: null, prefixCounters: { hits: 250, queries: 1000 } });
    expect(s.kvCacheUsage).toBeCloseTo(0.4, 10);
  });

  it('maps vLLM V0 names (gpu_cache_usage_perc, a hit-rate gauge), SGLang and TGI', () => {
    const v0 = mapServerMetrics(parsePrometheusText('vllm:gpu_cache_usage_perc 0.8\nvllm:gpu_prefix_cache_hit_rate 0.1\n'), 'vllm', 0);
    expect(v0).toMatchObject({ kvCacheUsage: 0.8, prefixCacheHitRate: 0.1, running: null });
    const sg = parsePrometheusText(SGLANG);
    expect(detectEngine(sg)).toBe('sglang');
    expect(mapServerMetrics(sg, 'sglang', 0)).toMatchObject({ kvCacheUsage: 0.42, running: 7, waiting: 1, prefixCacheHitRate: 0.6 });
    const tgi = parsePrometheusText(TGI);
    expect(detectEngine(tgi)).toBe('tgi');
    expect(mapServerMetrics(tgi, 'tgi', 0)).toMatchObject({ kvCacheUsage: null, running: 9, waiting: 2, prefixCacheHitRate: null });
    expect(detectEngine(parsePrometheusText('process_cpu_seconds_total 3\n'))).toBeNull();
  });

  it('summarises a run: peaks and means, the hit rate from counter increments', () => {
    const at = (ms: number, kv: number, hits: number, queries: number): ServerMetricsSample => ({ atMs: ms, kvCacheUsage: kv, running: kv * 10, waiting: 0, prefixCacheHitRate: null, prefixCounters: { hits, queries } });
    const summary = summarizeServerMetrics('vllm', [at(0, 0.1, 100, 200), at(100, 0.5, 150, 300), at(200, 0.3, 190, 400)]);
    expect(summary.kvCacheUsage).toEqual({ max: 0.5, mean: 0.3 });
    expect(summary.prefixCacheHitRate).toBeCloseTo(90 / 200, 10);
    expect(summary.metricNames.kvCacheUsage).toContain('vllm:kv_cache_usage_perc');
  });

  it('the /metrics URL sits at the root of the OpenAI base URL', () => {
    expect(metricsUrlFor('http://127.0.0.1:8000/v1')).toBe('http://127.0.0.1:8000/metrics');
    expect(metricsUrlFor('http://127.0.0.1:8000/v1/?x=1')).toBe('http://127.0.0.1:8000/metrics');
  });
});

describe('sampling a real /metrics over loopback', () => {
  let server: Server;
  let base: string;
  let usage = 0.1;
  let scrapes = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      scrapes += 1;
      usage = Math.min(0.9, usage + 0.1);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`sglang:token_usage ${usage}\nsglang:num_running_reqs ${scrapes}\nsglang:num_queue_reqs 0\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('samples until stopped and summarises what the server reported', async () => {
    const t0 = performance.now();
    const sampler = startMetricsSampler({
      url: metricsUrlFor(base),
      intervalMs: 20,
      fetchText: async (url) => (await fetch(url)).text(),
      now: () => performance.now() - t0,
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const { summary, failures } = await sampler.stop();
    expect(failures).toBe(0);
    expect(summary?.engine).toBe('sglang');
    expect(summary!.samples).toBeGreaterThanOrEqual(3);
    expect(summary!.samples).toBe(scrapes);
    expect(summary!.kvCacheUsage!.max).toBeCloseTo(usage, 10);
    expect(summary!.running!.max).toBe(scrapes);
  });

  it('a server without /metrics: failures counted, no summary, nothing thrown', async () => {
    const sampler = startMetricsSampler({
      url: `${base.replace('/v1', '')}/nope`,
      intervalMs: 20,
      fetchText: async (url) => {
        const r = await fetch(url);
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        return r.text();
      },
      now: () => 0,
    });
    await new Promise((resolve) => setTimeout(resolve, 60));
    const result = await sampler.stop();
    expect(result.summary).toBeNull();
    expect(result.failures).toBeGreaterThanOrEqual(2);
    expect(result.lastError).toBe('HTTP 404');
  });
});
