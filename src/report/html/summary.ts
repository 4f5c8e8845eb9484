/**
 * What `modelscout report --json` returns after writing an HTML page: which report it was, where the page
 * went, and each chart with the number of marks it holds. Its JSON Schema is generated from this zod schema.
 */
import { z } from 'zod';

export const HTML_SUMMARY_SCHEMA_VERSION = '1';

export const htmlSummarySchema = z
  .object({
    schema_version: z.literal(HTML_SUMMARY_SCHEMA_VERSION),
    input: z.string().meta({ description: 'The report that was rendered.' }),
    report_kind: z.enum(['bench', 'comparison', 'recommendation', 'serve']),
    html: z.string().meta({ description: 'Where the page was written.' }),
    html_bytes: z.number().int().min(0),
    charts: z.array(z.object({ id: z.string(), title: z.string(), marks: z.number().int().min(0) })),
  })
  .meta({ title: 'modelscout HTML report summary', description: 'Output of `modelscout report FILE --html OUT --json` (schema_version 1).' });

export type HtmlSummary = z.infer<typeof htmlSummarySchema>;

export function buildHtmlSummaryJsonSchema(): Record<string, unknown> {
  return { $id: 'urn:modelscout:html-summary:1', ...(z.toJSONSchema(htmlSummarySchema, { target: 'draft-2020-12' }) as Record<string, unknown>) };
}
