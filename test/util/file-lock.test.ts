import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireFileLock, lockWaitMessage, removeStaleLock, type LockWait } from '../../src/util/file-lock.js';
import { withOutputLock } from '../../src/util/atomic-write.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Above Linux's largest pid (2^22): no such process. */
const DEAD = JSON.stringify({ pid: 2 ** 22 + 7, host: hostname() });
const LIVE = JSON.stringify({ pid: process.pid, host: hostname() });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('file lock', () => {
  it('several processes finding one stale lock at the same moment hold it one at a time', async () => {
    for (let trial = 0; trial < 3; trial += 1) {
      const lock = join(dir, `t${trial}.lock`);
      const go = join(dir, `go${trial}`);
      const log = join(dir, `log${trial}`);
      await writeFile(lock, DEAD);
      const contenders = Array.from({ length: 4 }, () => spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'test/util/lock-worker.ts', lock, go, log], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] }));
      const exits = contenders.map((c) => new Promise<number | null>((resolve) => c.once('exit', resolve)));
      // Every contender is polling for the start file before it appears (tsx takes a while to start).
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await writeFile(go, '');
      expect(await Promise.all(exits)).toEqual([0, 0, 0, 0]);
      const spans = (await readFile(log, 'utf8')).trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number, number]).sort((a, b) => a[1] - b[1]);
      expect(spans).toHaveLength(4);
      for (let i = 1; i < spans.length; i += 1) expect(spans[i]![1], `trial ${trial}: ${spans[i]![0]} took the lock while ${spans[i - 1]![0]} held it`).toBeGreaterThanOrEqual(spans[i - 1]![2]);
      expect(existsSync(lock)).toBe(false);
      expect(existsSync(`${lock}.takeover`)).toBe(false);
    }
  }, 60_000);

  it('a takeover guard left by a process that died midway neither blocks nor stays', async () => {
    const lock = join(dir, 'x.lock');
    await writeFile(lock, DEAD);
    await writeFile(`${lock}.takeover`, DEAD);
    const release = await acquireFileLock(lock, { pollMs: 1 });
    expect(JSON.parse(await readFile(lock, 'utf8'))).toEqual({ pid: process.pid, host: hostname() });
    expect(existsSync(`${lock}.takeover`)).toBe(false);
    await release();
    expect(existsSync(lock)).toBe(false);
  });

  it('removes a lock only when its process is gone and no live process is taking it over', async () => {
    const lock = join(dir, 'y.lock');
    await writeFile(lock, LIVE);
    expect(await removeStaleLock(lock)).toBe(false);
    expect(existsSync(lock)).toBe(true);
    await writeFile(lock, DEAD);
    await writeFile(`${lock}.takeover`, LIVE);
    expect(await removeStaleLock(lock)).toBe(false);
    expect(existsSync(lock)).toBe(true);
    await rm(`${lock}.takeover`);
    expect(await removeStaleLock(lock)).toBe(true);
    expect(existsSync(lock)).toBe(false);
    // No lock, not even its folder (a cache another tool filled): nothing to do, and no error.
    expect(await removeStaleLock(join(dir, 'missing', 'z.lock'))).toBe(false);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });

  it('says who it waits for: a live run here, or a run of another machine whose lock may have to be removed by hand', async () => {
    const lock = join(dir, '.out.modelscout-lock');
    const waits: LockWait[] = [];
    for (const owner of [{ pid: process.pid, host: hostname() }, { pid: 4242, host: 'gpu-node-7' }]) {
      await writeFile(lock, JSON.stringify(owner));
      let polls = 0;
      await withOutputLock(join(dir, 'out'), async () => undefined, {
        onWait: (wait) => waits.push(wait),
        // The other run ends after a few polls.
        sleep: async () => {
          polls += 1;
          if (polls === 3) await rm(lock);
        },
      });
    }
    expect(waits).toEqual([
      { pid: process.pid, host: hostname(), lockPath: lock, otherHost: false, target: join(dir, 'out') },
      { pid: 4242, host: 'gpu-node-7', lockPath: lock, otherHost: true, target: join(dir, 'out') },
    ]);
    expect(lockWaitMessage(waits[0]!)).toBe(`Waiting for another modelscout run (pid ${process.pid}) that is writing ${join(dir, 'out')}; this one goes on when it ends.`);
    expect(lockWaitMessage(waits[1]!, 'is downloading onnx/model.onnx')).toBe(`Waiting for a modelscout run on gpu-node-7 (pid 4242) that is downloading onnx/model.onnx; this machine cannot tell whether it still runs: if it does not, remove ${lock}.`);
  });
});
