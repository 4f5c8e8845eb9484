import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { modelSpecFromGguf } from '../../src/catalog/gguf-config.js';
import { readGgufHeader } from '../../src/hub/gguf.js';
import { resolveGguf } from '../../src/hub/resolve-model.js';
import { ggufWeightsOf } from '../../src/cli/model-source.js';
import { llamaMetadata, llamaTensors, writeGguf } from '../helpers/gguf-writer.js';
import { caught, makeTempDir, removeDir } from './helpers.js';

const SHAPE = { hidden: 256, layers: 3, heads: 4, kvHeads: 2, inter: 512, vocab: 1000, context: 4096, tied: false };
let dir: string;

beforeEach(async () => {
  dir = await makeTempDir('gguf');
});

afterEach(async () => {
  await removeDir(dir);
});

describe('GGUF header reader', () => {
  it.each([
    ['Q4_0', 2, {}],
    ['Q8_0', 7, {}],
    ['Q4_K', 15, { 'attn_v.weight': 'Q6_K', 'ffn_down.weight': 'Q6_K', 'output.weight': 'Q6_K' }],
    ['Q5_K', 17, { 'output.weight': 'Q6_K' }],
    ['Q6_K', 18, {}],
    ['IQ4_XS', 30, { 'token_embd.weight': 'Q4_K' }],
    ['F16', 1, {}],
  ] as const)('%s: byte counts equal the file\'s tensor data', async (type, fileType, overrides) => {
    const path = join(dir, `m-${type}.gguf`);
    const written = await writeGguf(path, llamaMetadata(SHAPE, fileType), llamaTensors(SHAPE, type, overrides));
    const header = await readGgufHeader(path);
    expect(header.tensorBytes).toBe(written.tensorBytes);
    expect(header.dataOffset).toBe(written.dataOffset);
    expect(header.tensors).toHaveLength(1 + 3 * 9 + 2);
    expect(header.architecture).toBe('llama');
    expect(header.fileType).toBe({ 2: 'Q4_0', 7: 'Q8_0', 15: 'Q4_K_M', 17: 'Q5_K_M', 18: 'Q6_K', 30: 'IQ4_XS', 1: 'F16' }[fileType]);
    // The tokenizer's 1000 strings are streamed past, their count kept.
    expect(header.metadata.get('tokenizer.ggml.tokens')).toMatchObject({ type: 'string', length: 1000, values: null });
    const mix = new Set(header.tensors.map((t) => t.type));
    expect(mix.has(type)).toBe(true);
  });

  it('turns the metadata into the architecture, with the exact parameter count', async () => {
    const path = join(dir, 'q4km.gguf');
    await writeGguf(path, llamaMetadata(SHAPE, 15, 'My Model'), llamaTensors(SHAPE, 'Q4_K', { 'attn_v.weight': 'Q6_K' }));
    const header = await readGgufHeader(path);
    const spec = modelSpecFromGguf({ metadata: header.metadata, tensors: header.tensors, source: path });
    expect(spec).toMatchObject({ modelType: 'llama', hiddenSize: 256, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 64, intermediateSize: 512, vocabSize: 1000, maxContext: 4096, tieWordEmbeddings: false });
    const resolved = await resolveGguf(path);
    expect(resolved.kind).toBe('gguf');
    expect(resolved.stored?.params).toBe(header.tensors.reduce((s, t) => s + t.elements, 0));
    expect(resolved.spec.paramsTotal).toBe(resolved.stored?.params);
    expect(resolved.stored?.bytes).toBe(header.tensorBytes);
    expect(resolved.gguf?.fileType).toBe('Q4_K_M');
    expect(resolved.stored?.dtypes.map((t) => t.dtype).sort()).toEqual(['F32', 'Q4_K', 'Q6_K']);
    const weights = ggufWeightsOf(resolved.gguf!, resolved.spec);
    expect(weights.totalBytes).toBe(header.tensorBytes);
    expect(weights.preset).toBe('Q4_K_M');
  });

  it('a tied model has no output.weight', async () => {
    const path = join(dir, 'tied.gguf');
    await writeGguf(path, llamaMetadata(SHAPE, 7), llamaTensors({ ...SHAPE, tied: true }, 'Q8_0'));
    const { spec } = await resolveGguf(path);
    expect(spec.tieWordEmbeddings).toBe(true);
  });

  it('truncated and corrupt files are one line each', async () => {
    const path = join(dir, 'good.gguf');
    const written = await writeGguf(path, llamaMetadata(SHAPE, 2), llamaTensors(SHAPE, 'Q4_0'));
    const bytes = await readFile(path);
    const cases: [string, Buffer, RegExp][] = [
      ['header-cut.gguf', bytes.subarray(0, Math.floor(written.dataOffset / 2)), /truncated header/],
      ['data-cut.gguf', bytes.subarray(0, written.dataOffset + 100), /the tensors need \d+ bytes but the file has \d+ \(truncated\)/],
      ['magic.gguf', Buffer.concat([Buffer.from('GGML'), bytes.subarray(4)]), /starts with "GGML", not "GGUF"/],
      ['version.gguf', Buffer.concat([bytes.subarray(0, 4), Buffer.from([9, 0, 0, 0]), bytes.subarray(8)]), /GGUF version 9/],
      ['count.gguf', Buffer.concat([bytes.subarray(0, 8), Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), bytes.subarray(16)]), /claims 4294967295 tensors/],
      ['empty.gguf', Buffer.alloc(0), /truncated header/],
    ];
    for (const [name, data, pattern] of cases) {
      const file = join(dir, name);
      await writeFile(file, data);
      const error = await caught(() => readGgufHeader(file));
      expect(error.code, name).toBe('E_MODEL');
      expect(error.exitCode, name).toBe(2);
      expect(error.message, name).toMatch(pattern);
      expect(error.message, name).not.toContain('\n');
    }
  });
});
