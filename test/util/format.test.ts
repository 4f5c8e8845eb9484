import { describe, expect, it } from 'vitest';
import { formatBandwidth, formatBytes, formatDuration, formatFlops, formatInteger, formatParams, formatPercent, formatRate, formatTokens } from '../../src/util/format.js';

describe('number formatting', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(15 * 1024 ** 3)).toBe('15.0 GiB');
    expect(formatBytes(-2048)).toBe('-2.0 KiB');
  });

  it('formats rates and FLOP/s in decimal units with three significant digits', () => {
    expect(formatBandwidth(3.35e12)).toBe('3.35 TB/s');
    expect(formatBandwidth(25e9)).toBe('25.0 GB/s');
    expect(formatFlops(989.5e12)).toBe('990 TFLOP/s');
    expect(formatRate(12.345)).toBe('12.3 tok/s');
    expect(formatRate(1234.5)).toBe('1235 tok/s');
  });

  it('formats parameter counts like model cards', () => {
    expect(formatParams(134_515_008)).toBe('135M');
    expect(formatParams(8_030_261_248)).toBe('8.03B');
    expect(formatParams(671_026_419_200)).toBe('671B');
    expect(formatParams(999)).toBe('999');
  });

  it('formats durations, integers, percentages and token counts', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(2400)).toBe('2.40 s');
    expect(formatDuration(192_000)).toBe('3 min 12 s');
    expect(formatInteger(131072)).toBe('131,072');
    expect(formatPercent(0.123)).toBe('12.3%');
    expect(formatTokens(131072)).toBe('128K');
    expect(formatTokens(1000)).toBe('1,000');
  });
});
