import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIXTURE_SIZES, fixtureRepoFiles } from './fixture-repo.js';
import { HubServer } from './hub-server.js';
import { caught, closedPortEndpoint, makeTempDir, pullHarness, removeDir, settingsFor, type PullHarness } from './helpers.js';
import type { HubSettings } from '../../src/hub/settings.js';

const REPO = 'onnx-community/tiny-llama-test';
const TOKEN = 'hf_test_token_with_access';

let server: HubServer;
let cacheDir: string;
let settings: HubSettings;
let commit: string;
let hub: PullHarness;

beforeEach(async () => {
  // A page size of 4 makes every listing span several pages (the Hub paginates with Link headers).
  server = await new HubServer({ validTokens: [TOKEN], treePageSize: 4 }).start();
  commit = await server.addRepo(REPO, fixtureRepoFiles());
  cacheDir = await makeTempDir('hub-cache');
  settings = settingsFor(server.endpoint, cacheDir);
  hub = pullHarness(() => settings, {
    'tiny-llama': { id: 'tiny-llama', onnxRepo: REPO, hfRepo: 'example/tiny-llama' },
    'no-onnx-7b': { id: 'no-onnx-7b', onnxRepo: null, hfRepo: 'example/NoOnnx-7B' },
  });
});

afterEach(async () => {
  await server.stop();
  await removeDir(cacheDir);
});

const repoDir = (): string => join(cacheDir, 'models--onnx-community--tiny-llama-test');
const sha256Of = (repo: string, path: string): string => {
  const lfs = server.fileOf(repo, path).lfs;
  if (!lfs) throw new Error(`${path} is not LFS`);
  return lfs.sha256;
};

