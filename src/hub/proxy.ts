import { BlockList, isIP } from 'node:net';
import type { ProxyAgent } from 'undici';
import { ModelscoutError } from '../errors.js';
import type { Env, FetchLike } from './types.js';

/**
 * HTTP(S) proxies for `pull`, from the variables curl, Python's requests (so huggingface_hub) and most
 * tools read: `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for http URLs, `NO_PROXY` for the hosts that
 * are reached directly; each in either case, the lower-case one first (as requests does). Node's global
 * fetch ignores them, so a proxied request goes through the `undici` package's own `fetch` with a
 * `ProxyAgent` as its dispatcher (the fetch and the agent must come from the same undici). Everything
 * NO_PROXY exempts, and everything when no proxy variable is set, stays on the caller's fetch.
 *
 * The routing (which proxy, from which variable, for which URL) is decided here rather than by undici's
 * `EnvHttpProxyAgent`, which also sends https through `HTTP_PROXY` when `HTTPS_PROXY` is unset and
 * tunnels plain http with CONNECT: here an error can name the proxy and the variable it came from, and
 * plain http is forwarded to the proxy as an absolute-URI request, as curl and requests do.
 */

export interface EnvValue {
  /** The variable's name as set (`HTTPS_PROXY` or `https_proxy`, …). */
  variable: string;
  value: string;
}

/** The proxy variables that are set (non-empty); absent from the settings when neither proxy is set. */
export interface ProxyEnv {
  https?: EnvValue | undefined;
  http?: EnvValue | undefined;
  noProxy?: EnvValue | undefined;
}

/** How one URL is reached through a proxy. */
export interface ProxyRoute {
  /** The proxy URL without credentials, for messages. */
  display: string;
  /** The variable it came from. */
  variable: string;
  /** Where the request goes in the end, `host:port`. */
  target: string;
}

/** The proxy variables in `env`, or undefined when no proxy is configured (NO_PROXY alone changes nothing). */
export function resolveProxyEnv(env: Env): ProxyEnv | undefined {
  const https = pick(env, 'https_proxy', 'HTTPS_PROXY');
  const http = pick(env, 'http_proxy', 'HTTP_PROXY');
  if (!https && !http) return undefined;
  return { https, http, noProxy: pick(env, 'no_proxy', 'NO_PROXY') };
}

function pick(env: Env, lower: string, upper: string): EnvValue | undefined {
  for (const variable of [lower, upper]) {
    const value = env[variable]?.trim();
    if (value) return { variable, value };
  }
  return undefined;
}

/**
 * Whether NO_PROXY exempts `url`: entries are separated by commas (or spaces); `*` exempts everything;
 * `host` and `.host` / `*.host` match the host and its subdomains; `host:port` only that port (the
 * scheme's default when the URL has none); an IP or CIDR range (`10.0.0.0/8`, `[::1]`) matches IP hosts.
 */
export function noProxyMatches(noProxy: string, url: URL): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const ipFamily = isIP(host);
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const { name, entryPort } = splitPort(entry);
    if (entryPort !== null && entryPort !== port) continue;
    if (name.includes('/')) {
      if (ipFamily !== 0 && inCidr(host, ipFamily, name)) return true;
      continue;
    }
    const suffix = name.replace(/^\*?\./, '').replace(/\.$/, '');
    if (!suffix) continue;
    if (host === suffix || (ipFamily === 0 && host.endsWith(`.${suffix}`))) return true;
  }
  return false;
}

function splitPort(entry: string): { name: string; entryPort: number | null } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { name: bracketed[1] ?? '', entryPort: bracketed[2] ? Number(bracketed[2]) : null };
  // A bare IPv6 address (several colons) has no port.
  const withPort = /^([^:]+):(\d+)$/.exec(entry);
  if (withPort) return { name: withPort[1] ?? '', entryPort: Number(withPort[2]) };
  return { name: entry, entryPort: null };
}

function inCidr(host: string, family: number, cidr: string): boolean {
  const [network = '', bits = ''] = cidr.split('/');
  const networkFamily = isIP(network);
  const prefix = Number(bits);
  if (networkFamily !== family || !/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) return false;
  const list = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  list.addSubnet(network, prefix, type);
  return list.check(host, type);
}

