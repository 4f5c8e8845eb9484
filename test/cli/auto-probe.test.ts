import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIRST_RUN = 'First run on this machine: measuring memory bandwidth and CPU kernel speed (about 4 s, cached)';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-auto-probe-cli-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/**
 * `recommend` as a new user runs it: no $MODELSCOUT_NO_PROBE (the test configuration sets it for every other
 * test), no calibration, an empty cache folder of its own.
 */
function recommend(cacheHome: string, args: string[] = []) {
  const { MODELSCOUT_NO_PROBE: _optOut, MODELSCOUT_CALIBRATION: _calibration, ...env } = process.env;
  return execa(process.execPath, ['bin/run.js', 'recommend', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { ...env, NO_COLOR: '1', XDG_CACHE_HOME: cacheHome }, extendEnv: false });
}

function cacheFileOf(cacheHome: string): string {
  return join(cacheHome, 'modelscout', 'bandwidth.json');
}

describe('recommend probes a machine on its first CPU estimate (subprocess)', () => {
  it('probes once with an empty cache, caches the decoder-layer probe, and the next run uses it without probing', async () => {
    // The probe does not run while other work holds the CPUs (as on a loaded test machine): then the run says
    // so and caches nothing. Try a few times for an idle moment; each branch checks what it promises.
    let cacheHome = '';
    let first: Awaited<ReturnType<typeof recommend>> | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      cacheHome = join(dir, `cache-${attempt}`);
      first = await recommend(cacheHome);
      expect(first.exitCode, first.stderr).toBe(0);
      if (first.stderr.includes(FIRST_RUN)) break;
      expect(first.stderr).toMatch(/not probed: the CPUs are \d+% busy with other work, so the estimates use the ISA peaks and .*`modelscout hardware --probe` measures when the machine is idle/);
      expect(existsSync(cacheFileOf(cacheHome))).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    if (!first!.stderr.includes(FIRST_RUN)) {
      console.warn('the CPUs stayed busy: the automatic probe was skipped (checked), not run');
      return;
    }
    const cache = JSON.parse(readFileSync(cacheFileOf(cacheHome), 'utf8')) as { entries: { bytes_per_sec: number; layer_probe?: Record<string, number> }[] };
    expect(cache.entries).toHaveLength(1);
    expect(cache.entries[0]!.layer_probe?.int4_decode_sec_per_layer).toBeGreaterThan(0);
    expect(first!.stdout).toMatch(/^CPU: .* \(probe\), .* \(probe\)$/m);

    const second = await recommend(cacheHome, ['--json']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('First run');
    expect(second.stderr).not.toContain('Measuring');
    expect(JSON.parse(readFileSync(cacheFileOf(cacheHome), 'utf8'))).toEqual(cache);
  });

  it('--no-probe never probes, even with an empty cache', async () => {
    const cacheHome = join(dir, 'cache-no-probe');
    const r = await recommend(cacheHome, ['--no-probe']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('First run');
    expect(r.stderr).not.toContain('not probed');
    expect(r.stdout).toMatch(/^CPU: .* \(default\), .* \(default\)$/m);
    expect(existsSync(cacheFileOf(cacheHome))).toBe(false);
  });

  it('$MODELSCOUT_NO_PROBE (set for every test in vitest.config.ts and inherited by subprocesses) turns the automatic probe off', async () => {
    expect(process.env.MODELSCOUT_NO_PROBE).toBe('1');
    const cacheHome = join(dir, 'cache-env');
    const r = await execa(process.execPath, ['bin/run.js', 'recommend'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1', XDG_CACHE_HOME: cacheHome } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('First run');
    expect(existsSync(cacheFileOf(cacheHome))).toBe(false);
  });

  it('plain hardware does not probe; its note says recommend probes on first use (or that $MODELSCOUT_NO_PROBE is set)', async () => {
    const cacheHome = join(dir, 'cache-hardware');
    const { MODELSCOUT_NO_PROBE: _optOut, ...env } = process.env;
    const fresh = await execa(process.execPath, ['bin/run.js', 'hardware'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { ...env, NO_COLOR: '1', COLUMNS: '400', XDG_CACHE_HOME: cacheHome }, extendEnv: false });
    expect(fresh.exitCode, fresh.stderr).toBe(0);
    expect(fresh.stdout).toMatch(/^Note {6}the CPU kernels are not probed yet: `modelscout recommend` probes this machine on first use \(about 4 s, cached\), or `modelscout hardware --probe` now$/m);
    expect(existsSync(cacheFileOf(cacheHome))).toBe(false);
    const optedOut = await execa(process.execPath, ['bin/run.js', 'hardware'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1', COLUMNS: '400', XDG_CACHE_HOME: cacheHome } });
    expect(optedOut.stdout).toContain('the CPU kernels are not probed ($MODELSCOUT_NO_PROBE is set): `modelscout hardware --probe` measures them');
  });
});
