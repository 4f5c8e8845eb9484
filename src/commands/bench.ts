import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { parseVariantList, readBenchConfig, resolveBenchPlan, type BenchConfigFile, type BenchFlagValues } from '../bench/config.js';
import { homedir } from 'node:os';
import { runBench } from '../bench/index.js';
import { calibrationHook, readCalibration, resolveCalibrationPath } from '../pipeline/calibration.js';
import { bandwidthCachePath } from '../hardware/bandwidth-cache.js';
import { detectHardware } from '../hardware/detect.js';
import { DEFAULT_UBATCH_SIZE } from '../estimate/fit.js';
import { DIRECT_MIN_DEPTH } from '../estimate/speed.js';
import { DEVICES, GRAPH_OPT_LEVELS, type Device } from '../runtime/session.js';
import { parseIntegerList } from '../bench/scenarios.js';
import { ModelscoutError, invalidValue } from '../errors.js';
import { renderJson, renderMarkdown, renderBenchTable } from '../report/render.js';
import type { BenchReport } from '../report/schema.js';
import { writeReportHtml } from '../pipeline/report-html.js';
import { decodeTpsByDepth } from '../report/depth-series.js';
import { VARIANT_FILES, VARIANT_NAMES } from '../estimate/weights.js';
import { depthSparklines } from '../ui/sparkline.js';
import { Progress } from '../ui/progress.js';
import { withInterrupts } from '../cli/interrupt.js';
import { writeReportOrSay } from '../cli/write-report.js';
import { assertWritableFile } from '../util/output-path.js';

const FORMATS = ['table', 'markdown', 'json'] as const;

/** A comma-separated flag value; given but empty (`--tests ''`) is a usage error, never the defaults. */
function list(text: string | undefined, flag: string, expected: string): string[] | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw invalidValue(flag, text, expected, [`Leave out ${flag} for the defaults.`]);
  return parts;
}

function devices(text: string | undefined): Device[] | undefined {
  const parts = list(text, '--device', `one or more of ${DEVICES.join(', ')}`);
  if (!parts) return undefined;
  return parts.map((p) => {
    if (!(DEVICES as readonly string[]).includes(p)) throw invalidValue('device', p, DEVICES, ['cpu works everywhere; cuda needs its execution provider (see docs/gpus.md).']);
    return p as Device;
  });
}

export default class Bench extends BaseCommand {
  static override summary = 'Benchmark ONNX decoder models with onnxruntime: prefill and decode tok/s, TTFT, latency percentiles, peak memory, KV cache.';
  static override description = `Tests use llama-bench names: pp<P> (prefill P tokens), tg<G> (G decode steps), pp<P>+tg<G> (a whole request), with @d<D> (KV cache first filled with D tokens) and /b<B> (B left-padded sequences of different lengths). Each model variant runs in its own child process with a self-check (incremental decoding must equal full recomputation) after its tests; a variant that fails it, or fails to run, is recorded and the others still run. Figures are median (mean ± sd) over --repetitions, beside the estimator's prediction.

Exit codes: 0 pass, 1 a run failed / a threshold was breached / a metric regressed against --baseline, 2 bad usage or input, 3 the comparison was inconclusive: noise (0 with --inconclusive-pass) or baseline results with no match now, e.g. another thread count (0 with --allow-missing).`;

  static override examples = [
    '<%= config.bin %> bench models/smollm2-135m-synthetic --tests pp512,tg128,pp512+tg128',
    '<%= config.bin %> bench models/qwen2.5-0.5b-synthetic --variant fp32,q4 --threads 1,2 --tests tg128@d512',
    '<%= config.bin %> bench ./model --prompt-lengths 128,512 --gen-tokens 64 --batch-sizes 1,4 --repetitions 10',
    '<%= config.bin %> bench --config modelscout.bench.json --baseline baseline.json --format markdown >> "$GITHUB_STEP_SUMMARY"',
    '<%= config.bin %> bench ./model --json --out report.json',
  ];

  static override strict = false;

  static override args = {
    model: Args.string({ description: 'model folder (config.json + onnx/model*.onnx) or .onnx file; several may be given', required: false }),
  };

