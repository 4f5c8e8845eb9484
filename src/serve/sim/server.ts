/**
 * A simulated OpenAI-compatible streaming server with a stated latency model, for tests, for measuring the
 * client itself, and for trying `serve-bench` without an engine. Continuous batching, step by step:
 *
 *   step time = decode_base_ms + decode_per_seq_ms × (sequences running) + prefill_ms_per_token × (prompt
 *   tokens of the sequences admitted in this step)
 *
 * At most `max_batch` sequences run; the rest wait in a FIFO queue and are admitted at the start of a step.
 * At the end of every step each running sequence emits one token (a newly admitted one its first). Steps
 * are scheduled against absolute deadlines, so timer lateness does not accumulate. The server records the
 * true time it wrote every chunk (its own clock, epoch milliseconds), served at GET /sim/records, so a test
 * can hold the client's figures against the server's.
 *
 * A stated topology (`topology`: tensor parallel TP, pipeline parallel PP) changes the latency model the way
 * the layout planner (src/estimate/topology.ts) does: the compute of a step is split over the TP group,
 * each step pays 2 all-reduces per layer when TP > 1 and PP − 1 activation sends between stages, and the
 * KV-cache pool grows with the GPUs:
 *
 *   step time = (decode_base_ms + decode_per_seq_ms × running + prefill_ms_per_token × admitted prompt
 *               tokens) ÷ TP + 2 × layers × allreduce_ms [TP > 1] + (PP − 1) × stage_send_ms
 *   KV pool    = kv_tokens_per_gpu × TP × PP tokens
 *
 * Endpoints: GET /v1/models, POST /v1/completions, POST /v1/chat/completions, POST /tokenize,
 * POST /detokenize (word-level tokenizer: every whitespace-separated word is one token), GET/DELETE
 * /sim/records, GET /metrics, GET /sim/topology. Fault injection for tests: `fault` on every `fault_every`-th
 * request. Binds where it is told (tests and scripts use 127.0.0.1).
 *
 * `engine` sets which serving engine it speaks besides the OpenAI-compatible API: the metric names of its
 * `/metrics` (requests running and waiting, KV-cache usage, prefix-cache hits; token and request counters) and
 * the info endpoint through which it reports the stated topology:
 *   - `vllm`: `vllm:*` names; `/v1/models` with `owned_by: "vllm"` and `max_model_len`; the layout only from
 *     `GET /server_info?config_format=json` when `vllm_dev_mode` is set (vLLM's VLLM_SERVER_DEV_MODE=1).
 *   - `sglang`: `sglang:*` names; `GET /get_server_info` with `tp_size`, `pp_size`, `dp_size`, `nnodes`,
 *     `context_length`, `max_total_num_tokens` among its server arguments (including `api_key`, as SGLang's do).
 *   - `tgi`: `tgi_*` names (no KV-cache usage or prefix cache, as TGI exports none); `GET /info` with
 *     `model_id` and `max_total_tokens` and no shard count, as TGI's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { epochMs } from '../clock.js';

export interface LatencyModel {
  prefill_ms_per_token: number;
  decode_base_ms: number;
  decode_per_seq_ms: number;
  max_batch: number;
}

export const DEFAULT_LATENCY_MODEL: LatencyModel = { prefill_ms_per_token: 0.02, decode_base_ms: 5, decode_per_seq_ms: 0.05, max_batch: 256 };

/** The layout the simulated deployment states, and the communication each step pays for it. */
export interface SimTopology {
  tp: number;
  pp: number;
  /** Decoder layers of the simulated model (all-reduces per step = 2 × layers when TP > 1). */
  layers: number;
  /** One all-reduce of a decode step's activations (latency-bound for small batches). */
  allreduce_ms: number;
  /** One activation send between two pipeline stages. */
  stage_send_ms: number;
  /** Tokens of the whole model's KV cache one GPU's pool could hold; sharded over TP × PP GPUs the pool holds this × TP × PP. */
  kv_tokens_per_gpu: number;
}

export const DEFAULT_SIM_TOPOLOGY: SimTopology = { tp: 1, pp: 1, layers: 32, allreduce_ms: 0.01, stage_send_ms: 0.02, kv_tokens_per_gpu: 262_144 };