describe('pull from the Hub', () => {
  it('downloads configs, tokenizer and the q4 graph with its external data into the HF cache layout', async () => {
    const result = await hub.run(REPO);
    expect(result.source).toBe('hub');
    expect(result.commit).toBe(commit);
    expect(result.variants).toEqual(['q4']);
    expect(result.files.map((f) => f.path).sort()).toEqual([
      'config.json', 'generation_config.json', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data', 'onnx/model_q4.onnx_data_1',
      'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json',
    ]);
    expect(result.path).toBe(join(repoDir(), 'snapshots', commit));
    expect(result.onnx).toEqual([join(repoDir(), 'snapshots', commit, 'onnx', 'model_q4.onnx')]);

    // Snapshot entries are relative symlinks into blobs/, named by sha256 (LFS) or git blob id.
    const graph = join(result.path, 'onnx', 'model_q4.onnx');
    expect((await lstat(graph)).isSymbolicLink()).toBe(true);
    expect(await readlink(graph)).toBe(join('..', '..', '..', 'blobs', sha256Of(REPO, 'onnx/model_q4.onnx')));
    const config = join(result.path, 'config.json');
    expect(await readlink(config)).toBe(join('..', '..', 'blobs', server.fileOf(REPO, 'config.json').gitOid));
    expect(await readFile(graph)).toEqual(server.fileOf(REPO, 'onnx/model_q4.onnx').data);
    expect((await readFile(join(repoDir(), 'refs', 'main'), 'utf8'))).toBe(commit);

    // Nothing else came along, and nothing partial is left.
    const blobs = await readdir(join(repoDir(), 'blobs'));
    expect(blobs).toHaveLength(8);
    expect(blobs.some((b) => b.endsWith('.incomplete'))).toBe(false);
    expect(server.contentRequests('README.md')).toHaveLength(0);
    expect(server.contentRequests('model.safetensors')).toHaveLength(0);
    expect(result.transferredBytes).toBe(result.totalBytes);
    // The tree listing was read across pages.
    expect(server.log.filter((r) => r.path.includes('/tree/')).length).toBeGreaterThan(2);
  });

  it('a second pull downloads nothing', async () => {
    await hub.run(REPO);
    const before = server.contentRequests().length;
    const again = await hub.run(REPO);
    expect(server.contentRequests()).toHaveLength(before);
    expect(again.transferredBytes).toBe(0);
    expect(again.files.every((f) => !f.downloaded)).toBe(true);
    expect(again.reusedBytes).toBe(again.totalBytes);
  });

  it('reuses blobs another Hugging Face tool already downloaded', async () => {
    // What huggingface_hub leaves behind: a blob named by its sha256.
    const sha = sha256Of(REPO, 'onnx/model_q4.onnx_data');
    await mkdir(join(repoDir(), 'blobs'), { recursive: true });
    await writeFile(join(repoDir(), 'blobs', sha), server.fileOf(REPO, 'onnx/model_q4.onnx_data').data as Buffer);
    const result = await hub.run(REPO);
    expect(server.contentRequests('onnx/model_q4.onnx_data')).toHaveLength(0);
    expect(result.files.find((f) => f.path === 'onnx/model_q4.onnx_data')?.downloaded).toBe(false);
  });

  it('selects variants and extra files', async () => {
    const fp32 = await hub.run(REPO, { variant: 'fp32' });
    expect(fp32.files.map((f) => f.path)).toEqual(expect.arrayContaining(['onnx/model.onnx', 'onnx/model.onnx_data']));
    expect(fp32.files.map((f) => f.path)).not.toContain('onnx/model_q4.onnx');
    const all = await hub.run(REPO, { variant: 'all', include: ['*.md'] });
    expect(all.variants).toEqual(['q4', 'fp16', 'fp32']);
    expect(all.files.map((f) => f.path)).toEqual(expect.arrayContaining(['onnx/model_fp16.onnx', 'README.md']));
    const error = await caught(() => hub.run(REPO, { variant: 'q4f16' }));
    expect(error.code).toBe('E_INPUT');
    expect(error.message).toContain('q4f16');
    expect(error.message).toContain('q4, fp16, fp32');
  });

  it('resumes a connection dropped mid-file with a Range request for the remainder only', async () => {
    const file = 'onnx/model_q4.onnx_data';
    server.faults.push({ kind: 'drop', afterBytes: 50_000, times: 1, file });
    const result = await hub.run(REPO);
    const requests = server.contentRequests(file);
    expect(requests).toHaveLength(2);
    expect(requests[0]?.range).toBeNull();
    expect(requests[0]?.bytesSent).toBe(50_000);
    expect(requests[1]?.range).toBe('bytes=50000-');
    expect(requests[1]?.status).toBe(206);
    expect(requests[1]?.bytesSent).toBe(FIXTURE_SIZES[file] - 50_000);
    expect(hub.events.some((e) => e.type === 'resume' && e.file === file && e.offset === 50_000)).toBe(true);
    expect(await readFile(join(result.path, file))).toEqual(server.fileOf(REPO, file).data);
  });

  it('starts over when a resumed range comes back from another offset than asked', async () => {
    const file = 'onnx/model_q4.onnx_data';
    server.faults.push({ kind: 'drop', afterBytes: 50_000, times: 1, file });
    server.faults.push({ kind: 'shift-range', shiftBy: 10_000, times: 1, file });
    const result = await hub.run(REPO);
    const requests = server.contentRequests(file);
    // The shifted 206 (bytes 40000-…) must not be appended after byte 50000: the partial file is discarded
    // and the next request fetches the whole file.
    expect(requests.map((r) => r.range)).toEqual([null, 'bytes=50000-', null]);
    expect(requests[1]?.status).toBe(206);
    expect(requests[2]?.status).toBe(200);
    expect(await readFile(join(result.path, file))).toEqual(server.fileOf(REPO, file).data);
  });

  it('resumes across runs from the .incomplete file left in blobs/', async () => {
    const file = 'onnx/model_q4.onnx_data';
    server.faults.push({ kind: 'drop', afterBytes: 70_000, times: 1, file });
    const failed = await caught(() => hub.run(REPO, {}, { maxResumes: 0 }));
    expect(failed.code).toBe('E_NETWORK');
    const partial = join(repoDir(), 'blobs', `${sha256Of(REPO, file)}.incomplete`);
    expect((await lstat(partial)).size).toBe(70_000);
    expect(existsSync(join(repoDir(), 'snapshots'))).toBe(false);

    const result = await hub.run(REPO);
    const last = server.contentRequests(file).at(-1);
    expect(last?.range).toBe('bytes=70000-');
    expect(last?.bytesSent).toBe(FIXTURE_SIZES[file] - 70_000);
    const pulled = result.files.find((f) => f.path === file);
    expect(pulled?.resumedFromBytes).toBe(70_000);
    expect(pulled?.transferredBytes).toBe(FIXTURE_SIZES[file] - 70_000);
    expect(existsSync(partial)).toBe(false);
    expect(createHash('sha256').update(await readFile(join(result.path, file))).digest('hex')).toBe(sha256Of(REPO, file));
  });

  it('restarts a file when the server ignores the Range header', async () => {
    const file = 'onnx/model_q4.onnx_data';
    server.faults.push({ kind: 'drop', afterBytes: 40_000, times: 1, file }, { kind: 'ignore-range', times: 1, file });
    const result = await hub.run(REPO);
    const requests = server.contentRequests(file);
    expect(requests[1]?.status).toBe(200);
    expect(await readFile(join(result.path, file))).toEqual(server.fileOf(REPO, file).data);
  });

  it('rejects corrupted bytes: the error names the file and nothing of it stays in the cache', async () => {
    const file = 'onnx/model_q4.onnx_data';
    server.faults.push({ kind: 'corrupt', times: 1, file });
    const error = await caught(() => hub.run(REPO));
    expect(error.code).toBe('E_CHECKSUM');
    expect(error.message).toContain(file);
    const blobs = await readdir(join(repoDir(), 'blobs'));
    expect(blobs.filter((b) => b.startsWith(sha256Of(REPO, file)))).toEqual([]);
    expect(existsSync(join(repoDir(), 'snapshots'))).toBe(false);
    expect(existsSync(join(repoDir(), 'refs', 'main'))).toBe(false);
  });

  it('verifies small (non-LFS) files against their git blob id', async () => {
    server.faults.push({ kind: 'corrupt', times: 1, file: 'tokenizer.json' });
    const error = await caught(() => hub.run(REPO));
    expect(error.code).toBe('E_CHECKSUM');
    expect(error.message).toContain('tokenizer.json');
  });

  it('retries 429 (honouring Retry-After) and 503, then succeeds', async () => {
    server.faults.push({ kind: 'status', status: 429, retryAfter: '3', times: 2, route: 'api' });
    server.faults.push({ kind: 'status', status: 503, times: 1, route: 'cdn', file: 'onnx/model_q4.onnx' });
    const result = await hub.run(REPO);
    expect(result.files).toHaveLength(8);
    expect(hub.sleeps.filter((ms) => ms === 3000)).toHaveLength(2);
    expect(hub.sleeps).toContain(1000);
    expect(hub.events.filter((e) => e.type === 'retry')).toHaveLength(3);
  });

  it('gives up on endless 429 after a bounded number of retries', async () => {
    server.faults.push({ kind: 'status', status: 429, retryAfter: '1', times: 100, route: 'api' });
    const error = await caught(() => hub.run(REPO, {}, { retry: { maxRetries: 3 } }));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toContain('429');
    expect(server.log.filter((r) => r.route === 'api')).toHaveLength(4);
  });

  it('refuses a Retry-After beyond the limit at once, saying how long the server asked to wait', async () => {
    server.faults.push({ kind: 'status', status: 429, retryAfter: '3600', times: 1, route: 'api' });
    const error = await caught(() => hub.run(REPO));
    expect(error.message).toContain('3600 s');
    expect(hub.sleeps).toEqual([]);
  });
});

