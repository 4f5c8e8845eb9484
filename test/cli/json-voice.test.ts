import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyModel } from '../helpers/tiny-model.js';

/**
 * One JSON voice: every command's `--json` result is a report with a string `schema_version`, a `kind`, and
 * snake_case field names, and it validates against the committed JSON Schema for its kind.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let model: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-json-voice-'));
  model = (await buildTinyModel({ arch: 'llama', layers: 1, dir: join(dir, 'tiny') })).outDir;
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1', XDG_CACHE_HOME: join(dir, 'cache') } });
}

/** Every property name the schema declares, anywhere in it. */
function declaredNames(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => declaredNames(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'properties' && v && typeof v === 'object') Object.keys(v).forEach((name) => out.add(name));
      declaredNames(v, out);
    }
  }
  return out;
}

async function expectReport(args: string[], schemaFile: string, kind: string): Promise<Record<string, unknown>> {
  const r = await cli(args);
  expect(r.exitCode, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout) as Record<string, unknown>;
  expect(typeof report.schema_version).toBe('string');
  expect(report.kind).toBe(kind);
  const schema = JSON.parse(await readFile(join(ROOT, 'schemas', schemaFile), 'utf8')) as Record<string, unknown>;
  expect([...declaredNames(schema)].filter((name) => /[A-Z]/.test(name))).toEqual([]);
  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
  expect(validate(report), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
  return report;
}

describe('--json reports', () => {
  it('hardware', async () => {
    const report = await expectReport(['hardware', '--json'], 'hardware.schema.json', 'modelscout.hardware');
    expect(report).toHaveProperty('hardware.memory.total_bytes');
    const what_if = await expectReport(['hardware', '--gpu', '2xH100', '--json'], 'hardware.schema.json', 'modelscout.hardware');
    expect(what_if).toHaveProperty('device.bandwidth_bytes_per_sec', 6.7e12);
  }, 60_000);

  it('cache ls', async () => {
    const report = await expectReport(['cache', 'ls', '--cache-dir', join(dir, 'hub'), '--json'], 'cache-listing.schema.json', 'modelscout.cache-listing');
    expect(report).toMatchObject({ cache_dir: join(dir, 'hub'), total_bytes: 0, models: [] });
  }, 60_000);

  it('generate', async () => {
    const report = await expectReport(['generate', model, '--prompt-ids', '1,2,3', '--gen-tokens', '2', '--json'], 'generation.schema.json', 'modelscout.generation');
    expect(report.ids).toHaveLength(2);
  }, 60_000);

  it('models, synth and quantize', async () => {
    const listing = await expectReport(['models', '--max-params', '200M', '--json'], 'model-listing.schema.json', 'modelscout.model-listing');
    expect(listing).toMatchObject({ count: 2 });
    const shown = await expectReport(['models', 'show', 'qwen2.5-0.5b', '--gpu', 'L4', '--json'], 'model-description.schema.json', 'modelscout.model-description');
    expect(shown).toHaveProperty('kv_cache.bytes_per_token_fp16', 12_288);
    // Format and llama.cpp preset names are data: they stay keys as they are.
    expect(Object.keys(shown.weights as object)).toContain('q4f16');
    expect(Object.keys(shown.llama_cpp as object)).toEqual(['Q8_0', 'Q6_K', 'Q5_K_M', 'Q4_K_M', 'Q4_0']);
    expect(shown).toHaveProperty('topology.gpus_per_node', 1);
    const out = join(dir, 'synth');
    await expectReport(['synth', 'smollm2-135m', '--layers', '1', '--out', out, '--json'], 'synthesis.schema.json', 'modelscout.synthesis');
    const quantized = await expectReport(['quantize', out, '--no-fidelity', '--json'], 'quantization.schema.json', 'modelscout.quantization');
    expect(quantized).toHaveProperty('settings.block_size', 128);
  }, 120_000);

  it('inspect', async () => {
    const report = await expectReport(['inspect', model, '--json'], 'inspection.schema.json', 'modelscout.inspection');
    expect(report).toHaveProperty('decoder.num_layers', 1);
    expect(report).toHaveProperty('weight_format.mat_mul_nbits.block_sizes', []);
    expect((report.ops as { op: string }[]).map((o) => o.op)).toContain('MatMul');
  }, 60_000);

  it('pull (a local folder)', async () => {
    const report = await expectReport(['pull', model, '--json'], 'pull.schema.json', 'modelscout.pull');
    expect(report).toMatchObject({ source: 'local', path: model, catalog_id: null, transferred_bytes: 0 });
    expect((report.files as Record<string, unknown>[])[0]).toHaveProperty('local_path');
  }, 60_000);

  it('models update --reset', async () => {
    const report = await expectReport(['models', 'update', '--reset', '--json'], 'catalog-update.schema.json', 'modelscout.catalog-update');
    expect(report).toMatchObject({ action: 'reset', removed: false, models: [] });
  }, 60_000);

  it('tree', async () => {
    const report = await expectReport(['tree', '--json'], 'decision-tree.schema.json', 'modelscout.decision-tree');
    expect(report).toHaveProperty('targets.latency_classes.realtime.max_ttft_ms', 500);
  }, 60_000);

  it('calibration show and reset', async () => {
    await expectReport(['calibration', 'show', '--json'], 'calibration-summary.schema.json', 'modelscout.calibration-summary');
    const reset = await expectReport(['calibration', 'reset', '--json'], 'calibration-reset.schema.json', 'modelscout.calibration-reset');
    expect(reset).toMatchObject({ removed_samples: 0, remaining_entries: 0 });
    // The file reset writes is a calibration file of the current version.
    const written = JSON.parse(await readFile(join(dir, 'cache', 'modelscout', 'calibration.json'), 'utf8')) as unknown;
    const validate = new Ajv2020({ strict: false }).compile(JSON.parse(await readFile(join(ROOT, 'schemas/calibration.schema.json'), 'utf8')) as object);
    expect(validate(written), JSON.stringify(validate.errors)).toBe(true);
    expect(written).toEqual({ schema_version: '2', entries: [] });
  }, 60_000);
});
