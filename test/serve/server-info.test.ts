import { execa } from 'execa';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { mapServerMetrics, parsePrometheusText, detectEngine } from '../../src/serve/prometheus.js';
import { parseModelList, parseSglangServerInfo, parseTgiInfo, parseVllmServerInfo, fetchServerJson, probeServerTopology, serverUrlFor, type FetchJson } from '../../src/serve/server-info.js';
import { SimServer, type SimOptions } from '../../src/serve/sim/server.js';
import { startSimProcess } from './sim-process.js';

const servers: { close(): Promise<void> }[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function sim(options: Partial<SimOptions>): Promise<{ url: string; sim: SimServer }> {
  const s = new SimServer(options);
  servers.push(s);
  return { url: `${await s.listen(0, '127.0.0.1')}/v1`, sim: s };
}

/** The probe's real fetch (the one `recommend --confirm` uses), recording the URLs it asked. */
function fetchJson(apiKey: string | null, seen: string[] = []): FetchJson {
  const real = fetchServerJson(apiKey);
  return (url, timeoutMs) => {
    seen.push(url);
    return real(url, timeoutMs);
  };
}

const TP8: Partial<SimOptions> = { model: 'big-sim', topology: { tp: 8, pp: 2, layers: 126, allreduce_ms: 0.01, stage_send_ms: 0.02, kv_tokens_per_gpu: 4096 }, max_model_len: 8192 };

describe('the layout a server reports, per engine', () => {
  it('SGLang: /get_server_info gives TP, PP, DP, nodes, the context and the KV pool, and never the api_key it also carries', async () => {
    const { url } = await sim({ ...TP8, engine: 'sglang', api_key: 'sk-secret-sglang' });
    const r = await probeServerTopology(url, fetchJson('sk-secret-sglang'));
    expect(r).toMatchObject({ engine: 'sglang', from: 'GET /get_server_info', layout: { tp: 8, pp: 2, dp: 1 }, nodes: 2, model: 'big-sim', maxContextTokens: 8192, kvCapacityTokens: 4096 * 16 });
    expect(r.note).toBe('SGLang reports TP 8 × PP 2 over 2 nodes (GET /get_server_info)');
    expect(JSON.stringify(r)).not.toContain('sk-secret');
  });

  it('SGLang behind a key: without the key the probe reports no layout instead of failing', async () => {
    const { url } = await sim({ ...TP8, engine: 'sglang', api_key: 'sk-other' });
    const r = await probeServerTopology(url, fetchJson(null));
    expect(r.layout).toBeNull();
    expect(r.engine).toBeNull();
  });

  it('vLLM: no layout from its production API (the note says to state it), the context from /v1/models', async () => {
    const { url } = await sim({ ...TP8, engine: 'vllm' });
    const r = await probeServerTopology(url, fetchJson(null));
    expect(r).toMatchObject({ engine: 'vllm', from: 'GET /v1/models', layout: null, model: 'big-sim', maxContextTokens: 8192 });
    expect(r.note).toMatch(/^vLLM does not report its parallel sizes .*state the layout with --topology$/);
  });

  it('vLLM in development mode: the layout from /server_info?config_format=json', async () => {
    const { url } = await sim({ ...TP8, engine: 'vllm', vllm_dev_mode: true });
    const r = await probeServerTopology(url, fetchJson(null));
    expect(r).toMatchObject({ engine: 'vllm', from: 'GET /server_info', layout: { tp: 8, pp: 2, dp: 1 }, maxContextTokens: 8192 });
  });

  it('TGI: /info gives the model and max_total_tokens but no shard count, and the note says so', async () => {
    const { url } = await sim({ ...TP8, engine: 'tgi' });
    const r = await probeServerTopology(url, fetchJson(null));
    expect(r).toMatchObject({ engine: 'tgi', from: 'GET /info', layout: null, model: 'big-sim', maxContextTokens: 8192 });
    expect(r.note).toMatch(/TGI's \/info does not report its shard count/);
  });

  it('a server that answers 404 everywhere, refuses, or hangs reports nothing, within the timeout', async () => {
    const hang: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    servers.push({ close: () => new Promise<void>((resolve) => { hang.closeAllConnections(); hang.close(() => resolve()); }) });
    const notFound: Server = createServer((_req, res) => { res.writeHead(404).end('no'); });
    await new Promise<void>((resolve) => notFound.listen(0, '127.0.0.1', resolve));
    servers.push({ close: () => new Promise<void>((resolve) => notFound.close(() => resolve())) });
    const closed = new SimServer();
    const closedUrl = await closed.listen(0, '127.0.0.1');
    await closed.close();
    for (const base of [`http://127.0.0.1:${(hang.address() as AddressInfo).port}/v1`, `http://127.0.0.1:${(notFound.address() as AddressInfo).port}/v1`, `${closedUrl}/v1`]) {
      const t0 = Date.now();
      const r = await probeServerTopology(base, fetchJson(null), 300);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(r).toMatchObject({ engine: null, from: null, layout: null });
      expect(r.note).toMatch(/state it with --topology/);
    }
  });

  it('asks next to the API: the root for the info endpoints, /v1/models for the list', async () => {
    const seen: string[] = [];
    const { url } = await sim({ engine: 'vllm' });
    await probeServerTopology(url, fetchJson(null, seen));
    const origin = new URL(url).origin;
    expect(seen.sort()).toEqual([`${origin}/get_server_info`, `${origin}/info`, `${origin}/server_info?config_format=json`, `${origin}/v1/models`].sort());
    expect(serverUrlFor('http://h:8000/v1', '/info')).toBe('http://h:8000/info');
  });
});

describe('parsing what each engine answers', () => {
  it('refuses look-alikes: no tp_size, a zero or fractional size, a string; takes the defaults for absent PP / DP', () => {
    expect(parseSglangServerInfo({ model_path: 'm' })).toBeNull();
    expect(parseSglangServerInfo({ tp_size: 0 })).toBeNull();
    expect(parseSglangServerInfo({ tp_size: '8' })).toBeNull();
    expect(parseSglangServerInfo({ tp_size: 4 })?.layout).toEqual({ tp: 4, pp: 1, dp: 1 });
    expect(parseSglangServerInfo({ tp_size: 4, dp_size: 2, pp_size: 1.5 })?.layout).toEqual({ tp: 4, pp: 1, dp: 2 });
    expect(parseVllmServerInfo({ vllm_config: 'ModelConfig(...)' })).toBeNull();
    expect(parseVllmServerInfo({ vllm_config: { parallel_config: { tensor_parallel_size: 2, data_parallel_size: 4 } } })?.layout).toEqual({ tp: 2, pp: 1, dp: 4 });
    expect(parseTgiInfo({ model_id: 'm' })).toBeNull();
    expect(parseTgiInfo([])).toBeNull();
    expect(parseModelList({ data: [{ id: 'm', owned_by: 'sglang' }] })?.engine).toBe('sglang');
    expect(parseModelList({ data: [] })).toBeNull();
  });
});

describe("the simulated server's /metrics in each engine's names", () => {
  it('maps to the same figures for vLLM and SGLang; TGI exports running and waiting only', async () => {
    for (const engine of ['vllm', 'sglang', 'tgi'] as const) {
      const { url } = await sim({ engine, prefix_cache: true });
      const text = await (await fetch(serverUrlFor(url, '/metrics'))).text();
      const samples = parsePrometheusText(text);
      expect(detectEngine(samples)).toBe(engine);
      const mapped = mapServerMetrics(samples, engine, 0);
      expect(mapped.running).toBe(0);
      expect(mapped.waiting).toBe(0);
      if (engine === 'tgi') {
        expect(mapped.kvCacheUsage).toBeNull();
        expect(mapped.prefixCacheHitRate).toBeNull();
        expect(mapped.prefixCounters).toBeNull();
      } else {
        expect(mapped.kvCacheUsage).toBe(0);
        expect(mapped.prefixCacheHitRate ?? mapped.prefixCounters?.hits).toBe(0);
      }
    }
  });
});

describe('npm run sim-server --engine', () => {
  it('serves the engine it is told (TGI: /info, tgi_* metrics) and refuses an unknown one with exit 2', async () => {
    const p = await startSimProcess(['--engine', 'tgi', '--model', 'tgi-sim', '--max-model-len', '4096']);
    try {
      const info = (await (await fetch(`${p.url}/info`)).json()) as Record<string, unknown>;
      expect(info).toMatchObject({ model_id: 'tgi-sim', max_total_tokens: 4096 });
      expect(info).not.toHaveProperty('num_shard');
      expect(await (await fetch(`${p.url}/metrics`)).text()).toMatch(/^tgi_queue_size 0$/m);
    } finally {
      await p.stop();
    }
    const bad = await execa(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/sim-server.ts', '--engine', 'triton'], { cwd: new URL('../..', import.meta.url), reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--engine must be one of vllm, sglang, tgi');
  });
});
