/**
 * Reading a saved report back (a `--baseline`, the inputs of `compare`), validated against the schema, so
 * a malformed or foreign file is one clear usage error instead of a crash deep in the comparison.
 */
import { readFile } from 'node:fs/promises';
import { ModelscoutError, errorMessage, jsonSyntaxReason } from '../errors.js';
import { SCHEMA_VERSION, benchReportSchema, type BenchReport } from './schema.js';

/** Validates parsed JSON as a report; `what` names the file in the error (e.g. `baseline ci/base.json`). */
export function parseReport(value: unknown, what: string): BenchReport {
  if (value && typeof value === 'object' && 'schema_version' in value && (value as { schema_version: unknown }).schema_version !== SCHEMA_VERSION) {
    const v = (value as { schema_version: unknown }).schema_version;
    throw new ModelscoutError('E_INPUT', `${what} has schema_version ${JSON.stringify(v)}; this modelscout reads "${SCHEMA_VERSION}"`, {
      suggestions: ['Produce the baseline again with this version of modelscout (`modelscout bench ... --out FILE`).'],
    });
  }
  const parsed = benchReportSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') || '(top level)' : '(unknown)';
    throw new ModelscoutError('E_INPUT', `${what} is not a modelscout bench report: ${where}: ${issue?.message ?? 'invalid'}`, {
      suggestions: ['Pass a file written by `modelscout bench --json` or `--out FILE`.'],
    });
  }
  return parsed.data;
}

/** Reads a JSON file; a missing, unreadable or malformed file is one clear error naming it. */
export async function readJsonFile(path: string, what = 'report'): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ModelscoutError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_FILE', `${what} ${path} cannot be read: ${code === 'ENOENT' ? 'no such file' : errorMessage(error)}`, {
      suggestions: ['Check the path; a report is the `--out` file of an earlier `modelscout bench` or `recommend --confirm` run.'],
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelscoutError('E_INPUT', `${what} ${path} is not valid JSON: ${jsonSyntaxReason(error)}`, {
      suggestions: ['Pass a file written by `modelscout bench --json` or `--out FILE`.'],
    });
  }
}

/** Reads and validates a report file. */
export async function readReport(path: string, what = 'report'): Promise<BenchReport> {
  return parseReport(await readJsonFile(path, what), `${what} ${path}`);
}