  static override flags = {
    variant: Flags.string({ description: `weight variant(s), comma-separated, or all: ${VARIANT_NAMES.map((v) => `${v} (${VARIANT_FILES[v]})`).join(', ')} [default: fp32 when present]` }),
    device: Flags.string({ description: `execution provider(s), comma-separated: ${DEVICES.join(', ')} [default: cpu]` }),
    threads: Flags.string({ description: 'intra-op thread counts, comma-separated (0 = onnxruntime default) [default: 0]' }),
    'graph-opt-level': Flags.option({ options: GRAPH_OPT_LEVELS, description: 'onnxruntime graph optimization level [default: all]' })(),
    'kv-layout': Flags.option({
      options: ['auto', 'growing', 'preallocated', 'appended', 'direct'] as const,
      default: 'auto' as const,
      description: `KV cache: growing tensors; preallocated = one buffer per layer at full length, shared by past and present (GroupQueryAttention graphs); appended = the same buffers, the graph returning only the new positions (modelscout fused graphs); direct = buffers that grow with the cache, which decode steps deep in a context read in place (modelscout fused graphs); auto = for modelscout fused graphs on the CPU direct for tests that decode ${DIRECT_MIN_DEPTH}+ positions deep and appended for the others, growing otherwise (on WebGPU the growing cache stays on the GPU)`,
    })(),
    'ubatch-size': Flags.integer({ min: 0, description: `most prompt positions per forward pass, as llama.cpp's --ubatch-size: a longer prompt of one sequence runs as several passes, so activations are sized for one pass (0 = the whole prompt at once) [default: ${DEFAULT_UBATCH_SIZE}]` }),
    tests: Flags.string({ description: 'tests, comma-separated, e.g. pp512,tg128,pp512+tg128,tg128@d512,pp128+tg32/b4' }),
    'prompt-lengths': Flags.string({ description: 'prompt lengths for pp tests, e.g. 128,512 [default: 512]' }),
    'gen-tokens': Flags.string({ description: 'generated tokens for tg tests, e.g. 128 [default: 128]' }),
    depths: Flags.string({ description: 'KV cache depths (@d), e.g. 0,512' }),
    'batch-sizes': Flags.string({ description: 'batch sizes (/b), e.g. 1,4,8' }),
    repetitions: Flags.integer({ min: 1, description: 'timed repetitions per test [default: 5]' }),
    warmup: Flags.integer({ min: 0, description: 'warm-up runs per test, excluded [default: 1]' }),
    seed: Flags.integer({ description: 'seed of the synthetic prompt ids [default: 42]' }),
    format: Flags.option({ options: FORMATS, default: 'table' as const, description: 'stdout format (--json is the same as --format json)' })(),
    out: Flags.string({ description: 'also write the JSON report to this file (atomically)' }),
    html: Flags.string({ description: 'also write the report as one self-contained HTML page with charts (tok/s vs depth, speed vs memory, estimate vs measured, the comparison)', helpValue: 'FILE' }),
    config: Flags.string({ description: 'a modelscout.bench.json naming models, variants, tests and thresholds (flags win)' }),
    baseline: Flags.string({ description: 'an earlier report (--out) to compare against: per-metric verdicts' }),
    'target-tps': Flags.string({ aliases: ['min-decode-tps'], description: 'fail when a median decode tok/s is below this', helpValue: 'N' }),
    'max-ttft': Flags.string({ aliases: ['max-ttft-ms'], description: 'fail when a median TTFT in ms is above this', helpValue: 'MS' }),
    'max-peak-rss': Flags.string({ description: 'fail when a peak RSS is above this (e.g. 2GiB)' }),
    'max-regression-pct': Flags.string({ description: 'a change worse than this many percent (beyond noise) is a regression [default: 10]' }),
    'inconclusive-pass': Flags.boolean({ description: 'exit 0 instead of 3 when the comparison is inconclusive because of noise' }),
    'allow-missing': Flags.boolean({ description: 'baseline results with no match now are intended (removed tests): do not exit 3 for them' }),
    'no-self-check': Flags.boolean({ hidden: true, description: 'skip the correctness self-check (debugging only)' }),
  };

