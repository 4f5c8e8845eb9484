import { ModelscoutError } from '../errors.js';
import type { FetchLike } from './types.js';
import { ProxyFailure, proxySuggestions, type ProxyRoute } from './proxy.js';

/**
 * HTTP to the Hub (or a mirror) for everything `pull` does: the token on Hub requests only, redirects
 * followed by hand so the token never reaches the CDN (S3/CloudFront presigned URLs reject a second
 * credential), bounded retries of 429/5xx that honour `Retry-After`, and every failure turned into a
 * one-line `ModelscoutError` that says what to do. Written by hand: `@huggingface/hub` passes `fetch`
 * through without retries and reports failures as `HubApiError` without the Hub's `X-Error-Code`.
 */

export interface RetryPolicy {
  /** Retries after the first attempt, for 429 and 5xx answers and transient connection failures. */
  maxRetries: number;
  /** First wait; doubles per retry (huggingface_hub's http_backoff: 1 s doubling to 8 s, 5 retries). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Longest `Retry-After` obeyed; a server asking for more fails at once with its figure. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 8000, maxRetryAfterMs: 60_000 };

/** What a request is about, for messages. */
export interface RequestContext {
  repo: string;
  revision: string;
  file?: string;
}

export interface RetryNotice {
  url: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface HubHttpOptions {
  fetch: FetchLike;
  endpoint: string;
  token?: string | undefined;
  tokenSource?: string | null;
  userAgent: string;
  retry?: Partial<RetryPolicy>;
  /** Waiting between retries; injected so tests do not sleep. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  /** Time allowed for connecting and receiving the response headers. */
  requestTimeoutMs?: number;
  onRetry?: (notice: RetryNotice) => void;
  /** The proxy a URL goes through (HTTPS_PROXY / HTTP_PROXY), for messages; absent or null: direct. */
  proxyFor?: ((url: string) => ProxyRoute | null) | undefined;
}

const MAX_REDIRECTS = 5;
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

export class HubHttp {
  readonly endpoint: string;
  private readonly options: HubHttpOptions;
  private readonly retry: RetryPolicy;
  private readonly endpointOrigin: string;

  constructor(options: HubHttpOptions) {
    this.options = options;
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.endpointOrigin = new URL(this.endpoint).origin;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  get hasToken(): boolean {
    return Boolean(this.options.token);
  }

  /**
   * GET with retries and redirects; resolves with a 2xx response (or a status in `accept`), otherwise
   * throws a ModelscoutError. `headers` are sent to every hop; the token only to the Hub's origin.
   */
  async get(url: string, init: { headers?: Record<string, string>; signal?: AbortSignal | undefined; context: RequestContext; accept?: readonly number[] }): Promise<Response> {
    let attempt = 0;
    for (;;) {
      let response: Response;
      try {
        response = await this.followRedirects(url, init.headers ?? {}, init.signal, init.context);
      } catch (error) {
        if (init.signal?.aborted) throw error;
        const failure = describeConnectionError(error);
        if (!failure.transient || attempt >= this.retry.maxRetries) throw this.networkError(url, failure.code, error);
        const delayMs = this.backoff(attempt);
        this.options.onRetry?.({ url, attempt: attempt + 1, delayMs, reason: failure.code });
        await this.sleep(delayMs, init.signal);
        attempt += 1;
        continue;
      }
      if (response.ok || init.accept?.includes(response.status)) return response;
      if (RETRY_STATUSES.has(response.status) && attempt < this.retry.maxRetries) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.now());
        await discard(response);
        if (retryAfterMs !== null && retryAfterMs > this.retry.maxRetryAfterMs) {
          throw this.statusError(response, init.context, { attempts: attempt + 1, retryAfterMs });
        }
        const delayMs = retryAfterMs ?? this.backoff(attempt);
        this.options.onRetry?.({ url, attempt: attempt + 1, delayMs, reason: `HTTP ${response.status}` });
        await this.sleep(delayMs, init.signal);
        attempt += 1;
        continue;
      }
      await discard(response);
      throw this.statusError(response, init.context, { attempts: attempt + 1, retryAfterMs: null });
    }
  }

  /** A `fetch` for `@huggingface/hub`'s listing calls: same auth, retries and error messages as `get`. */
  fetchFor(context: RequestContext, signal?: AbortSignal): FetchLike {
    return async (input, init) => {
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((value, key) => {
        headers[key] = value;
      });
      const url = input instanceof Request ? input.url : String(input);
      return this.get(url, { headers, signal: init?.signal ?? signal, context });
    };
  }

