import { describe, expect, it } from 'vitest';
import { currentRss, KernelPeakRss, RssSampler, startPeakRss } from '../../src/bench/memory.js';

const MiB = 2 ** 20;
const linux = process.platform === 'linux';

/** Touches `mib` MiB of fresh memory (so it is resident) and lets it go. */
function touch(mib: number): void {
  const b = Buffer.allocUnsafeSlow(mib * MiB);
  for (let i = 0; i < b.length; i += 4096) b[i] = 1;
}

describe('peak RSS trackers', () => {
  it.runIf(linux)("uses the kernel's exact high-water mark on Linux: no sampling thread", async () => {
    const tracker = startPeakRss(20);
    expect(tracker).toBeInstanceOf(KernelPeakRss);
    expect(tracker.intervalMs).toBeNull();
    await tracker.stop();
  });

  it.runIf(linux)('the kernel tracker sees a peak between two reads, and reset starts again from now', () => {
    const tracker = new KernelPeakRss();
    tracker.reset();
    const start = currentRss();
    touch(64);
    // The buffer may already be unmapped; the peak still holds it.
    expect(tracker.peak() - start).toBeGreaterThan(60 * MiB);
    global.gc?.();
    tracker.reset();
    expect(tracker.peak()).toBeLessThan(currentRss() + 8 * MiB);
  });

  it('the sampling thread reports at least the current RSS', async () => {
    const sampler = RssSampler.start(5);
    sampler.reset();
    expect(sampler.intervalMs).toBe(5);
    expect(sampler.peak()).toBeGreaterThanOrEqual(currentRss() - MiB);
    await sampler.stop();
  });
});
