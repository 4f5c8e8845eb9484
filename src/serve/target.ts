/**
 * Talking to the server outside the measurement: URLs, auth headers, the model list, the server's own
 * tokenizer (/tokenize and /detokenize, as vLLM, SGLang and llama.cpp's server offer), and a probe request
 * that finds out whether `stream_options.include_usage` is accepted. Every failure here is one line that
 * says what the server answered and what to do.
 */
import { Pool, request, type Dispatcher } from 'undici';
import { ModelscoutError } from '../errors.js';
import { sendStreaming } from './client.js';
import type { Clock } from './clock.js';
import { ENDPOINT_PATHS, requestBody, type BodyOptions, type Endpoint } from './openai.js';
import type { TokenizerPort } from './workload.js';

/** Normalizes a base URL: no trailing slash, and a trailing /v1 dropped (the endpoint paths carry it). */
export function normalizeBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ModelscoutError('E_INPUT', `invalid --base-url ${JSON.stringify(text)}: expected an http(s) URL such as http://127.0.0.1:8000`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ModelscoutError('E_INPUT', `invalid --base-url ${JSON.stringify(text)}: expected http:// or https://`);
  let path = url.pathname.replace(/\/+$/, '');
  if (path.endsWith('/v1')) path = path.slice(0, -3);
  return `${url.origin}${path}`;
}

export function endpointPath(baseUrl: string, endpoint: Endpoint): string {
  return `${new URL(baseUrl).pathname.replace(/\/+$/, '')}${ENDPOINT_PATHS[endpoint]}`;
}

/** Header lines `K:V` into an object; the key and values stay out of every report (only names are kept). */
export function parseHeaders(lines: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0) throw new ModelscoutError('E_INPUT', `invalid --header ${JSON.stringify(line.slice(0, 40))}: expected NAME:VALUE`);
    out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

