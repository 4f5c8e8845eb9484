import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Its own cache folder: a probe caches the bandwidth per machine, and later runs would use it.
const CACHE = mkdtempSync(join(tmpdir(), 'ms-hw-cache-'));
afterAll(() => rmSync(CACHE, { recursive: true, force: true }));

function run(args: string[]) {
  return execa('node', ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1', XDG_CACHE_HOME: CACHE } });
}

describe('modelscout hardware', () => {
  it('reports the machine as JSON', async () => {
    const result = await run(['hardware', '--json']);
    expect(result.exitCode).toBe(0);
    const data = JSON.parse(String(result.stdout)) as {
      hardware: { cpu: { cores: number; features: Record<string, boolean> }; memory: { available_bytes: number; total_bytes: number }; gpus: unknown[]; bandwidth: { source: string } };
      device: { kind: string };
    };
    expect(data.hardware.cpu.cores).toBeGreaterThan(0);
    expect(Object.keys(data.hardware.cpu.features).sort()).toEqual(['amx', 'avx2', 'avx512', 'neon', 'vnni']);
    expect(data.hardware.memory.available_bytes).toBeLessThanOrEqual(data.hardware.memory.total_bytes);
    expect(Array.isArray(data.hardware.gpus)).toBe(true);
    expect(data.hardware.bandwidth.source).toBe('default');
    expect(['cpu', 'gpu']).toContain(data.device.kind);
  });

  it('answers what-if questions', async () => {
    const result = await run(['hardware', '--gpu', 'H100-80GB[x2]', '--ram', '512GiB', '--json']);
    expect(result.exitCode).toBe(0);
    const data = JSON.parse(String(result.stdout)) as { hardware: { memory: { total_bytes: number; source: string } }; device: { kind: string; count: number; bandwidth_bytes_per_sec: number } };
    expect(data.device).toMatchObject({ kind: 'gpu', count: 2, bandwidth_bytes_per_sec: 6.7e12 });
    expect(data.hardware.memory).toMatchObject({ total_bytes: 512 * 1024 ** 3, source: 'override' });
    const human = await run(['hardware', '--gpu', 'L4', '--device', 'cpu']);
    expect(human.exitCode).toBe(0);
    expect(String(human.stdout)).toMatch(/GPU 0 +NVIDIA L4: .* \(what-if\)/);
    expect(String(human.stdout)).toMatch(/Estimates CPU:/);
  });

  it('--gpu A770 asks what-if for an Intel card', async () => {
    const result = await run(['hardware', '--gpu', 'A770']);
    expect(result.exitCode).toBe(0);
    expect(String(result.stdout)).toMatch(/GPU 0 +Intel Arc A770 16GB: .*560 GB\/s, 138 TFLOP\/s fp16 \(what-if\)/);
    expect(String(result.stdout)).toMatch(/Estimates GPU: Intel Arc A770 16GB/);
  });

  it.each(['2xH100', '2x H100-80GB', 'H100x2'])('--gpu %s is the same as the older H100-80GB[x2]', async (gpu) => {
    const device = async (value: string) => (JSON.parse(String((await run(['hardware', '--gpu', value, '--json'])).stdout)) as { device: unknown }).device;
    const written = await device(gpu);
    expect(written).toMatchObject({ kind: 'gpu', count: 2 });
    expect(written).toEqual(await device('H100-80GB[x2]'));
  });

  it('--help shows the count-first GPU notation', async () => {
    const help = String((await run(['hardware', '--help'])).stdout);
    expect(help).toContain('--gpu=8xH100');
    expect(help).toContain('8xH100');
    expect(help).not.toContain('[x2]');
  });

  it('measures bandwidth with --probe', async () => {
    const result = await run(['hardware', '--probe', '--json']);
    expect(result.exitCode).toBe(0);
    const data = JSON.parse(String(result.stdout)) as {
      hardware: { bandwidth: { bytes_per_sec: number; source: string }; peak_flops: { source: string; flops_per_sec: number }; layer_probe: Record<string, unknown>; notes: string[] };
      device: { cpu_rates: { source: string; int4_ops_per_sec: number; gemm_flops_per_sec: { fp32: number } } };
    };
    expect(data.hardware.bandwidth.source).toBe('probe');
    expect(data.hardware.bandwidth.bytes_per_sec).toBeGreaterThan(0);
    // The decoder-layer probe ran too: the CPU model's rates and the peaks shown come from it.
    expect(data.hardware.layer_probe).toMatchObject({ shape: { hidden: 896, intermediate: 4864, heads: 14, kv_heads: 2 } });
    expect(data.hardware.layer_probe.int4_decode_sec_per_layer).toBeGreaterThan(0);
    expect(data.device.cpu_rates.source).toBe('layer probe');
    expect(data.device.cpu_rates.int4_ops_per_sec).toBeGreaterThan(0);
    expect(data.hardware.peak_flops).toMatchObject({ source: 'probe', flops_per_sec: data.device.cpu_rates.gemm_flops_per_sec.fp32 });
    const later = await run(['hardware', '--json']);
    const again = JSON.parse(String(later.stdout)) as { hardware: { bandwidth: { bytes_per_sec: number; source: string; note: string }; peak_flops: { source: string; flops_per_sec: number } } };
    if (data.hardware.notes.some((n) => /busy with other work while probing/.test(n))) {
      // Other processes held the CPUs during the probe: used for that run, not cached.
      expect(again.hardware.bandwidth.source).toBe('default');
      expect(again.hardware.peak_flops.source).toBe('default');
    } else {
      // Cached for this machine: a later run without --probe uses the measured figures.
      expect(again.hardware.bandwidth).toMatchObject({ source: 'probe', bytes_per_sec: data.hardware.bandwidth.bytes_per_sec });
      expect(again.hardware.bandwidth.note).toContain(join(CACHE, 'modelscout', 'bandwidth.json'));
      expect(again.hardware.peak_flops).toMatchObject({ source: 'probe', flops_per_sec: data.hardware.peak_flops.flops_per_sec });
    }
  });

  it.each([
    [['--gpu', 'B200'], /invalid GPU "B200": expected one of H200, H100-80GB/],
    [['--vram', '24'], /invalid --vram "24": expected a size such as 24GiB/],
    [['--bandwidth', 'fast'], /invalid --bandwidth "fast"/],
    [['--device', 'tpu'], /tpu/],
  ])('rejects %j with one line and exit 2', async (args, pattern) => {
    const result = await run(['hardware', ...args]);
    expect(result.exitCode).toBe(2);
    expect(String(result.stdout)).toBe('');
    expect(String(result.stderr).split('\n')[0]).toMatch(pattern);
    expect(String(result.stderr)).not.toMatch(/\n\s+at /);
  });
});
