import { describe, expect, it } from 'vitest';
import { parseBandwidth, parseByteSize, parseParamCount } from '../../src/estimate/units.js';

describe('unit parsing', () => {
  it('parses decimal and binary sizes', () => {
    expect(parseByteSize('24GiB')).toBe(24 * 1024 ** 3);
    expect(parseByteSize('80GB')).toBe(80e9);
    expect(parseByteSize('512 MiB')).toBe(512 * 1024 ** 2);
    expect(parseByteSize('1.5TB')).toBe(1.5e12);
    expect(parseByteSize('100b')).toBe(100);
  });

  it('refuses sizes without a unit and junk, naming the value', () => {
    expect(() => parseByteSize('24', '--ram')).toThrow('invalid --ram "24": expected a size such as 24GiB, 80GB or 512MiB');
    expect(() => parseByteSize('lots')).toThrow(/"lots"/);
    expect(() => parseByteSize('0GB')).toThrow(/greater than zero/);
    expect(() => parseByteSize('-4GB')).toThrow();
  });

  it('parses bandwidths with or without /s', () => {
    expect(parseBandwidth('50GB/s')).toBe(50e9);
    expect(parseBandwidth('3.35TB/s')).toBe(3.35e12);
    expect(parseBandwidth('900GB')).toBe(900e9);
    expect(() => parseBandwidth('fast', '--bandwidth')).toThrow('invalid --bandwidth "fast": expected a rate such as 50GB/s or 3.35TB/s');
  });

  it('parses parameter counts', () => {
    expect(parseParamCount('14B')).toBe(14e9);
    expect(parseParamCount('500M')).toBe(500e6);
    expect(parseParamCount('1.5b')).toBe(1.5e9);
    expect(parseParamCount('7000')).toBe(7000);
    expect(() => parseParamCount('14Q', '--max-params')).toThrow(/invalid --max-params "14Q"/);
  });
});
