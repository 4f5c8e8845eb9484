import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { buildSchemaFiles, schemaFileText } from '../../src/json-schemas.js';
import { benchReportSchema } from '../../src/report/schema.js';
import { makeReport, makeResult } from './make-report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('committed JSON Schemas', () => {
  for (const file of buildSchemaFiles()) {
    it(`${file.path} is up to date with the code (run \`npm run schemas\` after a change)`, async () => {
      const committed = await readFile(join(ROOT, file.path), 'utf8');
      expect(committed).toBe(schemaFileText(file));
    });
  }

  it('the report schema accepts a constructed report and rejects a renamed field', () => {
    const files = buildSchemaFiles();
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(files.find((f) => f.path.endsWith('bench-report.schema.json'))!.schema);
    const report = makeReport([makeResult({})]);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(benchReportSchema.parse(report)).toEqual(report);
    const renamed = JSON.parse(JSON.stringify(report)) as Record<string, unknown> & { results: Record<string, unknown>[] };
    const result = renamed.results[0]!;
    result.decode = result.metrics;
    delete result.metrics;
    expect(validate(renamed)).toBe(false);
  });

  it('the example modelscout.bench.json validates against the config schema', async () => {
    const schema = buildSchemaFiles().find((f) => f.path.endsWith('bench-config.schema.json'))!.schema;
    const validate = new Ajv2020({ strict: false }).compile(schema);
    const example = JSON.parse(await readFile(join(ROOT, 'modelscout.bench.json'), 'utf8')) as unknown;
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ models: ['a'], unknown_key: 1 })).toBe(false);
  });
});
