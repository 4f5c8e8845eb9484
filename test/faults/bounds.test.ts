import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeReportOrSay } from '../../src/cli/write-report.js';
import { synthesizeModel } from '../../src/onnx/synth/index.js';
import { TINY_LLAMA, cli, expectOneLineError, leftovers, removeDir, tempDir } from './helpers.js';


// CLI runs take seconds each on a loaded machine: generous per-test bounds (each run has its own timeout).
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
/** Class 6 (unbounded sizes) and class 7 (output errors come before any work, and late ones lose nothing). */
let root: string;
let model: string;

beforeAll(async () => {
  root = await tempDir('bounds');
  await writeFile(join(root, 'config.json'), JSON.stringify(TINY_LLAMA));
  model = join(root, 'model');
  await synthesizeModel({ source: join(root, 'config.json'), dtype: 'fp32', layers: 1, seed: 4, outDir: model });
  await writeFile(join(root, 'a-file'), 'x');
});
afterAll(async () => {
  expect(await leftovers(root)).toEqual([]);
  await removeDir(root);
});

const benchArgs = ['--tests', 'tg2', '--repetitions', '1', '--warmup', '0'];

describe('class 6: bounds on everything that sizes the work', () => {
  for (const [key, value, pattern] of [
    ['hidden_size', 1e9, /hidden_size 1000000000 is larger than any real model's/],
    ['num_hidden_layers', 1e9, /num_hidden_layers 1000000000 is larger than any real model's \(at most 1024\)/],
    ['vocab_size', 2 ** 40, /vocab_size \d+ is larger than any real model's/],
  ] as const) {
    it(`synth refuses ${key} ${value} up front (one line, exit 2, nothing written)`, async () => {
      const config = join(root, `${key}.json`);
      await writeFile(config, JSON.stringify({ ...TINY_LLAMA, [key]: value }));
      const out = join(root, `out-${key}`);
      const started = Date.now();
      expectOneLineError(await cli(['synth', config, '--out', out], { timeout: 60_000 }), pattern);
      expect(Date.now() - started).toBeLessThan(60_000);
      await expect(readdir(out)).rejects.toThrow();
    });
  }

  it('synth refuses a model larger than the free disk before writing a byte', async () => {
    // Within every bound, but 64 layers × hidden 16384 is ~200 GB of fp32 weights.
    const config = join(root, 'huge.json');
    await writeFile(config, JSON.stringify({ ...TINY_LLAMA, hidden_size: 16384, intermediate_size: 65536, num_attention_heads: 128, num_key_value_heads: 8, num_hidden_layers: 64, vocab_size: 200000 }));
    const out = join(root, 'out-huge');
    expectOneLineError(await cli(['synth', config, '--out', out]), /needs about [\d.]+ GiB in .*, which has [\d.]+ (GiB|MiB) free; nothing was written/);
    await expect(readdir(out)).rejects.toThrow();
  });

  it('bench --threads beyond 4 × the CPUs is a usage error before any measurement', async () => {
    expectOneLineError(await cli(['bench', model, '--threads', '100000', ...benchArgs]), /invalid --threads 100000: this machine has \d+ logical CPUs, expected 0 .* to \d+/);
  });

  it('a test longer than the model context fails up front instead of aborting the child', async () => {
    // The tiny llama has 128 positions: pp200 does not fit.
    expectOneLineError(await cli(['bench', model, '--tests', 'pp200', '--repetitions', '1', '--warmup', '0']), /test pp200 needs 200 positions, but .* holds at most 128/);
  });
});

describe('class 7: output locations are checked before any work', () => {
  const underFile = (): string => join(root, 'a-file', 'sub', 'out.json');
  it('bench --out a folder or an unwritable place: one line, exit 2, before measuring', async () => {
    const started = Date.now();
    expectOneLineError(await cli(['bench', model, ...benchArgs, '--out', root]), /cannot write --out .*: it is a folder/);
    expectOneLineError(await cli(['bench', model, ...benchArgs, '--out', underFile()]), /cannot write --out .*: it cannot be created: .*a-file is not a folder/);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('recommend --out a folder: one line, exit 2', async () => {
    expectOneLineError(await cli(['recommend', '--customization', 'no', '--latency', 'relaxed', '--out', root]), /cannot write --out .*: it is a folder/);
  });

  it('synth --out, quantize --out and pull --cache-dir under a file: one line each, exit 2, no raw ENOENT/EROFS', async () => {
    expectOneLineError(await cli(['synth', join(root, 'config.json'), '--layers', '1', '--out', join(root, 'a-file', 'm')]), /cannot write the output folder .*a-file is not a folder/);
    expectOneLineError(await cli(['quantize', model, '--no-fidelity', '--out', join(root, 'a-file', 'q')]), /cannot write --out .*a-file is not a folder/);
    const pull = await cli(['pull', 'onnx-community/tiny', '--cache-dir', join(root, 'a-file', 'cache')], { env: { HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_OFFLINE: '' } });
    expectOneLineError(pull, /cannot write the Hub cache folder .*a-file is not a folder/);
    for (const result of [pull]) expect(String(result.stderr)).not.toMatch(/ENOENT|EROFS|ENOTDIR/);
  });

  it('a report that cannot be written late keeps the results: one line says where, exit 1', async () => {
    const lines: string[] = [];
    const previous = process.exitCode;
    const written = await writeReportOrSay(root, '{}', (line) => lines.push(line));
    expect(written).toBe(false);
    expect(lines[0]).toMatch(/^Error: the report could not be written to .*; the results above are complete\.$/);
    expect(process.exitCode).toBe(1);
    process.exitCode = previous;
  });
});
