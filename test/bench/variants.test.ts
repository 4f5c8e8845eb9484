import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseVariantList } from '../../src/bench/config.js';
import { VARIANT_FILES, VARIANT_NAMES } from '../../src/estimate/weights.js';
import { variantOfFile } from '../../src/onnx/model-folder.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { FORMAT_LADDER } from '../../src/recommend/rank.js';
import { buildTinyModel } from '../helpers/tiny-model.js';

/** One set of variant names: what recommend ranks, quantize writes and bench/generate measure. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function cli(args: string[]) {
  return execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
}

describe('variant names', () => {
  it('bench accepts every format recommend ranks', () => {
    const ranked = [...new Set([...FORMAT_LADDER.cpu, ...FORMAT_LADDER.gpu])];
    expect(parseVariantList(ranked.join(','))).toEqual(ranked);
    for (const f of ranked) expect(VARIANT_NAMES).toContain(f);
  });

  it('each variant is found by its file name, and the file name by the variant', () => {
    for (const v of VARIANT_NAMES) expect(variantOfFile(`/m/onnx/${VARIANT_FILES[v]}`)).toEqual({ dtype: v, variant: v });
    expect(variantOfFile('model_quantized.onnx')).toEqual({ dtype: 'q8', variant: 'int8' });
    expect(() => parseVariantList('int4')).toThrow(/invalid variant "int4": expected .*fp32, fp16, int8, q4, q4f16, all/);
  });
});

describe('bench measures what quantize writes', () => {
  let dir: string;
  let model: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelscout-variants-'));
    model = (await buildTinyModel({ arch: 'llama', layers: 1, dtype: 'fp16', dir: join(dir, 'tiny') })).outDir;
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('quantize writes q4f16 from an fp16 model; bench --variant q4f16 runs it', async () => {
    const result = await quantizeModel(model, {});
    expect(basename(result.output.model)).toBe(VARIANT_FILES.q4f16);
    const r = await cli(['bench', model, '--variant', 'q4f16', '--tests', 'tg2', '--repetitions', '1', '--warmup', '0', '--threads', '1', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { results: { variant: { name: string }; error: unknown }[] };
    expect(report.results.map((x) => [x.variant.name, x.error])).toEqual([['q4f16', null]]);
  }, 120_000);

  it('a variant the folder lacks is named with its file', async () => {
    const r = await cli(['bench', model, '--variant', 'int8']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/has no int8 variant \(model_int8\.onnx\); it has fp16, q4f16/);
  });
});
