import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';

/**
 * A local stand-in for the Hugging Face Hub, for tests and benchmarks (loopback only). It implements
 * the part of the Hub API that `pull` uses, with the Hub's headers and error codes:
 *
 * - `GET /api/models/{repo}/revision/{rev}` → `{ id, sha, siblings, … }` (`?blobs=true` adds sizes and LFS)
 * - `GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=…` → entries with `oid`, `size`, `lfs.{oid,size,pointerSize}`,
 *   paginated with a `Link: <…&cursor=…>; rel="next"` header
 * - `GET|HEAD /{repo}/resolve/{rev}/{path}` → small files inline with `ETag` (git blob sha1); LFS files
 *   as a 302 to a CDN origin (a second port, i.e. another origin) with `X-Linked-Etag` (sha256) and
 *   `X-Linked-Size`; always `X-Repo-Commit`
 * - the CDN serves `Accept-Ranges: bytes`, `206` + `Content-Range` for ranges, `416` past the end, and
 *   rejects requests that carry an `Authorization` header (as S3 presigned URLs do)
 * - errors: 401 for gated repos without a token (`X-Error-Code: GatedRepo`), 401/404 `RepoNotFound`
 *   (401 when anonymous, like the Hub), 404 `RevisionNotFound` / `EntryNotFound`, 401 for a bad token
 *
 * Faults can be injected per file or route: an HTTP status (429 with `Retry-After`, 503), a connection
 * dropped after N bytes, corrupted bytes, a range request answered with the whole file, or one answered
 * from another offset than asked (a correct Content-Range for the wrong start). Every request
 * is logged with its Range header and the bytes of body actually sent.
 */
export interface ServedFile {
  path: string;
  /** In-memory content (small fixtures). */
  data?: Buffer;
  /** Content on disk (large files, streamed). */
  sourcePath?: string;
  /** sha256 of `sourcePath`, when known (saves hashing a large file at start). */
  sha256?: string;
  /** Stored with Git LFS; default: `.onnx`, `.onnx_data*`, `.safetensors`, `.bin` and anything ≥ 10 MB. */
  lfs?: boolean;
}

interface StoredFile {
  path: string;
  size: number;
  gitOid: string;
  lfs: { sha256: string; pointerSize: number } | null;
  data?: Buffer;
  sourcePath?: string;
}

interface StoredRepo {
  id: string;
  gated: boolean;
  private: boolean;
  /** Listing facts (`GET /api/models`): the task tag and the download count it is sorted by. */
  pipelineTag: string | null;
  downloads: number;
  commits: Map<string, StoredFile[]>;
  refs: Map<string, string>;
}

export type FaultRoute = 'api' | 'resolve' | 'cdn';

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; times: number; route?: FaultRoute; file?: string }
  | { kind: 'drop'; afterBytes: number; times: number; file?: string; route?: FaultRoute }
  | { kind: 'corrupt'; times: number; file?: string; route?: FaultRoute }
  | { kind: 'ignore-range'; times: number; file?: string; route?: FaultRoute }
  /** A range request answered with 206 from `shiftBy` bytes earlier than asked (its Content-Range says so). */
  | { kind: 'shift-range'; shiftBy: number; times: number; file?: string; route?: FaultRoute };

export interface LoggedRequest {
  origin: 'hub' | 'cdn';
  method: string;
  path: string;
  route: FaultRoute | 'other';
  file: string | null;
  range: string | null;
  authorization: string | null;
  status: number;
  bytesSent: number;
  /** performance.now() when the request arrived and when its answer ended (for throughput figures). */
  startedMs: number;
  endedMs: number;
}

export interface HubServerOptions {
  /** Tokens the server accepts (each has access to every gated and private repo). */
  validTokens?: string[];
  /** Entries per page of the tree API (the Hub uses 1000; small values exercise pagination). */
  treePageSize?: number;
  /** Caps the body rate of file downloads, for interruption demos. */
  throttleBytesPerSec?: number;
}

export class HubServer {
  readonly repos = new Map<string, StoredRepo>();
  readonly log: LoggedRequest[] = [];
  readonly faults: Fault[] = [];
  /** Rewrites each file entry of the tree listing (a hostile Hub: checksums that are paths, …). */
  treeEntryTransform: ((entry: Record<string, unknown>) => Record<string, unknown>) | undefined;
  private hub: Server | undefined;
  private cdn: Server | undefined;
  private hubOrigin = '';
  private cdnOrigin = '';
  private readonly options: HubServerOptions;
  private readonly blobsBySha = new Map<string, StoredFile>();

