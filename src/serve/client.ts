/**
 * The streaming client: one POST per request through an undici dispatcher (a keep-alive pool per base URL),
 * read with the low-level handler API so every body chunk is stamped the moment it comes off the socket,
 * parsed incrementally as SSE, and turned into a per-request record. A request always ends in a record:
 * a failure is classified (connect, http_4xx, http_5xx, timeout, stream_cut, malformed), never thrown,
 * and never retried (a retry inside a measurement hides the failure).
 */
import type { Dispatcher } from 'undici';
import type { ErrorClass, RequestRecord } from '../report/serve-schema.js';
import type { Clock } from './clock.js';
import { interpretStreamEvent } from './openai.js';
import { SseParser } from './sse.js';

export interface PreparedRequest {
  index: number;
  level: string;
  worker: number;
  warmup: boolean;
  baseUrl: string;
  /** Request path including any base path, e.g. /v1/completions. */
  path: string;
  body: string;
  headers: Record<string, string>;
  promptTokens: number | null;
  expectedOutputTokens: number | null;
  scheduledAtMs: number;
  slotAtMs: number;
}

export interface SentRequest {
  record: RequestRecord;
  /** The generated text, kept beside the record (not in it) so counting tokens can wait until the level ends. */
  text: string;
}

const ERROR_BODY_LIMIT = 600;

class RequestFailure {
  constructor(
    readonly cls: ErrorClass,
    readonly message: string,
    readonly httpStatus: number | null,
  ) {}
}

function classifyTransportError(error: Error & { code?: string }, responseStarted: boolean): RequestFailure {
  const code = error.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return new RequestFailure('timeout', `no data within the timeout (${code})`, null);
  if (!responseStarted) {
    return new RequestFailure('connect', `${code || error.name}: ${error.message}`.slice(0, 300), null);
  }
  return new RequestFailure('stream_cut', `the stream was cut: ${code || error.name}: ${error.message}`.slice(0, 300), null);
}

