import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixtureRepoFiles } from './fixture-repo.js';
import { HubServer } from './hub-server.js';
import { caught, closedPortEndpoint, makeTempDir, pullHarness, removeDir, settingsFor } from './helpers.js';
import { noProxyMatches, resolveProxyEnv } from '../../src/hub/proxy.js';
import { resolveHubSettings, type HubSettings } from '../../src/hub/settings.js';

/**
 * `pull` behind an HTTP(S) proxy: a small forward proxy on loopback (absolute-URI requests for http://
 * targets are forwarded and recorded; CONNECT is answered with a configurable refusal) in front of the
 * local Hub. Every address is 127.0.0.1 and every proxy variable is set explicitly, so a proxy in the
 * environment running the tests changes nothing.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPO = 'onnx-community/tiny-llama-test';
const TOKEN = 'hf_proxy_test_token';

interface ProxiedRequest {
  method: string;
  url: string;
  authorization: string | null;
  proxyAuthorization: string | null;
}

class ForwardProxy {
  readonly requests: ProxiedRequest[] = [];
  readonly connects: { target: string; proxyAuthorization: string | null }[] = [];
  /** The answer to CONNECT (this proxy does not tunnel). */
  connectStatus = '407 Proxy Authentication Required';
  /** When set, forwarded requests get this answer from the proxy itself. */
  forwardStatus: number | null = null;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  url = '';

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: one(req, 'authorization'), proxyAuthorization: one(req, 'proxy-authorization') });
      if (this.forwardStatus !== null) {
        res.writeHead(this.forwardStatus, { 'proxy-authenticate': 'Basic realm="test"' }).end();
        return;
      }
      let target: URL;
      try {
        target = new URL(req.url ?? '');
      } catch {
        res.writeHead(400).end('absolute URI expected');
        return;
      }
      const headers = { ...req.headers };
      delete headers['proxy-authorization'];
      delete headers['proxy-connection'];
      const upstream = httpRequest({ hostname: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => {
        if (res.headersSent) res.destroy();
        else res.writeHead(502).end();
      });
      req.pipe(upstream);
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('connect', (req: IncomingMessage, socket: Socket) => {
      this.connects.push({ target: req.url ?? '', proxyAuthorization: one(req, 'proxy-authorization') });
      socket.end(`HTTP/1.1 ${this.connectStatus}\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

function one(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' ? value : null;
}

/** Every proxy variable, both cases, empty unless given: the environment of the test run does not leak in. */
function proxyEnv(values: Partial<Record<'HTTP_PROXY' | 'HTTPS_PROXY' | 'NO_PROXY' | 'http_proxy' | 'https_proxy' | 'no_proxy', string>>): Record<string, string> {
  return { HTTP_PROXY: '', HTTPS_PROXY: '', NO_PROXY: '', http_proxy: '', https_proxy: '', no_proxy: '', ...values };
}

const noStack = (text: string): boolean => !/\n\s+at .+:\d+:\d+/.test(text);

let server: HubServer;
let proxy: ForwardProxy;
let home: string;

beforeAll(async () => {
  server = await new HubServer({ validTokens: [TOKEN] }).start();
  await server.addRepo(REPO, fixtureRepoFiles());
  await server.addRepo('meta-test/gated-model', fixtureRepoFiles('gated'), { gated: true });
});

afterAll(async () => {
  await server.stop();
});

beforeEach(async () => {
  proxy = await new ForwardProxy().start();
  home = await makeTempDir('hf-home-proxy');
  server.log.length = 0;
});

afterEach(async () => {
  await proxy.stop();
  await removeDir(home);
});

function cli(args: string[], extra: Record<string, string>) {
  return execa(process.execPath, ['bin/run.js', ...args], {
    cwd: ROOT,
    reject: false,
    extendEnv: true,
    env: { HF_ENDPOINT: server.endpoint, HF_HOME: home, HF_TOKEN: '', HF_HUB_OFFLINE: '', HF_HUB_CACHE: '', ...proxyEnv({}), ...extra },
  });
}

describe('modelscout pull through a proxy (CLI)', () => {
  it('HTTP_PROXY: every request (API, resolve, CDN) goes through the proxy, the files arrive, and the token still stays off the CDN', async () => {
    const run = await cli(['pull', 'meta-test/gated-model', '--json'], { ...proxyEnv({ HTTP_PROXY: proxy.url }), HF_TOKEN: TOKEN });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const result = JSON.parse(String(run.stdout));
    expect(result.files).toHaveLength(8);
    for (const file of result.files as { local_path: string }[]) expect(existsSync(file.local_path)).toBe(true);
    expect(existsSync(join(result.path, 'onnx', 'model_q4.onnx_data'))).toBe(true);

    // The proxy saw exactly what the Hub and the CDN served, as absolute-URI requests.
    expect(proxy.requests.length).toBe(server.log.length);
    expect(proxy.requests.length).toBeGreaterThanOrEqual(8);
    expect(proxy.requests.some((r) => r.url.startsWith(`${server.endpoint}/api/models/meta-test/gated-model`))).toBe(true);
    expect(proxy.requests.some((r) => r.url.startsWith(`${server.endpoint}/meta-test/gated-model/resolve/`))).toBe(true);
    const viaCdn = proxy.requests.filter((r) => r.url.startsWith(`${server.cdnEndpoint}/`));
    expect(viaCdn.length).toBeGreaterThan(0);
    expect(viaCdn.every((r) => r.authorization === null)).toBe(true);
    expect(proxy.requests.filter((r) => r.url.startsWith(`${server.endpoint}/`)).every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(server.log.filter((r) => r.origin === 'cdn').every((r) => r.authorization === null)).toBe(true);
    expect(proxy.connects).toHaveLength(0);
  });

  it('lower-case http_proxy works too, and NO_PROXY covering the hub host bypasses the proxy', async () => {
    const lower = await cli(['pull', REPO], proxyEnv({ http_proxy: proxy.url }));
    expect(lower.exitCode).toBe(0);
    // The progress output names the proxy once.
    const said = `${String(lower.stdout)}${String(lower.stderr)}`;
    expect(said.match(/via proxy http:\/\/127\.0\.0\.1:\d+\/? \(http_proxy\)/g)).toHaveLength(1);
    const proxied = proxy.requests.length;
    expect(proxied).toBeGreaterThan(0);
    expect(proxied).toBe(server.log.length);

    await removeDir(join(home, 'hub'));
    server.log.length = 0;
    const direct = await cli(['pull', REPO, '--json'], proxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: 'example.com, 127.0.0.1' }));
    expect(direct.exitCode).toBe(0);
    expect(JSON.parse(String(direct.stdout)).transferred_bytes).toBeGreaterThan(0);
    expect(server.log.length).toBeGreaterThan(0);
    expect(proxy.requests.length).toBe(proxied);
  });

  it('a proxy that is not listening: one line naming the proxy and its variable, exit 1, no stack trace', async () => {
    const closed = await closedPortEndpoint();
    const run = await cli(['pull', REPO], proxyEnv({ HTTP_PROXY: closed }));
    expect(run.exitCode).toBe(1);
    const stderr = String(run.stderr);
    // The progress line naming the proxy, then the error in one line.
    const lines = stderr.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/ via proxy http:\/\/127\.0\.0\.1:\d+\/? \(HTTP_PROXY\)$/);
    expect(lines.filter((l) => l.startsWith('Error:'))).toEqual([`Error: cannot reach the proxy ${closed} (HTTP_PROXY): ECONNREFUSED`]);
    expect(stderr).toContain('NO_PROXY');
    expect(noStack(stderr)).toBe(true);
    expect(server.log).toHaveLength(0);
  });
});

describe('pull through a proxy (in process)', () => {
  let cacheDir: string;
  let settings: HubSettings;

  beforeEach(async () => {
    cacheDir = await makeTempDir('hub-cache-proxy');
  });

  afterEach(async () => {
    await removeDir(cacheDir);
  });

  const withProxy = (env: Record<string, string>, endpoint = server.endpoint): HubSettings => {
    const proxyConfig = resolveProxyEnv(env);
    return settingsFor(endpoint, cacheDir, proxyConfig ? { proxy: proxyConfig } : {});
  };

  it('reports the proxy once, sends credentials from the URL as Proxy-Authorization, and never shows the password', async () => {
    const withCredentials = proxy.url.replace('http://', 'http://alice:p%40ss@');
    settings = withProxy({ HTTP_PROXY: withCredentials });
    const hub = pullHarness(() => settings);
    const result = await hub.run(REPO);
    expect(result.files).toHaveLength(8);
    const notices = hub.events.filter((e) => e.type === 'proxy');
    expect(notices).toEqual([{ type: 'proxy', proxy: proxy.url, variable: 'HTTP_PROXY', endpoint: server.endpoint }]);
    expect(JSON.stringify(hub.events)).not.toContain('p%40ss');
    expect(proxy.requests.length).toBeGreaterThan(0);
    const expected = `Basic ${Buffer.from('alice:p@ss').toString('base64')}`;
    expect(proxy.requests.every((r) => r.proxyAuthorization === expected)).toBe(true);
    // The proxy credentials are for the proxy only: the Hub never sees them.
    expect(server.log.length).toBe(proxy.requests.length);
  });

  it('NO_PROXY with a port exempts only that port: the Hub is reached directly, the CDN through the proxy', async () => {
    const hubPort = new URL(server.endpoint).port;
    settings = withProxy({ HTTP_PROXY: proxy.url, NO_PROXY: `127.0.0.1:${hubPort}` });
    const hub = pullHarness(() => settings);
    await hub.run(REPO);
    expect(proxy.requests.length).toBeGreaterThan(0);
    expect(proxy.requests.every((r) => r.url.startsWith(`${server.cdnEndpoint}/`))).toBe(true);
    expect(server.log.filter((r) => r.origin === 'cdn')).toHaveLength(proxy.requests.length);
  });

  it('an https Hub through a proxy that refuses the tunnel with 407: one error naming the proxy, no retries', async () => {
    settings = withProxy({ HTTPS_PROXY: proxy.url, HTTP_PROXY: 'http://127.0.0.1:9' }, 'https://127.0.0.1:4430');
    const hub = pullHarness(() => settings);
    const error = await caught(() => hub.run(REPO));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toBe(`the proxy ${proxy.url} (HTTPS_PROXY) refused the connection to 127.0.0.1:4430 (HTTP 407 Proxy Authentication Required)`);
    expect(error.suggestions?.[0]).toContain('http://user:password@');
    expect(proxy.connects).toEqual([{ target: '127.0.0.1:4430', proxyAuthorization: null }]);
    expect(hub.sleeps).toEqual([]);
  });

  it('an http Hub through a proxy that answers 407 itself: the same error, no retries', async () => {
    proxy.forwardStatus = 407;
    settings = withProxy({ HTTP_PROXY: proxy.url });
    const hub = pullHarness(() => settings);
    const error = await caught(() => hub.run(REPO));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toBe(`the proxy ${proxy.url} (HTTP_PROXY) refused the connection to 127.0.0.1:${new URL(server.endpoint).port} (HTTP 407 Proxy Authentication Required)`);
    expect(proxy.requests).toHaveLength(1);
    expect(hub.sleeps).toEqual([]);
    expect(server.log).toHaveLength(0);
  });

  it('an unsupported or malformed proxy URL is a configuration error before any request', async () => {
    settings = withProxy({ HTTP_PROXY: 'socks5://127.0.0.1:1080' });
    const socks = await caught(() => pullHarness(() => settings).run(REPO));
    expect(socks.code).toBe('E_CONFIG');
    expect(socks.message).toContain('HTTP_PROXY names a socks5 proxy');
    settings = withProxy({ http_proxy: 'http://user:secret@[bad' });
    const malformed = await caught(() => pullHarness(() => settings).run(REPO));
    expect(malformed.code).toBe('E_CONFIG');
    expect(malformed.message).toContain('http_proxy is not a proxy URL');
    expect(malformed.message).not.toContain('secret');
    expect(server.log).toHaveLength(0);
  });
});

describe('proxy variables', () => {
  it('lower case wins over upper case, empty means unset, NO_PROXY alone configures nothing', () => {
    expect(resolveProxyEnv({})).toBeUndefined();
    expect(resolveProxyEnv({ NO_PROXY: '*' })).toBeUndefined();
    expect(resolveProxyEnv({ HTTPS_PROXY: 'http://a:1', https_proxy: 'http://b:2', NO_PROXY: 'x', no_proxy: '' })).toEqual({
      https: { variable: 'https_proxy', value: 'http://b:2' },
      http: undefined,
      noProxy: { variable: 'NO_PROXY', value: 'x' },
    });
    expect(resolveProxyEnv({ HTTP_PROXY: ' ', https_proxy: '' })).toBeUndefined();
    expect(resolveHubSettings({ HTTP_PROXY: 'proxy:3128' }, { homeDir: '/home/u' }).proxy?.http).toEqual({ variable: 'HTTP_PROXY', value: 'proxy:3128' });
    expect(resolveHubSettings({}, { homeDir: '/home/u' })).not.toHaveProperty('proxy');
  });

  it('NO_PROXY: hosts, domain suffixes, *, ports, IP ranges', () => {
    const match = (noProxy: string, url: string): boolean => noProxyMatches(noProxy, new URL(url));
    expect(match('*', 'https://huggingface.co/x')).toBe(true);
    expect(match('huggingface.co', 'https://huggingface.co/x')).toBe(true);
    expect(match('huggingface.co', 'https://cdn-lfs.huggingface.co/x')).toBe(true);
    expect(match('.huggingface.co', 'https://cdn-lfs.huggingface.co/x')).toBe(true);
    expect(match('*.huggingface.co', 'https://huggingface.co/x')).toBe(true);
    expect(match('huggingface.co', 'https://nothuggingface.co/x')).toBe(false);
    expect(match('HuggingFace.CO', 'https://huggingface.co/x')).toBe(true);
    expect(match('a.example, huggingface.co:443', 'https://huggingface.co/x')).toBe(true);
    expect(match('huggingface.co:8443', 'https://huggingface.co/x')).toBe(false);
    expect(match('127.0.0.1:8080', 'http://127.0.0.1:8080/x')).toBe(true);
    expect(match('127.0.0.1:8080', 'http://127.0.0.1:8081/x')).toBe(false);
    expect(match('localhost', 'http://127.0.0.1/x')).toBe(false);
    expect(match('0.0.1', 'http://127.0.0.1/x')).toBe(false);
    expect(match('10.0.0.0/8', 'http://10.20.30.40/x')).toBe(true);
    expect(match('10.0.0.0/8', 'http://11.0.0.1/x')).toBe(false);
    expect(match('[::1]', 'http://[::1]:5000/x')).toBe(true);
    expect(match('::1', 'http://[::1]:5000/x')).toBe(true);
    expect(match('[::1]:5001', 'http://[::1]:5000/x')).toBe(false);
    expect(match('', 'https://huggingface.co/x')).toBe(false);
  });
});
