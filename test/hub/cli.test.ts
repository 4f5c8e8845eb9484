import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Options } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fillerBytes, fixtureRepoFiles } from './fixture-repo.js';
import { HubServer } from './hub-server.js';
import { makeTempDir, removeDir } from './helpers.js';

/** `modelscout pull` / `cache` as a user runs them: a subprocess with HF_ENDPOINT at the local Hub and HF_HOME in a temp dir. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPO = 'onnx-community/tiny-llama-test';
const BIG = 'onnx-community/big-data-test';
const BIG_DATA = 'onnx/model.onnx_data';
const BIG_SIZE = 6 * 1024 * 1024;
const TOKEN = 'hf_cli_test_token';

let server: HubServer;
let home: string;

beforeAll(async () => {
  server = await new HubServer({ validTokens: [TOKEN] }).start();
  await server.addRepo(REPO, fixtureRepoFiles());
  await server.addRepo('meta-test/gated-model', fixtureRepoFiles('gated'), { gated: true });
  await server.addRepo(BIG, [
    { path: 'config.json', data: Buffer.from('{"model_type":"llama"}\n') },
    { path: 'onnx/model.onnx', data: fillerBytes('big-graph', 10_000) },
    { path: BIG_DATA, data: fillerBytes('big-data', BIG_SIZE) },
  ]);
});

afterAll(async () => {
  await server.stop();
});

beforeEach(async () => {
  home = await makeTempDir('hf-home');
  server.faults.length = 0;
  server.throttleBytesPerSec = undefined;
});

afterEach(async () => {
  await removeDir(home);
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { HF_ENDPOINT: server.endpoint, HF_HOME: home, HF_TOKEN: '', HF_HUB_OFFLINE: '', HF_HUB_CACHE: '', ...extra };
}

function cli(args: string[], extra: Record<string, string> = {}, options: Options = {}) {
  return execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false, env: env(extra), extendEnv: true, ...options });
}

const noStack = (text: string): boolean => !/\n\s+at .+:\d+:\d+/.test(text);
const cacheRepoDir = (repo: string): string => join(home, 'hub', `models--${repo.replace('/', '--')}`);

describe('modelscout pull (CLI)', () => {
  it('--json prints only the result on stdout, and a second pull downloads nothing', async () => {
    const first = await cli(['pull', REPO, '--json']);
    expect(first.exitCode).toBe(0);
    const result = JSON.parse(String(first.stdout));
    expect(result).toMatchObject({ schema_version: '1', kind: 'modelscout.pull', source: 'hub', repo: REPO, revision: 'main', variants: ['q4'], cache_dir: join(home, 'hub') });
    expect(result.transferred_bytes).toBe(result.total_bytes);
    expect(first.stderr).toBe('');
    expect(existsSync(join(result.path, 'onnx', 'model_q4.onnx_data'))).toBe(true);

    const requests = server.contentRequests().length;
    const second = await cli(['pull', REPO, '--json']);
    expect(second.exitCode).toBe(0);
    expect(JSON.parse(String(second.stdout)).transferred_bytes).toBe(0);
    expect(server.contentRequests()).toHaveLength(requests);
  });

  it('human output names the model files and the snapshot folder', async () => {
    const run = await cli(['pull', REPO, '--variant', 'fp32']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`Pulled ${REPO}@main`);
    expect(run.stdout).toContain('onnx/model.onnx + 1 external data file');
    expect(run.stderr).toContain('files to download');
    // Not a terminal: plain lines (each file as it lands), no bar, no carriage return.
    expect(run.stderr).toMatch(/^ {2}onnx\/model\.onnx_data \([\d.]+ \w+\)$/m);
    expect(run.stderr).not.toContain('\r');
    expect(run.stderr).not.toMatch(/\[#*-*\]/);
  });

  it('401 on a gated repo without a token: one line saying to set HF_TOKEN, exit 2; with HF_TOKEN it works', async () => {
    const denied = await cli(['pull', 'meta-test/gated-model']);
    expect(denied.exitCode).toBe(2);
    expect(denied.stderr).toMatch(/^Error: meta-test\/gated-model is gated \(HTTP 401\): set HF_TOKEN/);
    expect(noStack(String(denied.stderr))).toBe(true);
    const allowed = await cli(['pull', 'meta-test/gated-model', '--json'], { HF_TOKEN: TOKEN });
    expect(allowed.exitCode).toBe(0);
  });

  it('404 names the repo and the revision', async () => {
    const repo = await cli(['pull', 'nobody/missing-model'], { HF_TOKEN: TOKEN });
    expect(repo.exitCode).toBe(2);
    expect(repo.stderr).toContain('repository nobody/missing-model (revision main) not found');
    const revision = await cli(['pull', `${REPO}@v9`]);
    expect(revision.exitCode).toBe(2);
    expect(revision.stderr).toContain(`revision "v9" not found in ${REPO}`);
  });

  it('HF_HUB_OFFLINE=1: works from the cache, and says so when the model is not cached', async () => {
    const missing = await cli(['pull', REPO], { HF_HUB_OFFLINE: '1' });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(`${REPO}@main is not in the cache`);
    await cli(['pull', REPO]);
    const requests = server.log.length;
    const offline = await cli(['pull', REPO, '--json'], { HF_HUB_OFFLINE: '1' });
    expect(offline.exitCode).toBe(0);
    expect(JSON.parse(String(offline.stdout)).source).toBe('cache');
    expect(server.log).toHaveLength(requests);
  });

  it('retries 429 and 503, then succeeds', async () => {
    server.faults.push({ kind: 'status', status: 429, retryAfter: '0', times: 1, route: 'api' });
    server.faults.push({ kind: 'status', status: 503, retryAfter: '0', times: 1, route: 'cdn' });
    const run = await cli(['pull', REPO, '--json']);
    expect(run.exitCode).toBe(0);
    expect(server.log.filter((r) => r.status === 429 || r.status === 503)).toHaveLength(2);
  });

  it('network down: one line that names HF_ENDPOINT and HF_HUB_OFFLINE', async () => {
    const run = await cli(['pull', REPO], { HF_ENDPOINT: 'http://127.0.0.1:47' });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('cannot reach http://127.0.0.1:47 (ECONNREFUSED)');
    expect(run.stderr).toContain('HF_ENDPOINT');
    expect(run.stderr).toContain('HF_HUB_OFFLINE=1');
    expect(noStack(String(run.stderr))).toBe(true);
  });

  it('a bad --variant is a usage error naming the allowed values', async () => {
    const run = await cli(['pull', REPO, '--variant', 'int3']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('q4');
  });

  it('Ctrl-C exits 130 without a stack trace and leaves a resumable .incomplete file; the next pull resumes', async () => {
    server.throttleBytesPerSec = 2 * 1024 * 1024;
    const child = cli(['pull', BIG, '--variant', 'fp32']);
    const blobs = join(cacheRepoDir(BIG), 'blobs');
    const sha = server.fileOf(BIG, BIG_DATA).lfs?.sha256 as string;
    const partial = join(blobs, `${sha}.incomplete`);
    // Generous bound: start-up of the CLI takes seconds on a loaded machine.
    for (let i = 0; i < 2400; i += 1) {
      const size = await stat(partial).then((s) => s.size, () => 0);
      if (size > BIG_SIZE / 4) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    child.kill('SIGINT');
    const run = await child;
    expect(run.exitCode).toBe(130);
    expect(run.stderr).toContain('interrupted');
    expect(noStack(String(run.stderr))).toBe(true);
    const left = await readdir(blobs);
    expect(left).toContain(`${sha}.incomplete`);
    expect(left).not.toContain(sha);
    expect(existsSync(join(cacheRepoDir(BIG), 'snapshots'))).toBe(false);
    const have = (await stat(partial)).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThan(BIG_SIZE);

    server.throttleBytesPerSec = undefined;
    const resumed = await cli(['pull', BIG, '--variant', 'fp32', '--json']);
    expect(resumed.exitCode).toBe(0);
    const last = server.contentRequests(BIG_DATA).at(-1);
    expect(last?.range).toBe(`bytes=${have}-`);
    expect(last?.bytesSent).toBe(BIG_SIZE - have);
    const file = JSON.parse(String(resumed.stdout)).files.find((f: { path: string }) => f.path === BIG_DATA);
    expect(file).toMatchObject({ resumed_from_bytes: have, transferred_bytes: BIG_SIZE - have, downloaded: true });
  });
});

describe('modelscout cache (CLI)', () => {
  it('ls lists pulled models with sizes and revisions; rm refuses without a TTY or --yes, then removes', async () => {
    const empty = await cli(['cache', 'ls']);
    expect(empty.exitCode).toBe(0);
    expect(empty.stdout).toContain('No models in');
    await cli(['pull', REPO]);
    const listed = await cli(['cache', 'ls', '--json']);
    const listing = JSON.parse(String(listed.stdout));
    expect(listing.models).toHaveLength(1);
    expect(listing).toMatchObject({ schema_version: '1', kind: 'modelscout.cache-listing' });
    expect(listing.models[0]).toMatchObject({ repo: REPO, incomplete_bytes: 0 });
    expect(listing.models[0].size_bytes).toBeGreaterThan(200_000);
    expect(listing.models[0].revisions[0].refs).toEqual(['main']);
    const table = await cli(['cache', 'ls']);
    expect(table.stdout).toMatch(new RegExp(`${REPO}\\s+\\d+\\.\\d KiB\\s+8\\s+main [0-9a-f]{7}`));

    const refused = await cli(['cache', 'rm', REPO], {}, { input: '' });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(existsSync(cacheRepoDir(REPO))).toBe(true);
    const removed = await cli(['cache', 'rm', REPO, '--yes', '--json']);
    expect(removed.exitCode).toBe(0);
    expect(JSON.parse(String(removed.stdout))).toMatchObject({ kind: 'modelscout.cache-removal', repo: REPO });
    expect(JSON.parse(String(removed.stdout)).freed_bytes).toBeGreaterThan(200_000);
    expect(existsSync(cacheRepoDir(REPO))).toBe(false);
    const again = await cli(['cache', 'rm', REPO, '--yes']);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('not in the cache');
  });
});