  constructor(options: HubServerOptions = {}) {
    this.options = options;
  }

  get endpoint(): string {
    return this.hubOrigin;
  }

  get cdnEndpoint(): string {
    return this.cdnOrigin;
  }

  set throttleBytesPerSec(value: number | undefined) {
    if (value === undefined) delete this.options.throttleBytesPerSec;
    else this.options.throttleBytesPerSec = value;
  }

  async start(): Promise<this> {
    this.hub = createServer((req, res) => void this.handle('hub', req, res));
    this.cdn = createServer((req, res) => void this.handle('cdn', req, res));
    this.hubOrigin = await listen(this.hub);
    this.cdnOrigin = await listen(this.cdn);
    return this;
  }

  async stop(): Promise<void> {
    for (const server of [this.hub, this.cdn]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Adds a repo whose `main` holds `files`; returns the commit hash. */
  async addRepo(id: string, files: ServedFile[], options: { gated?: boolean; private?: boolean; ref?: string; pipelineTag?: string; downloads?: number } = {}): Promise<string> {
    const repo: StoredRepo = this.repos.get(id) ?? {
      id,
      gated: options.gated ?? false,
      private: options.private ?? false,
      pipelineTag: options.pipelineTag ?? null,
      downloads: options.downloads ?? 0,
      commits: new Map(),
      refs: new Map(),
    };
    this.repos.set(id, repo);
    const stored: StoredFile[] = [];
    for (const file of files) stored.push(await storeFile(file));
    for (const file of stored) if (file.lfs) this.blobsBySha.set(file.lfs.sha256, file);
    const commit = createHash('sha1').update(id).update(JSON.stringify(stored.map((f) => [f.path, f.gitOid]))).update(String(repo.commits.size)).digest('hex');
    repo.commits.set(commit, stored);
    repo.refs.set(options.ref ?? 'main', commit);
    return commit;
  }

  fileOf(repoId: string, path: string, revision = 'main'): StoredFile {
    const repo = this.repos.get(repoId);
    const commit = repo?.refs.get(revision) ?? revision;
    const file = repo?.commits.get(commit)?.find((f) => f.path === path);
    if (!file) throw new Error(`no ${path} in ${repoId}@${revision}`);
    return file;
  }

  /** Requests for file contents (resolve and CDN), optionally for one file. */
  contentRequests(file?: string): LoggedRequest[] {
    return this.log.filter((r) => (r.route === 'cdn' || (r.route === 'resolve' && r.status !== 302)) && (file === undefined || r.file === file));
  }

  private async handle(origin: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse): Promise<void> {
    const entry: LoggedRequest = {
      origin,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      route: 'other',
      file: null,
      range: header(req, 'range'),
      authorization: header(req, 'authorization'),
      status: 0,
      bytesSent: 0,
      startedMs: performance.now(),
      endedMs: 0,
    };
    this.log.push(entry);
    try {
      if (origin === 'cdn') await this.serveCdn(req, res, entry);
      else await this.serveHub(req, res, entry);
    } catch {
      // A client that goes away mid-body (Ctrl-C, a test's abort) is normal here.
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else res.destroy();
    } finally {
      entry.status = res.statusCode;
      entry.endedMs = performance.now();
    }
  }

  private async serveHub(req: IncomingMessage, res: ServerResponse, entry: LoggedRequest): Promise<void> {
    const url = new URL(req.url ?? '/', this.hubOrigin);
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const auth = this.authorize(req);
    if (auth === 'invalid') return this.error(res, 401, null, 'Invalid credentials in Authorization header');

    if (segments[0] === 'api' && segments[1] === 'models') {
      entry.route = 'api';
      if (this.applyStatusFault(res, 'api', null)) return;
      if (segments.length === 2) return this.json(res, this.listing(url, auth));
      const [org, name, kind, rev, ...rest] = segments.slice(2);
      const repoId = `${org}/${name}`;
      const repo = this.checkRepo(res, repoId, auth);
      if (!repo) return;
      const commit = this.checkRevision(res, repo, rev ?? 'main');
      if (!commit) return;
      const files = repo.commits.get(commit) ?? [];
      if (kind === 'revision') return this.json(res, revisionInfo(repo, commit, files, url.searchParams.get('blobs') === 'true'));
      if (kind === 'tree') return this.serveTree(res, url, repoId, rev ?? 'main', files, rest.join('/'));
      return this.error(res, 404, null, 'Not found');
    }

    const marker = segments.indexOf('resolve');
    if (marker !== 2) return this.error(res, 404, null, 'Not found');
    entry.route = 'resolve';
    const repoId = segments.slice(0, 2).join('/');
    const rev = segments[3] ?? 'main';
    const path = segments.slice(4).join('/');
    entry.file = path;
    if (this.applyStatusFault(res, 'resolve', path)) return;
    const repo = this.checkRepo(res, repoId, auth);
    if (!repo) return;
    const commit = this.checkRevision(res, repo, rev);
    if (!commit) return;
    const file = repo.commits.get(commit)?.find((f) => f.path === path);
    res.setHeader('X-Repo-Commit', commit);
    if (!file) return this.error(res, 404, 'EntryNotFound', `${path} does not exist on "${rev}"`);
    if (file.lfs) {
      const sha = file.lfs.sha256;
      res.statusCode = 302;
      res.setHeader('X-Linked-Etag', `"${sha}"`);
      res.setHeader('X-Linked-Size', String(file.size));
      res.setHeader('ETag', `"${sha}"`);
      const signature = createHash('sha1').update(`${sha}:${commit}`).digest('hex');
      res.setHeader('Location', `${this.cdnOrigin}/repos/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}?response-content-disposition=${encodeURIComponent(`inline; filename*=UTF-8''${path.split('/').pop() ?? path}`)}&X-Amz-Signature=${signature}`);
      res.end();
      return;
    }
    res.setHeader('ETag', `"${file.gitOid}"`);
    await this.sendContent(req, res, entry, file, 'resolve');
  }

  /**
   * `GET /api/models?pipeline_tag=&author=&sort=downloads&limit=`: public repos (and gated ones, listed as the
   * Hub lists them), most downloaded first, in the Hub's shape (`_id`, `id`, `pipeline_tag`, `downloads`, …).
   */
  private listing(url: URL, auth: 'none' | 'valid'): Record<string, unknown>[] {
    const tag = url.searchParams.get('pipeline_tag');
    const author = url.searchParams.get('author');
    const limit = Number(url.searchParams.get('limit') ?? '1000');
    const repos = [...this.repos.values()]
      .filter((r) => (!r.private || auth === 'valid') && (tag === null || r.pipelineTag === tag) && (author === null || r.id.startsWith(`${author}/`)))
      .sort((a, b) => (url.searchParams.get('sort') === 'downloads' ? b.downloads - a.downloads : a.id.localeCompare(b.id)));
    return repos.slice(0, limit).map((r) => ({
      _id: createHash('sha1').update(r.id).digest('hex').slice(0, 24),
      id: r.id,
      private: r.private,
      gated: r.gated ? 'manual' : false,
      pipeline_tag: r.pipelineTag ?? undefined,
      downloads: r.downloads,
      likes: 0,
      lastModified: '2026-11-30T00:00:00.000Z',
    }));
  }

  private async serveCdn(req: IncomingMessage, res: ServerResponse, entry: LoggedRequest): Promise<void> {
    entry.route = 'cdn';
    const url = new URL(req.url ?? '/', this.cdnOrigin);
    const sha = url.pathname.split('/').pop() ?? '';
    const file = this.blobsBySha.get(sha);
    entry.file = file?.path ?? null;
    if (!file || !url.searchParams.get('X-Amz-Signature')) return this.error(res, 403, null, 'AccessDenied');
    if (req.headers.authorization) return this.error(res, 400, null, 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified');
    if (this.applyStatusFault(res, 'cdn', file.path)) return;
    res.setHeader('ETag', `"${sha}"`);
    await this.sendContent(req, res, entry, file, 'cdn');
  }

  private async sendContent(req: IncomingMessage, res: ServerResponse, entry: LoggedRequest, file: StoredFile, route: FaultRoute): Promise<void> {
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', 'application/octet-stream');
    let start = 0;
    let end = file.size - 1;
    const range = header(req, 'range');
    const ignoreRange = range !== null && this.takeFault('ignore-range', route, file.path) !== undefined;
    if (range && !ignoreRange) {
      const match = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!match) return this.error(res, 416, null, 'Invalid range');
      start = Number(match[1]);
      if (match[2]) end = Math.min(end, Number(match[2]));
      const shift = start > 0 ? this.takeFault('shift-range', route, file.path) : undefined;
      if (shift?.kind === 'shift-range') start = Math.max(0, start - shift.shiftBy);
      if (start >= file.size) {
        res.statusCode = 416;
        res.setHeader('Content-Range', `bytes */${file.size}`);
        res.end();
        return;
      }
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${file.size}`);
    } else res.statusCode = 200;
    const length = end - start + 1;
    res.setHeader('Content-Length', String(length));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const drop = this.takeFault('drop', route, file.path);
    const corrupt = this.takeFault('corrupt', route, file.path);
    const source = file.data
      ? Readable.from(chunked(file.data.subarray(start, end + 1)))
      : createReadStream(file.sourcePath as string, { start, end, highWaterMark: 1 << 16 });
    const stages: (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[] = [source];
    if (corrupt) stages.push(corruptOneByte(Math.floor(length / 2)));
    if (this.options.throttleBytesPerSec) stages.push(throttle(this.options.throttleBytesPerSec));
    stages.push(countInto(entry, drop?.kind === 'drop' ? drop.afterBytes : Infinity));
    await pipeline([...stages, res] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
  }

  private serveTree(res: ServerResponse, url: URL, repoId: string, rev: string, files: StoredFile[], under: string): void {
    const recursive = url.searchParams.get('recursive') === 'true';
    const prefix = under ? `${under}/` : '';
    const entries: unknown[] = [];
    const dirs = new Set<string>();
    for (const file of files) {
      if (!file.path.startsWith(prefix)) continue;
      const rest = file.path.slice(prefix.length);
      const parts = rest.split('/');
      // Directories are listed too (recursive listings include every level), as the Hub does.
      for (let i = 1; i < parts.length; i += 1) {
        const dir = prefix + parts.slice(0, i).join('/');
        if ((recursive || i === 1) && !dirs.has(dir)) {
          dirs.add(dir);
          entries.push({ type: 'directory', oid: createHash('sha1').update(dir).digest('hex'), size: 0, path: dir });
        }
      }
      if (!recursive && parts.length > 1) continue;
      entries.push(this.treeEntryTransform ? this.treeEntryTransform(treeEntry(file)) : treeEntry(file));
    }
    const pageSize = this.options.treePageSize ?? 1000;
    const cursor = Number(url.searchParams.get('cursor') ?? '0');
    const page = entries.slice(cursor, cursor + pageSize);
    if (cursor + pageSize < entries.length) {
      const next = new URL(`/api/models/${repoId}/tree/${encodeURIComponent(rev)}${under ? `/${under}` : ''}`, this.hubOrigin);
      for (const [key, value] of url.searchParams) if (key !== 'cursor') next.searchParams.set(key, value);
      next.searchParams.set('cursor', String(cursor + pageSize));
      res.setHeader('Link', `<${next.toString()}>; rel="next"`);
    }
    this.json(res, page);
  }

  private authorize(req: IncomingMessage): 'none' | 'valid' | 'invalid' {
    const value = header(req, 'authorization');
    if (!value) return 'none';
    const token = /^Bearer (.+)$/.exec(value)?.[1];
    return token && (this.options.validTokens ?? []).includes(token) ? 'valid' : 'invalid';
  }

  private checkRepo(res: ServerResponse, repoId: string, auth: 'none' | 'valid'): StoredRepo | undefined {
    const repo = this.repos.get(repoId);
    if (!repo || (repo.private && auth !== 'valid')) {
      // The Hub answers 401 to anonymous requests for missing (or private) repos, 404 to authenticated ones.
      this.error(res, auth === 'valid' ? 404 : 401, 'RepoNotFound', auth === 'valid' ? 'Repository not found' : 'Invalid username or password.');
      return undefined;
    }
    if (repo.gated && auth !== 'valid') {
      this.error(res, 401, 'GatedRepo', `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
      return undefined;
    }
    return repo;
  }

  private checkRevision(res: ServerResponse, repo: StoredRepo, rev: string): string | undefined {
    const commit = repo.refs.get(rev) ?? (repo.commits.has(rev) ? rev : undefined);
    if (!commit) this.error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    return commit;
  }

  private applyStatusFault(res: ServerResponse, route: FaultRoute, file: string | null): boolean {
    const fault = this.takeFault('status', route, file);
    if (!fault || fault.kind !== 'status') return false;
    if (fault.retryAfter !== undefined) res.setHeader('Retry-After', fault.retryAfter);
    this.error(res, fault.status, null, fault.status === 429 ? 'Too Many Requests' : 'Service Unavailable');
    return true;
  }

  private takeFault(kind: Fault['kind'], route: FaultRoute, file: string | null): Fault | undefined {
    // Content faults are only looked up where bytes are served (the CDN for LFS files, resolve for small ones).
    const fault = this.faults.find((f) => f.kind === kind && f.times > 0 && (f.route === undefined || f.route === route) && (f.file === undefined || f.file === file));
    if (fault) fault.times -= 1;
    return fault;
  }

  private json(res: ServerResponse, body: unknown): void {
    const text = JSON.stringify(body);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  }

  private error(res: ServerResponse, status: number, code: string | null, message: string): void {
    res.statusCode = status;
    if (code) res.setHeader('X-Error-Code', code);
    res.setHeader('X-Error-Message', message);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ error: message }));
  }
}

