/**
 * `npm run bench:synth`: builds the Qwen2.5-0.5B architecture at fp32 (~2 GB) with `modelscout synth` in a
 * child process, several times, and prints the wall time and peak RSS of each run with their medians
 * (targets: ≤ 30 s, ≤ 1 GiB: the weights are generated, written and dropped tensor by tensor). Then runs
 * `inspect` on the result and on an fp16 build and prints the decoder layout it reports (24 layers, 2 KV
 * heads, head dim 64, 24,576 KV bytes per token at fp32, 12,288 at fp16).
 *
 * Environment: BENCH_REPS (default 3), BENCH_MODEL (default qwen2.5-0.5b), BENCH_DIR (default a temp dir,
 * removed afterwards). Models go to the temp dir, never into the repository.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const reps = Number(process.env.BENCH_REPS ?? 3);
const model = process.env.BENCH_MODEL ?? 'qwen2.5-0.5b';

interface RunFigures {
  wallS: number;
  peakRssMiB: number;
  how: string;
}

function build(): void {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) process.stderr.write(`tsc reported problems (continuing with what was emitted):\n${r.stdout}${r.stderr}\n`);
}

/** Runs the CLI; peak RSS from /usr/bin/time -v when present, else by sampling VmHWM in /proc. */
async function runCli(args: string[]): Promise<RunFigures & { stdout: string }> {
  const useTime = existsSync('/usr/bin/time');
  const command = useTime ? '/usr/bin/time' : process.execPath;
  const argv = useTime ? ['-v', process.execPath, 'bin/run.js', ...args] : ['bin/run.js', ...args];
  const started = performance.now();
  const child = spawn(command, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let sampledKiB = 0;
  const sampler = useTime
    ? null
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) sampledKiB = Math.max(sampledKiB, Number(m[1]));
        } catch {
          // The process has exited.
        }
      }, 50);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (sampler) clearInterval(sampler);
  const wallS = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`modelscout ${args.join(' ')} exited ${code}:\n${stderr}`);
  const timeKiB = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const peakKiB = timeKiB ? Number(timeKiB[1]) : sampledKiB;
  return { wallS, peakRssMiB: peakKiB / 1024, how: timeKiB ? '/usr/bin/time -v' : 'VmHWM sampled every 50 ms', stdout };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface InspectJson {
  totalBytes: number;
  parameters: number;
  decoder: { numLayers: number; numKvHeads: number; headDim: number; kvDtype: string; kvBytesPerToken: number } | null;
  synthetic: boolean;
}

async function main(): Promise<void> {
  build();
  const dir = process.env.BENCH_DIR ?? (await mkdtemp(join(tmpdir(), 'modelscout-bench-synth-')));
  try {
    console.log(`synth ${model} --dtype fp32, ${reps} runs, output in ${dir}`);
    const runs: RunFigures[] = [];
    for (let i = 0; i < reps; i++) {
      const out = join(dir, 'fp32');
      const r = await runCli(['synth', model, '--dtype', 'fp32', '--out', out, '--json']);
      runs.push(r);
      console.log(`  run ${i + 1}: wall ${r.wallS.toFixed(2)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB (${r.how})`);
    }
    console.log(`  median: wall ${median(runs.map((r) => r.wallS)).toFixed(2)} s (target ≤ 30 s), peak RSS ${median(runs.map((r) => r.peakRssMiB)).toFixed(0)} MiB (target ≤ 1024 MiB)`);

    for (const dtype of ['fp32', 'fp16'] as const) {
      if (dtype === 'fp16') {
        const r = await runCli(['synth', model, '--dtype', 'fp16', '--out', join(dir, 'fp16'), '--json']);
        console.log(`synth ${model} --dtype fp16: wall ${r.wallS.toFixed(2)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
      }
      const inspected = await runCli(['inspect', join(dir, dtype), ...(dtype === 'fp16' ? ['--variant', 'fp16'] : []), '--json']);
      const report = JSON.parse(inspected.stdout) as InspectJson;
      const d = report.decoder;
      console.log(
        `inspect (${dtype}): ${(report.totalBytes / 2 ** 30).toFixed(2)} GiB, ${report.parameters.toLocaleString('en-US')} parameters, synthetic ${report.synthetic}; ` +
          (d ? `${d.numLayers} layers, ${d.numKvHeads} KV heads, head dim ${d.headDim}, KV cache ${d.kvBytesPerToken.toLocaleString('en-US')} bytes/token at ${d.kvDtype}` : 'no decoder detected'),
      );
    }
  } finally {
    if (!process.env.BENCH_DIR) await rm(dir, { recursive: true, force: true });
  }
}

await main();
