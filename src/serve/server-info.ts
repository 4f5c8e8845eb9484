/**
 * The layout a serving engine reports about itself, read before a deployment is measured: which engine answers,
 * its tensor / pipeline / data parallel sizes where it says them, the model and the longest context it accepts.
 *
 * - SGLang: `GET /get_server_info` answers its server arguments (`tp_size`, `pp_size`, `dp_size`, `nnodes`,
 *   `model_path`, `served_model_name`, `context_length`) and the scheduler's (`max_total_num_tokens`, the KV pool
 *   in tokens). The server arguments include its `api_key`: only the fields named here are kept.
 * - vLLM: its production API does not say its parallel sizes (`/metrics` carries `vllm:cache_config_info`, the
 *   cache's settings, not the layout; `/v1/models` carries `max_model_len`). Only the development endpoint
 *   `GET /server_info?config_format=json` (`VLLM_SERVER_DEV_MODE=1`) answers `vllm_config.parallel_config`.
 * - TGI: `GET /info` answers `model_id`, `max_input_tokens` and `max_total_tokens`, but not the shard count
 *   (`--num-shard` is the launcher's and stays there).
 *
 * Every probe has a short timeout and never fails the run: a server that answers 404, refuses, hangs or sends
 * something else simply reports nothing. The fetch is injected; it carries the key, which never reaches the
 * result.
 */
import type { ServerEngine } from './prometheus.js';
import { authHeaders } from './target.js';

export interface ReportedLayout {
  tp: number;
  pp: number;
  dp: number;
}

/** What the server says about itself; every figure null when it does not say it. */
export interface ServerReportedTopology {
  /** The engine that answered, by the endpoint that answered (or `owned_by` of /v1/models); null when none did. */
  engine: ServerEngine | null;
  /** The request the layout (or, without one, the other figures) came from, e.g. `GET /get_server_info`. */
  from: string | null;
  layout: ReportedLayout | null;
  /** Nodes the deployment spans, where the engine says it (SGLang `nnodes`). */
  nodes: number | null;
  model: string | null;
  /** The longest prompt + output the server accepts (SGLang `context_length`, vLLM `max_model_len`, TGI `max_total_tokens`). */
  maxContextTokens: number | null;
  /** Tokens the whole KV pool holds (SGLang `max_total_num_tokens`). */
  kvCapacityTokens: number | null;
  /** One line: what was read, or why no layout was. */
  note: string;
}

/** GET `url` as JSON within `timeoutMs`; rejects (or answers a non-200 status) when it cannot. */
export type FetchJson = (url: string, timeoutMs: number) => Promise<{ status: number; json: unknown }>;

/** The default probe timeout: the layout is worth a couple of seconds, never the run. */
export const SERVER_INFO_TIMEOUT_MS = 2000;

type Json = Record<string, unknown>;

function obj(value: unknown): Json | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
}

