/**
 * One contender for a lock (test/util/file-lock.test.ts): waits for the start file, takes the lock, holds it
 * 30 ms, and appends `<pid> <start> <end>` (epoch ms) to the log before releasing it.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { acquireFileLock } from '../../src/util/file-lock.js';

const [lock, go, log] = process.argv.slice(2) as [string, string, string];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
while (!existsSync(go)) await sleep(1);
const release = await acquireFileLock(lock, { pollMs: 5 });
const now = (): number => performance.timeOrigin + performance.now();
const start = now();
await sleep(30);
appendFileSync(log, `${process.pid} ${start} ${now()}\n`);
await release();
