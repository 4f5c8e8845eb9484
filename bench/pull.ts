/**
 * `npm run bench:pull`: what `modelscout pull` does on a real transfer, against the local Hub stand-in
 * (test/hub/hub-server.ts) on loopback, with the CLI run as a user runs it (a subprocess).
 *
 * 1. Interrupt and resume: a synthetic decoder with external data (built by `modelscout synth`) is
 *    published on the local Hub; the pull is sent SIGINT when half of its bytes are in (the server caps
 *    the rate so "half" is well defined). Checks exit 130, no stack trace, only the `.incomplete` blob
 *    left for the interrupted file and no snapshot. The second run must resume (Range) and verify;
 *    then `modelscout bench` runs the pulled snapshot.
 * 2. Streaming: a 1 GiB external-data file, pulled unthrottled a few times: loopback throughput
 *    (server-side transfer time and the command's wall time) and the peak RSS of the pulling process
 *    (VmHWM from /proc, sampled every 20 ms), beside the peak RSS of a pull of a tiny model.
 *
 * Options: --size-mib N (default 1024), --runs N (default 3), --keep (keep the temp folder).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { HubServer, type ServedFile } from '../test/hub/hub-server.js';
import { formatBandwidth, formatBytes, formatDuration } from '../src/util/format.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const SIZE_MIB = option('--size-mib', 1024);
const RUNS = option('--runs', 3);
const KEEP = args.includes('--keep');

const work = await mkdtemp(join(tmpdir(), 'modelscout-bench-pull-'));
const server = await new HubServer().start();
const hfHome = join(work, 'hf');
const env = { HF_ENDPOINT: server.endpoint, HF_HOME: hfHome, HF_TOKEN: '', HF_HUB_OFFLINE: '', HF_HUB_CACHE: '' };
const cli = (cliArgs: string[]) =>
  execa(process.execPath, ['bin/run.js', ...cliArgs], { cwd: ROOT, reject: false, env });

try {
  console.log(`modelscout pull benchmark: local Hub at ${server.endpoint} (CDN ${server.cdnEndpoint}), node ${process.version}`);
  await interruptAndResume();
  await streamLargeFile();
} finally {
  await server.stop();
  if (KEEP) console.log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}

async function interruptAndResume(): Promise<void> {
  console.log('\n## 1. Ctrl-C halfway, then resume');
  // A decoder of about 80 MB: hidden 512, 4 layers, vocab 8192, untied head.
  const configPath = join(work, 'config.json');
  await writeFile(configPath, JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 512, intermediate_size: 1408, num_attention_heads: 8,
    num_key_value_heads: 4, num_hidden_layers: 4, vocab_size: 8192, max_position_embeddings: 2048, rms_norm_eps: 1e-5,
    rope_theta: 10000, hidden_act: 'silu', tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  }));
  const modelDir = join(work, 'synthetic');
  const synth = await cli(['synth', configPath, '--out', modelDir, '--json']);
  if (synth.exitCode !== 0) throw new Error(`synth failed: ${String(synth.stderr)}`);
  const files: ServedFile[] = [];
  for (const rel of ['config.json', 'generation_config.json']) files.push({ path: rel, data: await readFile(join(modelDir, rel)) });
  for (const rel of ['onnx/model.onnx', 'onnx/model.onnx_data']) files.push({ path: rel, sourcePath: join(modelDir, rel) });
  const repo = 'bench/synthetic-llama-80m';
  await server.addRepo(repo, files);
  const data = server.fileOf(repo, 'onnx/model.onnx_data');
  const sha = data.lfs?.sha256 as string;
  const blobs = join(hfHome, 'hub', 'models--bench--synthetic-llama-80m', 'blobs');
  const partial = join(blobs, `${sha}.incomplete`);
  console.log(`model: ${repo}, onnx/model.onnx_data ${formatBytes(data.size)} (sha256 ${sha.slice(0, 12)}…); server rate capped at 20 MB/s for this run`);

  server.throttleBytesPerSec = 20e6;
  const first = cli(['pull', repo, '--variant', 'fp32']);
  let have = 0;
  for (let i = 0; i < 2000 && have < data.size / 2; i += 1) {
    await sleep(10);
    have = await stat(partial).then((s) => s.size, () => 0);
  }
  first.kill('SIGINT');
  const interrupted = await first;
  server.throttleBytesPerSec = undefined;
  const left = await readdir(blobs);
  const partialBytes = await stat(partial).then((s) => s.size, () => 0);
  const stack = /\n\s+at .+:\d+:\d+/.test(String(interrupted.stderr));
  console.log(`SIGINT sent at ${formatBytes(have)} of ${formatBytes(data.size)} → exit ${interrupted.exitCode}, stack trace: ${stack ? 'YES' : 'none'}`);
  console.log(`  stderr: ${String(interrupted.stderr).split('\n').filter((l) => l.startsWith('Error')).join(' | ')}`);
  console.log(`  blobs/ after: ${left.filter((b) => b.endsWith('.incomplete')).length} .incomplete (${formatBytes(partialBytes)}), ${left.filter((b) => !b.endsWith('.incomplete')).length} complete small blobs; final blob present: ${left.includes(sha)}; snapshots/: ${existsSync(join(blobs, '..', 'snapshots')) ? 'present' : 'absent'}`);
  if (interrupted.exitCode !== 130 || stack || !left.includes(`${sha}.incomplete`) || left.includes(sha)) throw new Error('interruption did not behave');

  const requestsBefore = server.contentRequests('onnx/model.onnx_data').length;
  const started = performance.now();
  const second = await cli(['pull', repo, '--variant', 'fp32', '--json']);
  const wallMs = performance.now() - started;
  if (second.exitCode !== 0) throw new Error(`resume failed: ${String(second.stderr)}`);
  const result = JSON.parse(String(second.stdout));
  const resumedRequests = server.contentRequests('onnx/model.onnx_data').slice(requestsBefore);
  const pulled = result.files.find((f: { path: string }) => f.path === 'onnx/model.onnx_data');
  const onDisk = await sha256File(join(result.path, 'onnx', 'model.onnx_data'));
  console.log(`second run: exit 0 in ${formatDuration(wallMs)}; request Range: ${resumedRequests.map((r) => r.range ?? 'none').join(', ')} → HTTP ${resumedRequests.map((r) => r.status).join(', ')}`);
  console.log(`  transferred ${formatBytes(result.transferredBytes)} (server sent ${formatBytes(resumedRequests.reduce((s, r) => s + r.bytesSent, 0))}), resumed from ${formatBytes(pulled.resumedFromBytes)}; file ${formatBytes(data.size)}`);
  console.log(`  verified: sha256 of the snapshot file ${onDisk === sha ? 'matches' : 'DIFFERS from'} the Hub's LFS oid; no .incomplete left: ${!existsSync(partial)}`);

  const bench = await cli(['bench', result.path, '--tests', 'pp32+tg16', '--repetitions', '3', '--warmup', '1', '--json']);
  if (bench.exitCode !== 0) {
    console.log(`bench on the pulled snapshot failed (exit ${bench.exitCode}): ${String(bench.stderr).split('\n')[0]}`);
    return;
  }
  const report = JSON.parse(String(bench.stdout));
  const row = report.results?.[0];
  const metrics = row?.metrics ?? {};
  const decode = (metrics.decode_tps as { p50?: number } | undefined)?.p50;
  const prefill = (metrics.prefill_tps as { p50?: number } | undefined)?.p50;
  console.log(`bench on the pulled snapshot (pp32+tg16, 3 repetitions): status ${row?.status}, self-check ${row?.load?.self_check?.passed ? 'passed' : 'not passed'}, files_sha256 of model.onnx_data ${row?.model?.files_sha256?.['onnx/model.onnx_data'] === sha ? 'matches the Hub' : 'differs'}${prefill !== undefined ? `, prefill ${prefill.toFixed(0)} tok/s` : ''}${decode !== undefined ? `, decode ${decode.toFixed(1)} tok/s (median)` : ''}`);
}

async function streamLargeFile(): Promise<void> {
  console.log(`\n## 2. Streaming a ${SIZE_MIB} MiB file (${RUNS} runs, unthrottled loopback)`);
  const bigPath = join(work, 'big.onnx_data');
  const sha = await writeLargeFile(bigPath, SIZE_MIB * 1024 * 1024);
  const repo = 'bench/one-gig';
  await server.addRepo(repo, [
    { path: 'config.json', data: Buffer.from('{"model_type":"llama"}\n') },
    { path: 'onnx/model.onnx', data: randomBytes(4096) },
    { path: 'onnx/model.onnx_data', sourcePath: bigPath, sha256: sha },
  ]);
  await server.addRepo('bench/tiny', [
    { path: 'config.json', data: Buffer.from('{"model_type":"llama"}\n') },
    { path: 'onnx/model.onnx', data: randomBytes(4096) },
  ]);
  const repoDir = join(hfHome, 'hub', 'models--bench--one-gig');

  const tiny = await measured(['pull', 'bench/tiny', '--variant', 'fp32', '--json']);
  console.log(`reference: pull of a 4 KiB model: peak RSS ${formatBytes(tiny.peakRssKiB * 1024)}, wall ${formatDuration(tiny.wallMs)}`);

  const rows: { transferMBps: number; wallMs: number; peakKiB: number }[] = [];
  for (let run = 1; run <= RUNS; run += 1) {
    await rm(repoDir, { recursive: true, force: true });
    const before = server.contentRequests('onnx/model.onnx_data').length;
    const m = await measured(['pull', repo, '--variant', 'fp32', '--json']);
    if (m.exitCode !== 0) throw new Error(`pull failed: ${m.stderr}`);
    const request = server.contentRequests('onnx/model.onnx_data').slice(before)[0];
    const transferMs = request ? request.endedMs - request.startedMs : NaN;
    const bytes = request?.bytesSent ?? 0;
    rows.push({ transferMBps: bytes / (transferMs / 1000), wallMs: m.wallMs, peakKiB: m.peakRssKiB });
    console.log(`run ${run}: ${formatBytes(bytes)} in ${formatDuration(transferMs)} on the wire (${formatBandwidth(bytes / (transferMs / 1000))}); command wall ${formatDuration(m.wallMs)} incl. start-up, listing, verify, fsync; peak RSS ${formatBytes(m.peakRssKiB * 1024)}`);
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const file = SIZE_MIB * 1024 * 1024;
  console.log(`\nmedian of ${RUNS}: throughput ${formatBandwidth(median(rows.map((r) => r.transferMBps)))} on the wire, ${formatBandwidth(file / (median(rows.map((r) => r.wallMs)) / 1000))} end to end; peak RSS ${formatBytes(median(rows.map((r) => r.peakKiB)) * 1024)} for a ${formatBytes(file)} file (tiny-model pull: ${formatBytes(tiny.peakRssKiB * 1024)})`);
  const verified = await sha256File(join(repoDir, 'blobs', sha)).then((h) => h === sha);
  console.log(`the cached ${formatBytes(file)} blob verifies against its sha256: ${verified}`);
}

/** Runs the CLI and samples its peak resident set (VmHWM) until it exits. */
async function measured(cliArgs: string[]): Promise<{ exitCode: number | undefined; wallMs: number; peakRssKiB: number; stderr: string }> {
  const started = performance.now();
  const child = cli(cliArgs);
  let peak = 0;
  const sample = async (): Promise<void> => {
    try {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (hwm) peak = Math.max(peak, Number(hwm[1]));
    } catch {
      // The process has exited.
    }
  };
  const timer = setInterval(() => void sample(), 20);
  const result = await child;
  clearInterval(timer);
  return { exitCode: result.exitCode, wallMs: performance.now() - started, peakRssKiB: peak, stderr: String(result.stderr) };
}

/** Writes `size` bytes of incompressible data in 8 MiB blocks and returns its sha256. */
async function writeLargeFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const block = randomBytes(8 * 1024 * 1024);
  const handle = await open(path, 'w');
  try {
    for (let written = 0, i = 0; written < size; i += 1) {
      // Vary each block so the file is not one block repeated.
      block.writeUInt32LE(i, 0);
      const part = block.subarray(0, Math.min(block.length, size - written));
      await handle.write(part);
      hash.update(part);
      written += part.length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
