import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecommendationReport, toRecommendationReport } from '../../src/recommend/report-json.js';

/** The recommendation report as written (snake_case, schema_version "2"), and version-1 files still read. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** A real `recommend --confirm` report written before the change: camelCase keys, `schemaVersion: 1`. */
const V1 = join(ROOT, 'fixtures/reports/confirm-report.json');

function cli(args: string[]) {
  return execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
}

/** Every object key in a JSON value, with its path; record keys (data) included. */
function keysOf(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => keysOf(v, `${path}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [`${path}/${k}`, ...keysOf(v, `${path}/${k}`)]);
}

let v1: unknown;
let dir: string;

beforeAll(async () => {
  v1 = JSON.parse(await readFile(V1, 'utf8'));
  dir = await mkdtemp(join(tmpdir(), 'modelscout-report-json-'));
});

afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('recommendation report version 2', () => {
  it('reads a version-1 file (camelCase, schemaVersion 1)', () => {
    expect((v1 as { schemaVersion: number }).schemaVersion).toBe(1);
    const rec = readRecommendationReport(v1, 'v1');
    expect(rec.confirm?.candidates.length).toBeGreaterThan(0);
    expect(rec).toEqual(v1);
  });

  it('writes snake_case keys and a string schema_version, in the confirm part too', () => {
    const report = toRecommendationReport(readRecommendationReport(v1, 'v1'));
    expect(report).toMatchObject({ schema_version: '2', kind: 'modelscout.recommendation', confirm: { schema_version: '2', kind: 'modelscout.confirm' } });
    const camel = keysOf(report).filter((p) => /(^|\/)[a-z][a-z0-9]*[A-Z]/.test(p.split('/').pop()!));
    expect(camel).toEqual([]);
    // Parts that were snake_case already (the bench results inside the confirm report) are unchanged.
    const measurement = (report.confirm as { candidates: { measurements: { results: Record<string, unknown>[] }[] }[] }).candidates[0]!.measurements[0]!;
    expect(Object.keys(measurement.results[0]!)).toEqual(Object.keys((v1 as { confirm: { candidates: { measurements: { results: object[] }[] }[] } }).confirm.candidates[0]!.measurements[0]!.results[0]!));
  });

  it('round-trips: version 2 read back equals the code form, also where a snake key and a camel key meet (ttft_ms / ttftMs)', () => {
    const rec = readRecommendationReport(v1, 'v1');
    const written = JSON.parse(JSON.stringify(toRecommendationReport(rec))) as unknown;
    expect(readRecommendationReport(written, 'v2')).toEqual(rec);
  });

  it('validates against the committed JSON Schema; a version-1 file does not', async () => {
    const schema = JSON.parse(await readFile(join(ROOT, 'schemas/recommendation.schema.json'), 'utf8')) as Record<string, unknown>;
    const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
    const report = toRecommendationReport(readRecommendationReport(v1, 'v1'));
    expect(validate(report), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    expect(validate(v1)).toBe(false);
  });

  it('an unknown version is one line naming what is read', () => {
    expect(() => readRecommendationReport({ schema_version: '3', kind: 'modelscout.recommendation' }, 'x.json')).toThrow(
      'x.json has schema_version "3"; this modelscout reads recommendation reports "2" and 1',
    );
    const bad = { ...(toRecommendationReport(readRecommendationReport(v1, 'v1')) as Record<string, unknown>), targets: 5 };
    expect(() => readRecommendationReport(bad, 'x.json')).toThrow(/^x\.json is not a valid modelscout report: targets: /);
  });

  it('`report` renders both versions; recommend --json writes version 2', async () => {
    const v2Path = join(dir, 'v2.json');
    const r = await cli(['recommend', '--json', '--out', v2Path]);
    expect(r.exitCode, r.stderr).toBe(0);
    const written = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(written.schema_version).toBe('2');
    expect(written).not.toHaveProperty('schemaVersion');
    expect(JSON.parse(await readFile(v2Path, 'utf8'))).toEqual(written);
    for (const file of [V1, v2Path]) {
      const html = join(dir, 'page.html');
      const page = await cli(['report', file, '--html', html, '--json']);
      expect(page.exitCode, page.stderr).toBe(0);
      expect(await readFile(html, 'utf8')).toContain('modelscout recommend');
    }
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ ...written, schema_version: 9 }));
    const refused = await cli(['report', bad]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr.split('\n')[0]).toContain('has schema_version 9; this modelscout reads recommendation reports "2" and 1');
  });
});