describe('concurrent pulls', () => {
  const file = 'onnx/model_q4.onnx_data';
  const lockPath = (): string => join(cacheDir, '.locks', 'models--onnx-community--tiny-llama-test', `${sha256Of(REPO, file)}.modelscout-lock`);

  it('waits for another live process downloading the same blob, then uses its result', async () => {
    await mkdir(join(lockPath(), '..'), { recursive: true });
    // A live owner: this very process stands in for the other pull.
    await writeFile(lockPath(), JSON.stringify({ pid: process.pid, host: hostname() }));
    const result = await hub.run(REPO, {}, {
      sleep: async () => {
        // The other pull finishes: its blob appears and its lock goes.
        await mkdir(join(repoDir(), 'blobs'), { recursive: true });
        await writeFile(join(repoDir(), 'blobs', sha256Of(REPO, file)), server.fileOf(REPO, file).data as Buffer);
        await rm(lockPath(), { force: true });
      },
    });
    expect(hub.events.some((e) => e.type === 'waiting' && e.file === file && e.pid === process.pid)).toBe(true);
    expect(server.contentRequests(file)).toHaveLength(0);
    expect(await readFile(join(result.path, file))).toEqual(server.fileOf(REPO, file).data);
  });

  it('takes over the lock of a process that is gone', async () => {
    await mkdir(join(lockPath(), '..'), { recursive: true });
    // Above Linux's largest pid (2^22): no such process.
    await writeFile(lockPath(), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname() }));
    await hub.run(REPO);
    expect(hub.events.some((e) => e.type === 'waiting')).toBe(false);
    expect(server.contentRequests(file)).toHaveLength(1);
    expect(existsSync(lockPath())).toBe(false);
  });

  it('removes the stale lock of a process killed after its blob was complete (the rerun downloads nothing)', async () => {
    await hub.run(REPO);
    // kill -9 between the blob's rename and the lock's removal: the blob is there, its lock too.
    await writeFile(lockPath(), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname() }));
    const live = join(lockPath(), '..', 'live.modelscout-lock');
    await writeFile(live, JSON.stringify({ pid: process.pid, host: hostname() }));
    await hub.run(REPO);
    expect(server.contentRequests(file)).toHaveLength(1);
    expect(existsSync(lockPath())).toBe(false);
    // A lock whose process is alive is not touched.
    expect(existsSync(live)).toBe(true);
  });
});

