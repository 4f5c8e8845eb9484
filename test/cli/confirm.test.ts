import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyInputs } from '../pipeline/helpers.js';
import { parseRecommendation } from '../helpers/recommendation.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('recommend --confirm (subprocess, tiny synthetic candidates)', () => {
  let dir: string;
  let inputs: { catalogFile: string; treeFile: string };
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-cli-confirm-'));
    inputs = await writeTinyInputs(dir);
    // No network and no user cache: the Hub is skipped and the calibration lives in the temp dir.
    env = { HF_HUB_OFFLINE: '1', XDG_CACHE_HOME: join(dir, 'cache'), MODELSCOUT_CALIBRATION: join(dir, 'calibration.json') };
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const run = (args: string[]) => execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false, env, extendEnv: true });
  const tiny = () => ['--tree', inputs.treeFile, '--catalog', inputs.catalogFile, '--context', '64'];

  it('measures, gives verdicts, writes the report atomically and prints only JSON on stdout with --json', async () => {
    const out = join(dir, 'report.json');
    const r = await run(['recommend', ...tiny(), '--confirm', '--quick', '--candidates', '2', '--work-dir', join(dir, 'work'), '--out', out, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const rec = parseRecommendation(r.stdout);
    expect(rec.confirm).toMatchObject({ schemaVersion: 1, kind: 'modelscout.confirm', mode: 'quick', reportPath: out, final: { status: 'confirmed' } });
    expect(rec.confirm!.candidates).toHaveLength(2);
    expect(rec.confirm!.candidates.every((c) => c.source.synthetic && c.verdict.status === 'confirmed')).toBe(true);
    expect(parseRecommendation(await readFile(out, 'utf8'))).toEqual(rec);
    // --json: no progress at all (stdout is the JSON; stderr stays quiet too).
    expect(r.stderr).not.toMatch(/HF_HUB_OFFLINE is set|synthesizing|step \d/);
    expect(r.stderr).not.toContain('\r');
    expect(existsSync(join(dir, 'calibration.json'))).toBe(true);
  });

  it('prints the recommendation, the measured table with verdicts, and the report path; reuses the built models', async () => {
    const r = await run(['recommend', ...tiny(), '--confirm', '--quick', '--candidates', '2', '--work-dir', join(dir, 'work'), '--out', join(dir, 'second.json'), '--price-per-hour', '0.05']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('Ranked candidates of the small (≤13B) class');
    expect(r.stdout).toMatch(/Confirmation on this machine \(quick: pp64\+tg16/);
    expect(r.stdout).toMatch(/│ 1 │ \S+ +│ synthetic, full depth │/);
    expect(r.stdout).toMatch(/✓ confirmed/);
    expect(r.stdout).toMatch(/cal\. /); // the first run calibrated the estimates
    expect(r.stdout).toMatch(/cost at \$0\.05\/h: \$[\d.]+ per million generated tokens/);
    expect(r.stdout).toMatch(/✓ Confirmed: /);
    expect(r.stdout).toContain(`Report (JSON): ${join(dir, 'second.json')}`);
    expect(r.stderr).not.toMatch(/synthesizing|quantizing/);
    // Without a terminal: each step as one plain line with the plan's prediction, no bar, no carriage return;
    // the models the first run built are reused, and said so without a prediction.
    expect(r.stderr).toMatch(/HF_HUB_OFFLINE is set/);
    expect(r.stderr).toMatch(/^step 1\/\d+: reusing Tiny-\S+, built by an earlier run$/m);
    expect(r.stderr).not.toMatch(/^step \d+\/\d+: building /m);
    expect(r.stderr).toMatch(/^step \d+\/\d+: benchmarking Tiny-\S+ (q4|fp32) pp64\+tg16 \(predicted (\d+ s|< 1 s|\d+ min)\)$/m);
    expect(r.stderr).not.toContain('\r');
  });

  it('calibration show lists what the runs measured; reset empties it', async () => {
    const shown = await run(['calibration', 'show', '--json']);
    expect(shown.exitCode, shown.stderr).toBe(0);
    const summary = JSON.parse(shown.stdout) as { file: string; entries: { format: string; samples: number }[] };
    expect(summary.file).toBe(join(dir, 'calibration.json'));
    expect(summary.entries.map((e) => e.format).sort()).toEqual(['fp32', 'q4']);
    expect(summary.entries.every((e) => e.samples >= 2)).toBe(true);
    const text = await run(['calibration', 'show']);
    expect(text.stdout).toMatch(/│ cpu:.* │ cpu +│ q4 +│/);
    // Each sample with how far the uncalibrated estimate was from it (decode, TTFT).
    expect(text.stdout, text.stdout).toMatch(/Uncalibrated error: decode/);
    expect(text.stdout, text.stdout).toMatch(/│ q4 +│ tiny-[^│]+│ pp\S+ +│ (fused|standard) +│ [\d-]+ [\d:]+ +│ [+-]\d+% +│ [+-]\d+% +│/);

    const reset = await run(['calibration', 'reset', '--json']);
    expect(JSON.parse(reset.stdout)).toMatchObject({ file: join(dir, 'calibration.json'), remaining_entries: 0, schema_version: '1', kind: 'modelscout.calibration-reset' });
    const empty = await run(['calibration', 'show']);
    expect(empty.stdout).toMatch(/^No calibration in .*calibration\.json: estimates use the stated default efficiencies/);
  });

  it('rejects bad confirm flags with one line and exit 2', async () => {
    const price = await run(['recommend', '--confirm', '--price-per-hour', 'cheap']);
    expect(price.exitCode).toBe(2);
    expect(price.stderr.split('\n')[0]).toBe('Error: invalid --price-per-hour "cheap": expected a positive number, e.g. 20 or 7.5');
    const both = await run(['recommend', '--confirm', '--quick', '--thorough']);
    expect(both.exitCode).toBe(2);
    expect(both.stderr.split('\n')[0]).toMatch(/^Error: .*--thorough.*--quick|^Error: .*--quick.*--thorough/);
    const calibration = join(dir, 'broken.json');
    await execa('sh', ['-c', `echo '{"x": 1}' > ${calibration}`]);
    const broken = await run(['recommend', '--calibration', calibration]);
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr.split('\n')[0]).toBe(`Error: calibration file ${calibration} is not a modelscout calibration file (schema_version "2" or 1)`);
  });
});
