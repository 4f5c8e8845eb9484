import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GpuMemorySampler, parseGpuUsedLines, parseProcessUsedLines } from '../../src/bench/gpu-memory.js';

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

describe('GpuMemorySampler', () => {
  // A stand-in nvidia-smi on the PATH: one GPU at 100 MiB, then 300 MiB in the looping mode, and this process
  // holding 64 MiB. execa is imported only when sampling starts (the CPU benchmark child never loads it).
  async function withFakeSmi(script: string | null, body: () => Promise<void>): Promise<void> {
    const path = process.env.PATH;
    const dir = await mkdtemp(join(tmpdir(), 'modelscout-smi-'));
    if (script !== null) await writeFile(join(dir, 'nvidia-smi'), script, { mode: 0o755 });
    process.env.PATH = script === null ? dir : `${dir}:${path ?? ''}`;
    process.env.MODELSCOUT_TEST_PID = String(process.pid);
    try {
      await body();
    } finally {
      process.env.PATH = path;
      delete process.env.MODELSCOUT_TEST_PID;
      await rm(dir, { recursive: true, force: true });
    }
  }
  const fake = [
    '#!/bin/sh',
    'case "$1" in',
    '  --query-gpu=*) if [ "$3" = "-lms" ]; then while true; do echo "0, Fake GPU, 300"; sleep 0.05; done; else echo "0, Fake GPU, 100"; fi ;;',
    '  --query-compute-apps=*) while true; do echo "$MODELSCOUT_TEST_PID, 64"; sleep 0.05; done ;;',
    'esac',
    '',
  ].join('\n');

  it('samples the device and this process through nvidia-smi', async () => {
    await withFakeSmi(fake, async () => {
      const sampler = new GpuMemorySampler(50);
      expect(await sampler.start()).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const [peak, ...rest] = await sampler.stop();
      expect(rest).toEqual([]);
      expect(peak).toMatchObject({ index: 0, name: 'Fake GPU', used_baseline_bytes: 100 * MIB, used_peak_bytes: 300 * MIB, process_used_peak_bytes: 64 * MIB, source: 'nvidia-smi' });
    });
  });

  it('samples nothing when nvidia-smi is not on the PATH', async () => {
    await withFakeSmi(null, async () => {
      const sampler = new GpuMemorySampler(50);
      expect(await sampler.start()).toBe(false);
      expect(await sampler.stop()).toEqual([]);
    });
  });
});