describe('pull errors', () => {
  it('401 for a gated repo without a token says to set HF_TOKEN', async () => {
    await server.addRepo('meta-test/gated-model', fixtureRepoFiles('gated'), { gated: true });
    const error = await caught(() => hub.run('meta-test/gated-model'));
    expect(error.code).toBe('E_AUTH');
    expect(error.message).toContain('set HF_TOKEN');
    expect(error.message).toContain('meta-test/gated-model');
  });

  it('sends the token to the Hub but never to the CDN', async () => {
    await server.addRepo('meta-test/gated-model', fixtureRepoFiles('gated'), { gated: true });
    settings = { ...settings, token: TOKEN, tokenSource: 'HF_TOKEN' };
    const result = await hub.run('meta-test/gated-model');
    expect(result.files).toHaveLength(8);
    expect(server.log.filter((r) => r.origin === 'hub').every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const cdn = server.log.filter((r) => r.origin === 'cdn');
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((r) => r.authorization === null)).toBe(true);
  });

  it('a rejected token is reported as such', async () => {
    settings = { ...settings, token: 'hf_expired', tokenSource: 'HF_TOKEN' };
    const error = await caught(() => hub.run(REPO));
    expect(error.code).toBe('E_AUTH');
    expect(error.message).toContain('rejected the token from HF_TOKEN');
  });

  it('404 for a missing repo names the repo and revision', async () => {
    settings = { ...settings, token: TOKEN, tokenSource: 'HF_TOKEN' };
    const error = await caught(() => hub.run('nobody/missing-model'));
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('nobody/missing-model');
    expect(error.message).toContain('revision main');
  });

  it('a missing repo asked anonymously (401 RepoNotFound, as the Hub answers) also hints at HF_TOKEN', async () => {
    const error = await caught(() => hub.run('nobody/missing-model'));
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.message).toContain('nobody/missing-model');
    expect(error.message).toContain('HF_TOKEN');
  });

  it('404 for a missing revision names it and the repo', async () => {
    const error = await caught(() => hub.run(`${REPO}@no-such-branch`));
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.message).toContain('"no-such-branch"');
    expect(error.message).toContain(REPO);
  });

  it('network down: one line that says what to do, and mentions a cached copy when there is one', async () => {
    await hub.run(REPO);
    const closed = await closedPortEndpoint();
    settings = { ...settings, endpoint: closed };
    const error = await caught(() => hub.run(REPO));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toContain(`cannot reach ${closed} (ECONNREFUSED)`);
    // Refused connections are not retried: the network is down, waiting will not help.
    expect(hub.sleeps).toEqual([]);
    expect(error.message).toContain('HF_HUB_OFFLINE=1');
    expect(error.suggestions?.join(' ')).toContain('HF_ENDPOINT');
  });

  it('a catalog model without an ONNX export suggests synth', async () => {
    const error = await caught(() => hub.run('no-onnx-7b'));
    expect(error.code).toBe('E_MODEL');
    expect(error.message).toContain('no ONNX export');
    expect(error.suggestions?.join(' ')).toContain('modelscout synth no-onnx-7b');
  });

  it('a malformed model reference is a usage error', async () => {
    const error = await caught(() => hub.run('not a repo!'));
    expect(error.code).toBe('E_INPUT');
    expect(error.exitCode).toBe(2);
  });

  it('Ctrl-C (the abort signal) stops with exit code 130 and keeps the partial file for resuming', async () => {
    server.throttleBytesPerSec = 400_000;
    const controller = new AbortController();
    const promise = hub.run(REPO, { variant: 'fp32' }, {
      signal: controller.signal,
      concurrency: 1,
      onEvent: (event) => {
        if (event.type === 'progress' && event.doneBytes > event.totalBytes / 4) controller.abort(new Error('SIGINT'));
      },
    });
    const error = await caught(() => promise);
    expect(error.code).toBe('E_INTERRUPTED');
    expect(error.exitCode).toBe(130);
    const blobs = await readdir(join(repoDir(), 'blobs'));
    expect(blobs.filter((b) => b.endsWith('.incomplete'))).toHaveLength(1);
    expect(existsSync(join(repoDir(), 'snapshots'))).toBe(false);
    server.throttleBytesPerSec = undefined;
    const resumed = await hub.run(REPO, { variant: 'fp32' });
    expect(resumed.files.some((f) => f.resumedFromBytes > 0)).toBe(true);
  });
});