/** A positive whole number, or null (absent, a string, zero, negative, fractional). */
function posInt(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

/** SGLang's `GET /get_server_info`: its server arguments and scheduler info; null when this is not it. */
export function parseSglangServerInfo(json: unknown): Omit<ServerReportedTopology, 'note'> | null {
  const j = obj(json);
  const tp = posInt(j?.tp_size);
  if (j === null || tp === null) return null;
  return {
    engine: 'sglang',
    from: 'GET /get_server_info',
    layout: { tp, pp: posInt(j.pp_size) ?? 1, dp: posInt(j.dp_size) ?? 1 },
    nodes: posInt(j.nnodes),
    model: str(j.served_model_name) ?? str(j.model_path),
    maxContextTokens: posInt(j.context_length),
    kvCapacityTokens: posInt(j.max_total_num_tokens),
  };
}

/** vLLM's development endpoint `GET /server_info?config_format=json`; null when this is not it. */
export function parseVllmServerInfo(json: unknown): Omit<ServerReportedTopology, 'note'> | null {
  const config = obj(obj(json)?.vllm_config);
  const parallel = obj(config?.parallel_config);
  const tp = posInt(parallel?.tensor_parallel_size);
  if (parallel === null || tp === null) return null;
  const model = obj(config?.model_config);
  return {
    engine: 'vllm',
    from: 'GET /server_info',
    layout: { tp, pp: posInt(parallel.pipeline_parallel_size) ?? 1, dp: posInt(parallel.data_parallel_size) ?? 1 },
    nodes: null,
    model: str(model?.served_model_name) ?? str(model?.model),
    maxContextTokens: posInt(model?.max_model_len),
    kvCapacityTokens: null,
  };
}

/** TGI's `GET /info`: the model and its limits, no layout; null when this is not it. */
export function parseTgiInfo(json: unknown): Omit<ServerReportedTopology, 'note'> | null {
  const j = obj(json);
  const model = str(j?.model_id);
  const total = posInt(j?.max_total_tokens);
  if (j === null || model === null || total === null) return null;
  return { engine: 'tgi', from: 'GET /info', layout: null, nodes: null, model, maxContextTokens: total, kvCapacityTokens: null };
}

/** `GET /v1/models`: the first model, its `max_model_len` (vLLM) and who serves it (`owned_by`). */
export function parseModelList(json: unknown): Omit<ServerReportedTopology, 'note'> | null {
  const data = obj(json)?.data;
  const first = Array.isArray(data) ? obj(data[0]) : null;
  if (first === null) return null;
  const owner = str(first.owned_by)?.toLowerCase() ?? '';
  const engine: ServerEngine | null = owner === 'vllm' ? 'vllm' : owner === 'sglang' ? 'sglang' : null;
  return { engine, from: 'GET /v1/models', layout: null, nodes: null, model: str(first.id), maxContextTokens: posInt(first.max_model_len), kvCapacityTokens: null };
}

/** A path at the server's root, next to the OpenAI-compatible base (`http://host:8000/v1` → `http://host:8000/info`). */
export function serverUrlFor(baseUrl: string, path: string): string {
  const url = new URL(baseUrl);
  const q = path.indexOf('?');
  url.pathname = q === -1 ? path : path.slice(0, q);
  url.search = q === -1 ? '' : path.slice(q);
  return url.toString();
}

/** The OpenAI-compatible model list next to the base (`…/v1` → `…/v1/models`). */
function modelsUrlFor(baseUrl: string): string {
  const url = new URL(baseUrl);
  let path = url.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/v1')) path = `${path}/v1`;
  url.pathname = `${path}/models`;
  url.search = '';
  return url.toString();
}

const ENGINE_NAMES: Record<ServerEngine, string> = { vllm: 'vLLM', sglang: 'SGLang', tgi: 'TGI' };

export function engineName(engine: ServerEngine): string {
  return ENGINE_NAMES[engine];
}

/** Why an engine that answered gave no layout: what it lacks and what to do. */
function noLayoutNote(engine: ServerEngine | null): string {
  if (engine === 'vllm') return 'vLLM does not report its parallel sizes (only its development endpoint /server_info does): state the layout with --topology';
  if (engine === 'tgi') return "TGI's /info does not report its shard count: state the layout with --topology";
  if (engine === 'sglang') return 'SGLang answered without its parallel sizes: state the layout with --topology';
  return 'the server reports no layout (no SGLang /get_server_info, vLLM /server_info or TGI /info): state it with --topology';
}

/**
 * Asks the server for its layout: SGLang's `/get_server_info`, vLLM's `/server_info`, TGI's `/info` and the
 * model list, all at once, each within `timeoutMs`. Never rejects.
 */
export async function probeServerTopology(baseUrl: string, fetchJson: FetchJson, timeoutMs = SERVER_INFO_TIMEOUT_MS): Promise<ServerReportedTopology> {
  const get = async <T>(url: string, parse: (json: unknown) => T | null): Promise<T | null> => {
    try {
      const r = await fetchJson(url, timeoutMs);
      return r.status === 200 ? parse(r.json) : null;
    } catch {
      return null;
    }
  };
  const [sglang, vllm, tgi, models] = await Promise.all([
    get(serverUrlFor(baseUrl, '/get_server_info'), parseSglangServerInfo),
    get(serverUrlFor(baseUrl, '/server_info?config_format=json'), parseVllmServerInfo),
    get(serverUrlFor(baseUrl, '/info'), parseTgiInfo),
    get(modelsUrlFor(baseUrl), parseModelList),
  ]);
  const found = sglang ?? vllm ?? tgi ?? models;
  if (found === null) {
    return { engine: null, from: null, layout: null, nodes: null, model: null, maxContextTokens: null, kvCapacityTokens: null, note: noLayoutNote(null) };
  }
  const result = {
    ...found,
    model: found.model ?? models?.model ?? null,
    maxContextTokens: found.maxContextTokens ?? models?.maxContextTokens ?? null,
  };
  if (result.layout === null) return { ...result, note: noLayoutNote(result.engine) };
  const l = result.layout;
  const layout = `TP ${l.tp}${l.pp > 1 ? ` × PP ${l.pp}` : ''}${l.dp > 1 ? ` × DP ${l.dp}` : ''}`;
  return { ...result, note: `${result.engine ? engineName(result.engine) : 'the server'} reports ${layout}${result.nodes !== null && result.nodes > 1 ? ` over ${result.nodes} nodes` : ''} (${result.from})` };
}

/** GET as JSON with the server's key (serve-bench's header), within the probe's timeout; the key goes nowhere else. */
export function fetchServerJson(apiKey: string | null): FetchJson {
  const headers = authHeaders(apiKey, { accept: 'application/json' });
  return async (url, timeoutMs) => {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, json };
  };
}
