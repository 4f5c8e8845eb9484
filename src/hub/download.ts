import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { ModelscoutError } from '../errors.js';
import { blobName, blobPath, incompletePath } from './cache.js';
import { describeConnectionError, defaultSleep, type HubHttp, type RequestContext } from './http.js';
import type { RepoFile } from './select-files.js';

/**
 * One file from the Hub into `blobs/`, the way a flaky network needs it. Written by hand:
 * `@huggingface/hub`'s `downloadFileToCacheDir` neither resumes, retries nor verifies.
 *
 * - Streams to `blobs/<etag>.incomplete` (the name huggingface_hub uses, so either tool resumes the
 *   other's partial file); memory stays flat whatever the file size.
 * - Resumes with `Range: bytes=<have>-` after a dropped connection or a stall, within the same run
 *   (bounded) and across runs (Ctrl-C, crash); a server that ignores the range restarts the file.
 * - Verifies the bytes against the listing's checksum (LFS sha256, or the git blob sha1 for small
 *   files) and size before the blob gets its final name; a mismatch deletes the partial file.
 * - fsyncs, then renames `.incomplete` → `<etag>`: the blob appears complete or not at all.
 */
export interface DownloadJob {
  url: string;
  file: RepoFile;
  repoDir: string;
  context: RequestContext;
}

export interface DownloadOptions {
  signal?: AbortSignal | undefined;
  /** A stall longer than this (no byte received) abandons the attempt and resumes. */
  idleTimeoutMs: number;
  /** Resumptions after dropped connections or stalls within one run. */
  maxResumes: number;
  /** Wait before resuming: base, doubled per resumption. */
  resumeDelayMs: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Bytes that became part of the partial file (negative when a restart discards some). */
  onBytes?: (delta: number) => void;
  onResume?: (info: { file: string; offset: number; reason: string }) => void;
}

export interface DownloadOutcome {
  /** Bytes received over the network by this call. */
  transferredBytes: number;
  /** Bytes already on disk from an earlier run when this call started. */
  resumedFromBytes: number;
  /** Requests made for the content (1 when nothing went wrong). */
  requests: number;
}

