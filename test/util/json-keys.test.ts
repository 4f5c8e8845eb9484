import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { renameKeys, snakeCase, toJsonReport } from '../../src/util/json-keys.js';

describe('JSON keys', () => {
  it('snake_cases field names, a run of capitals as one word', () => {
    expect(['totalBytes', 'frequencyGHz', 'throughputMBps', 'K', 'top1Agreement', 'kvBytesPerTokenFp16', 'ttft_ms', 'id'].map(snakeCase)).toEqual([
      'total_bytes', 'frequency_ghz', 'throughput_mbps', 'k', 'top1_agreement', 'kv_bytes_per_token_fp16', 'ttft_ms', 'id',
    ]);
  });

  it('renames field names both ways as the schema describes them, never record keys', () => {
    const schema = z.strictObject({ cacheDir: z.string(), byFile: z.record(z.string(), z.strictObject({ sizeBytes: z.number() })), rows: z.array(z.strictObject({ K: z.number() })) });
    const value = { cacheDir: '/c', byFile: { 'Model.onnx': { sizeBytes: 1 } }, rows: [{ K: 2 }] };
    const snake = renameKeys(schema, value, 'snake');
    expect(snake).toEqual({ cache_dir: '/c', by_file: { 'Model.onnx': { size_bytes: 1 } }, rows: [{ k: 2 }] });
    expect(renameKeys(schema, snake, 'camel')).toEqual(value);
    expect(Object.keys(toJsonReport(schema, value, 'modelscout.test', '1')).slice(0, 2)).toEqual(['schema_version', 'kind']);
  });
});
