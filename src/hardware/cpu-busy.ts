/**
 * How busy the CPUs are right now: the fraction of all CPU time spent outside idle over a short window,
 * from the kernel's per-CPU counters (`os.cpus()` times). The benchmark samples it in the parent process
 * just before each measurement starts, when none of its own work runs, so what it sees is other processes.
 */
import os from 'node:os';

export interface CpuTimes {
  idle: number;
  total: number;
}

export function cpuTimes(cpus: readonly os.CpuInfo[] = os.cpus()): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** Busy fraction (0–1) between two readings; null when the counters did not move (no information). */
export function busyFraction(before: CpuTimes, after: CpuTimes): number | null {
  const total = after.total - before.total;
  if (total <= 0) return null;
  const idle = after.idle - before.idle;
  return Math.min(1, Math.max(0, 1 - idle / total));
}

/** Samples the busy fraction over `ms` milliseconds (null where the platform reports no counters). */
export async function measureCpuBusy(ms = 250, read: () => CpuTimes = () => cpuTimes()): Promise<number | null> {
  const before = read();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return busyFraction(before, read());
}

/** Above this busy fraction the machine counts as busy: a measurement then understates an idle machine. */
export const BUSY_THRESHOLD = 0.25;
