/**
 * The JSON Schemas committed under schemas/, generated from the zod schemas in the code (never edited by
 * hand): `npm run schemas` writes them, a test fails when the committed files are stale. It sits above the
 * layers because it gathers the schemas of several of them.
 */
import { z } from 'zod';
import { benchConfigFileSchema } from './bench/config.js';
import { buildCalibrationJsonSchema, buildCalibrationResetJsonSchema, buildCalibrationSummaryJsonSchema } from './pipeline/calibration.js';
import { buildTreeJsonSchema } from './tree/file-format.js';
import { buildGenerateJsonSchema } from './bench/run-generate.js';
import { buildCacheJsonSchemas } from './hub/cache.js';
import { buildPullJsonSchema } from './hub/pull-report.js';
import { buildComparisonJsonSchema } from './report/compare.js';
import { buildSynthJsonSchema } from './onnx/synth/report.js';
import { buildInspectJsonSchema } from './onnx/inspect-report.js';
import { buildQuantizeJsonSchema } from './quantize/report.js';
import { buildModelListingJsonSchema } from './recommend/model-listing.js';
import { buildModelShowJsonSchema } from './recommend/model-description.js';
import { buildCatalogUpdateJsonSchema } from './hub/catalog-update-report.js';
import { buildHardwareJsonSchema } from './hardware/schema.js';
import { buildRecommendationJsonSchema } from './recommend/schema.js';
import { buildHtmlSummaryJsonSchema } from './report/html/summary.js';
import { buildReportJsonSchema } from './report/schema.js';
import { buildServeRecordJsonSchema, buildServeReportJsonSchema } from './report/serve-schema.js';

export interface SchemaFile {
  /** Path relative to the repository root. */
  path: string;
  schema: Record<string, unknown>;
}

export function buildSchemaFiles(): SchemaFile[] {
  const config = z.toJSONSchema(benchConfigFileSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return [
    { path: 'schemas/bench-report.schema.json', schema: buildReportJsonSchema() },
    { path: 'schemas/bench-config.schema.json', schema: { $id: 'urn:modelscout:bench-config:1', ...config } },
    { path: 'schemas/calibration.schema.json', schema: buildCalibrationJsonSchema() },
    { path: 'schemas/calibration-summary.schema.json', schema: buildCalibrationSummaryJsonSchema() },
    { path: 'schemas/calibration-reset.schema.json', schema: buildCalibrationResetJsonSchema() },
    { path: 'schemas/comparison.schema.json', schema: buildComparisonJsonSchema() },
    { path: 'schemas/decision-tree.schema.json', schema: buildTreeJsonSchema() },
    { path: 'schemas/cache-listing.schema.json', schema: buildCacheJsonSchemas().listing },
    { path: 'schemas/cache-removal.schema.json', schema: buildCacheJsonSchemas().removal },
    { path: 'schemas/pull.schema.json', schema: buildPullJsonSchema() },
    { path: 'schemas/generation.schema.json', schema: buildGenerateJsonSchema() },
    { path: 'schemas/synthesis.schema.json', schema: buildSynthJsonSchema() },
    { path: 'schemas/inspection.schema.json', schema: buildInspectJsonSchema() },
    { path: 'schemas/quantization.schema.json', schema: buildQuantizeJsonSchema() },
    { path: 'schemas/model-listing.schema.json', schema: buildModelListingJsonSchema() },
    { path: 'schemas/model-description.schema.json', schema: buildModelShowJsonSchema() },
    { path: 'schemas/catalog-update.schema.json', schema: buildCatalogUpdateJsonSchema() },
    { path: 'schemas/hardware.schema.json', schema: buildHardwareJsonSchema() },
    { path: 'schemas/recommendation.schema.json', schema: buildRecommendationJsonSchema() },
    { path: 'schemas/html-summary.schema.json', schema: buildHtmlSummaryJsonSchema() },
    { path: 'schemas/serve-report.schema.json', schema: buildServeReportJsonSchema() },
    { path: 'schemas/serve-request-record.schema.json', schema: buildServeRecordJsonSchema() },
  ];
}

/** The exact text written for a schema file (stable: two-space JSON and a final newline). */
export function schemaFileText(file: SchemaFile): string {
  return `${JSON.stringify(file.schema, null, 2)}\n`;
}
