/**
 * Memory trackers of the benchmark child process.
 *
 * On Linux the kernel's own high-water mark (VmHWM, reset through /proc/self/clear_refs) gives the exact
 * peak at no cost. Elsewhere RSS is sampled on a worker thread: `session.run` blocks the main thread
 * (onnxruntime-node runs synchronously inside a setImmediate), so a timer there would never fire during
 * the forward pass, which is exactly when memory peaks; the thread keeps the running maximum in shared
 * memory. The thread is itself a V8 isolate of about 10 MiB resident, which the peak it measures then
 * includes, so it runs only where the kernel's counter cannot be used.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Current resident set size of this process in bytes. */
export function currentRss(): number {
  return process.memoryUsage.rss();
}

const SAMPLER_SOURCE = `
const { workerData } = require('node:worker_threads');
const peak = new BigInt64Array(workerData.buffer);
const tick = () => {
  const rss = BigInt(process.memoryUsage.rss());
  if (rss > Atomics.load(peak, 0)) Atomics.store(peak, 0, rss);
};
tick();
setInterval(tick, workerData.intervalMs);
`;

/** A peak-RSS tracker: `reset()` starts a new peak from the current RSS, `peak()` reads it. */
export interface PeakRss {
  /** The sampling interval; null for the kernel's exact high-water mark. */
  readonly intervalMs: number | null;
  reset(): void;
  peak(): number;
  stop(): Promise<void>;
}

/** The kernel's high-water mark as a tracker (Linux). */
export class KernelPeakRss implements PeakRss {
  readonly intervalMs = null;

  reset(): void {
    resetKernelPeakRss();
  }

  peak(): number {
    return Math.max(kernelPeakRss() ?? 0, currentRss());
  }

  async stop(): Promise<void> {
    // Nothing runs in the background.
  }
}

/** The kernel's counter where it can be reset and read, else a sampling thread every `intervalMs`. */
export function startPeakRss(intervalMs: number): PeakRss {
  if (resetKernelPeakRss() && kernelPeakRss() !== null) return new KernelPeakRss();
  return RssSampler.start(intervalMs);
}

export class RssSampler implements PeakRss {
  readonly intervalMs: number;
  readonly #peak: BigInt64Array;
  readonly #worker: Worker;

  private constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
    const buffer = new SharedArrayBuffer(8);
    this.#peak = new BigInt64Array(buffer);
    this.#worker = new Worker(SAMPLER_SOURCE, { eval: true, workerData: { buffer, intervalMs } });
    // The sampler must never keep the process alive or take it down.
    this.#worker.unref();
    this.#worker.on('error', () => undefined);
  }

  static start(intervalMs: number): RssSampler {
    return new RssSampler(intervalMs);
  }

  /** Starts a new peak from the current RSS. */
  reset(): void {
    Atomics.store(this.#peak, 0, BigInt(currentRss()));
  }

  /** The peak since the last reset, including one sample taken now. */
  peak(): number {
    const now = BigInt(currentRss());
    const p = Atomics.load(this.#peak, 0);
    return Number(now > p ? now : p);
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** Resets the kernel's peak-RSS counter (Linux ≥ 4.0); false where that is not possible. */
export function resetKernelPeakRss(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** VmHWM of this process in bytes, or null off Linux. */
export function kernelPeakRss(): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
