import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, fromFloat16Bits, toFloat16Bits } from '../../src/util/float16.js';

describe('float16', () => {
  it('round-trips every non-NaN half exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const floats = float16ToFloat32(all);
    const back = float32ToFloat16(floats);
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN) expect(Number.isNaN(floats[h])).toBe(true);
      else expect(back[h]).toBe(h);
    }
  });

  it('rounds midpoints to even and values between to nearest', () => {
    // Positive finite halves: the midpoint of h and h+1 goes to the even one of the two.
    for (let h = 0; h < 0x7bff; h++) {
      const a = fromFloat16Bits(h);
      const b = fromFloat16Bits(h + 1);
      const mid = (a + b) / 2;
      if (Math.fround(mid) !== mid) continue; // not representable in float32 (cannot happen for halves, kept for safety)
      expect(toFloat16Bits(mid)).toBe(h % 2 === 0 ? h : h + 1);
      expect(toFloat16Bits(-mid)).toBe((h % 2 === 0 ? h : h + 1) | 0x8000);
      const below = Math.fround(mid - (b - a) / 8);
      expect(toFloat16Bits(below)).toBe(h);
    }
  });

  it('handles overflow, infinities, NaN and tiny values', () => {
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65519.99)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00);
    expect(toFloat16Bits(1e9)).toBe(0x7c00);
    expect(toFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(toFloat16Bits(Number.NaN) & 0x7e00).toBe(0x7e00);
    expect(toFloat16Bits(2 ** -25)).toBe(0); // tie with 0 → even
    expect(toFloat16Bits(2 ** -25 * 1.0001)).toBe(1);
    expect(toFloat16Bits(2 ** -26)).toBe(0);
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(toFloat16Bits(1 / 3)).toBe(0x3555);
    expect(fromFloat16Bits(0x3c00)).toBe(1);
  });
});