async function storeFile(file: ServedFile): Promise<StoredFile> {
  let size: number;
  let sha256: string;
  let gitOid: string;
  if (file.data) {
    size = file.data.length;
    sha256 = createHash('sha256').update(file.data).digest('hex');
    gitOid = createHash('sha1').update(`blob ${size}\0`).update(file.data).digest('hex');
  } else if (file.sourcePath) {
    size = (await stat(file.sourcePath)).size;
    sha256 = file.sha256 ?? (await hashFile(file.sourcePath));
    gitOid = '';
  } else throw new Error(`file ${file.path} needs data or sourcePath`);
  const lfs = file.lfs ?? (/\.(onnx|onnx_data(_\d+)?|onnx\.data|safetensors|bin)$/.test(file.path) || size >= 10 * 1024 * 1024);
  if (!lfs && !file.data) throw new Error(`non-LFS file ${file.path} must be in memory`);
  const stored: StoredFile = { path: file.path, size, gitOid, lfs: null };
  if (file.data) stored.data = file.data;
  if (file.sourcePath) stored.sourcePath = file.sourcePath;
  if (lfs) {
    // Git stores the LFS pointer; the tree's `oid` is the pointer's blob id.
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
    stored.gitOid = createHash('sha1').update(`blob ${Buffer.byteLength(pointer)}\0${pointer}`).digest('hex');
    stored.lfs = { sha256, pointerSize: Buffer.byteLength(pointer) };
  }
  return stored;
}

