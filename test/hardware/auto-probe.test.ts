import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectHardware, NO_PROBE_ENV, resolveProbeMode, type AutoProbeEvent, type DetectOptions } from '../../src/hardware/detect.js';
import { storeBandwidth, toCachedLayerProbe } from '../../src/hardware/bandwidth-cache.js';
import { LAYER_PROBE } from '../helpers/layer-probe.js';
import { cpuTarget } from '../../src/hardware/device.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});


const MACHINE = 'Auto CPU | 1 threads | 16 GiB';

/** Detection of a fake one-thread machine with an injected kernel probe and busy sampler that count their calls. */
function setup(busy: number | null = 0.02) {
  const root = mkdtempSync(join(tmpdir(), 'ms-auto-probe-'));
  roots.push(root);
  const path = join(root, 'cache', 'bandwidth.json');
  const calls = { kernelProbe: 0, cpuBusy: 0 };
  const events: AutoProbeEvent[] = [];
  const base: DetectOptions = {
    probe: 'auto',
    run: async () => null,
    readTextFile: async (p: string) => (p === '/proc/meminfo' ? `MemTotal: ${16 * 1024 * 1024} kB\nMemAvailable: ${12 * 1024 * 1024} kB\n` : null),
    system: { platform: 'linux', release: '6.0', arch: 'x64', cpuModel: 'Auto CPU', threads: 1, speedMHz: 2000 },
    cgroupLimits: null,
    bandwidthCachePath: path,
    probeDurationMs: 100,
    timestamp: () => '2026-03-01T00:00:00Z',
    kernelProbe: async () => {
      calls.kernelProbe += 1;
      return LAYER_PROBE;
    },
    cpuBusy: async () => {
      calls.cpuBusy += 1;
      return busy;
    },
    onAutoProbe: (event) => events.push(event),
  };
  return { path, base, calls, events };
}

