/**
 * Figures behind the estimator's inputs on this machine:
 * 1. the memory-bandwidth probe, repeated, with one thread and with every thread (median, min, max), so its
 *    spread on a busy machine is visible before trusting one reading;
 * 2. the cost of estimating: fit + speed for every catalog model × weight format (the recommendation does
 *    this on every call, so it must stay far below a second).
 * Usage: npm run bench:estimate [-- --repeats 5 --duration 1000]
 */
import os from 'node:os';
import { loadCatalog } from '../src/catalog/index.js';
import { WEIGHT_FORMATS, estimateSpeed, fitMemory, type DeviceTarget } from '../src/estimate/index.js';
import { probeMemoryBandwidth } from '../src/hardware/probe.js';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `median ${median.toFixed(2)}  min ${sorted[0]!.toFixed(2)}  max ${sorted[sorted.length - 1]!.toFixed(2)}  (n=${values.length})`;
}

const repeats = argument('repeats', 5);
const durationMs = argument('duration', 1000);
const threads = os.availableParallelism();

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${threads} threads, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`bandwidth probe: 64 MiB buffers, ${durationMs} ms per probe, ${repeats} probes per setting, interleaved`);
const single: number[] = [];
const all: number[] = [];
for (let i = 0; i < repeats; i += 1) {
  single.push((await probeMemoryBandwidth({ threads: 1, durationMs })).bytesPerSec / 1e9);
  all.push((await probeMemoryBandwidth({ threads, durationMs })).bytesPerSec / 1e9);
}
console.log(`  1 thread:        GB/s ${summary(single)}`);
console.log(`  ${threads} threads:       GB/s ${summary(all)}`);
console.log(`  ratio all/1:     ${(all.reduce((a, b) => a + b, 0) / single.reduce((a, b) => a + b, 0)).toFixed(2)}`);

const catalog = loadCatalog();
const device: DeviceTarget = {
  kind: 'cpu',
  name: 'bench CPU',
  count: 1,
  memoryTotalBytes: 24 * 1024 ** 3,
  memoryAvailableBytes: 22 * 1024 ** 3,
  bandwidthBytesPerSec: 25e9,
  bandwidthSource: 'default',
  peakFlops: 3e11,
  peakFlopsSource: 'default',
  runtimeOverheadBytes: 512 * 1024 * 1024,
};
const timings: number[] = [];
for (let r = 0; r < 7; r += 1) {
  const start = process.hrtime.bigint();
  for (const spec of catalog) {
    for (const format of WEIGHT_FORMATS) {
      fitMemory({ spec, format, context: 4096, device });
      estimateSpeed({ spec, format, context: 4096, promptTokens: 512, device });
    }
  }
  timings.push(Number(process.hrtime.bigint() - start) / 1e6);
}
console.log(`estimating fit + speed for ${catalog.length} models × ${WEIGHT_FORMATS.length} formats: ms ${summary(timings)}`);
