import { z } from 'zod';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import type { QuantizeResult } from './index.js';
import type { Assignable, Expect } from '../util/type-checks.js';

/** `quantize --json` as zod: snake_case keys (`toJsonReport`), `schemas/quantization.schema.json` generated from it. */
const bytes = z.number().min(0);
const errorStats = { count: z.number().int().min(0), maxAbs: z.number(), rmse: z.number(), relativeFrobenius: z.number() };
const tensorSchema = z.strictObject({
  ...errorStats,
  name: z.string(),
  nodes: z.array(z.string()),
  kind: z.enum(['matmul', 'gather', 'matmul+gather']),
  K: z.number().int().min(1),
  N: z.number().int().min(1),
  dtype: z.enum(['float32', 'float16']),
  bytesBefore: bytes,
  bytesAfter: bytes,
});
const fidelityMetrics = { positions: z.number().int().min(0), cosineMean: z.number(), cosineMin: z.number(), top1Agreement: z.number(), klMean: z.number(), klMax: z.number() };

const quantizeReportSchema = z.strictObject({
  input: z.strictObject({
    model: z.string(),
    folder: z.string(),
    bytes,
    sha256: z.string(),
    files: z.array(z.strictObject({ path: z.string(), bytes, sha256: z.string() })),
    synthetic: z.boolean(),
  }),
  output: z.strictObject({ folder: z.string(), model: z.string(), data: z.string().nullable(), bytes, copied: z.array(z.string()) }),
  settings: z.strictObject({
    method: z.literal('rtn'),
    bits: z.literal(4),
    blockSize: z.number().int(),
    symmetric: z.boolean(),
    accuracyLevel: z.number().int(),
    embeddings: z.boolean(),
    keepLmHead: z.boolean(),
    exclude: z.array(z.string()),
    excludedNodes: z.array(z.string()),
  }),
  size: z.strictObject({ before: bytes, after: bytes, ratio: z.number(), reduction: z.number(), bitsPerWeight: z.number(), quantizedWeights: z.number().int().min(0) }),
  nodes: z.strictObject({
    matMul: z.number().int().min(0),
    quantizedMatMul: z.number().int().min(0),
    quantizedGather: z.number().int().min(0),
    lmHead: z.string().nullable(),
    embedding: z.string().nullable(),
    skipped: z.array(z.strictObject({ node: z.string(), op: z.string(), reason: z.string() })),
  }),
  tensors: z.array(tensorSchema),
  worstTensors: z.array(tensorSchema),
  error: z.strictObject({ maxAbs: z.number(), rmse: z.number(), relativeFrobenius: z.number() }),
  fidelity: z.union([
    z.strictObject({
      ran: z.literal(true),
      ...fidelityMetrics,
      sequenceLength: z.number().int().min(1),
      seed: z.number().int(),
      vocabSize: z.number().int().min(1),
      thresholds: z.strictObject({ cosineMean: z.number(), klMean: z.number() }),
      pass: z.boolean(),
      reasons: z.array(z.string()),
    }),
    z.strictObject({ ran: z.literal(false), reason: z.string() }),
  ]),
  performance: z.strictObject({ seconds: z.number(), cpuSeconds: z.number(), inputWeightBytes: bytes, throughputMBps: z.number(), peakRssBytes: bytes }),
});

export const QUANTIZATION_REPORT_KIND = 'modelscout.quantization';

export function quantizeJsonReport(result: QuantizeResult): Record<string, unknown> {
  return toJsonReport(quantizeReportSchema, result, QUANTIZATION_REPORT_KIND, '1');
}

export function buildQuantizeJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(quantizeReportSchema, QUANTIZATION_REPORT_KIND, '1');
}

export type QuantizeSchemaChecks = [Expect<Assignable<z.infer<typeof quantizeReportSchema>, QuantizeResult>>, Expect<Assignable<QuantizeResult, z.infer<typeof quantizeReportSchema>>>];
