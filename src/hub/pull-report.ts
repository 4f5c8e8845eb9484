import { z } from 'zod';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import type { PullResult } from './pull.js';
import type { Assignable, Expect } from '../util/type-checks.js';

/** `pull --json` as zod: snake_case keys (`toJsonReport`), `schemas/pull.schema.json` generated from it. */
const bytes = z.number().min(0);

const pullResultSchema = z.strictObject({
  source: z.enum(['hub', 'cache', 'local']),
  catalogId: z.string().nullable(),
  repo: z.string().nullable(),
  revision: z.string().nullable(),
  commit: z.string().nullable(),
  endpoint: z.string().nullable(),
  path: z.string(),
  cacheDir: z.string().nullable(),
  variants: z.array(z.string()),
  onnx: z.array(z.string()),
  files: z.array(
    z.strictObject({
      path: z.string(),
      size: bytes,
      checksum: z.string().nullable(),
      localPath: z.string(),
      downloaded: z.boolean(),
      transferredBytes: bytes,
      resumedFromBytes: bytes,
    }),
  ),
  transferredBytes: bytes,
  reusedBytes: bytes,
  totalBytes: bytes,
});

export const PULL_REPORT_KIND = 'modelscout.pull';

export function pullJsonReport(result: PullResult): Record<string, unknown> {
  return toJsonReport(pullResultSchema, result, PULL_REPORT_KIND, '1');
}

export function buildPullJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(pullResultSchema, PULL_REPORT_KIND, '1');
}

export type PullSchemaChecks = [Expect<Assignable<z.infer<typeof pullResultSchema>, PullResult>>, Expect<Assignable<PullResult, z.infer<typeof pullResultSchema>>>];
