import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, spawnCli } from '../wizard/pty.js';
import { writeTinyInputs } from './helpers.js';
import { parseRecommendation } from '../helpers/recommendation.js';

describe("the wizard's confirm step (pseudo-terminal)", () => {
  let dir: string;
  let inputs: { catalogFile: string; treeFile: string };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-wizard-confirm-'));
    inputs = await writeTinyInputs(dir);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('benchmarks the top candidates when asked, and prints the verdicts and the report path', async () => {
    const out = join(dir, 'wizard-report.json');
    const session = spawnCli(['wizard', '--tree', inputs.treeFile, '--catalog', inputs.catalogFile, '--quick', '--candidates', '1', '--work-dir', join(dir, 'work'), '--calibration', join(dir, 'cal.json'), '--out', out]);
    await session.waitFor(/\? Does the job need domain customization/);
    await session.waitFor(/select/);
    session.type(KEYS.enter);
    await session.waitFor(/\? How strict is the latency requirement\?/);
    await session.waitFor(/select/);
    session.type(KEYS.enter);
    await session.waitFor(/\? Context length \(tokens\)/);
    session.type(`64${KEYS.enter}`);
    await session.waitFor(/\? Concurrent streams/);
    session.type(KEYS.enter);
    await session.waitFor(/\? Keep the real-time targets/);
    session.type(KEYS.enter);
    await session.waitFor(/\? Confirm by benchmarking the top 1 on this machine\?/);
    session.type(`y${KEYS.enter}`);
    await session.waitFor(/Report \(JSON\): /, 60_000);
    await session.waitFor(/The same, non-interactive:\s+modelscout\s+recommend[\s\S]*--context\s+64[\s\S]*--confirm/);
    expect(await session.exit).toBe(0);
    const text = session.text();
    expect(text).toMatch(/synthesizing tiny-/);
    expect(text).toMatch(/Confirmation on this machine \(quick: pp64\+tg16/);
    expect(text).toMatch(/✓ Confirmed: /);
    const rec = parseRecommendation(await readFile(out, 'utf8'));
    expect(rec.confirm?.candidates).toHaveLength(1);
    expect(rec.confirm?.final.status).toBe('confirmed');
  });
});