describe('the automatic probe (probe: auto)', () => {
  it('probes a machine the cache has no decoder-layer probe for, caches it, and does not probe it again', async () => {
    const { path, base, calls, events } = setup();
    const first = await detectHardware(base);
    expect(calls.kernelProbe).toBe(1);
    expect(events).toEqual([{ kind: 'probing' }]);
    expect(first.bandwidth.source).toBe('probe');
    expect(first.peakFlops.source).toBe('probe');
    expect(cpuTarget(first).cpuRates).toBeDefined();
    const cached = JSON.parse(readFileSync(path, 'utf8')) as { entries: { machine: string; measured_at: string; layer_probe?: Record<string, number> }[] };
    expect(cached.entries).toHaveLength(1);
    expect(cached.entries[0]).toMatchObject({ machine: MACHINE, measured_at: '2026-03-01T00:00:00Z', layer_probe: { int4_decode_sec_per_layer: 620e-6 } });

    const second = await detectHardware(base);
    expect(calls.kernelProbe).toBe(1);
    expect(calls.cpuBusy).toBe(1);
    expect(events).toHaveLength(1);
    expect(second.peakFlops.source).toBe('probe');
    expect(second.layerProbe?.note).toContain('2026-03-01T00:00:00Z');
    expect(second.bandwidth).toMatchObject({ source: 'probe', bytesPerSec: first.bandwidth.bytesPerSec });
  });

  it('does not probe when this machine’s decoder-layer probe is cached; does when only an older bandwidth entry is', async () => {
    const { path, base, calls } = setup();
    await storeBandwidth(path, { machine: MACHINE, bytes_per_sec: 21e9, threads: 1, duration_ms: 1000, measured_at: '2026-01-01T00:00:00Z', layer_probe: toCachedLayerProbe(LAYER_PROBE) });
    const cached = await detectHardware(base);
    expect(calls).toEqual({ kernelProbe: 0, cpuBusy: 0 });
    expect(cached.bandwidth).toMatchObject({ source: 'probe', bytesPerSec: 21e9 });
    expect(cached.peakFlops.source).toBe('probe');

    // An entry from before the decoder-layer probe (bandwidth and single-kernel rates only) is not enough.
    await storeBandwidth(path, { machine: MACHINE, bytes_per_sec: 21e9, threads: 1, duration_ms: 1000, measured_at: '2026-01-01T00:00:00Z', gemm_flops_per_sec: 111e9 });
    const reprobed = await detectHardware(base);
    expect(calls.kernelProbe).toBe(1);
    expect(reprobed.peakFlops.source).toBe('probe');
    expect(reprobed.bandwidth.bytesPerSec).not.toBe(21e9);
  });

  it('probes again over a decoder-layer probe cached as medians (before the first quartile), and caches the new one', async () => {
    const { path, base, calls } = setup();
    const { statistic: _statistic, ...medians } = toCachedLayerProbe(LAYER_PROBE);
    // Written by an earlier modelscout: the same fields without `statistic`.
    await storeBandwidth(path, { machine: MACHINE, bytes_per_sec: 21e9, threads: 1, duration_ms: 1000, measured_at: '2026-01-01T00:00:00Z', layer_probe: medians as ReturnType<typeof toCachedLayerProbe> });
    const hw = await detectHardware(base);
    expect(calls.kernelProbe).toBe(1);
    expect(hw.peakFlops.source).toBe('probe');
    const cached = JSON.parse(readFileSync(path, 'utf8')) as { entries: { layer_probe?: { statistic?: string } }[] };
    expect(cached.entries).toHaveLength(1);
    expect(cached.entries[0]!.layer_probe?.statistic).toBe('first_quartile');
  });

  it('does not probe while the CPUs are busy, and says what the estimates use instead', async () => {
    const { path, base, calls, events } = setup(0.8);
    const hw = await detectHardware(base);
    expect(calls).toEqual({ kernelProbe: 0, cpuBusy: 1 });
    expect(existsSync(path)).toBe(false);
    expect(hw.bandwidth.source).toBe('default');
    expect(hw.peakFlops.source).toBe('default');
    const note = hw.notes.find((n) => n.startsWith('not probed'));
    expect(note).toMatch(/80% busy with other work, so the estimates use the ISA peaks and a stated 25 GB\/s bandwidth; `modelscout hardware --probe` measures when the machine is idle/);
    expect(events).toEqual([{ kind: 'skipped', note }]);
  });

  it('does not probe when the estimates run on a GPU: detected, or stated with --gpu or --vram', async () => {
    const { path, base, calls, events } = setup();
    const smi = { exitCode: 0, stdout: '0, NVIDIA H100 80GB HBM3, 81559, 81000, 550.54\n', stderr: '' };
    const detected = await detectHardware({ ...base, run: async (cmd: string) => (cmd === 'nvidia-smi' ? smi : null) });
    expect(detected.gpus).toHaveLength(1);
    await detectHardware({ ...base, overrides: { gpu: { key: 'H100-80GB', count: 2 } } });
    await detectHardware({ ...base, overrides: { vramBytes: 24 * 1024 ** 3 } });
    expect(calls).toEqual({ kernelProbe: 0, cpuBusy: 0 });
    expect(events).toEqual([]);
    expect(existsSync(path)).toBe(false);
    // A what-if RAM or bandwidth still estimates on this CPU: that probes.
    await detectHardware({ ...base, overrides: { bandwidthBytesPerSec: 50e9 } });
    expect(calls.kernelProbe).toBe(1);
  });

  it('never probes with probe: false (--no-probe), and always with probe: true (--probe), cached or not', async () => {
    const { path, base, calls, events } = setup();
    const off = await detectHardware({ ...base, probe: false });
    expect(calls).toEqual({ kernelProbe: 0, cpuBusy: 0 });
    expect(off.peakFlops.source).toBe('default');
    expect(existsSync(path)).toBe(false);
    await detectHardware({ ...base, probe: true });
    await detectHardware({ ...base, probe: true });
    expect(calls.kernelProbe).toBe(2);
    // A forced probe is the user's own request: no automatic-probe event.
    expect(events).toEqual([]);
  });

  it('a failing automatic probe leaves the estimates on the defaults with a note, not an error', async () => {
    const { path, base, events } = setup();
    const hw = await detectHardware({
      ...base,
      kernelProbe: async () => {
        throw new Error('no ONNX Runtime here');
      },
    });
    expect(hw.peakFlops.source).toBe('default');
    expect(hw.bandwidth.source).toBe('default');
    expect(existsSync(path)).toBe(false);
    expect(events.map((e) => e.kind)).toEqual(['probing', 'skipped']);
    expect(hw.notes.join(' ')).toMatch(/automatic probe failed \(no ONNX Runtime here\).*hardware --probe` tries again/);
  });
});

describe('resolveProbeMode', () => {
  it('the flag wins; else $MODELSCOUT_NO_PROBE turns the automatic probe off; else the fallback', () => {
    expect(NO_PROBE_ENV).toBe('MODELSCOUT_NO_PROBE');
    expect(resolveProbeMode(undefined, {})).toBe('auto');
    expect(resolveProbeMode(undefined, {}, true)).toBe(true);
    expect(resolveProbeMode(true, { MODELSCOUT_NO_PROBE: '1' })).toBe(true);
    expect(resolveProbeMode(false, {}, true)).toBe(false);
    expect(resolveProbeMode(undefined, { MODELSCOUT_NO_PROBE: '1' })).toBe(false);
    expect(resolveProbeMode(undefined, { MODELSCOUT_NO_PROBE: 'yes' }, true)).toBe(false);
    for (const off of ['', '0', 'false', ' FALSE ']) expect(resolveProbeMode(undefined, { MODELSCOUT_NO_PROBE: off })).toBe('auto');
  });
});
