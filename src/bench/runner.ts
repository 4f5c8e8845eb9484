/**
 * Runs one matrix group in its own child process (`process.execPath` on the compiled worker), so the
 * child's peak RSS is its own and a crash or an out-of-memory kill costs only that group's remaining
 * tests. Groups run one after another: never two measurements at once.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, GroupLoad, ParentMessage, TestPayload, WorkerError, WorkerJob } from './protocol.js';

export interface ChildOutcome {
  load: GroupLoad | null;
  payloads: Map<number, TestPayload>;
  /** Set when nothing could be measured, or the child died before reporting every test. */
  fatal: WorkerError | null;
}

/** The worker entry: the compiled `worker.js` beside this module, or `worker.ts` through tsx when run from source. */
export function workerEntry(): { path: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(js)) return { path: js, execArgv: [] };
  const ts = fileURLToPath(new URL('./worker.ts', import.meta.url));
  return { path: ts, execArgv: ['--import', 'tsx'] };
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): string {
  const tail = stderrTail.trim().split('\n').filter(Boolean).slice(-1)[0];
  if (signal === 'SIGKILL') return `the benchmark process was killed (SIGKILL: out of memory?)${tail ? `: ${tail}` : ''}`;
  if (signal) return `the benchmark process died of ${signal}${tail ? `: ${tail}` : ''}`;
  return `the benchmark process exited with code ${code ?? 'unknown'}${tail ? `: ${tail}` : ''}`;
}

export interface RunChildOptions {
  onProgress?: (message: string) => void;
  /** Forward the child's stdout/stderr to our stderr (debugging). */
  passThroughOutput?: boolean;
  /** Called with the child's pid once it runs (monitoring; tests use it to kill a child). */
  onSpawn?: (pid: number) => void;
  /** Aborting kills the child (it never outlives an interrupted run) and resolves with E_INTERRUPTED. */
  signal?: AbortSignal;
}

export function runGroupInChild(job: WorkerJob, options: RunChildOptions = {}): Promise<ChildOutcome> {
  const entry = workerEntry();
  return new Promise((resolve) => {
    const child = fork(entry.path, [], {
      execPath: process.execPath,
      execArgv: entry.execArgv,
      // Our stdout carries the report only: the child's output never reaches it.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const outcome: ChildOutcome = { load: null, payloads: new Map(), fatal: null };
    let stderrTail = '';
    let done = false;
    const keepTail = (d: Buffer): void => {
      stderrTail = (stderrTail + d.toString()).slice(-4000);
      if (options.passThroughOutput) process.stderr.write(d);
    };
    child.stdout?.on('data', (d: Buffer) => {
      if (options.passThroughOutput) process.stderr.write(d);
    });
    child.stderr?.on('data', keepTail);
    child.on('message', (raw: ChildMessage) => {
      switch (raw.type) {
        case 'progress':
          options.onProgress?.(raw.message);
          break;
        case 'load':
          outcome.load = raw.load;
          break;
        case 'result':
          outcome.payloads.set(raw.payload.index, raw.payload);
          break;
        case 'fatal':
          outcome.fatal = raw.error;
          outcome.load = raw.load ?? outcome.load;
          // The self-check runs after the tests: when it fails, what they measured is not kept.
          if (raw.error.code === 'E_CHECK_FAILED') outcome.payloads.clear();
          break;
        case 'done':
          done = true;
          break;
      }
    });
    child.on('error', (error) => {
      outcome.fatal ??= { code: 'E_RUNTIME', message: `could not start the benchmark process: ${error.message}` };
    });
    // The child dies with its parent however the parent ends (an interrupt, an exit on an error).
    const killChild = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const onAbort = (): void => {
      outcome.fatal = { code: 'E_INTERRUPTED', message: 'interrupted' };
      killChild();
    };
    process.once('exit', killChild);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    // 'close' (not 'exit'): by then the IPC channel and the pipes are drained, so no result is lost.
    child.on('close', (code, signal) => {
      process.off('exit', killChild);
      options.signal?.removeEventListener('abort', onAbort);
      if (!done && outcome.payloads.size < job.tests.length && !outcome.fatal) {
        outcome.fatal = { code: 'E_RUNTIME', message: describeExit(code, signal, stderrTail) };
      }
      resolve(outcome);
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    const message: ParentMessage = { type: 'job', job };
    child.send(message);
  });
}
