/**
 * One load level: the seeded arrival schedule (open loop), a concurrency semaphore (closed loop), or both;
 * warm-up requests marked and left out of the figures; the client measuring itself (event-loop delay, the
 * lag between scheduled and actual send, the wait for a slot); a stop when too many requests fail. Returns
 * the raw records; summaries are computed from them (metrics.ts).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { RequestRecord } from '../report/serve-schema.js';
import { arrivalOffsetsMs } from './arrivals.js';
import { sendStreaming, type PreparedRequest } from './client.js';
import type { Clock } from './clock.js';
import { OVER_SATURATED, saturationOf } from './metrics.js';
import { requestBody, type BodyOptions } from './openai.js';
import type { WorkloadItem } from './workload.js';

export interface Target {
  baseUrl: string;
  /** Path of the endpoint including any base path. */
  path: string;
  dispatcher: Dispatcher;
}

export interface LevelPlan {
  label: string;
  /** null: no concurrency limit. */
  maxConcurrency: number | null;
  /** Requests per second; null: all at once (or as slots free up). */
  requestRate: number | null;
  burstiness: number;
  seed: number;
  /** Requests to send (items are cycled); with `durationS`, an upper bound. */
  numRequests: number;
  durationS: number | null;
  warmupRequests: number;
  warmupS: number;
}

export interface LevelContext {
  targets: readonly Target[];
  items: readonly WorkloadItem[];
  body: BodyOptions;
  headers: Record<string, string>;
  timeoutMs: number;
  clock: Clock;
  /** Stop the level when more than this share (0–1) of finished requests failed (after at least 10, or the first 5 all failing). */
  maxFailureShare: number;
  /** This process's slice of one shared schedule: request i is sent here when i % of === index. */
  worker?: { index: number; of: number };
  /** Absolute start time of the schedule (epoch ms), shared by workers; default: now + 20 ms. */
  startAtMs?: number;
  onRecord?: (record: RequestRecord) => void;
  /** Stop the level early once the server is over-saturated (checked every 10 finished requests, from 30 on). */
  stopWhenOverSaturated?: boolean;
}

export interface LevelRun {
  records: RequestRecord[];
  texts: string[];
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
  stopped: string | null;
  startedAtMs: number;
}

class Semaphore {
  private free: number;
  private readonly waiters: ((t: number) => void)[] = [];

  constructor(
    size: number,
    private readonly clock: Clock,
  ) {
    this.free = size;
  }

  /** Resolves with the time the slot became free. */
  acquire(): Promise<number> {
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve(this.clock());
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next(this.clock());
    else this.free += 1;
  }
}

/** Waits until `at` (epoch ms): a timer to just before it, then turns of the event loop, so sends are not a timer tick late. */
function waitUntil(at: number, clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    const spin = (): void => {
      if (clock() >= at) resolve();
      else setImmediate(spin);
    };
    const ahead = at - clock() - 2;
    if (ahead > 0) setTimeout(spin, ahead);
    else spin();
  });
}

export async function runLevel(plan: LevelPlan, ctx: LevelContext): Promise<LevelRun> {
  const clock = ctx.clock;
  const worker = ctx.worker ?? { index: 0, of: 1 };
  const open = plan.requestRate !== null;
  // Enough arrivals for a duration-bound level; the count bound otherwise.
  const scheduleLength = plan.durationS !== null && open ? Math.max(plan.numRequests, Math.ceil((plan.requestRate as number) * plan.durationS * 1.5) + 16) : plan.numRequests;
  const offsets = open ? arrivalOffsetsMs(scheduleLength, { rate: plan.requestRate as number, burstiness: plan.burstiness, seed: plan.seed }) : null;
  const slotsHere = plan.maxConcurrency === null ? null : Math.floor(plan.maxConcurrency / worker.of) + (worker.index < plan.maxConcurrency % worker.of ? 1 : 0);
  const sem = slotsHere === null ? null : new Semaphore(Math.max(1, slotsHere), clock);
  const start = ctx.startAtMs ?? clock() + 20;
  const endAt = plan.durationS === null ? Number.POSITIVE_INFINITY : start + (plan.durationS + plan.warmupS) * 1000;
  const records: RequestRecord[] = [];
  const texts: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let finished = 0;
  let failed = 0;
  let stopped: string | null = null;
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  const total = plan.durationS === null ? plan.numRequests + plan.warmupRequests : Number.MAX_SAFE_INTEGER;

  await waitUntil(start, clock);
  for (let i = 0; i < total && stopped === null; i += 1) {
    if (open && offsets && i >= offsets.length) break;
    const offset = offsets ? (offsets[i] as number) : 0;
    if (start + offset >= endAt) break;
    if (i % worker.of !== worker.index) continue;
    let scheduled = start + offset;
    if (open) await waitUntil(scheduled, clock);
    let slotAt = scheduled;
    if (sem) {
      slotAt = await sem.acquire();
      // Closed loop alone: a request is due when a slot frees up, so it waits for nothing.
      if (!open) scheduled = slotAt;
    }
    if (stopped !== null || clock() >= endAt) {
      sem?.release();
      break;
    }
    const item = ctx.items[i % ctx.items.length] as WorkloadItem;
    const target = ctx.targets[i % ctx.targets.length] as Target;
    const warmup = i < plan.warmupRequests || offset < plan.warmupS * 1000;
    const req: PreparedRequest = {
      index: i,
      level: plan.label,
      worker: worker.index,
      warmup,
      baseUrl: target.baseUrl,
      path: target.path,
      body: requestBody({ prompt: item.prompt, messages: item.messages, maxTokens: item.outputTokens }, ctx.body),
      headers: ctx.headers,
      promptTokens: item.promptTokens,
      expectedOutputTokens: item.outputTokens,
      scheduledAtMs: scheduled,
      slotAtMs: slotAt,
    };
    const p = sendStreaming(target.dispatcher, req, clock, ctx.timeoutMs).then(({ record, text }) => {
      records.push(record);
      texts.push(text);
      sem?.release();
      ctx.onRecord?.(record);
      finished += 1;
      if (record.error) failed += 1;
      const firstAllFailed = finished === 5 && failed === 5;
      if (stopped === null && (firstAllFailed || (finished >= 10 && failed / finished > ctx.maxFailureShare))) {
        stopped = `${failed} of ${finished} requests failed; the server answered: ${record.error ? `${record.error.class}: ${record.error.message}` : 'see first_errors'}`;
      }
      if (stopped === null && ctx.stopWhenOverSaturated && finished >= 30 && finished % 10 === 0 && saturationOf(records).over_saturated) {
        stopped = `${OVER_SATURATED}: TTFT or the wait for a slot kept climbing`;
      }
    });
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  while (inFlight.size > 0) await Promise.all([...inFlight]);
  eld.disable();
  // The histogram holds whole timer intervals; the delay is what exceeds the 1 ms resolution.
  const ms = (ns: number): number => Math.max(0, ns / 1e6 - 1);
  const eldMs = eld.count > 0 ? { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) } : null;
  // Records in send order (they complete out of order).
  const order = records.map((r, k) => ({ r, t: texts[k] as string })).sort((a, b) => a.r.index - b.r.index);
  return { records: order.map((o) => o.r), texts: order.map((o) => o.t), eventLoopDelayMs: eldMs, stopped, startedAtMs: start };
}