  async run(): Promise<BenchReport> {
    const { flags, argv } = await this.parse(Bench);
    // Models are variadic (strict = false), so oclif lets unknown flags through as arguments.
    const unknownFlag = (argv as string[]).find((a) => a.startsWith('-'));
    if (unknownFlag) throw new ModelscoutError('E_USAGE', `unknown flag ${unknownFlag}`, { suggestions: ['Run `modelscout bench --help` for the flags.'] });
    const positive = (name: string, text: string | undefined): number | undefined => {
      if (text === undefined) return undefined;
      const n = Number(text);
      if (!Number.isFinite(n) || n <= 0) throw invalidValue(name, text, 'a number greater than 0');
      return n;
    };
    const values: BenchFlagValues = {
      models: (argv as string[]).length > 0 ? (argv as string[]) : undefined,
      variants: flags.variant === undefined ? undefined : parseVariantList(flags.variant),
      devices: devices(flags.device),
      threads: flags.threads === undefined ? undefined : parseIntegerList(flags.threads, '--threads', 0),
      graphOptLevel: flags['graph-opt-level'],
      ubatchSize: flags['ubatch-size'],
      tests: list(flags.tests, '--tests', 'test names, comma-separated, e.g. pp512,tg128'),
      promptLengths: flags['prompt-lengths'] === undefined ? undefined : parseIntegerList(flags['prompt-lengths'], '--prompt-lengths'),
      genTokens: flags['gen-tokens'] === undefined ? undefined : parseIntegerList(flags['gen-tokens'], '--gen-tokens'),
      depths: flags.depths === undefined ? undefined : parseIntegerList(flags.depths, '--depths', 0),
      batchSizes: flags['batch-sizes'] === undefined ? undefined : parseIntegerList(flags['batch-sizes'], '--batch-sizes'),
      repetitions: flags.repetitions,
      warmup: flags.warmup,
      seed: flags.seed,
      minDecodeTps: positive('--target-tps', flags['target-tps']),
      maxTtftMs: positive('--max-ttft', flags['max-ttft']),
      maxPeakRss: flags['max-peak-rss'],
      maxRegressionPct: positive('--max-regression-pct', flags['max-regression-pct']),
      inconclusivePass: flags['inconclusive-pass'] ? true : undefined,
      allowMissing: flags['allow-missing'] ? true : undefined,
      baseline: flags.baseline,
    };
    const file: BenchConfigFile = flags.config ? await readBenchConfig(flags.config) : {};
    const plan = resolveBenchPlan(file, values);
    if (flags.out) await assertWritableFile(flags.out, '--out');
    if (flags.html) await assertWritableFile(flags.html, '--html');
    const format = this.jsonEnabled() ? 'json' : flags.format;
    const progress = new Progress({ json: this.jsonEnabled() });
    const efficiencyFor = calibrationHook(await readCalibration(resolveCalibrationPath(process.env, homedir())));
    // The estimates beside the measurements rest on what recommend's rest on: this machine's cached probe
    // (bandwidth and CPU kernel rates) when there is one — and its calibration, fitted on that basis. The
    // benchmark never probes by itself: that would load the CPUs just before measuring.
    const hardware = await detectHardware({ probe: false, bandwidthCachePath: bandwidthCachePath(process.env, homedir()) });
    const report = await withInterrupts((signal) => runBench({
      signal,
      plan,
      tool: { name: 'modelscout', version: this.config.version },
      argv: process.argv.slice(2),
      selfCheck: !flags['no-self-check'],
      kvLayout: flags['kv-layout'],
      hardware,
      // Estimates beside the measurements use this machine's calibration when it has one (recommend --confirm writes it).
      efficiencyFor,
      passThroughOutput: Boolean(process.env.DEBUG),
      // Each model variant (a group) stays as a line; the runs inside it update the status line.
      onProgress: (message, level) => (level === 'group' ? progress.note(message) : progress.status(message)),
    })).finally(() => progress.done());
    process.exitCode = report.outcome.exit_code;
    if (!this.jsonEnabled()) {
      process.stdout.write(format === 'markdown' ? renderMarkdown(report) : format === 'json' ? renderJson(report) : renderBenchTable(report));
      // A compact chart where a person reads the table; pipes and files get the table alone.
      if (format === 'table' && process.stdout.isTTY) {
        const lines = depthSparklines(decodeTpsByDepth(report));
        if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
      }
    }
    // Written after the results are shown: a late failure (the disk filled up meanwhile) loses no measurement.
    if (flags.out) await writeReportOrSay(flags.out, renderJson(report), (line) => this.note(line));
    if (flags.html) await writeReportHtml(flags.html, report, flags.out ?? 'bench report');
    return report;
  }
}
