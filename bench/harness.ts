/**
 * `npm run bench:harness`: the benchmark harness measured on real architectures, side by side in one run.
 *
 * Builds SmolLM2-135M and Qwen2.5-0.5B with synthetic weights (`synth`, fp32) and their int4 variants
 * (`quantize`: MatMulNBits, block 32, symmetric, accuracy level 4) into a cache folder (reused on later
 * runs), then runs `pp512`, `tg128`, `tg128@d512` and `pp512+tg128` for every model × variant × 1 and 2
 * threads through `runBench` (each variant in its own child process, self-check first). The matrix runs in
 * ROUNDS whose order alternates, so fp32 and int4 are measured interleaved on this noisy machine; the
 * figures are medians over all repetitions of all rounds.
 *
 * Prints: decode tok/s, prefill tok/s, TTFT, peak RSS and KV bytes per combination; the int4 ÷ fp32 speed
 * ratio; the harness's own share of each decode step (time outside session.run); and the ratios to the
 * reference figures measured before (llama.cpp, a bare onnxruntime-node loop, transformers.js).
 *
 * Environment: HARNESS_DIR (cache, default ~/.cache/modelscout/harness), HARNESS_MODELS (comma list of
 * catalog ids), HARNESS_TESTS, HARNESS_THREADS, HARNESS_VARIANTS (fp32,q4), HARNESS_ROUNDS (default 2),
 * HARNESS_REPS (repetitions per round, default 2), HARNESS_WARMUP (default 1).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { resolveBenchPlan } from '../src/bench/config.js';
import { runBench } from '../src/bench/index.js';
import type { VariantName } from '../src/estimate/weights.js';
import { percentileSorted } from '../src/report/stats.js';
import { quantizeModel } from '../src/quantize/index.js';
import { synthesizeModel } from '../src/onnx/synth/index.js';
import type { BenchReport, BenchResult } from '../src/report/schema.js';

const env = process.env;
const list = (text: string | undefined, fallback: string[]): string[] => (text ? text.split(',').map((s) => s.trim()).filter(Boolean) : fallback);

const cacheDir = env.HARNESS_DIR ?? join(homedir(), '.cache', 'modelscout', 'harness');
const models = list(env.HARNESS_MODELS, ['smollm2-135m', 'qwen2.5-0.5b']);
const tests = list(env.HARNESS_TESTS, ['pp512', 'tg128', 'tg128@d512', 'pp512+tg128']);
const threads = list(env.HARNESS_THREADS, ['1', '2']).map(Number);
const variants = list(env.HARNESS_VARIANTS, ['fp32', 'q4']) as VariantName[];
const rounds = Number(env.HARNESS_ROUNDS ?? 2);
const reps = Number(env.HARNESS_REPS ?? 2);
const warmup = Number(env.HARNESS_WARMUP ?? 1);

const log = (line: string): void => void process.stderr.write(`${line}\n`);

function median(values: readonly number[]): number | null {
  return values.length === 0 ? null : percentileSorted([...values].sort((a, b) => a - b), 50);
}

/** Synthesizes (fp32) and quantizes (int4) a catalog model into the cache, unless already there. */
async function prepare(id: string): Promise<string> {
  const dir = join(cacheDir, `${id}-synthetic`);
  if (!existsSync(join(dir, 'onnx', 'model.onnx'))) {
    log(`synth ${id} (fp32) → ${dir}`);
    await synthesizeModel({ source: id, dtype: 'fp32', seed: 0, outDir: dir });
  }
  if (variants.includes('q4') && !existsSync(join(dir, 'onnx', 'model_q4.onnx'))) {
    log(`quantize ${id} → int4 (block 32, symmetric, accuracy level 4)`);
    await quantizeModel(dir, { blockSize: 32, symmetric: true, accuracyLevel: 4, fidelity: false });
  }
  return dir;
}

interface Cell {
  model: string;
  variant: string;
  threads: number;
  test: string;
  decode: number[];
  prefill: number[];
  ttft: number[];
  overhead: number[];
  rssPeak: number;
  kvBytes: number | null;
  kvAgrees: boolean | null;
  errors: string[];
}

function cellKey(r: BenchResult): string {
  return `${r.model.id}|${r.variant.name}|${r.config.threads}|${r.test.id}`;
}

