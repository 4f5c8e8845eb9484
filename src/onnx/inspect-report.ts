import { z } from 'zod';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import type { InspectReport } from './inspect.js';
import type { Assignable, Expect } from '../util/type-checks.js';

/** `inspect --json` as zod: snake_case keys (`toJsonReport`), `schemas/inspection.schema.json` generated from it. */
const count = z.number().int().min(0);
const bytes = z.number().min(0);
const ioSchema = z.strictObject({ name: z.string(), dtype: z.string(), shape: z.array(z.union([z.number(), z.string(), z.null()])).nullable() });

const inspectReportSchema = z.strictObject({
  file: z.string(),
  variants: z.array(z.strictObject({ variant: z.string(), file: z.string() })),
  fileBytes: bytes,
  externalData: z.array(z.strictObject({ location: z.string(), bytes })),
  totalBytes: bytes,
  irVersion: z.number().int().nullable(),
  producer: z.string().nullable(),
  opsets: z.array(z.strictObject({ domain: z.string(), version: z.number().int() })),
  inputs: z.array(ioSchema),
  outputs: z.array(ioSchema),
  nodes: count,
  // Op names (`com.microsoft::MatMulNBits`) and dtypes are values, never keys: nothing here is renamed.
  ops: z.array(z.strictObject({ op: z.string(), count })),
  parameters: count,
  initializerBytes: bytes,
  byDtype: z.array(z.strictObject({ dtype: z.string(), tensors: count, parameters: count, bytes })),
  weightFormat: z.strictObject({
    kind: z.string(),
    description: z.string(),
    floatMatMuls: count,
    matMulNBits: z.strictObject({
      count,
      bits: z.array(z.number().int()),
      blockSizes: z.array(z.number().int()),
      accuracyLevels: z.array(z.number().int()),
      symmetric: count,
    }),
  }),
  decoder: z
    .strictObject({
      inputIds: ioSchema,
      attentionMask: ioSchema.nullable(),
      positionIds: ioSchema.nullable(),
      logitsToKeep: ioSchema.nullable(),
      useCacheBranch: ioSchema.nullable(),
      logits: ioSchema,
      numLayers: count,
      numKvHeads: z.number().int().nullable(),
      headDim: z.number().int().nullable(),
      kvDtype: z.enum(['float32', 'float16']),
      kvBytesPerElement: z.number().int(),
      kvBytesPerToken: z.number().nullable(),
      vocabSize: z.number().int().nullable(),
      pastKeyNames: z.array(z.string()),
      pastValueNames: z.array(z.string()),
      presentKeyNames: z.array(z.string()),
      presentValueNames: z.array(z.string()),
      kvBytesPerTokenFp16: z.number().nullable(),
    })
    .nullable(),
  decoderProblem: z.string().nullable(),
  synthetic: z.boolean(),
  metadata: z.strictObject({
    synthetic: z.boolean(),
    seed: z.number().nullable(),
    source: z.string().nullable(),
    numLayersBuilt: z.number().int().nullable(),
    numLayersFull: z.number().int().nullable(),
    graph: z.enum(['standard', 'fused']).nullable(),
    // The model's own metadata: its keys are data, written as found.
    quantization: z.record(z.string(), z.unknown()).nullable(),
    all: z.record(z.string(), z.string()),
  }),
});

export const INSPECTION_REPORT_KIND = 'modelscout.inspection';

export function inspectJsonReport(report: InspectReport): Record<string, unknown> {
  return toJsonReport(inspectReportSchema, report, INSPECTION_REPORT_KIND, '1');
}

export function buildInspectJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(inspectReportSchema, INSPECTION_REPORT_KIND, '1');
}

export type InspectSchemaChecks = [Expect<Assignable<z.infer<typeof inspectReportSchema>, InspectReport>>, Expect<Assignable<InspectReport, z.infer<typeof inspectReportSchema>>>];
