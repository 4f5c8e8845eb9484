import { copyFile, mkdir, readFile, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isModelscoutError } from '../../src/errors.js';
import { readModel } from '../../src/onnx/model-io.js';
import { synthesizeModel } from '../../src/onnx/synth/index.js';
import { decodeModel, encodeModel, type OnnxModel } from '../../src/onnx/proto.js';
import { TINY_LLAMA, cli, expectOneLineError, leftovers, removeDir, tempDir } from './helpers.js';


// CLI runs take seconds each on a loaded machine: generous per-test bounds (each run has its own timeout).
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
/**
 * Class 3 (bench reads external data only inside the model folder), class 5 (a truncated .onnx never
 * passes as valid) and class 9 (missing, truncated, empty or outside-symlinked external data).
 */
let root: string;
let model: string;
let graphBytes: Buffer;

beforeAll(async () => {
  root = await tempDir('onnx');
  await writeFile(join(root, 'config.json'), JSON.stringify(TINY_LLAMA));
  model = join(root, 'model');
  await synthesizeModel({ source: join(root, 'config.json'), dtype: 'fp32', layers: 1, seed: 2, outDir: model });
  graphBytes = await readFile(join(model, 'onnx', 'model.onnx'));
});
afterAll(async () => {
  expect(await leftovers(root)).toEqual([]);
  await removeDir(root);
});

/** A copy of the model folder whose graph is changed by `edit` (and whose data file can be changed after). */
async function variantOf(name: string, edit: (m: OnnxModel) => void): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  await copyFile(join(model, 'config.json'), join(dir, 'config.json'));
  await copyFile(join(model, 'onnx', 'model.onnx_data'), join(dir, 'onnx', 'model.onnx_data'));
  const m = decodeModel(graphBytes);
  edit(m);
  await writeFile(join(dir, 'onnx', 'model.onnx'), encodeModel(m));
  return dir;
}

function setLocation(m: OnnxModel, location: string): void {
  const t = m.graph!.initializer.find((i) => i.external_data.length > 0)!;
  t.external_data = t.external_data.map((e) => (e.key === 'location' ? { key: 'location', value: location } : e));
}

/** Top-level field boundaries of a serialized protobuf message (where a clean cut decodes). */
function fieldBoundaries(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
      shift += 7;
    }
  };
  while (pos < bytes.length) {
    const wire = varint() & 7;
    if (wire === 0) varint();
    else if (wire === 2) {
      const length = varint();
      pos += length;
    }
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`wire type ${wire}`);
    out.push(pos);
  }
  return out;
}