function treeEntry(file: StoredFile): Record<string, unknown> {
  const entry: Record<string, unknown> = { type: 'file', oid: file.gitOid, size: file.size, path: file.path };
  if (file.lfs) entry.lfs = { oid: file.lfs.sha256, size: file.size, pointerSize: file.lfs.pointerSize };
  return entry;
}

function revisionInfo(repo: StoredRepo, commit: string, files: StoredFile[], blobs: boolean): Record<string, unknown> {
  return {
    _id: createHash('sha1').update(repo.id).digest('hex').slice(0, 24),
    id: repo.id,
    modelId: repo.id,
    author: repo.id.split('/')[0],
    sha: commit,
    lastModified: '2025-01-01T00:00:00.000Z',
    private: repo.private,
    gated: repo.gated ? 'auto' : false,
    disabled: false,
    downloads: 0,
    likes: 0,
    pipeline_tag: 'text-generation',
    library_name: 'transformers.js',
    tags: ['transformers.js', 'onnx', 'text-generation'],
    siblings: files.map((f) => blobs
      ? { rfilename: f.path, blobId: f.gitOid, size: f.size, ...(f.lfs ? { lfs: { sha256: f.lfs.sha256, size: f.size, pointerSize: f.lfs.pointerSize } } : {}) }
      : { rfilename: f.path }),
  };
}

function* chunked(data: Buffer): Generator<Buffer> {
  for (let i = 0; i < data.length; i += 1 << 14) yield data.subarray(i, i + (1 << 14));
}

/** Counts body bytes into the log; at `limit`, lets the bytes reach the socket, then fails the stream (which cuts the connection). */
function countInto(entry: LoggedRequest, limit: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const room = limit - entry.bytesSent;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      entry.bytesSent += part.length;
      if (entry.bytesSent < limit) return callback(null, part);
      this.push(part);
      setTimeout(() => callback(new Error('connection dropped by a test fault')), 50);
    },
  });
}

function corruptOneByte(position: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (position >= seen && position < seen + chunk.length) {
        const copy = Buffer.from(chunk);
        copy[position - seen] = (copy[position - seen] ?? 0) ^ 0xff;
        chunk = copy;
      }
      seen += chunk.length;
      callback(null, chunk);
    },
  });
}

function throttle(bytesPerSec: number): Transform {
  const started = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      sent += chunk.length;
      const due = started + (sent / bytesPerSec) * 1000;
      const wait = Math.max(0, due - Date.now());
      setTimeout(() => callback(null, chunk), wait);
    },
  });
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}
