import { Worker } from 'node:worker_threads';

/**
 * sha256 of files on a worker thread, so hashing a multi-GB source model runs on another core while the
 * main thread quantizes (hashing first would cost as much time as quantizing on a 2-core machine).
 */

export interface FileHash {
  path: string;
  bytes: number;
  sha256: string;
}

// CommonJS source for an `eval` worker: no separate file to locate in dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const buffer = Buffer.allocUnsafe(8 << 20);
const results = [];
for (const path of workerData.paths) {
  const fd = openSync(path, 'r');
  try {
    const hash = createHash('sha256');
    let position = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, position);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      position += n;
      parentPort.postMessage({ type: 'progress', bytes: n });
    }
    results.push({ path, bytes: position, sha256: hash.digest('hex') });
  } finally {
    closeSync(fd);
  }
}
parentPort.postMessage({ type: 'done', results });
`;

type WorkerMessage = { type: 'progress'; bytes: number } | { type: 'done'; results: FileHash[] };

/** Hashes `paths` in order on a worker thread; `onBytes` reports progress (bytes hashed so far). */
export function hashFilesInWorker(paths: readonly string[], onBytes?: (done: number) => void): Promise<FileHash[]> {
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { paths: [...paths] } });
    let done = 0;
    let settled = false;
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') {
        done += message.bytes;
        onBytes?.(done);
      } else {
        settled = true;
        resolvePromise(message.results);
      }
    });
    worker.on('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`hash worker exited with code ${code}`));
    });
  });
}