describe('class 5: a truncated .onnx never passes as valid', () => {
  it('every clean cut between top-level fields (and 60 cuts anywhere) is a one-line E_MODEL', async () => {
    const boundaries = fieldBoundaries(graphBytes).filter((b) => b < graphBytes.length);
    const anywhere = Array.from({ length: 60 }, (_, i) => 1 + Math.floor(((i + 0.5) / 60) * (graphBytes.length - 2)));
    const cuts = [...new Set([...boundaries, ...anywhere])];
    expect(boundaries.length).toBeGreaterThan(3);
    const file = join(root, 'cut.onnx');
    for (const cut of cuts) {
      await writeFile(file, graphBytes.subarray(0, cut));
      const error = await readModel(file).then(() => null, (e: unknown) => e);
      expect(isModelscoutError(error) && error.code === 'E_MODEL', `cut at ${cut} of ${graphBytes.length} passed as valid`).toBe(true);
    }
    await rm(file);
  });

  it('the cut that used to drop the metadata (and the synthetic label) is refused by inspect, quantize and bench', async () => {
    const dir = join(root, 'cut-metadata');
    await mkdir(join(dir, 'onnx'), { recursive: true });
    await copyFile(join(model, 'onnx', 'model.onnx_data'), join(dir, 'onnx', 'model.onnx_data'));
    // The metadata is written first: the first top-level boundary is where it ends.
    const m = decodeModel(graphBytes);
    expect(m.metadata_props.some((p) => p.key === 'modelscout.synthetic')).toBe(true);
    // Before, the metadata came last: a cut before the last top-level fields decoded as a whole model.
    const lastBoundary = fieldBoundaries(graphBytes).filter((b) => b < graphBytes.length).pop()!;
    await writeFile(join(dir, 'onnx', 'model.onnx'), graphBytes.subarray(0, lastBoundary));
    for (const args of [['inspect', dir], ['quantize', dir, '--no-fidelity'], ['bench', dir, '--tests', 'tg2', '--repetitions', '1', '--warmup', '0']]) {
      const result = await cli(args);
      expect(result.exitCode, `${args[0]}: ${String(result.stderr)}`).not.toBe(0);
      expect(String(result.stderr) + String(result.stdout)).toMatch(/not a valid ONNX model \(truncated or corrupt/);
      expect(String(result.stderr)).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
    expect(await readdir(join(dir, 'onnx'))).not.toContain('model_q4.onnx');
  });
});

describe('class 3: bench reads external data only inside the model folder', () => {
  it('a ../ location is refused and the outside file is never hashed into the report', async () => {
    await writeFile(join(root, 'secret.bin'), Buffer.alloc(1 << 20, 7));
    const dir = await variantOf('escape', (m) => setLocation(m, '../../secret.bin'));
    const result = await cli(['bench', dir, '--tests', 'tg2', '--repetitions', '1', '--warmup', '0', '--json']);
    expect(result.exitCode).not.toBe(0);
    expect(String(result.stdout) + String(result.stderr)).toMatch(/must be a relative path inside the model folder/);
    // Named in the error, never hashed: no `"…secret.bin": "<sha256>"` entry.
    expect(String(result.stdout)).not.toMatch(/secret\.bin": "[0-9a-f]{64}"/);
  });

  it('a location that is a device (through a symlink in the folder) fails at once instead of hanging', async () => {
    const dir = await variantOf('device', (m) => setLocation(m, 'zero'));
    await symlink('/dev/zero', join(dir, 'onnx', 'zero'));
    const started = Date.now();
    for (const args of [['bench', dir, '--tests', 'tg2', '--repetitions', '1', '--warmup', '0'], ['inspect', dir]]) {
      const result = await cli(args, { timeout: 60_000 });
      expect(result.timedOut).toBe(false);
      expect(String(result.stdout) + String(result.stderr)).toMatch(/is not a regular file/);
    }
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});

describe('class 9: missing, truncated, empty or outside-symlinked external data', () => {
  it('inspect: truncated data, empty data and an offset past the end are one-line errors (exit 2)', async () => {
    const truncated = await variantOf('truncated-data', () => undefined);
    await truncate(join(truncated, 'onnx', 'model.onnx_data'), 1000);
    expectOneLineError(await cli(['inspect', truncated]), /needs bytes \d+\.\.\d+ of model\.onnx_data, which has 1000 bytes/);
    const empty = await variantOf('empty-data', () => undefined);
    await truncate(join(empty, 'onnx', 'model.onnx_data'), 0);
    expectOneLineError(await cli(['inspect', empty]), /which has 0 bytes/);
    const past = await variantOf('offset-past-end', (m) => {
      const t = m.graph!.initializer.find((i) => i.external_data.length > 0)!;
      t.external_data = t.external_data.map((e) => (e.key === 'offset' ? { key: 'offset', value: '999999999' } : e));
    });
    expectOneLineError(await cli(['inspect', past]), /needs bytes 999999999\.\./);
  });

  it('quantize: a missing data file and a data file symlinked to a short outside file fail before anything is published', async () => {
    const missing = await variantOf('missing-data', () => undefined);
    await rm(join(missing, 'onnx', 'model.onnx_data'));
    expectOneLineError(await cli(['quantize', missing, '--no-fidelity']), /external data file model\.onnx_data not found/);
    const linked = await variantOf('linked-data', () => undefined);
    await writeFile(join(root, 'short-outside.bin'), Buffer.alloc(100));
    await rm(join(linked, 'onnx', 'model.onnx_data'));
    await symlink(join(root, 'short-outside.bin'), join(linked, 'onnx', 'model.onnx_data'));
    expectOneLineError(await cli(['quantize', linked, '--no-fidelity']), /which has 100 bytes/);
    for (const dir of [missing, linked]) expect(await readdir(join(dir, 'onnx'))).not.toContain('model_q4.onnx');
  });
});
