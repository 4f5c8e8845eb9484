import { z } from 'zod';
import { jsonReportSchema, toJsonReport } from '../../util/json-keys.js';
import type { SynthResult } from './index.js';
import type { Assignable, Expect } from '../../util/type-checks.js';

/** `synth --json`: what was built and where, with the wall time, as a versioned snake_case report. */
export interface SynthReport extends SynthResult {
  wallMs: number;
}

const synthReportSchema = z.strictObject({
  id: z.string(),
  source: z.string(),
  outDir: z.string(),
  modelFile: z.string(),
  dataFile: z.string().nullable(),
  dtype: z.enum(['fp32', 'fp16']),
  seed: z.number().int().min(0),
  layersBuilt: z.number().int().min(1),
  layersFull: z.number().int().min(1),
  parameters: z.number().int().min(0),
  modelBytes: z.number().min(0),
  dataBytes: z.number().min(0),
  keptFiles: z.array(z.string()),
  graph: z.enum(['standard', 'fused']),
  genaiConfigFile: z.string().nullable(),
  verified: z.boolean(),
  wallMs: z.number().min(0),
});

export const SYNTH_REPORT_KIND = 'modelscout.synthesis';

export function synthJsonReport(report: SynthReport): Record<string, unknown> {
  return toJsonReport(synthReportSchema, report, SYNTH_REPORT_KIND, '1');
}

export function buildSynthJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(synthReportSchema, SYNTH_REPORT_KIND, '1');
}

export type SynthSchemaChecks = [Expect<Assignable<z.infer<typeof synthReportSchema>, SynthReport>>, Expect<Assignable<SynthReport, z.infer<typeof synthReportSchema>>>];
