import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { currentRss, KernelPeakRss, RssSampler, startPeakRss } from '../../src/bench/memory.js';

const MiB = 2 ** 20;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const linux = process.platform === 'linux';

describe('peak RSS trackers', () => {
  it.runIf(linux)("uses the kernel's exact high-water mark on Linux: no sampling thread", async () => {
    const tracker = startPeakRss(20);
    expect(tracker).toBeInstanceOf(KernelPeakRss);
    expect(tracker.intervalMs).toBeNull();
    await tracker.stop();
  });

  it.runIf(linux)('the kernel tracker keeps a peak the process has left, until reset', async () => {
    // In a process of its own with the collector exposed, so the 64 MiB can be freed on purpose.
    const script = `
      const { KernelPeakRss, currentRss } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist/bench/memory.js')).href)});
      const tracker = new KernelPeakRss();
      tracker.reset();
      let b = Buffer.allocUnsafeSlow(64 * 2 ** 20);
      for (let i = 0; i < b.length; i += 4096) b[i] = 1;
      b = null;
      globalThis.gc();
      const start = Date.now();
      let freed = currentRss();
      while (Date.now() - start < 2000 && tracker.peak() - freed < 50 * 2 ** 20) { await new Promise((r) => setTimeout(r, 20)); globalThis.gc(); freed = currentRss(); }
      const kept = tracker.peak();
      tracker.reset();
      console.log(JSON.stringify({ kept, freed, afterReset: tracker.peak(), now: currentRss() }));
    `;
    const out = await execa('node', ['--expose-gc', '--input-type=module', '-e', script]);
    const r = JSON.parse(out.stdout) as { kept: number; freed: number; afterReset: number; now: number };
    // The peak remembered the freed buffer; the reset forgot it.
    expect(r.kept - r.freed).toBeGreaterThan(50 * MiB);
    expect(r.afterReset).toBeLessThan(r.now + 8 * MiB);
  });

  it('the sampling thread reports at least the current RSS', async () => {
    const sampler = RssSampler.start(5);
    sampler.reset();
    expect(sampler.intervalMs).toBe(5);
    expect(sampler.peak()).toBeGreaterThanOrEqual(currentRss() - MiB);
    await sampler.stop();
  });
});