export function authHeaders(apiKey: string | null, extra: Record<string, string>): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}`, ...extra } : { ...extra };
}

function authFailure(url: string, status: number, keySet: boolean): ModelscoutError {
  return new ModelscoutError('E_AUTH', `${url} answered HTTP ${status} (${status === 401 ? 'unauthorized' : 'forbidden'})${keySet ? ': the API key was refused' : ': it needs an API key'}`, {
    suggestions: ['Set OPENAI_API_KEY (or pass --api-key) to a key this server accepts; the key is never printed or saved.'],
  });
}

function unreachable(url: string, error: unknown): ModelscoutError {
  const e = error as Error & { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? e.name;
  return new ModelscoutError('E_NETWORK', `cannot reach ${url}: ${code}`, {
    suggestions: ['Start the server, or check --base-url (host, port, and http vs https).'],
  });
}

async function getJson(dispatcher: Dispatcher, url: string, headers: Record<string, string>, timeoutMs: number, method: 'GET' | 'POST' = 'GET', body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await request(url, {
    dispatcher,
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.statusCode, json, text };
}

/** The model ids of GET /v1/models, or null when the server has no such route. */
export async function listModels(dispatcher: Dispatcher, baseUrl: string, headers: Record<string, string>, timeoutMs: number, keySet: boolean): Promise<string[] | null> {
  let r: Awaited<ReturnType<typeof getJson>>;
  try {
    r = await getJson(dispatcher, `${baseUrl}/v1/models`, headers, timeoutMs);
  } catch (error) {
    throw unreachable(baseUrl, error);
  }
  if (r.status === 401 || r.status === 403) throw authFailure(baseUrl, r.status, keySet);
  if (r.status === 404) return null;
  if (r.status >= 400) throw new ModelscoutError('E_NETWORK', `${baseUrl}/v1/models answered HTTP ${r.status}: ${r.text.slice(0, 200)}`, { suggestions: ['Check the server is OpenAI-compatible, or pass --model.'] });
  const data = (r.json as { data?: { id?: unknown }[] } | null)?.data;
  if (!Array.isArray(data)) return null;
  return data.map((d) => d.id).filter((id): id is string => typeof id === 'string');
}

/** The server's tokenizer, when it has /tokenize and /detokenize; null otherwise. */
export async function serverTokenizer(dispatcher: Dispatcher, baseUrl: string, headers: Record<string, string>, model: string, timeoutMs: number): Promise<TokenizerPort | null> {
  const encode = async (text: string): Promise<number[]> => {
    const r = await getJson(dispatcher, `${baseUrl}/tokenize`, headers, timeoutMs, 'POST', { model, prompt: text, content: text, add_special_tokens: false });
    const tokens = (r.json as { tokens?: unknown } | null)?.tokens;
    if (r.status !== 200 || !Array.isArray(tokens)) throw new ModelscoutError('E_NETWORK', `${baseUrl}/tokenize answered HTTP ${r.status}`);
    return tokens.map((t) => (typeof t === 'number' ? t : Number((t as { id?: unknown }).id)));
  };
  const decode = async (ids: number[]): Promise<string> => {
    const r = await getJson(dispatcher, `${baseUrl}/detokenize`, headers, timeoutMs, 'POST', { model, tokens: ids });
    const j = r.json as { prompt?: unknown; content?: unknown } | null;
    const text = typeof j?.prompt === 'string' ? j.prompt : typeof j?.content === 'string' ? j.content : null;
    if (r.status !== 200 || text === null) throw new ModelscoutError('E_NETWORK', `${baseUrl}/detokenize answered HTTP ${r.status}`);
    return text;
  };
  try {
    const ids = await encode('hello world');
    if (ids.length === 0) return null;
    await decode(ids);
  } catch {
    return null;
  }
  return { source: 'server_tokenize', encode, decode };
}

export interface ProbeResult {
  streamUsage: boolean;
  notes: string[];
}

/**
 * One small request before the measurement: it must stream. When the server rejects `stream_options`
 * (some do), the run goes on without it and says so; any other failure stops here with the server's answer.
 */
export async function probe(pool: Pool, baseUrl: string, path: string, headers: Record<string, string>, body: BodyOptions, timeoutMs: number, clock: Clock, keySet: boolean): Promise<ProbeResult> {
  const notes: string[] = [];
  const once = (streamUsage: boolean) =>
    sendStreaming(pool, {
      index: 0, level: 'probe', worker: 0, warmup: true, baseUrl, path,
      body: requestBody({ prompt: 'Hello', messages: null, maxTokens: 2 }, { ...body, streamUsage }),
      headers, promptTokens: null, expectedOutputTokens: 2, scheduledAtMs: clock(), slotAtMs: clock(),
    }, clock, timeoutMs);
  let r = await once(true);
  let streamUsage = true;
  const e = r.record.error;
  if (e && (e.http_status === 400 || e.http_status === 422) && /stream_options|include_usage/i.test(e.message)) {
    notes.push('the server rejected stream_options.include_usage: output tokens are counted by a tokenizer or by chunks');
    streamUsage = false;
    r = await once(false);
  }
  const err = r.record.error;
  if (err) {
    if (err.http_status === 401 || err.http_status === 403) throw authFailure(baseUrl, err.http_status, keySet);
    if (err.http_status === 404) {
      throw new ModelscoutError('E_NOT_FOUND', `${baseUrl}${path} answered 404: ${err.message.replace(/^HTTP 404:?\s*/, '').slice(0, 200) || 'not found'}`, {
        suggestions: ['Check --model (GET /v1/models lists what the server serves) and --endpoint (completions or chat).'],
      });
    }
    if (err.class === 'connect') throw new ModelscoutError('E_NETWORK', `cannot reach ${baseUrl}: ${err.message}`, { suggestions: ['Start the server, or check --base-url.'] });
    throw new ModelscoutError('E_NETWORK', `the first request to ${baseUrl}${path} failed (${err.class}): ${err.message}`, {
      suggestions: ['Check the server streams OpenAI-style server-sent events (stream: true); try --endpoint chat or completions.'],
    });
  }
  if (!r.record.done_marker) notes.push('the server ends streams without data: [DONE] (a finish_reason ends them instead)');
  if (r.record.usage_completion_tokens === null && streamUsage) {
    notes.push('the server sent no usage in the stream: output tokens are counted by a tokenizer or by chunks');
    streamUsage = false;
  }
  return { streamUsage, notes };
}
