import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDecoderIo } from '../../src/runtime/decoder-io.js';
import { generateByRecompute } from '../../src/bench/generate.js';
import { DecoderLoop } from '../../src/runtime/decoder-loop.js';
import { createSession } from '../../src/runtime/session.js';
import type { BenchReport } from '../../src/report/schema.js';
import type { GenerateReport } from '../../src/bench/run-generate.js';
import { loadTokenizer } from '../../src/hub/tokenizer.js';
import { BOS_TEMPLATE, tokenizerConfig, wordLevelTokenizer, writeTokenizer } from '../hub/tokenizer-fixtures.js';
import { buildTinyModel } from '../helpers/tiny-model.js';
import { BANDWIDTH_CACHE_SCHEMA_VERSION, machineKey } from '../../src/hardware/bandwidth-cache.js';
import { detectHardware } from '../../src/hardware/detect.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function cli(args: string[]) {
  return execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
}

let dir: string;
let good: string;
let other: string;
let bad: string;
let report: BenchReport;
let reportPath: string;

const FAST = ['--tests', 'pp8,tg4,pp8+tg4', '--repetitions', '5', '--warmup', '0', '--threads', '1'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-bench-cli-'));
  good = (await buildTinyModel({ arch: 'llama', layers: 2, dir: join(dir, 'tiny-llama') })).outDir;
  other = (await buildTinyModel({ arch: 'gpt2', layers: 1, dir: join(dir, 'tiny-gpt2') })).outDir;
  // A model folder whose model.onnx is cut short: it must fail alone, not take the run down.
  bad = join(dir, 'broken');
  await mkdir(join(bad, 'onnx'), { recursive: true });
  const bytes = await readFile(join(good, 'onnx', 'model.onnx'));
  await writeFile(join(bad, 'onnx', 'model.onnx'), bytes.subarray(0, Math.floor(bytes.length / 3)));
  reportPath = join(dir, 'report.json');
  const r = await cli(['bench', good, ...FAST, '--json', '--out', reportPath]);
  expect(r.exitCode, r.stderr).toBe(0);
  report = JSON.parse(r.stdout) as BenchReport;
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('modelscout bench', () => {
  it('writes a report that validates against the committed JSON Schema', async () => {
    const schema = JSON.parse(await readFile(join(ROOT, 'schemas/bench-report.schema.json'), 'utf8')) as object;
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    const ok = validate(report);
    expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 3))).toEqual([]);
    expect(ok).toBe(true);
    // --out holds the same report as stdout
    expect(JSON.parse(await readFile(reportPath, 'utf8'))).toEqual(report);
  });

  it('reports what the contract asks for', () => {
    expect(report.schema_version).toBe('1');
    expect(report.results.map((r) => r.test.id)).toEqual(['pp8', 'tg4', 'pp8+tg4']);
    for (const r of report.results) {
      expect(r.status).toBe('ok');
      expect(r.model.synthetic).toBe(true);
      expect(r.load.self_check?.passed).toBe(true);
      // Sampled before the model's runs: what other processes did with the CPUs (0–1).
      expect(r.load.cpu_busy_before).toBeGreaterThanOrEqual(0);
      expect(r.load.cpu_busy_before).toBeLessThanOrEqual(1);
      expect(r.kv_cache?.agrees).toBe(true);
      expect(r.kv_cache?.analytic_bytes).toBe(r.kv_cache?.measured_bytes);
      expect(r.memory.rss_peak_bytes).toBeGreaterThan(r.memory.rss_baseline_bytes ?? Infinity);
      expect(r.samples).toHaveLength(5);
      expect(r.estimate).not.toBeNull();
      expect(Object.keys(r.model.files_sha256)).toContain('onnx/model.onnx');
      expect(r.config.ubatch_size).toBe(256);
    }
    expect(report.run.config.ubatch_size).toBe(256);
    const request = report.results[2]!;
    expect(request.metrics.decode_tps?.n).toBe(5);
    expect(request.metrics.decode_tps?.pooled).toBeGreaterThan(0);
    expect(request.metrics.ttft_ms?.unit).toBe('ms');
    expect(request.metrics.harness_overhead_pct).not.toBeNull();
    expect(request.test.input_ids_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.environment.onnxruntime).toBe('1.30.0');
    expect(report.run.argv[0]).toBe('bench');
    expect(Date.parse(report.run.started_at)).toBeLessThanOrEqual(Date.parse(report.run.finished_at));
  });

  it('--ubatch-size 3: a 16-token prompt is measured in passes of 3, and the report records the size', async () => {
    const r = await cli(['bench', good, '--tests', 'pp16+tg4', '--repetitions', '1', '--warmup', '0', '--threads', '1', '--ubatch-size', '3', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const passes = JSON.parse(r.stdout) as BenchReport;
    expect(passes.run.config.ubatch_size).toBe(3);
    expect(passes.results[0]!.status).toBe('ok');
    expect(passes.results[0]!.config.ubatch_size).toBe(3);
    expect(passes.results[0]!.load.self_check?.passed).toBe(true);
    expect(passes.results[0]!.metrics.ttft_ms?.n).toBe(1);
  });

  it('estimates on this machine\'s cached probe when there is one, as recommend does, and never probes itself', async () => {
    const hw = await detectHardware({ probe: false });
    const machine = machineKey({ cpuModel: hw.cpu.model, threads: hw.cpu.threads, memoryTotalBytes: hw.memory.totalBytes });
    const probed = join(dir, 'cache-probed');
    await mkdir(join(probed, 'modelscout'), { recursive: true });
    const entry = { machine, bytes_per_sec: 77.7e9, threads: hw.cpu.threads, duration_ms: 1000, measured_at: '2026-01-02T03:04:05.000Z' };
    const cacheFile = join(probed, 'modelscout', 'bandwidth.json');
    await writeFile(cacheFile, JSON.stringify({ schema_version: BANDWIDTH_CACHE_SCHEMA_VERSION, entries: [entry] }));
    const empty = join(dir, 'cache-empty');
    const run = (cacheHome: string, format: string[]) =>
      execa(process.execPath, ['bin/run.js', 'bench', good, '--tests', 'tg4', '--repetitions', '1', '--warmup', '0', '--threads', '1', '--no-self-check', ...format], {
        cwd: ROOT,
        reject: false,
        stdin: 'ignore',
        env: { NO_COLOR: '1', XDG_CACHE_HOME: cacheHome },
      });
    const withProbe = await run(probed, ['--json']);
    expect(withProbe.exitCode, withProbe.stderr).toBe(0);
    expect((JSON.parse(withProbe.stdout) as BenchReport).results[0]!.estimate?.basis).toContain('bandwidth 77.7 GB/s (probe)');
    const table = await run(probed, []);
    expect(table.stdout).toMatch(/^Estimates: .*bandwidth 77\.7 GB\/s \(probe\).*\(not calibrated on this machine: recommend --confirm adds its measurements to the calibration\)\.$/m);
    const without = await run(empty, ['--json']);
    expect((JSON.parse(without.stdout) as BenchReport).results[0]!.estimate?.basis).toMatch(/bandwidth [\d.]+ GB\/s \((default|known)\)/);
    // Read, not written: the benchmark does not probe (nor rewrite the cache).
    expect(JSON.parse(await readFile(cacheFile, 'utf8'))).toEqual({ schema_version: BANDWIDTH_CACHE_SCHEMA_VERSION, entries: [entry] });
    expect(existsSync(join(empty, 'modelscout', 'bandwidth.json'))).toBe(false);
  });

  it('prints markdown for a step summary, synthetic models labelled', async () => {
    const r = await cli(['bench', good, '--tests', 'tg4', '--repetitions', '2', '--warmup', '0', '--format', 'markdown']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^### ✅ modelscout bench: pass/);
    expect(r.stdout).toContain('tiny-llama (synthetic)');
    expect(r.stdout).toContain('| tg4 |');
  });

  it('keeps going past a broken model, reports the others, and exits 1', async () => {
    const r = await cli(['bench', good, bad, other, '--tests', 'tg4', '--repetitions', '2', '--warmup', '0', '--json']);
    expect(r.exitCode).toBe(1);
    const out = JSON.parse(r.stdout) as BenchReport;
    expect(out.results.map((x) => [x.model.id, x.status])).toEqual([
      ['tiny-llama', 'ok'],
      ['broken', 'error'],
      ['tiny-gpt2', 'ok'],
    ]);
    expect(out.results[1]!.error?.message).toMatch(/not a valid ONNX model|truncated|corrupt/);
    expect(out.outcome).toMatchObject({ status: 'fail', exit_code: 1 });
    expect(out.outcome.reasons[0]).toBe('1 of 3 runs failed');
  });

  it('fails a threshold with exit 1', async () => {
    const r = await cli(['bench', good, '--tests', 'tg4', '--repetitions', '2', '--warmup', '0', '--target-tps', '1e12']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/threshold breached: .*decode_tps/);
  });

  it('--baseline: a regression exits 1, an improvement 0', async () => {
    // A baseline 20× faster than this run with the same spread, or 50× slower with the same relative spread.
    const scaled = (factor: number, scaleSpread: boolean): BenchReport => {
      const copy = JSON.parse(JSON.stringify(report)) as BenchReport;
      for (const res of copy.results) {
        const s = res.metrics.decode_tps;
        if (s) Object.assign(s, { mean: s.mean * factor, stddev: scaleSpread && s.stddev !== null ? s.stddev * factor : s.stddev });
      }
      return copy;
    };
    const faster = join(dir, 'faster-baseline.json');
    await writeFile(faster, JSON.stringify(scaled(20, false)));
    const r1 = await cli(['bench', good, ...FAST, '--baseline', faster, '--json']);
    expect(r1.exitCode).toBe(1);
    const c1 = (JSON.parse(r1.stdout) as BenchReport).comparison;
    expect(c1?.verdict).toBe('regressed');
    expect(c1?.results.find((x) => x.metric === 'decode_tps' && x.test_id === 'tg4')?.verdict).toBe('regressed');

    // The slower baseline is 50× worse on every compared metric (rates down, times and memory up), so
    // noise in the metrics this test does not look at cannot turn the run into a regression.
    const slowerReport = scaled(1 / 50, true);
    for (const res of slowerReport.results) {
      for (const name of ['prefill_tps']) {
        const s = (res.metrics as Record<string, { mean: number; stddev: number | null } | null>)[name];
        if (s) Object.assign(s, { mean: s.mean / 50, stddev: s.stddev === null ? null : s.stddev / 50 });
      }
      for (const name of ['ttft_ms', 'e2e_ms']) {
        const s = (res.metrics as Record<string, { mean: number; stddev: number | null } | null>)[name];
        if (s) Object.assign(s, { mean: s.mean * 50, stddev: s.stddev === null ? null : s.stddev * 50 });
      }
      if (res.memory.rss_peak_bytes !== null) res.memory.rss_peak_bytes *= 50;
    }
    const slower = join(dir, 'slower-baseline.json');
    await writeFile(slower, JSON.stringify(slowerReport));
    const r2 = await cli(['bench', good, ...FAST, '--baseline', slower, '--json', '--inconclusive-pass']);
    const c2 = (JSON.parse(r2.stdout) as BenchReport).comparison;
    expect(c2?.results.filter((x) => x.metric === 'decode_tps').every((x) => x.verdict === 'improved')).toBe(true);
    expect(r2.exitCode).toBe(0);
  });

  it('--baseline taken with other threads: nothing compared is exit 3 with the line naming why; --allow-missing passes', async () => {
    // The baseline ran with --threads 1; this run uses 2, so no result matches.
    const r = await cli(['bench', good, '--tests', 'tg4', '--repetitions', '2', '--warmup', '0', '--threads', '2', '--baseline', reportPath]);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toContain(
      `inconclusive: nothing compared: none of the 3 baseline results has a match now: tiny-llama|fp32|cpu|t1|pp8 (nearest result now differs: thread count 2 now, 1 in the baseline; test tg4 now, pp8 in the baseline); tiny-llama|fp32|cpu|t1|tg4 (nearest result now differs: thread count 2 now, 1 in the baseline)`,
    );
    const allowed = await cli(['bench', good, '--tests', 'tg4', '--repetitions', '2', '--warmup', '0', '--threads', '2', '--baseline', reportPath, '--allow-missing', '--json']);
    expect(allowed.exitCode).toBe(0);
    expect((JSON.parse(allowed.stdout) as BenchReport).comparison).toMatchObject({ compared: 0, missing_allowed: true, verdict: 'pass' });
  });

  const usage: [string, string[], RegExp][] = [
    ['a missing model', ['bench', '/nonexistent/model'], /model \/nonexistent\/model not found/],
    ['an unknown variant', ['bench', 'MODEL', '--variant', 'int3'], /invalid variant "int3": expected fp32, fp16, int8, q4, q4f16, all/],
    ['a variant the folder lacks', ['bench', 'MODEL', '--variant', 'q4'], /has no q4 variant \(model_q4\.onnx\); it has fp32/],
    ['an unknown device', ['bench', 'MODEL', '--device', 'tpu'], /invalid device "tpu"/],
    ['an empty test list', ['bench', 'MODEL', '--tests', ''], /^Error: invalid --tests "": expected test names, comma-separated, e\.g\. pp512,tg128$/m],
    ['an empty device list', ['bench', 'MODEL', '--device', ' , '], /^Error: invalid --device " , ": expected one or more of cpu/m],
    ['a device whose provider is not installed', ['bench', 'MODEL', '--device', 'cuda'], /device cuda needs the CUDA execution provider/],
    ['a bad test id', ['bench', 'MODEL', '--tests', 'pp0'], /invalid test "pp0"/],
    ['a bad list', ['bench', 'MODEL', '--prompt-lengths', '128,abc'], /invalid --prompt-lengths "abc"/],
    ['an unknown flag', ['bench', 'MODEL', '--frobnicate'], /unknown flag --frobnicate|Nonexistent flag/],
    ['a negative ubatch size', ['bench', 'MODEL', '--ubatch-size', '-1'], /--ubatch-size .*greater than or equal to 0/],
    ['a malformed config', ['bench', '--config', 'BADCONFIG'], /config file .*bad-config\.json: repetitions/],
    ['a malformed baseline', ['bench', 'MODEL', '--baseline', 'BADBASELINE'], /baseline .*bad-baseline\.json is not a modelscout bench report/],
  ];
  for (const [what, args, pattern] of usage) {
    it(`rejects ${what} with one line and exit 2`, async () => {
      await writeFile(join(dir, 'bad-config.json'), JSON.stringify({ models: [good], repetitions: 0 }));
      await writeFile(join(dir, 'bad-baseline.json'), JSON.stringify({ schema_version: '1', results: 'no' }));
      const real = args.map((a) => (a === 'MODEL' ? good : a === 'BADCONFIG' ? join(dir, 'bad-config.json') : a === 'BADBASELINE' ? join(dir, 'bad-baseline.json') : a));
      const r = await cli(real);
      expect(r.exitCode, r.stderr).toBe(2);
      const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('Error:'));
      expect(errorLines).toHaveLength(1);
      expect(errorLines[0]).toMatch(pattern);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stdout).toBe('');
    });
  }
  it('says how to install the CUDA provider', async () => {
    const r = await cli(['bench', good, '--device', 'cuda']);
    expect(r.stderr).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node');
  });
});

