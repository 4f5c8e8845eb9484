import { ModelscoutError } from '../errors.js';
import { renameKeys } from '../util/json-keys.js';
import { CONFIRM_SCHEMA_VERSION } from './confirm-report.js';
import { recommendationSchema } from './schema.js';
import { RECOMMENDATION_REPORT_VERSION, RECOMMENDATION_SCHEMA_VERSION, type Recommendation } from './types.js';

/** The recommendation as written to `--json` and `--out`: snake_case keys, `schema_version` "2". */
export type RecommendationReport = Record<string, unknown> & { schema_version: typeof RECOMMENDATION_REPORT_VERSION; kind: 'modelscout.recommendation' };

export function toRecommendationReport(recommendation: Recommendation): RecommendationReport {
  const out = renameKeys(recommendationSchema, recommendation, 'snake') as Record<string, unknown>;
  const confirm = out.confirm as Record<string, unknown> | null;
  return {
    ...out,
    schema_version: RECOMMENDATION_REPORT_VERSION,
    kind: 'modelscout.recommendation',
    confirm: confirm === null ? null : { ...confirm, schema_version: RECOMMENDATION_REPORT_VERSION },
  };
}

/**
 * A recommendation report read back: version "2" (snake_case) or version 1 (camelCase, `schemaVersion: 1`),
 * checked against the schema. Throws E_INPUT (exit 2) naming the first problem.
 */
export function readRecommendationReport(value: unknown, what: string): Recommendation {
  const file = value as { schema_version?: unknown; schemaVersion?: unknown } | null;
  let internal: unknown = value;
  if (file?.schema_version === RECOMMENDATION_REPORT_VERSION) {
    const camel = renameKeys(recommendationSchema, value, 'camel') as Record<string, unknown>;
    const confirm = camel.confirm as Record<string, unknown> | null | undefined;
    internal = { ...camel, schemaVersion: RECOMMENDATION_SCHEMA_VERSION, confirm: confirm ? { ...confirm, schemaVersion: CONFIRM_SCHEMA_VERSION } : confirm };
  } else if (file?.schemaVersion !== RECOMMENDATION_SCHEMA_VERSION) {
    const version = file?.schema_version ?? file?.schemaVersion;
    throw new ModelscoutError('E_INPUT', `${what} has schema_version ${JSON.stringify(version)}; this modelscout reads recommendation reports "${RECOMMENDATION_REPORT_VERSION}" and 1`, {
      suggestions: ['Produce the report again with this version of modelscout (`modelscout recommend --json > FILE` or `--out FILE`).'],
    });
  }
  const parsed = recommendationSchema.safeParse(internal);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelscoutError('E_INPUT', `${what} is not a valid modelscout report: ${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}`, {
      suggestions: ['Pass a file modelscout wrote, unchanged.'],
    });
  }
  return parsed.data as Recommendation;
}