function collect(reports: BenchReport[]): Map<string, Cell> {
  const cells = new Map<string, Cell>();
  for (const report of reports) {
    for (const r of report.results) {
      const key = cellKey(r);
      const cell = cells.get(key) ?? { model: r.model.id.replace(/-synthetic$/, ''), variant: r.variant.name, threads: r.config.threads, test: r.test.id, decode: [], prefill: [], ttft: [], overhead: [], rssPeak: 0, kvBytes: null, kvAgrees: null, errors: [] };
      cells.set(key, cell);
      if (r.status !== 'ok') {
        cell.errors.push(r.error?.message ?? 'error');
        continue;
      }
      const b = r.test.batch_size;
      for (const s of r.samples) {
        if (s.decode_ms !== null && s.decode_steps > 0) cell.decode.push(((b * s.decode_steps) / s.decode_ms) * 1000);
        if (s.prefill_ms !== null) cell.prefill.push(((b * r.test.n_prompt) / s.prefill_ms) * 1000);
        if (s.ttft_ms !== null) cell.ttft.push(s.ttft_ms);
        if (s.harness_overhead_pct !== null) cell.overhead.push(s.harness_overhead_pct);
      }
      cell.rssPeak = Math.max(cell.rssPeak, r.memory.rss_peak_bytes ?? 0);
      cell.kvBytes = r.kv_cache?.measured_bytes ?? null;
      cell.kvAgrees = r.kv_cache?.agrees ?? null;
    }
  }
  return cells;
}

const fmt = (v: number | null, digits = 1): string => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const mib = (b: number | null): string => (b === null || b === 0 ? '–' : `${(b / 1024 / 1024).toFixed(1)} MiB`);

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Reference figures measured before this harness existed (2 threads, decode after a 512-token prompt). */
const REFERENCES: { model: string; test: string; metric: 'prefill' | 'decode'; variant: string; engine: string; value: number }[] = [
  { model: 'qwen2.5-0.5b', test: 'pp512', metric: 'prefill', variant: 'q4', engine: 'llama.cpp Q4_0 (mid of 434–497)', value: 465 },
  { model: 'qwen2.5-0.5b', test: 'pp512', metric: 'prefill', variant: 'q4', engine: 'bare ORT loop int4', value: 205 },
  { model: 'qwen2.5-0.5b', test: 'pp512', metric: 'prefill', variant: 'q4', engine: 'transformers.js q4', value: 193 },
  { model: 'qwen2.5-0.5b', test: 'pp512', metric: 'prefill', variant: 'fp32', engine: 'bare ORT loop fp32', value: 163 },
  { model: 'qwen2.5-0.5b', test: 'tg128@d512', metric: 'decode', variant: 'q4', engine: 'llama.cpp Q4_0', value: 61 },
  { model: 'qwen2.5-0.5b', test: 'tg128', metric: 'decode', variant: 'q4', engine: 'llama.cpp Q4_0 (depth 0)', value: 70 },
  { model: 'qwen2.5-0.5b', test: 'tg128@d512', metric: 'decode', variant: 'q4', engine: 'bare ORT loop int4', value: 43 },
  { model: 'qwen2.5-0.5b', test: 'tg128@d512', metric: 'decode', variant: 'q4', engine: 'transformers.js q4', value: 33 },
  { model: 'qwen2.5-0.5b', test: 'tg128@d512', metric: 'decode', variant: 'fp32', engine: 'bare ORT loop fp32', value: 12 },
  { model: 'smollm2-135m', test: 'pp512', metric: 'prefill', variant: 'q4', engine: 'llama.cpp Q4_0', value: 1136 },
  { model: 'smollm2-135m', test: 'pp512', metric: 'prefill', variant: 'q4', engine: 'bare ORT loop int4', value: 518 },
  { model: 'smollm2-135m', test: 'tg128@d512', metric: 'decode', variant: 'q4', engine: 'llama.cpp Q4_0', value: 112 },
  { model: 'smollm2-135m', test: 'tg128', metric: 'decode', variant: 'q4', engine: 'llama.cpp Q4_0 (depth 0)', value: 155 },
  { model: 'smollm2-135m', test: 'tg128@d512', metric: 'decode', variant: 'q4', engine: 'bare ORT loop int4', value: 36 },
];

