/**
 * The fused graph against the standard graph, on this machine.
 *
 * For each model shape (synthetic weights, int4 block 32, symmetric, accuracy level 4) it builds the
 * standard-op graph and the fused graph from the same seed, quantizes both with modelscout's quantizer,
 * and measures, for 1 and 2 intra-op threads, interleaved repetition by repetition:
 *   pp512       prefill of 512 tokens (fused: num_logits_to_keep = 1)           → tokens / s
 *   tg128       128 greedy tokens after a 1-token prompt (llama-bench's tg128)  → tokens / s
 *   tg128@d512  128 greedy tokens after a 512-token prompt                     → tokens / s
 * for four variants: standard graph (growing KV cache), fused graph (growing KV cache), fused graph with one
 * preallocated KV buffer shared by past and present, and fused graph with the appended layout (the graph
 * returns only the new positions; the harness keeps the cache). Each measurement is a `modelscout bench`
 * child process (`--per-child` repetitions after one warm-up: the shipped harness, in a fresh process, as
 * users run it); the variants take turns, round by round. Medians over all repetitions are printed. A ratio
 * against llama.cpp counts only from one interleaved run of both (docs/benchmarks.md): figures from another
 * day are not a baseline, so none is built in here. `--loop inprocess` instead
 * times a bare loop inside this process (standard, fused, fused-prealloc only).
 *
 * Usage: npm run bench:fused [-- --models qwen2.5-0.5b,smollm2-135m --threads 1,2 --reps 5 --per-child 2
 *                               --variants standard,fused,fused-prealloc,fused-appended
 *                               --gen 128 --depth 512 --prompt 512 --cache DIR --profile --json FILE]
 * Needs the built CLI (`npm run build`, done by `npm ci`).
 * Models are built once into --cache (default: $TMPDIR/modelscout-bench-fused) and reused.
 */
import { existsSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildFusedDecoderModel } from '../src/onnx/fused/build-fused-decoder.js';
import type { BuiltModel } from '../src/onnx/graph-builder.js';
import { writeModel } from '../src/onnx/model-io.js';
import { planSynth } from '../src/onnx/synth/index.js';
import { buildDecoderModel } from '../src/onnx/synth/build-decoder.js';
import type { SynthArchitecture } from '../src/onnx/synth/architecture.js';
import { quantizeModel } from '../src/quantize/index.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const MODELS = option('models', 'qwen2.5-0.5b,smollm2-135m').split(',');
const THREADS = option('threads', '1,2').split(',').map(Number);
const REPS = Number(option('reps', '5'));
const GEN = Number(option('gen', '128'));
const DEPTH = Number(option('depth', '512'));
const PROMPT = Number(option('prompt', '512'));
/** `cli`: each measurement is a `modelscout bench` child process (what users run); `inprocess`: a bare loop here. */
const LOOP = option('loop', 'cli');
const PER_CHILD = Number(option('per-child', '2'));
const CACHE = option('cache', join(os.tmpdir(), 'modelscout-bench-fused'));
const SEED = 42;
const execFileP = promisify(execFile);

type Variant = 'standard' | 'fused' | 'fused-prealloc' | 'fused-appended';
const LAYOUT: Record<Variant, 'growing' | 'preallocated' | 'appended'> = { standard: 'growing', fused: 'growing', 'fused-prealloc': 'preallocated', 'fused-appended': 'appended' };
const VARIANTS = option('variants', 'standard,fused,fused-prealloc,fused-appended').split(',') as Variant[];
type Test = 'pp512' | 'tg128' | 'tg128@d512';

interface Built {
  arch: SynthArchitecture;
  standard: string;
  fused: string;
}

async function buildQuantized(name: string, dir: string, built: () => BuiltModel): Promise<string> {
  const q4 = join(dir, `${name}-q4`, 'onnx', 'model_q4.onnx');
  if (existsSync(q4)) return q4;
  const floatPath = join(dir, name, 'onnx', 'model.onnx');
  process.stderr.write(`building ${floatPath}\n`);
  const b = built();
  await writeModel(floatPath, b.model, { tensorData: b.tensorData });
  process.stderr.write(`quantizing → ${q4}\n`);
  await quantizeModel(floatPath, { out: join(dir, `${name}-q4`), blockSize: 32, symmetric: true, accuracyLevel: 4, fidelity: false });
  await rm(join(dir, name), { recursive: true, force: true });
  return q4;
}

