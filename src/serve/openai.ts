/**
 * What the OpenAI-compatible streaming APIs put in an SSE event, read without trusting the server: the
 * content of the first choice (`text` for /v1/completions, `delta.content` or `delta.reasoning_content`
 * for /v1/chat/completions), a role-only delta, `usage` (the trailing event of
 * `stream_options.include_usage`, whose `choices` is empty), `finish_reason`, an in-stream error, and the
 * `[DONE]` sentinel. Also the request bodies of both endpoints. Pure.
 */

export type Endpoint = 'completions' | 'chat';

export const ENDPOINT_PATHS: Record<Endpoint, string> = {
  completions: '/v1/completions',
  chat: '/v1/chat/completions',
};

export interface StreamEventInfo {
  done: boolean;
  /** Content text this event carried ('' when none). */
  content: string;
  id: string | null;
  finishReason: string | null;
  usage: { prompt_tokens: number | null; completion_tokens: number | null } | null;
  error: string | null;
  /** llama.cpp's server: its own per-response timings (prompt_ms, predicted_ms, predicted_n, …), on the last event. */
  timings: Record<string, number> | null;
  /** The data was not JSON (nor [DONE]). */
  malformed: boolean;
}

const EMPTY: StreamEventInfo = { done: false, content: '', id: null, finishReason: null, usage: null, error: null, timings: null, malformed: false };

function asRecord(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function intOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
}

export function interpretStreamEvent(data: string): StreamEventInfo {
  const trimmed = data.trim();
  if (trimmed === '[DONE]') return { ...EMPTY, done: true };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return { ...EMPTY, malformed: true };
  }
  const obj = asRecord(parsed);
  if (!obj) return { ...EMPTY, malformed: true };
  const out: StreamEventInfo = { ...EMPTY, id: typeof obj.id === 'string' ? obj.id : null };
  if (obj.error !== undefined) {
    const e = asRecord(obj.error);
    out.error = e && typeof e.message === 'string' ? e.message : JSON.stringify(obj.error).slice(0, 200);
  }
  const usage = asRecord(obj.usage);
  if (usage) out.usage = { prompt_tokens: intOrNull(usage.prompt_tokens), completion_tokens: intOrNull(usage.completion_tokens) };
  const timings = asRecord(obj.timings);
  if (timings) {
    const numeric: Record<string, number> = {};
    for (const [k, v] of Object.entries(timings)) if (typeof v === 'number' && Number.isFinite(v)) numeric[k] = v;
    out.timings = numeric;
  }
  const choices = Array.isArray(obj.choices) ? obj.choices : [];
  const first = asRecord(choices[0]);
  if (first) {
    if (typeof first.text === 'string') out.content = first.text;
    const delta = asRecord(first.delta);
    if (delta) {
      const c = typeof delta.content === 'string' ? delta.content : '';
      const r = typeof delta.reasoning_content === 'string' ? delta.reasoning_content : typeof delta.reasoning === 'string' ? delta.reasoning : '';
      out.content = r + c;
    }
    if (typeof first.finish_reason === 'string') out.finishReason = first.finish_reason;
  }
  return out;
}

export interface PromptInput {
  /** Plain prompt text (completions), or the user message (chat). */
  prompt: string;
  /** Chat messages as given by a dataset; when null the prompt becomes one user message. */
  messages: { role: string; content: string }[] | null;
  maxTokens: number;
}

export interface BodyOptions {
  endpoint: Endpoint;
  model: string;
  ignoreEos: boolean;
  temperature: number;
  streamUsage: boolean;
  seed: number | null;
}

/** The JSON body of one streaming request. */
export function requestBody(input: PromptInput, o: BodyOptions): string {
  const body: Record<string, unknown> = { model: o.model, stream: true, max_tokens: input.maxTokens, temperature: o.temperature };
  if (o.endpoint === 'chat') body.messages = input.messages ?? [{ role: 'user', content: input.prompt }];
  else body.prompt = input.messages ? input.messages.map((m) => m.content).join('\n') : input.prompt;
  if (o.streamUsage) body.stream_options = { include_usage: true };
  // ignore_eos is the name vLLM, SGLang and llama.cpp's server share.
  if (o.ignoreEos) body.ignore_eos = true;
  if (o.seed !== null) body.seed = o.seed;
  return JSON.stringify(body);
}
