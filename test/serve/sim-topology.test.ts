import { afterAll, describe, expect, it } from 'vitest';
import { detectEngine, mapServerMetrics, metricsUrlFor, parsePrometheusText, startMetricsSampler } from '../../src/serve/prometheus.js';
import { SimServer } from '../../src/serve/sim/server.js';

const servers: SimServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const latency = { prefill_ms_per_token: 0.1, decode_base_ms: 40, decode_per_seq_ms: 0.5, max_batch: 64 };

describe('simulated server: a stated topology', () => {
  it('splits the compute of a step over TP and adds the all-reduces and stage sends the planner counts', () => {
    const one = new SimServer({ latency });
    const tp8 = new SimServer({ latency, topology: { tp: 8, pp: 1, layers: 80, allreduce_ms: 0.01, stage_send_ms: 0.02, kv_tokens_per_gpu: 1000 } });
    const tp8pp2 = new SimServer({ latency, topology: { tp: 8, pp: 2, layers: 80, allreduce_ms: 0.01, stage_send_ms: 0.5, kv_tokens_per_gpu: 1000 } });
    expect(one.stepMs(4, 0)).toBeCloseTo(40 + 0.5 * 4, 9);
    // (40 + 2) ÷ 8 + 2 × 80 × 0.01
    expect(tp8.stepMs(4, 0)).toBeCloseTo(42 / 8 + 1.6, 9);
    // + (2 − 1) × 0.5 ms between the two stages
    expect(tp8pp2.stepMs(4, 0)).toBeCloseTo(42 / 8 + 1.6 + 0.5, 9);
    expect(tp8.stepMs(0, 1000)).toBeCloseTo((40 + 100) / 8 + 1.6, 9);
    expect(tp8.kvCapacityTokens()).toBe(8000);
    expect(tp8pp2.kvCapacityTokens()).toBe(16_000);
  });

  it('serves /metrics in vLLM names that the scraper maps: running, waiting and KV-cache usage under load', async () => {
    const sim = new SimServer({ latency: { ...latency, max_batch: 2 }, topology: { tp: 2, pp: 1, layers: 4, allreduce_ms: 0.01, stage_send_ms: 0.02, kv_tokens_per_gpu: 100 } });
    servers.push(sim);
    const url = await sim.listen(0, '127.0.0.1');
    const idle = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    expect(detectEngine(idle)).toBe('vllm');
    expect(mapServerMetrics(idle, 'vllm', 0)).toMatchObject({ running: 0, waiting: 0, kvCacheUsage: 0 });
    const sampler = startMetricsSampler({ url: metricsUrlFor(`${url}/v1`), intervalMs: 20, fetchText: async (u) => (await fetch(u)).text(), now: () => Date.now() });
    // Four requests of 20 prompt words and 30 tokens on a batch of 2: two run, the others wait.
    const prompt = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ');
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sim-model', prompt, max_tokens: 30, stream: true }) });
        await res.text();
      }),
    );
    const { summary } = await sampler.stop();
    expect(summary?.engine).toBe('vllm');
    expect(summary!.running!.max).toBe(2);
    // The first request starts a step alone; the other three wait for the next one.
    expect(summary!.waiting!.max).toBeGreaterThanOrEqual(2);
    expect(summary!.waiting!.max).toBeLessThanOrEqual(3);
    // Two sequences of at most 20 + 30 tokens on a pool of 2 × 100 tokens: at most half of it.
    expect(summary!.kvCacheUsage!.max).toBeGreaterThan(0.2);
    expect(summary!.kvCacheUsage!.max).toBeLessThanOrEqual(0.5);
    expect(summary!.prefixCacheHitRate).toBe(0);
    const after = await (await fetch(`${url}/metrics`)).text();
    expect(after).toContain('vllm:generation_tokens_total{model_name="sim-model"} 120');
    expect(after).toContain('vllm:prompt_tokens_total{model_name="sim-model"} 80');
  });
});