async function prepare(id: string): Promise<Built> {
  const { arch } = await planSynth({ source: id, seed: SEED });
  const dir = join(CACHE, id);
  const maxLength = Math.max(PROMPT, DEPTH) + GEN + 1;
  const standard = await buildQuantized('standard', dir, () => buildDecoderModel({ arch, layers: arch.numLayers, dtype: 'fp32', seed: SEED }));
  const fused = await buildQuantized('fused', dir, () => buildFusedDecoderModel({ arch, layers: arch.numLayers, dtype: 'fp32', seed: SEED, maxLength: Math.max(maxLength, 2048) }));
  return { arch, standard, fused };
}

/**
 * One `modelscout bench` child process (the shipped harness, a fresh process, as users run it): the
 * three tests, `PER_CHILD` timed repetitions each after one warm-up. Returns every repetition's figure.
 */
async function cliBench(model: string, threads: number, layout: 'growing' | 'preallocated' | 'appended'): Promise<Record<Test, number[]>> {
  const tests = [`pp${PROMPT}`, `tg${GEN}`, `tg${GEN}@d${DEPTH}`];
  const args = ['bin/run.js', 'bench', model, '--tests', tests.join(','), '--threads', String(threads), '--kv-layout', layout, '--repetitions', String(PER_CHILD), '--warmup', '1', '--json'];
  const { stdout } = await execFileP(process.execPath, args, { maxBuffer: 256 * 1024 * 1024 });
  const report = JSON.parse(stdout) as { results: { test: { id: string }; status: string; error: unknown; samples: { prefill_ms: number | null; decode_ms: number | null; decode_steps: number }[] }[] };
  const out: Record<Test, number[]> = { pp512: [], tg128: [], 'tg128@d512': [] };
  for (const res of report.results) {
    if (res.status !== 'ok') throw new Error(`modelscout bench ${model} ${res.test.id}: ${res.status} ${JSON.stringify(res.error)}`);
    const key: Test = res.test.id === tests[0] ? 'pp512' : res.test.id === tests[1] ? 'tg128' : 'tg128@d512';
    for (const sample of res.samples) {
      if (key === 'pp512') out[key].push((PROMPT / (sample.prefill_ms as number)) * 1000);
      else out[key].push((sample.decode_steps / (sample.decode_ms as number)) * 1000);
    }
  }
  return out;
}

/** A bare greedy loop: times only session.run. */
class Runner {
  readonly session: ort.InferenceSession;
  readonly arch: SynthArchitecture;
  readonly prealloc: boolean;
  readonly hasPositions: boolean;
  readonly hasKeep: boolean;
  constructor(session: ort.InferenceSession, arch: SynthArchitecture, prealloc: boolean) {
    this.session = session;
    this.arch = arch;
    this.prealloc = prealloc;
    this.hasPositions = session.inputNames.includes('position_ids');
    this.hasKeep = session.inputNames.includes('num_logits_to_keep');
  }