  private async followRedirects(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, context: RequestContext): Promise<Response> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      const target = new URL(current);
      const sendToken = target.origin === this.endpointOrigin && this.options.token;
      const requestHeaders: Record<string, string> = { 'user-agent': this.options.userAgent, ...headers };
      if (sendToken) requestHeaders.authorization = `Bearer ${this.options.token}`;
      // The timeout covers connecting and the headers only: it is cleared before the body is read,
      // while the caller's signal stays attached to the body (Ctrl-C stops a download mid-stream).
      const timeoutMs = this.options.requestTimeoutMs ?? 30_000;
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
      let response: Response;
      try {
        response = await this.options.fetch(current, { headers: requestHeaders, redirect: 'manual', signal: combined });
      } catch (error) {
        if (timeout.signal.aborted && !signal?.aborted) throw Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
        throw error;
      } finally {
        clearTimeout(timer);
      }
      if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
        await discard(response);
        current = new URL(response.headers.get('location') as string, current).toString();
        continue;
      }
      return response;
    }
    throw new ModelscoutError('E_NETWORK', `too many redirects for ${context.file ?? context.repo} from ${this.endpoint}`);
  }

  private backoff(attempt: number): number {
    return Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** attempt);
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return (this.options.sleep ?? defaultSleep)(ms, signal);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  networkError(url: string, code: string, cause: unknown): ModelscoutError {
    const origin = safeOrigin(url);
    if (cause instanceof ProxyFailure) return this.proxyError(cause, url);
    return new ModelscoutError('E_NETWORK', `cannot reach ${origin} (${code})`, {
      cause,
      suggestions: [
        'Check the network connection (and proxy), then run the same command again: finished files are kept and partial ones resume.',
        origin === 'https://huggingface.co' ? 'Set HF_ENDPOINT to a reachable Hub mirror.' : `Check HF_ENDPOINT (now ${this.endpoint}).`,
        'Set HF_HUB_OFFLINE=1 to use models already in the cache.',
      ],
    });
  }

  /** A request that failed at or through the proxy: the proxy and its variable are named, not just the Hub. */
  private proxyError(failure: ProxyFailure, url: string): ModelscoutError {
    const { display, variable, target } = failure.route;
    const host = safeHost(url);
    const message = failure.stage === 'connect'
      ? `cannot reach the proxy ${display} (${variable}): ${failure.code}`
      : failure.stage === 'refused'
        ? `the proxy ${display} (${variable}) refused the connection to ${target} (${failure.code})`
        : `cannot reach ${safeOrigin(url)} through the proxy ${display} (${variable}): ${failure.code}`;
    return new ModelscoutError('E_NETWORK', message, { cause: failure, suggestions: proxySuggestions(failure, host) });
  }

  private statusError(response: Response, context: RequestContext, info: { attempts: number; retryAfterMs: number | null }): ModelscoutError {
    const status = response.status;
    const code = response.headers.get('x-error-code');
    const serverMessage = response.headers.get('x-error-message');
    const repoUrl = `${this.endpoint}/${context.repo}`;
    const at = `${context.repo}@${context.revision}`;
    const tokenName = this.options.tokenSource ?? 'HF_TOKEN';
    if (code === 'RepoNotFound' || (status === 404 && !code && !context.file)) {
      const suggestions = [`Check the repo id; search ${this.endpoint}/models.`];
      if (!this.hasToken) suggestions.unshift('If the repo is private or gated, set HF_TOKEN to an access token that can read it.');
      return new ModelscoutError('E_NOT_FOUND', `repository ${context.repo} (revision ${context.revision}) not found on ${this.endpoint}${this.hasToken ? '' : ' (no HF_TOKEN set: private repos look missing)'}`, { suggestions });
    }
    if (code === 'RevisionNotFound') {
      return new ModelscoutError('E_NOT_FOUND', `revision ${JSON.stringify(context.revision)} not found in ${context.repo} on ${this.endpoint}`, {
        suggestions: [`See the branches and tags at ${repoUrl}/tree/main.`, `Omit @${context.revision} to pull main.`],
      });
    }
    if (code === 'EntryNotFound' || (status === 404 && context.file)) {
      return new ModelscoutError('E_NOT_FOUND', `file ${context.file ?? '?'} not found in ${at} on ${this.endpoint}`, {
        suggestions: ['The repo changed while pulling, or a mirror lags behind: run the same command again.'],
      });
    }
    if (status === 401 || status === 403) {
      if (!this.hasToken) {
        const what = code === 'GatedRepo' ? 'is gated' : 'needs authentication';
        return new ModelscoutError('E_AUTH', `${context.repo} ${what} (HTTP ${status}): set HF_TOKEN to an access token${code === 'GatedRepo' ? ` of an account that accepted its terms at ${repoUrl}` : ''}`, {
          suggestions: ['Create a read token at https://huggingface.co/settings/tokens and run: export HF_TOKEN=hf_…', 'Or log in once with `huggingface-cli login` (the stored token is used too).'],
        });
      }
      if (code === 'GatedRepo') {
        return new ModelscoutError('E_AUTH', `the token from ${tokenName} has no access to gated ${context.repo} (HTTP ${status}): accept its terms at ${repoUrl}`, {
          suggestions: [`Open ${repoUrl}, request access with the account of the token, then run the same command again.`],
        });
      }
      return new ModelscoutError('E_AUTH', `${this.endpoint} rejected the token from ${tokenName} for ${context.repo} (HTTP ${status}${serverMessage ? `: ${serverMessage}` : ''})`, {
        suggestions: ['Check that HF_TOKEN holds a valid, unexpired token (https://huggingface.co/settings/tokens).'],
      });
    }
    if (status === 429) {
      const wait = info.retryAfterMs !== null ? `; it asks to wait ${Math.ceil(info.retryAfterMs / 1000)} s` : '';
      return new ModelscoutError('E_NETWORK', `rate-limited by ${this.endpoint} (HTTP 429) after ${info.attempts} attempts${wait}`, {
        suggestions: ['Wait a few minutes and run the same command again: finished files are kept and partial ones resume.', this.hasToken ? 'Use a mirror with HF_ENDPOINT.' : 'Set HF_TOKEN: authenticated requests get a higher rate limit.'],
      });
    }
    const proxy = this.options.proxyFor?.(response.url || this.endpoint) ?? null;
    const viaProxy = proxy ? `The request went through the proxy ${proxy.display} (${proxy.variable}), which may have answered itself: check it, or add ${safeHost(response.url || this.endpoint)} to NO_PROXY.` : null;
    if (status >= 500) {
      return new ModelscoutError('E_NETWORK', `${this.endpoint} failed with HTTP ${status} for ${context.file ?? at} after ${info.attempts} attempts`, {
        suggestions: ['The Hub or mirror is having trouble: run the same command again later (partial files resume).', 'Use another mirror with HF_ENDPOINT.', ...(viaProxy ? [viaProxy] : [])],
      });
    }
    return new ModelscoutError('E_NETWORK', `unexpected HTTP ${status} from ${safeOrigin(response.url || this.endpoint)} for ${context.file ?? at}${serverMessage ? `: ${serverMessage}` : ''}`, {
      suggestions: [`Check HF_ENDPOINT (now ${this.endpoint}) points to a Hugging Face Hub or mirror.`, ...(viaProxy ? [viaProxy] : [])],
    });
  }
}

/** `Retry-After` as delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/** Connection-level failures: which are worth retrying (a reset, a timeout) and which mean "no network". */
export function describeConnectionError(error: unknown): { code: string; transient: boolean } {
  // At the proxy (unreachable, refusing) or a certificate: the proxy's verdict; past it, as without one.
  if (error instanceof ProxyFailure && (error.stage !== 'other' || !error.transient)) return { code: error.code, transient: error.transient };
  // undici refuses the fetch spec's blocked ports (e.g. 9, 6000) with a bare "bad port".
  const badPort = error instanceof Error && (error.cause as Error | undefined)?.message === 'bad port';
  const code = badPort ? 'blocked port' : findErrorCode(error) ?? 'connection failed';
  const permanent = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_INVALID_URL', 'blocked port']);
  return { code, transient: !permanent.has(code) };
}

function findErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    const candidate = current as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof candidate.code === 'string' && candidate.code !== 'UND_ERR_SOCKET') return candidate.code;
    // AggregateError from happy-eyeballs connection attempts.
    const nested = Array.isArray(candidate.errors) ? candidate.errors[0] : undefined;
    current = candidate.cause ?? nested;
  }
  return undefined;
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // The body may already be closed; nothing to release then.
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