interface ProxyTarget {
  env: EnvValue;
  /** The proxy's origin, without credentials (also what messages show). */
  display: string;
  /** `Basic …` from the credentials in the URL, if any. */
  token: string | undefined;
}

/** A proxy variable's value as a URL; `host:port` without a scheme means http://, as curl and requests read it. */
export function parseProxyUrl(env: EnvValue): ProxyTarget {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(env.value) ? env.value : `http://${env.value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ModelscoutError('E_CONFIG', `${env.variable} is not a proxy URL: ${JSON.stringify(redact(env.value))}`, {
      suggestions: [`Set ${env.variable} to the proxy as http://host:port (credentials as http://user:password@host:port), or unset it.`],
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ModelscoutError('E_CONFIG', `${env.variable} names a ${url.protocol.slice(0, -1)} proxy (${url.protocol}//${url.host}); only http:// and https:// proxies are supported`, {
      suggestions: [`Set ${env.variable} to an HTTP proxy (http://host:port), or unset it.`],
    });
  }
  const user = safeDecode(url.username);
  const password = safeDecode(url.password);
  const token = user || password ? `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` : undefined;
  return { env, display: `${url.protocol}//${url.host}`, token };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A proxy value for messages: credentials replaced. */
function redact(value: string): string {
  return value.replace(/\/\/[^/@]*@/, '//***@');
}

/**
 * A request that failed on its way through a proxy. `code` is the underlying one (so retries treat it
 * as before); `stage` says whether the proxy itself could not be reached (`connect`), refused the
 * tunnel or the request (`refused`, with its HTTP status), or something after that failed (`other`).
 */
export class ProxyFailure extends Error {
  readonly code: string;
  readonly route: ProxyRoute;
  readonly stage: 'connect' | 'refused' | 'other';
  readonly status: number | null;
  readonly transient: boolean;

  constructor(route: ProxyRoute, cause: unknown) {
    const { code, stage, status } = classify(cause);
    super(stage === 'connect' ? `cannot reach the proxy ${route.display} (${route.variable}): ${code}` : `${code} through the proxy ${route.display} (${route.variable})`, { cause });
    this.name = 'ProxyFailure';
    this.code = code;
    this.route = route;
    this.stage = stage;
    this.status = status;
    // A proxy that cannot be reached or refuses stays so for this run, and so does a certificate the
    // client rejects (a TLS-inspecting proxy's); a 5xx tunnel answer or a reset connection may pass.
    this.transient = stage === 'connect' ? false : stage === 'refused' ? status !== null && status >= 500 : !isCertificateError(code);
  }
}

/** Errors that mean no connection to the proxy was made (the only host a proxied request connects to). */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

function classify(error: unknown): { code: string; stage: ProxyFailure['stage']; status: number | null } {
  let current: unknown = error;
  let code: string | undefined;
  for (let depth = 0; depth < 6 && current; depth += 1) {
    const candidate = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown[] };
    const message = typeof candidate.message === 'string' ? candidate.message : '';
    // undici: "Proxy response (407) !== 200 when HTTP Tunneling" (CONNECT), "Proxy Authentication Required (407)" (forwarding).
    const refused = /Proxy response \((\d{3})\)/.exec(message) ?? /Proxy Authentication Required \((\d{3})\)/.exec(message);
    if (refused) {
      const status = Number(refused[1]);
      return { code: `HTTP ${status}${status === 407 ? ' Proxy Authentication Required' : ''}`, stage: 'refused', status };
    }
    if (code === undefined && typeof candidate.code === 'string' && candidate.code !== 'UND_ERR_SOCKET') code = candidate.code;
    const nested = Array.isArray(candidate.errors) ? candidate.errors[0] : undefined;
    current = candidate.cause ?? nested;
  }
  const found = code ?? 'connection failed';
  return { code: found, stage: CONNECT_CODES.has(found) ? 'connect' : 'other', status: null };
}

