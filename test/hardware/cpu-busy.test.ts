import type { CpuInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { BUSY_THRESHOLD, busyFraction, cpuTimes, measureCpuBusy } from '../../src/hardware/cpu-busy.js';

const cpu = (user: number, idle: number): CpuInfo => ({ model: 'x', speed: 1, times: { user, nice: 0, sys: 0, idle, irq: 0 } });

describe('CPU busy fraction', () => {
  it('sums the counters of every CPU', () => {
    expect(cpuTimes([cpu(10, 90), cpu(30, 70)])).toEqual({ idle: 160, total: 200 });
  });

  it('is the share of non-idle time between two readings, clamped, null without movement', () => {
    expect(busyFraction({ idle: 100, total: 200 }, { idle: 150, total: 300 })).toBeCloseTo(0.5, 9);
    expect(busyFraction({ idle: 100, total: 200 }, { idle: 200, total: 300 })).toBe(0);
    expect(busyFraction({ idle: 100, total: 200 }, { idle: 100, total: 300 })).toBe(1);
    expect(busyFraction({ idle: 100, total: 200 }, { idle: 100, total: 200 })).toBeNull();
  });

  it('samples over the window it is given', async () => {
    const readings = [cpuTimes([cpu(0, 0), cpu(0, 0)]), cpuTimes([cpu(75, 25), cpu(5, 95)])];
    let i = 0;
    expect(await measureCpuBusy(5, () => readings[i++]!)).toBeCloseTo(0.4, 9);
    expect(i).toBe(2);
    // On this machine: a fraction between 0 and 1 (or null where there are no counters).
    const real = await measureCpuBusy(50);
    expect(real === null || (real >= 0 && real <= 1)).toBe(true);
    expect(BUSY_THRESHOLD).toBe(0.25);
  });
});