describe('modelscout generate', () => {
  it('prints the greedy ids of the loop, equal to full recomputation', async () => {
    const r = await cli(['generate', good, '--prompt-ids', '1,17,42', '--gen-tokens', '8', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { ids: number[]; token_times_ms: number[]; model: { synthetic: boolean } };
    const { session } = await createSession(join(good, 'onnx', 'model.onnx'), { device: 'cpu', threads: 1, graphOptLevel: 'all' });
    const loop = new DecoderLoop(session, detectDecoderIo(session.inputMetadata, session.outputMetadata));
    expect(out.ids).toEqual(await generateByRecompute(loop, [1, 17, 42], 8));
    expect(out.token_times_ms).toHaveLength(8);
    expect(out.model.synthetic).toBe(true);
    const text = await cli(['generate', good, '--prompt-ids', '1,17,42', '--gen-tokens', '8']);
    expect(text.stdout).toContain(`ids: ${out.ids.join(',')}`);
  });

  it('--prompt text: encoded with the folder\'s tokenizer.json, the same ids as --prompt-ids, the text decoded up to EOS', async () => {
    const folder = join(dir, 'tiny-llama-text');
    await cp(good, folder, { recursive: true });
    await writeTokenizer(folder, wordLevelTokenizer(128), tokenizerConfig({ chat_template: BOS_TEMPLATE }));
    const tokenizer = await loadTokenizer(folder);
    const r = await cli(['generate', folder, '--prompt', 'The cat sat on the mat', '--gen-tokens', '12', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as GenerateReport;
    expect(out.prompt_ids).toEqual([1, 3, 4, 5, 6, 3, 7]);
    const byIds = JSON.parse((await cli(['generate', folder, '--prompt-ids', out.prompt_ids.join(','), '--gen-tokens', '12', '--json'])).stdout) as GenerateReport;
    expect(out.ids).toEqual(byIds.ids);
    expect(byIds.text).toBeNull();
    const stop = out.ids.indexOf(2);
    expect(out.text).toMatchObject({ prompt: 'The cat sat on the mat', chat: false, tokenizer: folder, eos_index: stop < 0 ? null : stop });
    expect(out.text?.text).toBe(tokenizer.decode(stop < 0 ? out.ids : out.ids.slice(0, stop)));
    expect(out.text?.text.split(' ').length).toBe(stop < 0 ? 12 : stop);

    const chat = await cli(['generate', folder, '--prompt', 'hello world', '--chat', '--gen-tokens', '4']);
    expect(chat.exitCode, chat.stderr).toBe(0);
    expect(chat.stdout).toContain('prompt: "<s>user : hello world assistant :"');
    expect(chat.stdout).toMatch(/^text: /m);
    expect(chat.stdout).toMatch(/^ids: \d+(,\d+){3}$/m);
  });

  it('--prompt on a synthetic model without a tokenizer is one line saying to pass ids', async () => {
    const r = await cli(['generate', good, '--prompt', 'hello']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^Error: no tokenizer\.json beside .*tiny-llama, so text cannot be tokenized\n {2}Try this: Pass token ids instead \(--prompt-ids\)/);
    const neither = await cli(['generate', good]);
    expect(neither.exitCode).toBe(2);
    expect(neither.stderr).toMatch(/^Error: no prompt given/);
    const both = await cli(['generate', good, '--prompt', 'a', '--prompt-ids', '1']);
    expect(both.stderr).toMatch(/^Error: give either a prompt text \(--prompt\) or token ids \(--prompt-ids\), not both/);
  });

  it('rejects ids outside the vocabulary', async () => {
    const r = await cli(['generate', good, '--prompt-ids', '1,100000']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/invalid prompt id 100000: the vocabulary has ids 0\.\.127/);
  });
});

describe('modelscout compare', () => {
  it('a report against itself does not regress; against a faster baseline it does', async () => {
    // Tiny models are noisy: with 5 repetitions the interval may reach past 10% (inconclusive), never a regression.
    const same = await cli(['compare', reportPath, reportPath, '--json', '--inconclusive-pass']);
    expect(same.exitCode).toBe(0);
    const sameOut = JSON.parse(same.stdout) as { verdict: string; results: { delta_pct: number }[] };
    expect(['pass', 'inconclusive']).toContain(sameOut.verdict);
    expect(sameOut.results.every((x) => x.delta_pct === 0)).toBe(true);
    const regressed = await cli(['compare', join(dir, 'faster-baseline.json'), reportPath]);
    expect(regressed.exitCode).toBe(1);
    expect(regressed.stdout).toMatch(/regressed/);
    const md = await cli(['compare', join(dir, 'faster-baseline.json'), reportPath, '--format', 'markdown']);
    expect(md.stdout).toContain('❌ regressed');
  });

  it('two thread counts: without --across nothing matches (exit 3); --across threads compares them', async () => {
    const t2 = JSON.parse(JSON.stringify(report)) as BenchReport;
    for (const res of t2.results) res.config.threads = 2;
    const t2Path = join(dir, 'threads-2.json');
    await writeFile(t2Path, JSON.stringify(t2));
    const plain = await cli(['compare', reportPath, t2Path, '--inconclusive-pass']);
    expect(plain.exitCode).toBe(3);
    expect(plain.stdout).toMatch(/^nothing compared: none of the 3 baseline results has a match now: tiny-llama\|fp32\|cpu\|t1\|pp8 \(nearest result now differs: thread count 2 now, 1 in the baseline\)/m);
    const across = await cli(['compare', reportPath, t2Path, '--across', 'threads', '--inconclusive-pass', '--json']);
    expect(across.exitCode).toBe(0);
    const c = JSON.parse(across.stdout) as { compared: number; across: string; results: { baseline_setting: string; threads: number; delta_pct: number }[] };
    expect(c).toMatchObject({ compared: 3, across: 'threads' });
    expect(c.results.every((x) => x.baseline_setting === '1' && x.threads === 2 && x.delta_pct === 0)).toBe(true);
    const bad = await cli(['compare', reportPath, t2Path, '--across', 'batch']);
    expect(bad.exitCode).toBe(2);
  });

  it('rejects a file that is not a report', async () => {
    const r = await cli(['compare', join(dir, 'bad-config.json'), reportPath]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/is not a modelscout bench report/);
  });
});