  /** Prefill `prompt` tokens then `gen` greedy steps; returns ms of the prefill run and of all steps. */
  async generate(prompt: number, gen: number): Promise<{ prefillMs: number; decodeMs: number }> {
    const { numLayers: L, numKvHeads: kvh, headDim: hd, vocabSize: V } = this.arch;
    const capacity = prompt + gen;
    const feeds: Record<string, ort.Tensor> = {};
    const fetches: Record<string, ort.Tensor | null> = { logits: null };
    for (let l = 0; l < L; l++) {
      for (const kv of ['key', 'value']) {
        const t = this.prealloc
          ? new ort.Tensor('float32', new Float32Array(kvh * capacity * hd), [1, kvh, capacity, hd])
          : new ort.Tensor('float32', new Float32Array(0), [1, kvh, 0, hd]);
        feeds[`past_key_values.${l}.${kv}`] = t;
        if (this.prealloc) fetches[`present.${l}.${kv}`] = t;
      }
    }
    const ids = new BigInt64Array(prompt);
    for (let i = 0; i < prompt; i++) ids[i] = BigInt(((i * 7919 + 13) % (V - 10)) + 5);
    const ones = new BigInt64Array(capacity).fill(1n);
    const argmaxLast = (logits: ort.Tensor): number => {
      const d = logits.data as Float32Array;
      const base = d.length - V;
      let best = 0;
      for (let i = 1; i < V; i++) if ((d[base + i] as number) > (d[base + best] as number)) best = i;
      return best;
    };
    // Returns the next token, not the outputs: onnxruntime-node copies every fetched output (the whole
    // KV cache too) into new buffers, and holding them across the next run's await (an async function
    // keeps its locals alive) makes V8 promote them and mark-compact every few steps.
    const run = async (): Promise<{ ms: number; next: number }> => {
      const t0 = process.hrtime.bigint();
      const out = this.prealloc ? await this.session.run(feeds, fetches) : await this.session.run(feeds);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!this.prealloc) for (let l = 0; l < L; l++) for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`] as ort.Tensor;
      return { ms, next: argmaxLast(out.logits as ort.Tensor) };
    };
    const setStep = (tokens: BigInt64Array, total: number, n: number): void => {
      feeds.input_ids = new ort.Tensor('int64', tokens, [1, n]);
      feeds.attention_mask = new ort.Tensor('int64', ones.subarray(0, total), [1, total]);
      if (this.hasPositions) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(total - n + i)), [1, n]);
      if (this.hasKeep) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([1n]), []);
    };
    setStep(ids, prompt, prompt);
    const first = await run();
    let next = first.next;
    let decodeMs = 0;
    for (let s = 0; s < gen; s++) {
      setStep(BigInt64Array.from([BigInt(next)]), prompt + s + 1, 1);
      const r = await run();
      decodeMs += r.ms;
      next = r.next;
    }
    return { prefillMs: first.ms, decodeMs };
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? Number.NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

async function sessionFor(path: string, threads: number, profile = false): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(profile ? { enableProfiling: true, profileFilePrefix: join(CACHE, 'profile') } : {}),
  });
}

/** Kernel time per op type from an ONNX Runtime profile: prefill (first run) and per decode step. */
function summarizeProfile(file: string): { prefill: [string, number][]; decode: [string, number][]; steps: number } {
  const events = JSON.parse(readFileSync(file, 'utf8')) as { name: string; cat: string; ts: number; dur: number; args?: { op_name?: string } }[];
  const runs = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const first = runs[0]!;
  const prefill = new Map<string, number>();
  const decode = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const inFirst = e.ts >= first.ts && e.ts <= first.ts + first.dur;
    const m = inFirst ? prefill : decode;
    m.set(op, (m.get(op) ?? 0) + e.dur / 1000);
  }
  const steps = runs.length - 1;
  const sort = (m: Map<string, number>, div: number): [string, number][] => [...m.entries()].map(([k, v]) => [k, v / div] as [string, number]).sort((a, b) => b[1] - a[1]);
  return { prefill: sort(prefill, 1), decode: sort(decode, Math.max(1, steps)), steps };
}

type Results = Record<string, Record<number, Record<Variant, Record<Test, number[]>>>>;

async function main(): Promise<void> {
  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.availableParallelism()}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`onnxruntime-node ${ort.env.versions.common}; int4 block 32, symmetric, accuracy level 4; ${REPS} interleaved repetitions`);
  const results: Results = {};
  /** 1-minute load average after each repetition: how busy the machine was while measuring. */
  const loads: number[] = [];
  const profiles: Record<string, unknown> = {};
  for (const id of MODELS) {
    const built = await prepare(id);
    results[id] = {};
    for (const threads of THREADS) {
      const r = Object.fromEntries(VARIANTS.map((v) => [v, { pp512: [], tg128: [], 'tg128@d512': [] }])) as unknown as Record<Variant, Record<Test, number[]>>;
      results[id][threads] = r;
      if (LOOP === 'cli') {
        for (let rep = 0; rep < REPS; rep++) {
          // Rotate the order each round so no variant always runs first.
          const order = VARIANTS.map((_, i) => VARIANTS[(i + rep) % VARIANTS.length]!);
          for (const v of order) {
            const m = await cliBench(v === 'standard' ? built.standard : built.fused, threads, LAYOUT[v]);
            for (const t of ['pp512', 'tg128', 'tg128@d512'] as const) r[v][t].push(...m[t]);
          }
          loads.push(os.loadavg()[0]!);
          process.stderr.write(`${id} threads ${threads} round ${rep + 1}/${REPS} done (load average ${os.loadavg()[0]!.toFixed(1)})\n`);
        }
      } else {
        const standard = await sessionFor(built.standard, threads);
        const fused = await sessionFor(built.fused, threads);
        if (VARIANTS.includes('fused-appended')) throw new Error('--loop inprocess has no fused-appended variant: leave it out of --variants');
        const runners: Record<Exclude<Variant, 'fused-appended'>, Runner> = {
          standard: new Runner(standard, built.arch, false),
          fused: new Runner(fused, built.arch, false),
          'fused-prealloc': new Runner(fused, built.arch, true),
        };
        // Warm-up: one short pass of each variant (allocator arenas, prepacked weights, page cache).
        const inprocess = VARIANTS as Exclude<Variant, 'fused-appended'>[];
        for (const v of inprocess) await runners[v].generate(32, 4);
        for (let rep = 0; rep < REPS; rep++) {
          const order = inprocess.map((_, i) => inprocess[(i + rep) % inprocess.length]!);
          for (const v of order) {
            const pp = await runners[v].generate(PROMPT, 0);
            r[v].pp512.push((PROMPT / pp.prefillMs) * 1000);
            const tg = await runners[v].generate(1, GEN);
            r[v].tg128.push((GEN / tg.decodeMs) * 1000);
            const tgd = await runners[v].generate(DEPTH, GEN);
            r[v]['tg128@d512'].push((GEN / tgd.decodeMs) * 1000);
          }
          loads.push(os.loadavg()[0]!);
          process.stderr.write(`${id} threads ${threads} rep ${rep + 1}/${REPS} done (load average ${os.loadavg()[0]!.toFixed(1)})\n`);
        }
        await standard.release();
        await fused.release();
      }
      if (flag('profile') && threads === Math.max(...THREADS)) {
        for (const [name, path, prealloc] of [['standard', built.standard, false], ['fused-prealloc', built.fused, true]] as const) {
          const s = await sessionFor(path, threads, true);
          await new Runner(s, built.arch, prealloc).generate(DEPTH, 32);
          s.endProfiling();
          await s.release();
          const file = readdirSync(CACHE).filter((f) => f.startsWith('profile') && f.endsWith('.json')).map((f) => join(CACHE, f)).sort().pop()!;
          const summary = summarizeProfile(file);
          unlinkSync(file);
          profiles[`${id}/${name}/threads${threads}`] = summary;
          console.log(`\nprofile ${id} ${name} (${threads} threads): kernel ms, prefill of ${DEPTH} tokens | per decode step at depth ${DEPTH}`);
          const ops = new Set([...summary.prefill.map((x) => x[0]), ...summary.decode.map((x) => x[0])]);
          const pTotal = summary.prefill.reduce((a, b) => a + b[1], 0);
          const dTotal = summary.decode.reduce((a, b) => a + b[1], 0);
          for (const op of [...ops].sort((a, b) => (summary.decode.find((x) => x[0] === b)?.[1] ?? 0) - (summary.decode.find((x) => x[0] === a)?.[1] ?? 0)).slice(0, 12)) {
            const p = summary.prefill.find((x) => x[0] === op)?.[1] ?? 0;
            const d = summary.decode.find((x) => x[0] === op)?.[1] ?? 0;
            console.log(`  ${op.padEnd(34)} ${p.toFixed(1).padStart(9)} (${((100 * p) / pTotal).toFixed(1).padStart(5)}%) | ${d.toFixed(3).padStart(8)} (${((100 * d) / dTotal).toFixed(1).padStart(5)}%)`);
          }
          console.log(`  ${'total'.padEnd(34)} ${pTotal.toFixed(1).padStart(9)}          | ${dTotal.toFixed(3).padStart(8)}`);
        }
      }
    }
  }

  console.log(`\nmedian tokens/s / best repetition`);
  console.log(`load average during the repetitions: median ${median(loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)} (${os.availableParallelism()} CPUs)`);
  const header = ['model', 'thr', 'variant', 'pp512', 'tg128', 'tg128@d512'];
  console.log(header.map((h, i) => (i < 3 ? h.padEnd(i === 0 ? 14 : i === 1 ? 4 : 15) : h.padStart(30))).join(''));
  for (const id of MODELS) {
    for (const threads of THREADS) {
      for (const v of VARIANTS) {
        const r = results[id]![threads]![v];
        const cell = (t: Test): string => {
          const m = median(r[t]);
          const best = Math.max(...r[t]);
          return `${m.toFixed(1)} / ${best.toFixed(0)}`.padStart(30);
        };
        console.log(`${id.padEnd(14)}${String(threads).padEnd(4)}${v.padEnd(15)}${cell('pp512')}${cell('tg128')}${cell('tg128@d512')}`);
      }
    }
  }
  const jsonOut = option('json', '');
  if (jsonOut) await writeFile(jsonOut, JSON.stringify({ results, profiles, reps: REPS, loads }, null, 2));
}

await main();