export const SIM_ENGINES = ['vllm', 'sglang', 'tgi'] as const;
export type SimEngine = (typeof SIM_ENGINES)[number];

export const SIM_FAULTS = ['none', 'http_401', 'http_500', 'not_sse', 'malformed', 'cut', 'hang', 'no_done'] as const;
export type SimFault = (typeof SIM_FAULTS)[number];

export interface SimOptions {
  model: string;
  /** The engine whose metric names and info endpoint it serves. */
  engine: SimEngine;
  /** vLLM only: serve the development endpoint /server_info (the layout), as VLLM_SERVER_DEV_MODE=1 does. */
  vllm_dev_mode: boolean;
  /** The longest prompt + output it states it accepts (reported, not enforced). */
  max_model_len: number;
  latency: LatencyModel;
  topology: SimTopology;
  /** Tokens each content chunk carries (speculative decoding sends several). */
  tokens_per_chunk: number;
  /** Chat streams start with a role-only chunk, sent when the request is admitted (before prefill ends). */
  role_chunk: boolean;
  /** Line endings of the event stream. */
  line_ending: '\n' | '\r\n';
  /** Write a ': keep-alive' comment before each event. */
  keep_alive_comments: boolean;
  /** Write each event in two pieces, split mid-line (two TCP reads on the client). */
  split_events: boolean;
  /** A required bearer key; requests without it get 401. */
  api_key: string | null;
  fault: SimFault;
  fault_every: number;
  /**
   * Prefix caching: prefill is charged only for the prompt tokens past the longest prefix shared with an
   * earlier prompt (whole tokens of the word-level tokenizer), as engines with a prefix cache do.
   */
  prefix_cache: boolean;
  /** Keep each request's prompt text in its record (tests that check what was sent). */
  record_prompts: boolean;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  model: 'sim-model',
  engine: 'vllm',
  vllm_dev_mode: false,
  max_model_len: 131_072,
  latency: DEFAULT_LATENCY_MODEL,
  topology: DEFAULT_SIM_TOPOLOGY,
  tokens_per_chunk: 1,
  role_chunk: true,
  line_ending: '\n',
  keep_alive_comments: false,
  split_events: false,
  api_key: null,
  fault: 'none',
  fault_every: 1,
  prefix_cache: false,
  record_prompts: false,
};

/** The server's own account of one request. */
export interface SimRecord {
  id: string;
  received_at_ms: number;
  admitted_at_ms: number | null;
  prompt_tokens: number;
  /** Prompt tokens answered from the prefix cache (0 without one). */
  cached_tokens: number;
  /** The prompt as received (only with `record_prompts`). */
  prompt?: string;
  max_tokens: number;
  /** Time each content chunk was written, and how many tokens it carried. */
  chunk_sent_at_ms: number[];
  chunk_tokens: number[];
  /** Running sequences during each step that produced a token of this request. */
  batch_sizes: number[];
  finished_at_ms: number | null;
}

interface Sequence {
  record: SimRecord;
  res: ServerResponse;
  chat: boolean;
  includeUsage: boolean;
  generated: number;
  pendingTokens: number;
  closed: boolean;
  fault: SimFault;
  /** The prompt's token ids (kept only with a prefix cache). */
  promptIds: number[];
}

const OUTPUT_WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'theta'];

export class SimServer {
  readonly options: SimOptions;
  readonly records: SimRecord[] = [];
  private readonly server: Server;
  private readonly queue: Sequence[] = [];
  /** Prompts seen, for the prefix cache (the most recent 256). */
  private readonly cachedPrompts: number[][] = [];
  private running: Sequence[] = [];
  private timer: NodeJS.Timeout | null = null;
  private nextDeadline = 0;
  private requestCount = 0;
  private readonly vocab = new Map<string, number>();
  private readonly words: string[] = [];
  /** Counters exported at /metrics. */
  private readonly counters = { promptTokens: 0, generationTokens: 0, prefixQueries: 0, prefixHits: 0, finished: 0 };