describe('sources other than a Hub repo id', () => {
  it('a catalog id pulls its ONNX repo', async () => {
    const result = await hub.run('tiny-llama');
    expect(result.catalogId).toBe('tiny-llama');
    expect(result.repo).toBe(REPO);
  });

  it('a Hub URL with a revision pulls from the URL', async () => {
    const result = await hub.run(`${server.endpoint}/${REPO}/tree/main`);
    expect(result.repo).toBe(REPO);
    expect(result.commit).toBe(commit);
  });

  it('a commit hash pins the snapshot and writes no ref', async () => {
    const result = await hub.run(`${REPO}@${commit}`);
    expect(result.commit).toBe(commit);
    expect(existsSync(join(repoDir(), 'refs'))).toBe(false);
  });

  it('a local folder is validated and used in place', async () => {
    const dir = await makeTempDir('local-model');
    try {
      await mkdir(join(dir, 'onnx'));
      await writeFile(join(dir, 'config.json'), '{}');
      await writeFile(join(dir, 'onnx', 'model.onnx'), 'graph');
      await writeFile(join(dir, 'onnx', 'model.onnx_data'), 'weights');
      const result = await hub.run(dir);
      expect(result.source).toBe('local');
      expect(result.onnx).toEqual([join(dir, 'onnx', 'model.onnx')]);
      expect(result.files.map((f) => f.path)).toEqual(['config.json', 'onnx/model.onnx', 'onnx/model.onnx_data']);
      expect(server.log).toHaveLength(0);
      const missing = await caught(() => hub.run(join(dir, 'nope')));
      expect(missing.code).toBe('E_FILE');
      const empty = await makeTempDir('empty-model');
      const noOnnx = await caught(() => hub.run(empty));
      expect(noOnnx.code).toBe('E_MODEL');
      await removeDir(empty);
    } finally {
      await removeDir(dir);
    }
  });
});

describe('offline (HF_HUB_OFFLINE)', () => {
  it('uses the cached snapshot without any request', async () => {
    const online = await hub.run(REPO);
    const requests = server.log.length;
    settings = { ...settings, offline: true };
    const offline = await hub.run(REPO);
    expect(server.log).toHaveLength(requests);
    expect(offline.source).toBe('cache');
    expect(offline.commit).toBe(online.commit);
    expect(offline.onnx).toEqual(online.onnx);
    expect(offline.files.map((f) => f.path)).toEqual(online.files.map((f) => f.path).sort());
  });

  it('says clearly when the model is not cached', async () => {
    settings = { ...settings, offline: true };
    const error = await caught(() => hub.run(REPO));
    expect(error.code).toBe('E_OFFLINE');
    expect(error.message).toContain(`${REPO}@main is not in the cache`);
    expect(error.message).toContain('HF_HUB_OFFLINE');
    expect(server.log).toHaveLength(0);
  });

  it('says which variants the cached copy has when another is asked for', async () => {
    await hub.run(REPO);
    settings = { ...settings, offline: true };
    const error = await caught(() => hub.run(REPO, { variant: 'fp16' }));
    expect(error.code).toBe('E_OFFLINE');
    expect(error.message).toContain('fp16');
  });
});
