import { describe, expect, it } from 'vitest';
import { parseGpuUsedLines, parseProcessUsedLines } from '../../src/bench/gpu-memory.js';

const MIB = 1024 * 1024;

describe('nvidia-smi sampling output', () => {
  it('keeps the first and the largest used memory per GPU', () => {
    const text = ['0, NVIDIA H100 80GB HBM3, 1024', '1, NVIDIA H100 80GB HBM3, 10', '0, NVIDIA H100 80GB HBM3, 5120', '0, NVIDIA H100 80GB HBM3, 2048', 'garbage', ''].join('\n');
    const m = parseGpuUsedLines(text);
    expect(m.get(0)).toEqual({ name: 'NVIDIA H100 80GB HBM3', firstUsed: 1024 * MIB, maxUsed: 5120 * MIB });
    expect(m.get(1)?.maxUsed).toBe(10 * MIB);
  });

  it('takes the peak of one process from the compute-apps query', () => {
    const text = ['4242, 300', '17, 9000', '4242, 1200', '4242, [N/A]'].join('\n');
    expect(parseProcessUsedLines(text, 4242)).toBe(1200 * MIB);
    expect(parseProcessUsedLines(text, 1)).toBeNull();
  });
});
