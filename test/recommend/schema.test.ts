import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchRunOptions } from '../../src/bench/index.js';
import { confirmAndReport, recommendCalibrated, type PipelineEnvironment } from '../../src/pipeline/run.js';
import type { ConfirmReport } from '../../src/recommend/confirm-report.js';
import { recommendationSchema } from '../../src/recommend/schema.js';
import { toRecommendationReport } from '../../src/recommend/report-json.js';
import type { Recommendation } from '../../src/recommend/types.js';
import type { BenchReport, Environment } from '../../src/report/schema.js';
import { DEEP_CATALOG, GiB, constructedResult, tinyRecommendation } from '../pipeline/helpers.js';
import { parseRecommendation } from '../helpers/recommendation.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Fixed what-if hardware, so the shape of each report does not depend on the machine the tests run on. */
const SMALL_CPU = ['--device', 'cpu', '--ram', '16GiB', '--bandwidth', '25GB/s'];

function cli(args: string[]) {
  return execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
}

async function recommendJson(args: string[]): Promise<Recommendation> {
  const r = await cli(['recommend', ...args, '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  return parseRecommendation(r.stdout);
}

let validate: ValidateFunction;
let dir: string;

/** Asserts the report as written validates against the committed JSON Schema, and its code form against the zod schema. */
function expectValid(rec: Recommendation): void {
  const report = toRecommendationReport(rec);
  const ok = validate(report);
  expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 3))).toEqual([]);
  expect(ok).toBe(true);
  expect(recommendationSchema.safeParse(rec).success).toBe(true);
}

function errorsOf(report: unknown): { instancePath: string; keyword: string; params: Record<string, unknown> }[] {
  expect(validate(report)).toBe(false);
  return (validate.errors ?? []).map((e) => ({ instancePath: e.instancePath, keyword: e.keyword, params: e.params as Record<string, unknown> }));
}

beforeAll(async () => {
  const schema = JSON.parse(await readFile(join(ROOT, 'schemas/recommendation.schema.json'), 'utf8')) as Record<string, unknown>;
  expect(schema.$id).toBe('urn:modelscout:recommendation:2');
  validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
  dir = await mkdtemp(join(tmpdir(), 'ms-recommendation-schema-'));
});

afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('recommend --json validates against schemas/recommendation.schema.json', () => {
  it('the default path on the detected hardware, also as written by --out', async () => {
    const out = join(dir, 'recommendation.json');
    const r = await cli(['recommend', '--customization', 'no', '--latency', 'realtime', '--json', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const rec = parseRecommendation(r.stdout);
    expectValid(rec);
    expect(rec).toMatchObject({ schemaVersion: 1, kind: 'modelscout.recommendation', leaf: { id: 'small' }, confirm: null });
    expect(parseRecommendation(await readFile(out, 'utf8'))).toEqual(rec);
    expect(JSON.parse(r.stdout)).toMatchObject({ schema_version: '2', leaf: { size_class: { id: 'small' } } });
  });

  it('fine-tuning on a small CPU: candidates with LoRA/QLoRA memory, and the hardware needed', async () => {
    const rec = await recommendJson(['--customization', 'yes', ...SMALL_CPU]);
    expectValid(rec);
    expect(rec.outcome).toBe('fits-below-targets');
    expect(rec.candidates.length).toBeGreaterThan(0);
    expect(rec.candidates.every((c) => c.finetune !== null)).toBe(true);
    expect(rec.hardwareNeeded?.options.length).toBeGreaterThan(0);
    expect(rec.nothingFits).toBeNull();
  });

  it('relaxed latency on a small CPU: nothing of the flagship class fits', async () => {
    const rec = await recommendJson(['--latency', 'relaxed', ...SMALL_CPU]);
    expectValid(rec);
    expect(rec.outcome).toBe('nothing-fits');
    expect(rec.candidates).toEqual([]);
    expect(rec.nothingFits?.alternatives.length).toBeGreaterThan(0);
    expect(rec.hardwareNeeded).not.toBeNull();
  });

  it('a what-if GPU: GPU devices and a class that meets the targets', async () => {
    const rec = await recommendJson(['--customization', 'yes', '--gpu', 'H100-80GB']);
    expectValid(rec);
    expect(rec.outcome).toBe('meets-targets');
    expect(rec.devices.considered.map((d) => d.kind)).toContain('gpu');
    expect(rec.hardwareNeeded).toBeNull();
  });
});

describe('the --confirm report (the Recommendation with confirm filled) validates', () => {
  const environment: Environment = {
    os: { platform: 'linux', release: 'test', arch: 'x64' },
    cpu: { model: 'Test CPU', cores: 2, features: ['avx2'] },
    memory_total_bytes: 16 * GiB,
    gpus: [],
    node: process.version,
    onnxruntime: '1.30.0',
    execution_provider: 'cpu',
  };

  /**
   * Confirms through the same composition `recommend --confirm` uses (written to --out), with constructed
   * benchmark results instead of real runs: decode step and TTFT grow with the layers measured.
   */
  async function confirmTo(name: string, catalog: object | undefined, flags: { candidates: number; budgetSec?: number; pricePerHourUsd?: number }) {
    const work = join(dir, name);
    const setup = await tinyRecommendation(work, { contextTokens: 64 }, 4, catalog);
    const pipeline: PipelineEnvironment = { env: {}, homeDir: work, cwd: work, tool: { name: 'modelscout', version: 'test' }, argv: ['recommend', '--confirm'] };
    const calibrationFlag = join(work, 'calibration.json');
    const runner = async (options: BenchRunOptions): Promise<BenchReport> => {
      const test = options.plan.tests[0]!;
      const results = options.plan.models.map((path) => {
        const layers = Number(/-synthetic-s\d+-l(\d+)/.exec(path)?.[1]);
        // Tiny-B misses the decode target (10 < 20 tok/s): rejected; the others are confirmed.
        const stepMs = path.includes('tiny-llama-b-synthetic') ? 100 : 1 + 0.25 * layers;
        return constructedResult({ path, layers, prompt: test.n_prompt, gen: test.n_gen, batch: test.batch_size, decodeTps: (1000 / stepMs) * test.batch_size, ttftMs: 5 + layers, peakBytes: GiB / 4 + layers * 2 ** 20 });
      });
      return { environment, results } as unknown as BenchReport;
    };
    const out = join(work, 'modelscout-report.json');
    const run = async (): Promise<{ report: ConfirmReport; written: Recommendation }> => {
      const calibrated = await recommendCalibrated({ tree: setup.tree, hardware: setup.hardware, catalog: setup.catalog }, [{ contextTokens: 64 }], 4, { calibrationFlag, confirm: true, environment: pipeline });
      const report = await confirmAndReport(calibrated, { tree: setup.tree, hardware: setup.hardware, catalog: setup.catalog }, { mode: 'quick', workDir: join(work, 'models'), out, ...flags }, pipeline, { deps: { hub: null, runBench: runner } });
      return { report, written: parseRecommendation(await readFile(out, 'utf8')) };
    };
    return { run, out };
  }

  it('verdicts, cost and calibration; a second run with calibrated estimates', async () => {
    const { run } = await confirmTo('tiny', undefined, { candidates: 4, pricePerHourUsd: 0.36 });
    const first = await run();
    expectValid(first.written);
    const confirm = first.written.confirm!;
    expect(confirm).toMatchObject({ kind: 'modelscout.confirm', schemaVersion: 1, environment: { node: process.version } });
    expect(confirm.candidates).toHaveLength(4);
    expect(new Set(confirm.candidates.map((c) => c.verdict.status))).toEqual(new Set(['confirmed', 'rejected']));
    expect(confirm.candidates.every((c) => c.cost !== null)).toBe(true);
    expect(confirm.calibration.samplesAdded).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(first.report))).toEqual(confirm);

    const second = await run();
    expectValid(second.written);
    expect(second.written.candidates.some((c) => c.speed.basis.efficiency.source === 'calibrated')).toBe(true);
    expect(Object.values(second.written.confirm!.calibration.estimatesCalibrated)).toContain(true);
  });

  it('a candidate measured at partial depth and extrapolated', async () => {
    const { run } = await confirmTo('deep', DEEP_CATALOG, { candidates: 1, budgetSec: 1 });
    const { written } = await run();
    expectValid(written);
    const m = written.confirm!.candidates[0]!.measurements[0]!;
    expect(m).toMatchObject({ extrapolated: true, layersMeasured: [1, 2], layersFull: 96 });
    expect(m.extrapolation?.decodeStepMs.points).toHaveLength(2);
  });
});

describe('the schema rejects what is not a recommendation report', () => {
  let rec: Recommendation;
  beforeAll(async () => {
    rec = await recommendJson(['--customization', 'yes', ...SMALL_CPU]);
  });
  // The report as written (snake_case): what the JSON Schema describes.
  const copy = (): Record<string, unknown> & Recommendation => JSON.parse(JSON.stringify(toRecommendationReport(rec))) as Record<string, unknown> & Recommendation;

  it('a wrong kind', () => {
    const bad = copy();
    bad.kind = 'modelscout.confirm' as Recommendation['kind'];
    expect(errorsOf(bad)).toContainEqual(expect.objectContaining({ instancePath: '/kind', keyword: 'const' }));
  });

  it('a missing required field', () => {
    const bad = copy();
    delete (bad as Partial<Recommendation>).summary;
    expect(errorsOf(bad)).toContainEqual(expect.objectContaining({ instancePath: '', keyword: 'required', params: { missingProperty: 'summary' } }));
  });

  it('a field the report does not declare, and a bad enum value deep inside', () => {
    const extra = copy();
    (extra.candidates[0] as unknown as Record<string, unknown>).score = 1;
    expect(errorsOf(extra)).toContainEqual(expect.objectContaining({ instancePath: '/candidates/0', keyword: 'additionalProperties' }));
    const format = copy();
    (format.candidates[0]!.finetune!.lora as { method: string }).method = 'full';
    expect(errorsOf(format)).toContainEqual(expect.objectContaining({ instancePath: '/candidates/0/finetune/lora/method', keyword: 'enum' }));
  });
});