/** Sends one streaming request and resolves with its record; never rejects. */
export function sendStreaming(dispatcher: Dispatcher, req: PreparedRequest, clock: Clock, timeoutMs: number): Promise<SentRequest> {
  return new Promise<SentRequest>((resolve) => {
    const parser = new SseParser();
    const chunkAt: number[] = [];
    const chunkChars: number[] = [];
    let text = '';
    let status = 0;
    let contentType = '';
    let errorBody = '';
    let firstByteAt: number | null = null;
    let firstTokenAt: number | null = null;
    let responseId: string | null = null;
    let finishReason: string | null = null;
    let usagePrompt: number | null = null;
    let usageCompletion: number | null = null;
    let done = false;
    let serverTimings: Record<string, number> | null = null;
    let malformedEvents = 0;
    let failure: RequestFailure | null = null;
    let timedOut = false;
    let settled = false;
    let controller: Dispatcher.DispatchController | null = null;
    const sentAt = clock();
    const timer = setTimeout(() => {
      timedOut = true;
      if (controller) controller.abort(new Error('timeout'));
      else finish(clock());
    }, timeoutMs);

    const finish = (endAt: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!failure && !timedOut && status >= 200 && status < 300) {
        const tail = parser.end();
        const sawEvents = chunkAt.length > 0 || done || usageCompletion !== null || responseId !== null;
        if (!sawEvents && (parser.invalidLines > 0 || tail.incomplete) && !contentType.includes('text/event-stream')) {
          failure = new RequestFailure('malformed', `the body is not SSE (content-type ${contentType || 'none'})`, status);
        } else if (malformedEvents > 0) {
          failure = new RequestFailure('malformed', `${malformedEvents} SSE event(s) were not JSON`, status);
        } else if (!done && finishReason === null) {
          failure = new RequestFailure('stream_cut', tail.incomplete ? 'the stream ended inside an event' : 'the stream ended without [DONE] or a finish_reason', status);
        }
      }
      if (timedOut && !failure) failure = new RequestFailure('timeout', `no complete response within ${timeoutMs} ms`, status || null);
      if (timedOut && failure && failure.cls !== 'timeout') failure = new RequestFailure('timeout', `no complete response within ${timeoutMs} ms`, status || null);
      const usageUsable = usageCompletion !== null;
      const record: RequestRecord = {
        index: req.index,
        level: req.level,
        worker: req.worker,
        warmup: req.warmup,
        base_url: req.baseUrl,
        response_id: responseId,
        scheduled_at_ms: req.scheduledAtMs,
        slot_at_ms: req.slotAtMs,
        sent_at_ms: sentAt,
        first_byte_at_ms: firstByteAt,
        first_token_at_ms: firstTokenAt,
        end_at_ms: endAt,
        chunk_at_ms: chunkAt,
        chunk_chars: chunkChars,
        prompt_tokens: usagePrompt ?? req.promptTokens,
        output_tokens: failure ? null : usageUsable ? usageCompletion : chunkAt.length,
        tokens_source: failure ? null : usageUsable ? 'usage' : 'chunks',
        usage_completion_tokens: usageCompletion,
        tokenizer_completion_tokens: null,
        expected_output_tokens: req.expectedOutputTokens,
        finish_reason: finishReason,
        done_marker: done,
        server_timings: serverTimings,
        error: failure ? { class: failure.cls, message: failure.message, http_status: failure.httpStatus } : null,
      };
      resolve({ record, text });
    };

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (timedOut || settled) c.abort(new Error('timeout'));
      },
      onResponseStart(_controller, statusCode, headers) {
        status = statusCode;
        const ct = headers['content-type'];
        contentType = Array.isArray(ct) ? (ct[0] ?? '') : (ct ?? '');
      },
      onResponseData(_controller, chunk) {
        const t = clock();
        if (firstByteAt === null) firstByteAt = t;
        if (status < 200 || status >= 300) {
          if (errorBody.length < ERROR_BODY_LIMIT) errorBody += chunk.toString('utf8');
          return;
        }
        const { events } = parser.feed(chunk);
        for (const ev of events) {
          const info = interpretStreamEvent(ev.data);
          if (info.done) {
            done = true;
            continue;
          }
          if (info.malformed) {
            malformedEvents += 1;
            continue;
          }
          if (info.id !== null && responseId === null) responseId = info.id;
          if (info.error !== null && !failure) failure = new RequestFailure('http_5xx', `the server sent an error event: ${info.error}`, status);
          if (info.usage) {
            usagePrompt = info.usage.prompt_tokens ?? usagePrompt;
            usageCompletion = info.usage.completion_tokens ?? usageCompletion;
          }
          if (info.finishReason !== null) finishReason = info.finishReason;
          if (info.timings !== null) serverTimings = info.timings;
          if (info.content.length > 0) {
            if (firstTokenAt === null) firstTokenAt = t;
            chunkAt.push(t);
            chunkChars.push(info.content.length);
            text += info.content;
          }
        }
      },
      onResponseEnd() {
        const t = clock();
        if (status < 200 || status >= 300) {
          const cls: ErrorClass = status >= 500 ? 'http_5xx' : 'http_4xx';
          const body = errorBody.replace(/\s+/g, ' ').trim().slice(0, 300);
          failure = new RequestFailure(cls, `HTTP ${status}${body ? `: ${body}` : ''}`, status);
        }
        finish(t);
      },
      onResponseError(_controller, error) {
        const t = clock();
        if (!failure) failure = timedOut ? new RequestFailure('timeout', `no complete response within ${timeoutMs} ms`, status || null) : classifyTransportError(error as Error & { code?: string }, status !== 0);
        finish(t);
      },
    };

    const url = new URL(req.baseUrl);
    try {
      dispatcher.dispatch(
        {
          origin: url.origin,
          path: req.path,
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...req.headers },
          body: req.body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        handler,
      );
    } catch (error) {
      failure = classifyTransportError(error as Error, false);
      finish(clock());
    }
  });
}