/** A TLS certificate the client rejected (codes from Node's tls module). */
export function isCertificateError(code: string): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code);
}

/** Suggestions for a proxy failure, for the one-line error. */
export function proxySuggestions(failure: ProxyFailure, host: string): string[] {
  const { variable, display } = failure.route;
  const noProxy = `Or add ${host} to NO_PROXY to connect to it directly.`;
  if (failure.status === 407) {
    return [`Put the proxy's credentials in ${variable}: http://user:password@${display.replace(/^[a-z]+:\/\//, '')} (percent-encode special characters).`, noProxy];
  }
  if (failure.stage === 'other' && isCertificateError(failure.code)) {
    return ['If the proxy inspects TLS, point NODE_EXTRA_CA_CERTS at its CA certificate (a PEM file).', noProxy];
  }
  return [`Check ${variable} (now ${display}): is the proxy running and reachable from here?`, noProxy, 'Set HF_HUB_OFFLINE=1 to use models already in the cache.'];
}

export interface ProxiedFetch {
  fetch: FetchLike;
  /** The proxy a URL goes through, or null when it is reached directly. */
  routeFor(url: string | URL): ProxyRoute | null;
  /** Closes the connections to the proxies. */
  close(): Promise<void>;
}

type Undici = typeof import('undici');

/**
 * A fetch that sends what the proxy variables say through the proxy (undici's fetch and ProxyAgent) and
 * everything else through `direct`. Proxy URLs are checked here (a bad one is an E_CONFIG error);
 * undici itself is loaded on the first proxied request.
 */
export function createProxiedFetch(proxy: ProxyEnv, direct: FetchLike): ProxiedFetch {
  const targets = {
    'https:': proxy.https ? parseProxyUrl(proxy.https) : undefined,
    'http:': proxy.http ? parseProxyUrl(proxy.http) : undefined,
  };
  const agents = new Map<string, ProxyAgent>();
  let undici: Promise<Undici> | undefined;

  const targetFor = (url: URL): ProxyTarget | undefined => {
    const target = url.protocol === 'https:' || url.protocol === 'http:' ? targets[url.protocol] : undefined;
    if (!target || (proxy.noProxy && noProxyMatches(proxy.noProxy.value, url))) return undefined;
    return target;
  };
  const routeOf = (url: URL, target: ProxyTarget): ProxyRoute => ({
    display: target.display,
    variable: target.env.variable,
    target: `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`,
  });

  const agentFor = (module: Undici, target: ProxyTarget): ProxyAgent => {
    const key = `${target.display} ${target.token ?? ''}`;
    let agent = agents.get(key);
    if (!agent) {
      // proxyTunnel false: plain http is forwarded (absolute-URI requests); https always uses CONNECT.
      agent = new module.ProxyAgent({ uri: target.display, proxyTunnel: false, ...(target.token ? { token: target.token } : {}) });
      agents.set(key, agent);
    }
    return agent;
  };

  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const target = targetFor(url);
    if (!target) return direct(input, init);
    const route = routeOf(url, target);
    try {
      undici ??= import('undici');
      const module = await undici;
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((value, key) => {
        headers[key] = value;
      });
      const response = await module.fetch(url, {
        method: init?.method ?? 'GET',
        headers,
        redirect: init?.redirect ?? 'follow',
        signal: init?.signal ?? null,
        dispatcher: agentFor(module, target),
      });
      // The package's Response has the global one's shape (its body is a node:stream/web ReadableStream,
      // as Readable.fromWeb needs); only the TypeScript declarations come from two packages.
      return response as unknown as Response;
    } catch (error) {
      if (init?.signal?.aborted) throw error;
      throw new ProxyFailure(route, error);
    }
  };

  return {
    fetch,
    routeFor(url) {
      const parsed = new URL(String(url));
      const target = targetFor(parsed);
      return target ? routeOf(parsed, target) : null;
    },
    async close() {
      const all = [...agents.values()];
      agents.clear();
      // destroy, not close: a body left unread after a failure must not keep the process waiting.
      await Promise.all(all.map((agent) => agent.destroy().catch(() => undefined)));
    },
  };
}
