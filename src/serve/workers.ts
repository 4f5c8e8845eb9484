/**
 * `--workers N`: one arrival schedule spread over N processes of this machine. Request i of the schedule
 * goes out from worker i mod N at the same absolute time it would have in one process (the workers share
 * the start time on the epoch clock); each worker holds its own connection pools and its share of the
 * concurrency slots, measures its own event loop, and sends its raw records back. The parent merges the
 * records and computes every figure from them.
 */
import { fork } from 'node:child_process';
import { Pool } from 'undici';
import type { RequestRecord } from '../report/serve-schema.js';
import { epochMs } from './clock.js';
import type { BodyOptions } from './openai.js';
import { runLevel, type LevelPlan, type LevelRun } from './runner.js';
import type { WorkloadItem } from './workload.js';

export interface LevelJob {
  plan: LevelPlan;
  targets: { baseUrl: string; path: string }[];
  items: WorkloadItem[];
  body: BodyOptions;
  headers: Record<string, string>;
  timeoutMs: number;
  maxFailureShare: number;
  stopWhenOverSaturated: boolean;
  connections: number | null;
  worker: { index: number; of: number };
  startAtMs: number;
}

export function createPools(baseUrls: readonly string[], connections: number | null, timeoutMs: number): Map<string, Pool> {
  const pools = new Map<string, Pool>();
  for (const url of baseUrls) {
    if (pools.has(url)) continue;
    pools.set(url, new Pool(new URL(url).origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }));
  }
  return pools;
}

/** Runs a job in this process (the body of a worker process). */
export async function runLevelJob(job: LevelJob): Promise<LevelRun> {
  const pools = createPools(job.targets.map((t) => t.baseUrl), job.connections, job.timeoutMs);
  try {
    return await runLevel(job.plan, {
      targets: job.targets.map((t) => ({ ...t, dispatcher: pools.get(t.baseUrl) as Pool })),
      items: job.items,
      body: job.body,
      headers: job.headers,
      timeoutMs: job.timeoutMs,
      clock: epochMs,
      maxFailureShare: job.maxFailureShare,
      stopWhenOverSaturated: job.stopWhenOverSaturated,
      worker: job.worker,
      startAtMs: job.startAtMs,
    });
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
  }
}

/** Runs one level over `of` worker processes and merges their records. */
export async function runLevelInWorkers(job: Omit<LevelJob, 'worker' | 'startAtMs'>, of: number, leadMs = 500): Promise<LevelRun> {
  // The workers need a moment to start; the shared start lies beyond it.
  const startAtMs = epochMs() + leadMs + 150 * of;
  const entry = new URL('./worker-entry.js', import.meta.url);
  const runs = await Promise.all(
    Array.from({ length: of }, (_, index) =>
      new Promise<LevelRun>((resolve, reject) => {
        const child = fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
        let result: LevelRun | null = null;
        child.on('message', (m) => {
          result = m as LevelRun;
        });
        child.on('error', reject);
        child.on('exit', (code) => {
          if (result) resolve(result);
          else reject(new Error(`serve-bench worker ${index} exited with code ${String(code)} before sending its records`));
        });
        child.send({ ...job, worker: { index, of }, startAtMs } satisfies LevelJob);
      }),
    ),
  );
  const pairs: { r: RequestRecord; t: string }[] = [];
  for (const run of runs) run.records.forEach((r, k) => pairs.push({ r, t: run.texts[k] as string }));
  pairs.sort((a, b) => a.r.index - b.r.index);
  const elds = runs.map((r) => r.eventLoopDelayMs).filter((e) => e !== null);
  return {
    records: pairs.map((p) => p.r),
    texts: pairs.map((p) => p.t),
    // The worst worker decides whether the client kept up.
    eventLoopDelayMs: elds.length === 0 ? null : { p50: Math.max(...elds.map((e) => e.p50)), p99: Math.max(...elds.map((e) => e.p99)), max: Math.max(...elds.map((e) => e.max)) },
    stopped: runs.map((r) => r.stopped).find((s) => s !== null) ?? null,
    startedAtMs: startAtMs,
  };
}
