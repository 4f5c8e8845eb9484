import { Worker } from 'node:worker_threads';

/**
 * Measures memory bandwidth the way decode uses it: every thread streams a buffer far larger than the
 * caches (a `Float64Array` copy via `TypedArray.set`, i.e. memcpy), all threads at once, for a fixed time.
 * Reported as STREAM-copy bytes (read + write per copied byte; the write-allocate read is not counted), so
 * it is comparable to published STREAM figures and slightly below the bus's true traffic.
 */
export interface BandwidthProbeResult {
  bytesPerSec: number;
  threads: number;
  bufferBytes: number;
  durationMs: number;
  /** Per-round aggregate rates; the reported figure is their median. */
  samples: number[];
}

export interface BandwidthProbeOptions {
  /** Worker threads (default: the thread count given by the caller, at most 16). */
  threads: number;
  /** Bytes of each source buffer per thread (default 64 MiB: well beyond any L3 slice). */
  bufferBytes?: number;
  /** Total measuring time (default 2 s, split into rounds). */
  durationMs?: number;
}

// Runs inside each worker (CommonJS, eval'd). Waits on the shared barrier so all threads stream together.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const n = workerData.bufferBytes / 8;
const src = new Float64Array(n);
const dst = new Float64Array(n);
for (let i = 0; i < n; i += 512) src[i] = i;
dst.set(src); // touch every page before timing
parentPort.on('message', (msg) => {
  if (msg.type !== 'round') return;
  let copies = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(msg.ms * 1e6));
  let now = start;
  while (now < until) {
    dst.set(src);
    copies += 1;
    now = process.hrtime.bigint();
  }
  parentPort.postMessage({ bytes: copies * 2 * workerData.bufferBytes, ns: Number(now - start) });
});
parentPort.postMessage({ ready: true });
`;

export async function probeMemoryBandwidth(options: BandwidthProbeOptions): Promise<BandwidthProbeResult> {
  const threads = Math.max(1, Math.min(16, options.threads));
  const bufferBytes = options.bufferBytes ?? 64 * 1024 * 1024;
  const durationMs = options.durationMs ?? 2000;
  const rounds = 5;
  const roundMs = durationMs / rounds;
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_SOURCE, { eval: true, workerData: { bufferBytes } }));
  try {
    await Promise.all(workers.map((w) => nextMessage(w)));
    const samples: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const results = await Promise.all(
        workers.map((w) => {
          const reply = nextMessage(w) as Promise<{ bytes: number; ns: number }>;
          w.postMessage({ type: 'round', ms: roundMs });
          return reply;
        }),
      );
      const bytes = results.reduce((sum, r) => sum + r.bytes, 0);
      const seconds = Math.max(...results.map((r) => r.ns)) / 1e9;
      samples.push(bytes / seconds);
    }
    const sorted = [...samples].sort((a, b) => a - b);
    return { bytesPerSec: sorted[Math.floor(sorted.length / 2)]!, threads, bufferBytes, durationMs, samples };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function nextMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      worker.off('error', onError);
      resolve(message);
    };
    const onError = (error: Error): void => {
      worker.off('message', onMessage);
      reject(error);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
  });
}