export async function downloadBlob(http: HubHttp, job: DownloadJob, options: DownloadOptions): Promise<DownloadOutcome> {
  const { file } = job;
  const etag = blobName(file);
  const finalPath = blobPath(job.repoDir, etag);
  const partPath = incompletePath(job.repoDir, etag);
  await mkdir(dirname(finalPath), { recursive: true });
  const sleep = options.sleep ?? defaultSleep;

  let offset = await sizeOf(partPath);
  if (offset > file.size) {
    await rm(partPath, { force: true });
    offset = 0;
  }
  const resumedFromBytes = offset;
  options.onBytes?.(offset);
  let transferredBytes = 0;
  let requests = 0;
  let resumes = 0;

  for (;;) {
    offset = await sizeOf(partPath);
    // The checksum covers the whole file, so a resumed download first re-reads what is already on disk.
    const hash = await hashPrefix(file, partPath, offset, options.signal);
    if (offset === file.size) {
      await verifyAndPublish(hash, file, partPath, finalPath, job.context);
      return { transferredBytes, resumedFromBytes, requests };
    }
    const attempt = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, attempt.signal]) : attempt.signal;
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    requests += 1;
    const response = await http.get(job.url, { headers, signal, context: { ...job.context, file: file.path }, accept: [416] });
    let append = offset > 0;
    if (response.status === 416) {
      // Our partial file does not fit the server's copy: start over.
      await response.body?.cancel().catch(() => undefined);
      await discardPartial(partPath, offset, options);
      continue;
    }
    if (offset > 0 && response.status === 206) {
      const start = parseContentRangeStart(response.headers.get('content-range'));
      if (start !== offset) {
        await response.body?.cancel().catch(() => undefined);
        await discardPartial(partPath, offset, options);
        continue;
      }
    } else if (offset > 0) {
      // 200 to a range request: the server sends the whole file, so the partial file is replaced.
      await truncate(partPath, 0);
      options.onBytes?.(-offset);
      offset = 0;
      append = false;
      hash.reset();
    }
    if (!response.body) throw new ModelscoutError('E_NETWORK', `empty answer for ${file.path} from ${http.endpoint}`);

    let received = 0;
    const meter = new MeterTransform(hash.hash, options.idleTimeoutMs, (n) => {
      received += n;
      options.onBytes?.(n);
    }, () => attempt.abort(Object.assign(new Error(`no data for ${options.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
    try {
      const body = Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>);
      await pipeline(body, meter, createWriteStream(partPath, { flags: append ? 'a' : 'w' }), { signal });
      transferredBytes += received;
    } catch (error) {
      transferredBytes += received;
      meter.stopTimer();
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      const reason = describeStreamError(error, attempt.signal);
      if (resumes >= options.maxResumes) {
        throw new ModelscoutError('E_NETWORK', `download of ${file.path} kept failing (${reason}) after ${resumes + 1} attempts; the partial file is kept`, {
          cause: error,
          suggestions: ['Run the same command again: it resumes where it stopped.', 'Set HF_ENDPOINT to another mirror if this one keeps dropping connections.'],
        });
      }
      resumes += 1;
      const have = await sizeOf(partPath);
      options.onResume?.({ file: file.path, offset: have, reason });
      // What the stream counted but the disk did not get (a write still queued when it broke) is dropped.
      options.onBytes?.(have - (offset + received));
      await sleep(options.resumeDelayMs * 2 ** (resumes - 1), options.signal);
      continue;
    }
    meter.stopTimer();
    const have = await sizeOf(partPath);
    if (have < file.size && resumes < options.maxResumes) {
      // The server closed cleanly but early (no Content-Length to catch it): resume.
      resumes += 1;
      options.onResume?.({ file: file.path, offset: have, reason: 'connection closed early' });
      continue;
    }
    await verifyAndPublish(hash, file, partPath, finalPath, job.context);
    return { transferredBytes, resumedFromBytes, requests };
  }
}

interface FileHash {
  hash: Hash;
  reset(): void;
  algorithm: 'sha256' | 'sha1';
}

/** The hash the Hub publishes for this file: sha256 of the content for LFS, git's blob sha1 otherwise. */
function startHash(file: RepoFile): FileHash {
  const algorithm = file.sha256 ? 'sha256' : 'sha1';
  const state: FileHash = {
    algorithm,
    hash: createHash(algorithm),
    reset() {
      state.hash = createHash(algorithm);
      if (algorithm === 'sha1') state.hash.update(`blob ${file.size}\0`);
    },
  };
  state.reset();
  return state;
}

async function hashPrefix(file: RepoFile, partPath: string, length: number, signal: AbortSignal | undefined): Promise<FileHash> {
  const state = startHash(file);
  if (length > 0) {
    const stream = createReadStream(partPath, { start: 0, end: length - 1, highWaterMark: 1 << 20 });
    for await (const chunk of stream) {
      if (signal?.aborted) {
        stream.destroy();
        throw signal.reason;
      }
      state.hash.update(chunk as Buffer);
    }
  }
  return state;
}

async function verifyAndPublish(hash: FileHash, file: RepoFile, partPath: string, finalPath: string, context: RequestContext): Promise<void> {
  const size = await sizeOf(partPath);
  const expected = file.sha256 ?? file.gitOid;
  const actual = hash.hash.digest('hex');
  if (size !== file.size || actual !== expected) {
    await rm(partPath, { force: true });
    const what = size !== file.size ? `expected ${file.size} bytes, got ${size}` : `expected ${hash.algorithm} ${expected.slice(0, 12)}…, got ${actual.slice(0, 12)}…`;
    throw new ModelscoutError('E_CHECKSUM', `checksum mismatch for ${file.path} of ${context.repo}@${context.revision.slice(0, 12)} (${what}); the corrupt download was deleted`, {
      suggestions: ['Run the same command again to download it afresh.', 'If it fails again, the server or mirror (HF_ENDPOINT) serves damaged data: try another one.'],
    });
  }
  const handle = await open(partPath, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partPath, finalPath);
}

async function discardPartial(partPath: string, offset: number, options: DownloadOptions): Promise<void> {
  await rm(partPath, { force: true });
  options.onBytes?.(-offset);
}

/** Hashes and counts the bytes on their way to disk, and watches for stalls. */
class MeterTransform extends Transform {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly hash: Hash,
    private readonly idleMs: number,
    private readonly onChunk: (bytes: number) => void,
    private readonly onIdle: () => void,
  ) {
    super();
    this.arm();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.arm();
    this.hash.update(chunk);
    this.onChunk(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.stopTimer();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stopTimer();
    callback(error);
  }

  stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.stopTimer();
    this.timer = setTimeout(this.onIdle, this.idleMs);
  }
}

function describeStreamError(error: unknown, attemptSignal: AbortSignal): string {
  if (attemptSignal.aborted) return (attemptSignal.reason as Error | undefined)?.message ?? 'stalled';
  const { code } = describeConnectionError(error);
  if (code !== 'connection failed') return code;
  const message = error instanceof Error ? error.message : String(error);
  return message === 'terminated' ? 'connection dropped' : message;
}

export function parseContentRangeStart(value: string | null): number | null {
  const match = value ? /^bytes\s+(\d+)-\d+\/(\d+|\*)$/i.exec(value.trim()) : null;
  return match ? Number(match[1]) : null;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
