import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mulberry32 } from '../../src/util/random.js';
import { modelSpecFromHfConfig } from '../../src/catalog/index.js';
import { isModelscoutError } from '../../src/errors.js';
import { inspectModel } from '../../src/onnx/inspect.js';
import { synthesizeModel } from '../../src/onnx/synth/index.js';
import { readReport } from '../../src/report/read.js';
import { loadTreeFile } from '../../src/tree/load.js';
import { TINY_LLAMA, cli, leftovers, removeDir, tempDir } from './helpers.js';


// CLI runs take seconds each on a loaded machine: generous per-test bounds (each run has its own timeout).
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
/**
 * A small seeded fuzzer over ONNX bytes, configs, trees and reports: every input either works or fails
 * as one usage error (exit 2); never a crash with a stack, never a hang past a bound, never a write
 * outside the target folder.
 */
let root: string;
let model: string;
let graph: Buffer;

const rng = mulberry32;

beforeAll(async () => {
  root = await tempDir('fuzz');
  await writeFile(join(root, 'config.json'), JSON.stringify(TINY_LLAMA));
  model = join(root, 'model');
  await synthesizeModel({ source: join(root, 'config.json'), dtype: 'fp32', layers: 1, seed: 9, outDir: model });
  graph = await readFile(join(model, 'onnx', 'model.onnx'));
});
afterAll(async () => {
  expect(await leftovers(root)).toEqual([]);
  await removeDir(root);
});

/** Runs `fn`; it must resolve or throw a ModelscoutError with exit code 2, within `ms`. */
async function expectCleanOutcome(label: string, fn: () => Promise<unknown>, ms = 10_000): Promise<'ok' | 'error'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: still running after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([fn(), timeout]);
    return 'ok';
  } catch (error) {
    expect(isModelscoutError(error), `${label}: ${String(error)}`).toBe(true);
    if (isModelscoutError(error)) expect(error.exitCode, `${label}: ${error.message}`).toBe(2);
    return 'error';
  } finally {
    clearTimeout(timer);
  }
}

function mutate(bytes: Buffer, random: () => number): Buffer {
  const out = Buffer.from(bytes);
  const kind = Math.floor(random() * 4);
  if (kind === 0) return out.subarray(0, Math.floor(random() * out.length));
  const flips = 1 + Math.floor(random() * 8);
  for (let i = 0; i < flips; i += 1) {
    const at = Math.floor(random() * out.length);
    out[at] = kind === 1 ? out[at]! ^ (1 << Math.floor(random() * 8)) : Math.floor(random() * 256);
  }
  if (kind === 3) return Buffer.concat([out, Buffer.from(Array.from({ length: 16 }, () => Math.floor(random() * 256)))]);
  return out;
}

describe('fuzzer', () => {
  it('ONNX bytes: 150 mutations of a model, each decoded and inspected', async () => {
    const random = rng(12);
    const file = join(model, 'onnx', 'model.onnx');
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 150; i += 1) {
      await writeFile(file, mutate(graph, random));
      outcomes[await expectCleanOutcome(`onnx mutation ${i}`, () => inspectModel(model))] += 1;
    }
    await writeFile(file, graph);
    expect(outcomes.error).toBeGreaterThan(0);
  });

  it('ONNX bytes through the CLI: 4 mutations, exit 0 or one line with exit 2', { timeout: 240_000 }, async () => {
    const random = rng(34);
    const dir = join(root, 'cli-fuzz');
    const { cp } = await import('node:fs/promises');
    await cp(model, dir, { recursive: true });
    for (let i = 0; i < 4; i += 1) {
      await writeFile(join(dir, 'onnx', 'model.onnx'), mutate(graph, random));
      const result = await cli(['inspect', dir], { timeout: 60_000 });
      expect([0, 2], String(result.stderr)).toContain(result.exitCode);
      expect(String(result.stderr)).not.toMatch(/\n\s+at .+:\d+:\d+|unexpected failure/);
    }
  });

  it('configs: 300 random config.json objects', () => {
    const random = rng(56);
    const values = [0, -1, 1, 7, 64, 1e9, 2 ** 53, 1.5, Number.NaN, 'x', null, true, [], {}, '64'];
    const keys = Object.keys(TINY_LLAMA);
    let errors = 0;
    for (let i = 0; i < 300; i += 1) {
      const config: Record<string, unknown> = { ...TINY_LLAMA };
      for (let k = 0; k < 1 + Math.floor(random() * 3); k += 1) config[keys[Math.floor(random() * keys.length)]!] = values[Math.floor(random() * values.length)];
      try {
        modelSpecFromHfConfig(config, { source: `fuzz-${i}` });
      } catch (error) {
        expect(isModelscoutError(error) && error.exitCode === 2, `config ${i}: ${String(error)}`).toBe(true);
        errors += 1;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });

  it('trees and reports: 80 mutated files each', async () => {
    const random = rng(78);
    const tree = await readFile(join('data', 'trees', 'default.yaml'));
    const report = Buffer.from(JSON.stringify({ schema_version: '1', tool: { name: 'modelscout', version: '0' }, results: [{ model: { id: 'x' } }] }));
    for (let i = 0; i < 80; i += 1) {
      const treeFile = join(root, `tree-${i}.yaml`);
      await writeFile(treeFile, mutate(tree, random));
      await expectCleanOutcome(`tree ${i}`, () => loadTreeFile(treeFile));
      const reportFile = join(root, `report-${i}.json`);
      await writeFile(reportFile, mutate(report, random));
      await expectCleanOutcome(`report ${i}`, () => readReport(reportFile));
    }
    // Nothing but the fuzz inputs and the model appeared in the folder (readers never write).
    const names = await readdir(root);
    expect(names.filter((n) => !/^(tree-\d+\.yaml|report-\d+\.json|config\.json|model|cli-fuzz)$/.test(n))).toEqual([]);
  });
});