async function main(): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const dirs: string[] = [];
  for (const id of models) dirs.push(await prepare(id));
  const reports: BenchReport[] = [];
  const started = Date.now();
  for (let round = 0; round < rounds; round += 1) {
    // Alternate the order between rounds so neither variant always runs first (or while the other helpers
    // on this machine happen to be busy).
    const order = round % 2 === 0 ? dirs : [...dirs].reverse();
    const vOrder = round % 2 === 0 ? variants : [...variants].reverse();
    const tOrder = round % 2 === 0 ? threads : [...threads].reverse();
    const plan = resolveBenchPlan({}, { models: order, variants: vOrder, threads: tOrder, tests, repetitions: reps, warmup, seed: 42 });
    log(`round ${round + 1}/${rounds}`);
    const report = await runBench({
      plan,
      tool: { name: 'modelscout', version: 'harness' },
      argv: ['bench:harness'],
      onProgress: (message, level) => {
        if (level === 'group') log(`  ${message}`);
      },
    });
    reports.push(report);
    await writeFile(join(cacheDir, `harness-round-${round + 1}.json`), `${JSON.stringify(report, null, 2)}\n`);
  }
  const minutes = (Date.now() - started) / 60000;
  const cells = collect(reports);
  const env0 = reports[0]?.environment;
  const out: string[] = [];
  out.push(`## modelscout bench harness — synthetic weights (speed and memory are real, text is not)`);
  out.push('');
  out.push(`${env0?.cpu.model ?? '?'} (${env0?.cpu.cores ?? '?'} cores, ${env0?.cpu.features.join(' ') ?? ''}), onnxruntime-node ${env0?.onnxruntime ?? '?'}, node ${process.version}; ${rounds} interleaved rounds × ${reps} repetitions (+${warmup} warm-up), ${minutes.toFixed(1)} min. Medians over all repetitions.`);
  out.push('');
  const rows: string[][] = [];
  for (const c of cells.values()) {
    rows.push([
      c.model,
      c.variant === 'q4' ? 'int4' : c.variant,
      String(c.threads),
      c.test,
      c.errors.length ? `error: ${c.errors[0]}` : fmt(median(c.prefill), 0),
      fmt(median(c.decode)),
      fmt(median(c.ttft), 0),
      mib(c.rssPeak),
      c.kvBytes === null ? '–' : `${mib(c.kvBytes)}${c.kvAgrees === false ? ' ≠' : ''}`,
      c.overhead.length ? `${fmt(median(c.overhead), 2)} / ${fmt(Math.max(...c.overhead), 2)}` : '–',
      String(Math.max(c.decode.length, c.prefill.length)),
    ]);
  }
  out.push(table(['model', 'variant', 'threads', 'test', 'prefill tok/s', 'decode tok/s', 'TTFT ms', 'peak RSS', 'KV cache', 'harness overhead % (median / max)', 'n'], rows));
  out.push('');
  out.push('### int4 ÷ fp32 (same model, threads and test)');
  out.push('');
  const ratioRows: string[][] = [];
  for (const c of cells.values()) {
    if (c.variant !== 'q4') continue;
    const base = [...cells.values()].find((x) => x.model === c.model && x.variant === 'fp32' && x.threads === c.threads && x.test === c.test);
    if (!base) continue;
    const r = (a: number[], b: number[]): string => {
      const ma = median(a);
      const mb = median(b);
      return ma === null || mb === null ? '–' : `${(ma / mb).toFixed(2)}×`;
    };
    ratioRows.push([c.model, String(c.threads), c.test, r(c.prefill, base.prefill), r(c.decode, base.decode)]);
  }
  out.push(table(['model', 'threads', 'test', 'prefill int4÷fp32', 'decode int4÷fp32'], ratioRows));
  out.push('');
  out.push('### Against the reference figures (2 threads)');
  out.push('');
  const refRows: string[][] = [];
  for (const ref of REFERENCES) {
    const c = [...cells.values()].find((x) => x.model === ref.model && x.variant === ref.variant && x.threads === 2 && x.test === ref.test);
    if (!c) continue;
    const value = median(ref.metric === 'prefill' ? c.prefill : c.decode);
    refRows.push([ref.model, ref.variant === 'q4' ? 'int4' : ref.variant, ref.test, ref.metric, fmt(value), `${ref.engine}: ${ref.value}`, value === null ? '–' : `${(value / ref.value).toFixed(2)}×`]);
  }
  out.push(table(['model', 'variant', 'test', 'metric', 'this harness tok/s', 'reference tok/s', 'ratio'], refRows));
  out.push('');
  const allOverhead = [...cells.values()].flatMap((c) => c.overhead);
  const realOverhead = [...cells.values()].filter((c) => c.test.includes('tg')).map((c) => median(c.overhead)).filter((v): v is number => v !== null);
  out.push(`Harness overhead (time outside session.run per decode step): median ${fmt(median(allOverhead), 3)}% over all decode repetitions; worst combination median ${fmt(realOverhead.length ? Math.max(...realOverhead) : null, 3)}% (target ≤ 1%).`);
  out.push(`Reports: ${join(cacheDir, 'harness-round-*.json')}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