  constructor(options: Partial<SimOptions> = {}) {
    this.options = { ...DEFAULT_SIM_OPTIONS, ...options, latency: { ...DEFAULT_LATENCY_MODEL, ...options.latency }, topology: { ...DEFAULT_SIM_TOPOLOGY, ...options.topology } };
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    return `http://${host}:${a.port}`;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    for (const s of [...this.running, ...this.queue]) if (!s.res.destroyed) s.res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Step time for `running` sequences of which the admitted ones bring `prefillTokens` prompt tokens. */
  /** Tokens of `ids` that an earlier prompt shares from the start; remembers `ids` for later prompts. */
  private cachePrefix(ids: number[]): number {
    let best = 0;
    for (const prev of this.cachedPrompts) {
      let n = 0;
      const max = Math.min(prev.length, ids.length);
      while (n < max && prev[n] === ids[n]) n += 1;
      best = Math.max(best, n);
    }
    this.cachedPrompts.push(ids);
    if (this.cachedPrompts.length > 256) this.cachedPrompts.shift();
    // The last prompt token is always computed (its logits start the answer).
    return Math.min(best, Math.max(0, ids.length - 1));
  }

  stepMs(running: number, prefillTokens: number): number {
    const l = this.options.latency;
    const t = this.options.topology;
    const compute = l.decode_base_ms + l.decode_per_seq_ms * running + l.prefill_ms_per_token * prefillTokens;
    return compute / t.tp + (t.tp > 1 ? 2 * t.layers * t.allreduce_ms : 0) + (t.pp - 1) * t.stage_send_ms;
  }

  /** KV-cache tokens of the whole deployment (every GPU's share of the layers and heads). */
  kvCapacityTokens(): number {
    const t = this.options.topology;
    return t.kv_tokens_per_gpu * t.tp * t.pp;
  }

  /** Tokens held in the KV cache now: prompt and generated tokens of the running sequences. */
  kvTokensInUse(): number {
    return this.running.reduce((sum, s) => sum + s.record.prompt_tokens + s.generated, 0);
  }

  /** The scheduler's state in the Prometheus text format, in the metric names of the engine it speaks. */
  metricsText(): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number, label: string): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${label} ${value}`);
    };
    const running = this.running.length;
    const waiting = this.queue.filter((s) => !s.closed).length;
    const usage = Math.min(1, this.kvTokensInUse() / this.kvCapacityTokens());
    const c = this.counters;
    if (this.options.engine === 'sglang') {
      // SGLang (--enable-metrics): the scheduler's gauges, labelled by model and rank.
      const label = `{model_name="${this.options.model}",engine_type="unified",tp_rank="0",pp_rank="0"}`;
      metric('sglang:num_running_reqs', 'gauge', 'The number of running requests.', running, label);
      metric('sglang:num_queue_reqs', 'gauge', 'The number of requests in the waiting queue.', waiting, label);
      metric('sglang:token_usage', 'gauge', 'The token usage.', usage, label);
      metric('sglang:cache_hit_rate', 'gauge', 'The prefix cache hit rate.', c.prefixQueries === 0 ? 0 : c.prefixHits / c.prefixQueries, label);
      metric('sglang:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', c.promptTokens, label);
      metric('sglang:generation_tokens_total', 'counter', 'Number of generation tokens processed.', c.generationTokens, label);
      metric('sglang:num_requests_total', 'counter', 'Number of requests processed.', c.finished, label);
    } else if (this.options.engine === 'tgi') {
      // TGI's router: batch and queue sizes, request counters; no KV-cache usage or prefix cache.
      metric('tgi_batch_current_size', 'gauge', 'Current batch size', running, '');
      metric('tgi_queue_size', 'gauge', 'Current queue size', waiting, '');
      metric('tgi_batch_current_max_tokens', 'gauge', 'Maximum tokens for the current batch', this.kvTokensInUse(), '');
      metric('tgi_request_count', 'counter', 'Total number of requests', this.requestCount, '');
      metric('tgi_request_success', 'counter', 'Number of successful requests', c.finished, '');
    } else {
      const label = `{model_name="${this.options.model}"}`;
      metric('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', running, label);
      metric('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', waiting, label);
      metric('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.', usage, label);
      metric('vllm:prefix_cache_queries_total', 'counter', 'Prefix cache queries, in terms of number of queried tokens.', c.prefixQueries, label);
      metric('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in terms of number of cached tokens.', c.prefixHits, label);
      metric('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', c.promptTokens, label);
      metric('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.', c.generationTokens, label);
      metric('vllm:request_success_total', 'counter', 'Count of successfully processed requests.', c.finished, label);
    }
    return `${lines.join('\n')}\n`;
  }

  /** The engine's own account of itself (its info endpoint), or null when the engine has none at `path`. */
  infoFor(path: string, query: URLSearchParams): unknown {
    const o = this.options;
    const t = o.topology;
    if (o.engine === 'sglang' && path === '/get_server_info') {
      // SGLang answers its server arguments (api_key among them) and the scheduler's info.
      return {
        model_path: o.model,
        served_model_name: o.model,
        tp_size: t.tp,
        pp_size: t.pp,
        dp_size: 1,
        nnodes: Math.ceil((t.tp * t.pp) / 8),
        context_length: o.max_model_len,
        max_running_requests: o.latency.max_batch,
        api_key: o.api_key,
        max_total_num_tokens: this.kvCapacityTokens(),
        max_req_input_len: o.max_model_len - 1,
        version: 'sim',
      };
    }
    if (o.engine === 'tgi' && path === '/info') {
      return {
        model_id: o.model,
        model_sha: null,
        model_pipeline_tag: 'text-generation',
        max_concurrent_requests: o.latency.max_batch,
        max_best_of: 2,
        max_stop_sequences: 4,
        max_input_tokens: o.max_model_len - 1,
        max_total_tokens: o.max_model_len,
        validation_workers: 2,
        max_client_batch_size: 4,
        router: 'text-generation-router',
        version: 'sim',
        sha: null,
        docker_label: null,
      };
    }
    if (o.engine === 'vllm' && o.vllm_dev_mode && path === '/server_info') {
      const config = {
        model_config: { model: o.model, served_model_name: o.model, max_model_len: o.max_model_len },
        parallel_config: { tensor_parallel_size: t.tp, pipeline_parallel_size: t.pp, data_parallel_size: 1 },
      };
      return { vllm_config: query.get('config_format') === 'json' ? config : JSON.stringify(config) };
    }
    return null;
  }

  tokenize(text: string): number[] {
    const out: number[] = [];
    for (const w of text.split(/\s+/)) {
      if (w === '') continue;
      let id = this.vocab.get(w);
      if (id === undefined) {
        id = this.words.length;
        this.vocab.set(w, id);
        this.words.push(w);
      }
      out.push(id);
    }
    return out;
  }

  detokenize(ids: number[]): string {
    return ids.map((i) => this.words[i] ?? '').join(' ');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = epochMs();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://sim');
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        this.route(req, res, url.pathname, body, receivedAt, url.searchParams);
      } catch (error) {
        this.json(res, 400, { error: { message: (error as Error).message, type: 'invalid_request_error' } });
      }
    });
  }

  private json(res: ServerResponse, status: number, value: unknown): void {
    const text = JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private route(req: IncomingMessage, res: ServerResponse, path: string, body: string, receivedAt: number, query: URLSearchParams): void {
    if (path === '/sim/records') {
      // DELETE answers the records and clears them.
      const out = [...this.records];
      if (req.method === 'DELETE') this.records.length = 0;
      this.json(res, 200, out);
      return;
    }
    if (path === '/metrics' && req.method === 'GET') {
      // Unauthenticated, as vLLM serves it.
      const text = this.metricsText();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (path === '/sim/topology' && req.method === 'GET') {
      this.json(res, 200, { topology: this.options.topology, latency: this.options.latency, kv_capacity_tokens: this.kvCapacityTokens() });
      return;
    }
    if (this.options.api_key !== null && req.headers.authorization !== `Bearer ${this.options.api_key}`) {
      this.json(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } });
      return;
    }
    if (path === '/v1/models' && req.method === 'GET') {
      const owner = this.options.engine === 'tgi' ? this.options.model : this.options.engine;
      const card = { id: this.options.model, object: 'model', owned_by: owner, ...(this.options.engine === 'vllm' ? { root: this.options.model, max_model_len: this.options.max_model_len } : {}) };
      this.json(res, 200, { object: 'list', data: [card] });
      return;
    }
    if (req.method === 'GET') {
      const info = this.infoFor(path, query);
      if (info !== null) {
        this.json(res, 200, info);
        return;
      }
    }
    if (path === '/tokenize' && req.method === 'POST') {
      const b = JSON.parse(body) as { content?: string; prompt?: string };
      const tokens = this.tokenize(b.content ?? b.prompt ?? '');
      this.json(res, 200, { tokens, count: tokens.length });
      return;
    }
    if (path === '/detokenize' && req.method === 'POST') {
      const b = JSON.parse(body) as { tokens?: number[] };
      const text = this.detokenize(b.tokens ?? []);
      this.json(res, 200, { content: text, prompt: text });
      return;
    }
    if ((path === '/v1/completions' || path === '/v1/chat/completions') && req.method === 'POST') {
      this.generate(res, path.endsWith('chat/completions'), JSON.parse(body) as Record<string, unknown>, receivedAt);
      return;
    }
    this.json(res, 404, { error: { message: `no route ${req.method ?? ''} ${path}`, type: 'not_found' } });
  }

  private generate(res: ServerResponse, chat: boolean, body: Record<string, unknown>, receivedAt: number): void {
    if (body.model !== undefined && body.model !== this.options.model) {
      this.json(res, 404, { error: { message: `The model \`${String(body.model)}\` does not exist.`, type: 'NotFoundError', code: 404 } });
      return;
    }
    this.requestCount += 1;
    const fault = this.options.fault !== 'none' && this.requestCount % this.options.fault_every === 0 ? this.options.fault : 'none';
    if (fault === 'http_401') {
      this.json(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } });
      return;
    }
    if (fault === 'http_500') {
      this.json(res, 500, { error: { message: 'simulated internal error', type: 'server_error' } });
      return;
    }
    if (fault === 'not_sse') {
      this.json(res, 200, { id: 'cmpl-x', object: 'text_completion', choices: [{ index: 0, text: 'not a stream', finish_reason: 'length' }] });
      return;
    }
    if (fault === 'hang') return; // never answers: the client's timeout must end it
    let promptText = '';
    if (chat && Array.isArray(body.messages)) promptText = (body.messages as { content?: unknown }[]).map((m) => (typeof m.content === 'string' ? m.content : '')).join(' ');
    else if (typeof body.prompt === 'string') promptText = body.prompt;
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : 16;
    const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-sim-${this.requestCount}`;
    const record: SimRecord = {
      id,
      received_at_ms: receivedAt,
      admitted_at_ms: null,
      prompt_tokens: this.tokenize(promptText).length,
      cached_tokens: 0,
      ...(this.options.record_prompts ? { prompt: promptText } : {}),
      max_tokens: maxTokens,
      chunk_sent_at_ms: [],
      chunk_tokens: [],
      batch_sizes: [],
      finished_at_ms: null,
    };
    this.records.push(record);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    const seq: Sequence = { record, res, chat, includeUsage: streamOptions?.include_usage === true, generated: 0, pendingTokens: 0, closed: false, fault, promptIds: this.options.prefix_cache ? this.tokenize(promptText) : [] };
    res.on('close', () => {
      seq.closed = true;
    });
    this.queue.push(seq);
    this.kick();
  }

  /** Writes events (and then ends the response when `end`); in split mode each write goes out in two pieces. */
  private send(seq: Sequence, datas: string[], end: boolean, raw = ''): void {
    const nl = this.options.line_ending;
    let text = raw;
    for (const d of datas) text += `${this.options.keep_alive_comments ? `: keep-alive${nl}${nl}` : ''}data: ${d}${nl}${nl}`;
    if (this.options.split_events && text.length > 8) {
      const cut = Math.floor(text.length / 2);
      seq.res.write(text.slice(0, cut));
      // The second half goes out in a later turn of the event loop: a separate TCP segment.
      setImmediate(() => {
        if (seq.closed) return;
        if (end) seq.res.end(text.slice(cut));
        else seq.res.write(text.slice(cut));
      });
    } else if (end) {
      seq.res.end(text);
    } else {
      seq.res.write(text);
    }
  }

  private chunkJson(seq: Sequence, text: string, finish: string | null, role = false): string {
    const base = { id: seq.record.id, created: 0, model: this.options.model };
    if (seq.chat) {
      const delta = role ? { role: 'assistant', content: '' } : { content: text };
      return JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
    }
    return JSON.stringify({ ...base, object: 'text_completion', choices: [{ index: 0, text, finish_reason: finish }] });
  }

  private kick(): void {
    if (this.timer !== null) return;
    this.nextDeadline = Math.max(this.nextDeadline, epochMs());
    this.scheduleStep();
  }

  private scheduleStep(): void {
    // Admit at the start of a step.
    const l = this.options.latency;
    const admitted: Sequence[] = [];
    while (this.running.length < l.max_batch && this.queue.length > 0) {
      const s = this.queue.shift() as Sequence;
      if (s.closed) continue;
      s.record.admitted_at_ms = epochMs();
      if (this.options.prefix_cache) s.record.cached_tokens = this.cachePrefix(s.promptIds);
      this.counters.promptTokens += s.record.prompt_tokens;
      // Every prompt token is a prefix-cache query; the ones an earlier prompt shares are hits.
      this.counters.prefixQueries += s.record.prompt_tokens;
      this.counters.prefixHits += s.record.cached_tokens;
      if (s.chat && this.options.role_chunk) this.send(s, [this.chunkJson(s, '', null, true)], false);
      this.running.push(s);
      admitted.push(s);
    }
    if (this.running.length === 0) {
      this.timer = null;
      return;
    }
    const prefill = admitted.reduce((a, s) => a + s.record.prompt_tokens - s.record.cached_tokens, 0);
    const batch = this.running.length;
    this.nextDeadline += this.stepMs(batch, prefill);
    const delay = Math.max(0, this.nextDeadline - epochMs());
    this.timer = setTimeout(() => this.finishStep(batch), delay);
  }

  private finishStep(batch: number): void {
    const still: Sequence[] = [];
    const tpc = this.options.tokens_per_chunk;
    for (const s of this.running) {
      if (s.closed) continue;
      s.generated += 1;
      this.counters.generationTokens += 1;
      s.pendingTokens += 1;
      s.record.batch_sizes.push(batch);
      const last = s.generated >= s.record.max_tokens;
      if (s.pendingTokens >= tpc || last) {
        const words: string[] = [];
        for (let i = 0; i < s.pendingTokens; i += 1) words.push(` ${OUTPUT_WORDS[(s.generated - s.pendingTokens + i) % OUTPUT_WORDS.length] as string}`);
        const chunkIndex = s.record.chunk_sent_at_ms.length;
        const datas: string[] = [];
        let raw = '';
        if (s.fault === 'malformed' && chunkIndex === 1) raw = `data: {"choices": [{"text": oops}]}${this.options.line_ending}${this.options.line_ending}`;
        else datas.push(this.chunkJson(s, words.join(''), last ? 'length' : null));
        if (last) {
          if (s.includeUsage) {
            const usage = { prompt_tokens: s.record.prompt_tokens, completion_tokens: s.generated, total_tokens: s.record.prompt_tokens + s.generated };
            datas.push(JSON.stringify({ id: s.record.id, object: s.chat ? 'chat.completion.chunk' : 'text_completion', model: this.options.model, choices: [], usage }));
          }
          if (s.fault !== 'no_done') datas.push('[DONE]');
        }
        // Stamped before the write: a client on another core may read the chunk before this process runs again.
        const t = epochMs();
        s.record.chunk_sent_at_ms.push(t);
        this.send(s, datas, last, raw);
        s.record.chunk_tokens.push(s.pendingTokens);
        s.pendingTokens = 0;
        if (last) {
          s.record.finished_at_ms = t;
          this.counters.finished += 1;
        }
        if (s.fault === 'cut' && !last && s.generated >= Math.ceil(s.record.max_tokens / 2)) {
          s.res.destroy();
          s.closed = true;
          continue;
        }
      }
      if (last) continue;
      still.push(s);
    }
    this.running = still;
    this.scheduleStep();
  }
}
