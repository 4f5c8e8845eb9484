import { readFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { ModelscoutError, invalidValue } from '../../errors.js';
import { renderJson } from '../../report/render.js';
import { renderRecordsJsonl, renderServeMarkdown, renderServeTable } from '../../report/serve-render.js';
import { serveReportSchema, type RequestRecord, type ServeReport } from '../../report/serve-schema.js';
import { epochMs } from '../../serve/clock.js';
import { runServeBench, type DatasetSpec } from '../../serve/index.js';
import { DEFAULT_PERCENTILES } from '../../serve/metrics.js';
import { redactArgv, parseNumberList, parseSweep, parseWarmup } from '../../serve/options.js';
import { mergeSlos, parseSloList, presetSlos, SLO_PRESETS, targetSlos } from '../../serve/slo.js';
import { parseHeaders } from '../../serve/target.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { writeReportHtml } from '../../pipeline/report-html.js';
import { Progress } from '../../ui/progress.js';

const FORMATS = ['table', 'markdown', 'json'] as const;

/** `--shard i/n --start-at TIME`: this generator's slice of the shared schedule and its absolute start. */
function parseShard(shardText: string | undefined, startText: string | undefined): { index: number; of: number; startAtMs: number } | null {
  if (shardText === undefined && startText === undefined) return null;
  if (shardText === undefined) throw new ModelscoutError('E_USAGE', '--start-at needs --shard i/n', { suggestions: ['Add --shard 0/2 on the first load generator, --shard 1/2 on the second, with the same --start-at.'] });
  if (startText === undefined) throw new ModelscoutError('E_USAGE', '--shard needs --start-at TIME, the same on every shard', { suggestions: ['Add e.g. --start-at "$(date -u -d "+30 seconds" +%Y-%m-%dT%H:%M:%SZ)" to every shard.'] });
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(shardText);
  const index = m ? Number(m[1]) : NaN;
  const of = m ? Number(m[2]) : NaN;
  if (!m || of < 1 || of > 1024 || index >= of) throw invalidValue('--shard', shardText, 'i/n with 0 ≤ i < n, e.g. 0/2 and 1/2');
  const startAtMs = /^\d{4}-\d{2}-\d{2}T/.test(startText.trim()) ? Date.parse(startText) : NaN;
  if (!Number.isFinite(startAtMs)) throw invalidValue('--start-at', startText, 'an RFC 3339 time such as 2026-05-01T12:00:00Z');
  if (startAtMs < Date.now() - 60_000) throw invalidValue('--start-at', startText, 'a time in the future (it passed more than a minute ago)');
  return { index, of, startAtMs };
}

export default class ServeBench extends BaseCommand {
  static override summary = 'Benchmark an OpenAI-compatible streaming server under load: TTFT, TPOT, ITL, E2EL, throughput, goodput against SLOs.';
  static override description = `Measures any server with /v1/completions or /v1/chat/completions streaming (vLLM, SGLang, TGI, llama.cpp's llama-server, Ollama, …) from this machine. Metric names and definitions match \`vllm bench serve\` (percentiles by numpy's linear interpolation). Open loop (--request-rate, Poisson or gamma arrivals), closed loop (--max-concurrency), or both; --sweep runs several levels, --find-max searches the highest level that meets every SLO. The client measures itself: when it, not the server, limited a level, the run is marked invalid.

Exit codes: 0 pass, 1 failed requests / a missed SLO / a regression against --baseline, 2 bad usage or input, 3 inconclusive comparison or a client-limited run (0 with --inconclusive-pass for the comparison).`;

  static override examples = [
    '<%= config.bin %> serve-bench --base-url http://10.0.0.5:8000 --request-rate 50 --num-prompts 2000 --seed 1 --shard 0/2 --start-at 2026-05-01T12:00:00Z --out shard-0.json',
    '<%= config.bin %> serve-bench --base-url http://127.0.0.1:8000 --max-concurrency 16 --num-prompts 200',
    '<%= config.bin %> serve-bench --base-url http://127.0.0.1:8000 --endpoint chat --sweep concurrency=1,2,4,8,16 --slo-preset llama3.1-8b',
    '<%= config.bin %> serve-bench --base-url http://127.0.0.1:8000 --find-max concurrency --slo ttft_p99=2000ms,tpot_p99=100ms',
    '<%= config.bin %> serve-bench --base-url http://127.0.0.1:8000 --request-rate 4 --burstiness 0.5 --duration 60 --warmup 10s',
    '<%= config.bin %> serve-bench --base-url http://127.0.0.1:8000 --dataset sharegpt --dataset-path ShareGPT_V3.json --save-detailed requests.jsonl',
    '<%= config.bin %> serve-bench --base-url http://127.0.0.1:8000 --max-concurrency 8 --baseline base.json --format markdown >> "$GITHUB_STEP_SUMMARY"',
  ];

  static override flags = {
    'base-url': Flags.string({ description: 'server base URL (repeat for replicas or a gateway: requests go round-robin); a trailing /v1 is fine', required: true, multiple: true, helpGroup: 'TARGET' }),
    // vLLM's benchmark names the API route `--endpoint /v1/completions`: its command lines move over unchanged.
    endpoint: Flags.option({ options: ['completions', 'chat', '/v1/completions', '/v1/chat/completions'] as const, default: 'completions' as const, description: 'the API route: /v1/completions or /v1/chat/completions (also written as vLLM does, e.g. --endpoint /v1/chat/completions)', helpGroup: 'TARGET' })(),
    model: Flags.string({ description: 'model name to request [default: the first id of GET /v1/models]', helpGroup: 'TARGET' }),
    'api-key': Flags.string({ description: 'bearer key (never printed or saved)', env: 'OPENAI_API_KEY', helpGroup: 'TARGET' }),
    header: Flags.string({ description: 'extra request header NAME:VALUE (repeatable; values never saved)', multiple: true, helpGroup: 'TARGET' }),
    timeout: Flags.integer({ description: 'seconds one request may take in all; no retries', default: 300, min: 1, helpGroup: 'TARGET' }),
    dataset: Flags.option({ options: ['random', 'sharegpt', 'jsonl'] as const, default: 'random' as const, description: 'prompts: seeded random text, a ShareGPT JSON file, or JSON lines of {prompt|messages, output_len}', helpGroup: 'WORKLOAD' })(),
    'dataset-path': Flags.string({ description: 'the ShareGPT or JSONL file', helpValue: 'FILE', helpGroup: 'WORKLOAD' }),
    'input-len': Flags.integer({ description: 'random: prompt tokens', default: 256, min: 1, helpGroup: 'WORKLOAD' }),
    'output-len': Flags.integer({ description: 'output tokens (max_tokens) [random default: 128; files: their own lengths]', min: 1, helpGroup: 'WORKLOAD' }),
    'range-ratio': Flags.string({ description: 'random: lengths drawn from [len·(1−r), len·(1+r)]', default: '0', helpGroup: 'WORKLOAD' }),
    'prefix-len': Flags.integer({ description: 'tokens of a prefix shared by every prompt (to see prefix caching)', default: 0, min: 0, helpGroup: 'WORKLOAD' }),
    'ignore-eos': Flags.boolean({ description: 'ask the server to generate all output tokens (ignore_eos)', helpGroup: 'WORKLOAD' }),
    temperature: Flags.string({ description: 'sampling temperature', default: '0', helpGroup: 'WORKLOAD' }),
    seed: Flags.integer({ description: 'seed of prompts, lengths and arrival times', default: 0, helpGroup: 'WORKLOAD' }),
    tokenizer: Flags.option({ options: ['auto', 'none'] as const, default: 'auto' as const, description: "auto: the server's /tokenize (exact prompt lengths, output counts); none: words and usage only", helpGroup: 'WORKLOAD' })(),
    'tokenizer-path': Flags.string({ description: 'a model folder (or its tokenizer.json) to count tokens locally instead of the server\'s /tokenize', helpValue: 'DIR', helpGroup: 'WORKLOAD' }),
    'request-rate': Flags.string({ description: 'open loop: requests per second (inf = all at once)', default: 'inf', helpGroup: 'LOAD' }),
    burstiness: Flags.string({ description: 'gamma shape of the arrival gaps (1 = Poisson; lower = burstier)', default: '1', helpGroup: 'LOAD' }),
    'max-concurrency': Flags.integer({ description: 'closed loop: requests in flight at most', min: 1, helpGroup: 'LOAD' }),
    'num-prompts': Flags.integer({ description: 'measured requests per level', default: 100, min: 1, helpGroup: 'LOAD' }),
    duration: Flags.string({ description: 'seconds per level instead of a request count (e.g. 60 or 60s)', helpGroup: 'LOAD' }),
    warmup: Flags.string({ description: 'left out of the figures: N requests, or a duration such as 10s', default: '0', helpGroup: 'LOAD' }),
    workers: Flags.integer({ description: 'client processes sharing one arrival schedule', default: 1, min: 1, max: 64, helpGroup: 'LOAD' }),
    shard: Flags.string({ description: 'this machine is load generator i of n sharing one seeded schedule: it sends every n-th request (k mod n = i); needs --start-at; combine the --out reports with serve-bench merge', helpValue: 'i/n', helpGroup: 'LOAD' }),
    'start-at': Flags.string({ description: 'with --shard: the wall-clock time every shard starts the schedule at (RFC 3339, e.g. 2026-05-01T12:00:00Z; clocks synchronised by NTP)', helpValue: 'TIME', helpGroup: 'LOAD' }),
    sweep: Flags.string({ description: 'levels: concurrency=1,2,4,8 or rate=1,2,4', helpGroup: 'SWEEP' }),
    'find-max': Flags.option({ options: ['concurrency', 'rate'] as const, description: 'search the highest level that meets every SLO (doubling, then bisection)', helpGroup: 'SWEEP' })(),
    'find-max-start': Flags.string({ description: 'first level of the search', default: '1', helpGroup: 'SWEEP' }),
    'find-max-limit': Flags.string({ description: 'highest level the search tries [default: 256 concurrency, 1000 req/s]', helpGroup: 'SWEEP' }),
    slo: Flags.string({ description: 'SLOs, e.g. ttft_p99=2000ms,tpot_p99=200ms,e2el_p99=20s,itl_p95=50ms', helpGroup: 'TARGETS' }),
    'slo-preset': Flags.option({ options: Object.keys(SLO_PRESETS) as [string, ...string[]], description: 'MLPerf Inference server-scenario TTFT/TPOT p99 limits', helpGroup: 'TARGETS' })(),
    'max-ttft': Flags.integer({ description: 'as in recommend: median TTFT limit in ms', min: 1, helpValue: 'MS', helpGroup: 'TARGETS' }),
    'target-tps': Flags.string({ description: 'as in recommend: per-stream decode tokens/s (median TPOT ≤ 1000 ÷ N)', helpValue: 'N', helpGroup: 'TARGETS' }),
    'metric-percentiles': Flags.string({ description: 'percentiles to report', default: DEFAULT_PERCENTILES.join(','), helpGroup: 'OUTPUT' }),
    'max-failure-pct': Flags.string({ description: 'stop a level when more than this share of finished requests failed', default: '50', helpGroup: 'LOAD' }),
    'client-limit-ms': Flags.string({ description: 'event-loop delay or send lag p99 above this marks a level client-limited (invalid)', default: '5', helpGroup: 'OUTPUT' }),
    format: Flags.option({ options: FORMATS, default: 'table' as const, description: 'stdout format (--json is the same as --format json)', helpGroup: 'OUTPUT' })(),
    out: Flags.string({ description: 'also write the JSON report to this file (atomically)', helpGroup: 'OUTPUT' }),
    html: Flags.string({ description: 'also write the report as one self-contained HTML page: throughput, TTFT and TPOT percentiles against the load, the SLO lines, the --find-max point', helpValue: 'FILE', helpGroup: 'OUTPUT' }),
    'save-detailed': Flags.string({ description: 'write every request record (JSON lines: send, first byte, first token, each chunk time, tokens, error)', helpValue: 'FILE.jsonl', helpGroup: 'OUTPUT' }),
    baseline: Flags.string({ description: 'an earlier serve-bench report (--out) to compare against', helpGroup: 'OUTPUT' }),
    'max-regression-pct': Flags.string({ description: 'a change worse than this (beyond noise) is a regression', default: '10', helpGroup: 'OUTPUT' }),
    'inconclusive-pass': Flags.boolean({ description: 'exit 0 instead of 3 when the baseline comparison is inconclusive', helpGroup: 'OUTPUT' }),
  };

  async run(): Promise<ServeReport> {
    const { flags } = await this.parse(ServeBench);
    const num = (name: string, text: string, min: number, allowZero = false): number => {
      const n = Number(text);
      if (!Number.isFinite(n) || n < min || (!allowZero && n === 0)) throw invalidValue(name, text, `a number ≥ ${min}${allowZero ? '' : ' and > 0'}`);
      return n;
    };
    const rateText = flags['request-rate'].trim().toLowerCase();
    const requestRate = rateText === 'inf' || rateText === 'infinity' ? null : num('--request-rate', rateText, 0);
    if (flags.dataset !== 'random' && !flags['dataset-path']) throw new ModelscoutError('E_USAGE', `--dataset ${flags.dataset} needs --dataset-path FILE`, { suggestions: ['Pass the file with --dataset-path, or use --dataset random.'] });
    const dataset: DatasetSpec =
      flags.dataset === 'random'
        ? { kind: 'random', inputLen: flags['input-len'], outputLen: flags['output-len'] ?? 128, rangeRatio: num('--range-ratio', flags['range-ratio'], 0, true) }
        : { kind: flags.dataset, file: flags['dataset-path'] as string, outputLen: flags['output-len'] ?? null };
    if (dataset.kind === 'random' && dataset.rangeRatio >= 1) throw invalidValue('--range-ratio', flags['range-ratio'], 'a number in [0, 1)');
    const slos = mergeSlos(
      flags['slo-preset'] ? presetSlos(flags['slo-preset']) : [],
      targetSlos(flags['max-ttft'], flags['target-tps'] === undefined ? undefined : num('--target-tps', flags['target-tps'], 0)),
      flags.slo ? parseSloList(flags.slo) : [],
    );
    const sweep = flags.sweep ? parseSweep(flags.sweep) : null;
    if (sweep && flags['find-max']) throw new ModelscoutError('E_USAGE', '--sweep and --find-max cannot be combined', { suggestions: ['Use --sweep for fixed levels, or --find-max to search.'] });
    if (flags['find-max'] && slos.length === 0) throw new ModelscoutError('E_USAGE', '--find-max needs at least one SLO to search against', { suggestions: ['Add --slo ttft_p99=2000ms,tpot_p99=100ms or --slo-preset llama3.1-8b.'] });
    const findMaxDim = flags['find-max'];
    const findMax = findMaxDim
      ? {
          dimension: findMaxDim,
          start: num('--find-max-start', flags['find-max-start'], 0),
          limit: flags['find-max-limit'] === undefined ? (findMaxDim === 'concurrency' ? 256 : 1000) : num('--find-max-limit', flags['find-max-limit'], 0),
        }
      : null;
    if (findMax && findMax.dimension === 'concurrency' && (!Number.isInteger(findMax.start) || !Number.isInteger(findMax.limit))) throw invalidValue('--find-max-start/--find-max-limit', `${findMax.start}/${findMax.limit}`, 'whole numbers for a concurrency search');
    const warmup = parseWarmup(flags.warmup);
    const shard = parseShard(flags.shard, flags['start-at']);
    if (shard && (sweep || findMax)) throw new ModelscoutError('E_USAGE', '--shard runs one level: it cannot be combined with --sweep or --find-max', { suggestions: ['Run one sharded level per sweep value, each with its own --start-at.'] });
    if (shard && flags.workers > 1) throw new ModelscoutError('E_USAGE', '--shard and --workers both split the schedule: use one', { suggestions: ['Use --shard i/n across machines, or --workers N within one.'] });
    let baseline: { report: ServeReport; path: string } | null = null;
    if (flags.baseline) {
      let text: string;
      try {
        text = await readFile(flags.baseline, 'utf8');
      } catch (error) {
        throw new ModelscoutError('E_FILE', `cannot read --baseline ${flags.baseline}: ${(error as NodeJS.ErrnoException).code ?? ''}`, { suggestions: ['Pass a report written by serve-bench --out.'] });
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ModelscoutError('E_INPUT', `--baseline ${flags.baseline} is not JSON`, { suggestions: ['Pass a report written by serve-bench --out.'] });
      }
      const r = serveReportSchema.safeParse(parsed);
      if (!r.success) throw new ModelscoutError('E_INPUT', `--baseline ${flags.baseline} is not a serve-bench report (schema_version 1): ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? ''}`, { suggestions: ['Pass a report written by serve-bench --out.'] });
      baseline = { report: r.data, path: flags.baseline };
    }
    const format = this.jsonEnabled() ? 'json' : flags.format;
    const detailed: RequestRecord[] = [];
    const progress = new Progress({ json: this.jsonEnabled() });
    const report = await runServeBench(
      {
        baseUrls: flags['base-url'],
        endpoint: flags.endpoint === 'chat' || flags.endpoint === '/v1/chat/completions' ? 'chat' : 'completions',
        model: flags.model ?? null,
        apiKey: flags['api-key'] ?? null,
        headers: parseHeaders(flags.header ?? []),
        timeoutS: flags.timeout,
        dataset,
        prefixLen: flags['prefix-len'],
        ignoreEos: flags['ignore-eos'] ?? false,
        temperature: num('--temperature', flags.temperature, 0, true),
        seed: flags.seed,
        requestRate,
        burstiness: num('--burstiness', flags.burstiness, 0),
        maxConcurrency: flags['max-concurrency'] ?? null,
        numPrompts: flags['num-prompts'],
        durationS: flags.duration === undefined ? null : num('--duration', flags.duration.replace(/s$/, ''), 0),
        warmupRequests: warmup.requests,
        warmupS: warmup.seconds,
        sweep,
        findMax,
        slos,
        percentiles: parseNumberList(flags['metric-percentiles'], '--metric-percentiles', 0, 100),
        maxFailurePct: num('--max-failure-pct', flags['max-failure-pct'], 0, true),
        clientLimitMs: num('--client-limit-ms', flags['client-limit-ms'], 0),
        workers: flags.workers,
        tokenizer: flags.tokenizer,
        tokenizerPath: flags['tokenizer-path'] ?? null,
        baseline,
        maxRegressionPct: num('--max-regression-pct', flags['max-regression-pct'], 0),
        inconclusivePass: flags['inconclusive-pass'] ?? false,
        shard,
      },
      {
        clock: epochMs,
        tool: { name: 'modelscout', version: this.config.version },
        argv: redactArgv(process.argv.slice(2)),
        // A level running is a status line on a terminal; each finished level stays as a line.
        onProgress: (message, stage) => (stage === 'done' ? progress.note(message) : progress.status(message)),
        onRecords: (records) => {
          if (flags['save-detailed']) detailed.push(...records);
        },
      },
    ).finally(() => progress.done());
    if (flags['save-detailed']) await writeFileAtomic(flags['save-detailed'], renderRecordsJsonl(detailed));
    if (flags.out) await writeFileAtomic(flags.out, renderJson(report));
    if (flags.html) await writeReportHtml(flags.html, report, flags.out ?? 'serve-bench report');
    process.exitCode = report.outcome.exit_code;
    if (!this.jsonEnabled()) {
      process.stdout.write(format === 'markdown' ? renderServeMarkdown(report) : format === 'json' ? renderJson(report) : renderServeTable(report));
    }
    return report;
  }
}
