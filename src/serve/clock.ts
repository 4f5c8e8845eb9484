/**
 * The one clock of a load run: absolute Unix epoch milliseconds with sub-millisecond resolution, monotonic
 * within a process (`performance.timeOrigin` is fixed at start, `performance.now()` never goes back), so
 * records of several processes on one machine share a time line and merge by concatenation.
 */
import { performance } from 'node:perf_hooks';

export type Clock = () => number;

const origin = performance.timeOrigin;

export const epochMs: Clock = () => origin + performance.now();
