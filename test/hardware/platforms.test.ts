/**
 * Known CPU platforms: which model strings match (a bare "AMD EPYC" matches nothing), the scaling to the
 * cores a VM or container sees, and detection using them only when no probe ran and no cache entry exists.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { machineKey, storeBandwidth } from '../../src/hardware/bandwidth-cache.js';
import { DEFAULT_SYSTEM_BANDWIDTH, detectHardware } from '../../src/hardware/detect.js';
import { cpuTarget } from '../../src/hardware/device.js';
import { hardwareSummaryLines } from '../../src/hardware/summary.js';
import { CPU_PLATFORMS, knownPlatformBandwidth, matchCpuPlatform, SUSTAINED_FRACTION } from '../../src/hardware/platforms.js';

const GB = 1e9;
const DIR = mkdtempSync(join(tmpdir(), 'ms-platforms-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

describe('known CPU platforms', () => {
  it.each([
    ['AMD EPYC 9654 96-Core Processor', 'epyc-genoa'],
    ['AMD EPYC 9474F 48-Core Processor', 'epyc-genoa'],
    ['AMD EPYC 9R14 96-Core Processor', 'epyc-genoa'],
    ['AMD EPYC 9755 128-Core Processor', 'epyc-turin'],
    ['AMD EPYC 7763 64-Core Processor', 'epyc-milan'],
    ['AMD EPYC 7R13 Processor', 'epyc-milan'],
    ['AMD EPYC 7B13', 'epyc-milan'],
    ['AMD EPYC 7742 64-Core Processor', 'epyc-rome'],
    ['Intel(R) Xeon(R) Platinum 8480+', 'xeon-sapphire-rapids'],
    ['Intel(R) Xeon(R) Gold 6430', 'xeon-sapphire-rapids'],
    ['Intel(R) Xeon(R) Platinum 8592+', 'xeon-emerald-rapids'],
    ['Intel(R) Xeon(R) 6980P', 'xeon-granite-rapids-ap'],
    ['Intel(R) Xeon(R) 6767P', 'xeon-granite-rapids-sp'],
    ['Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz', 'xeon-ice-lake'],
    ['AWS Graviton2', 'graviton2'],
    ['AWS Graviton3 Processor', 'graviton3'],
    ['AWS Graviton4', 'graviton4'],
    ['Ampere(R) Altra(R) Processor Q80-30', 'ampere-altra'],
  ])('%s is %s', (model, key) => {
    expect(matchCpuPlatform(model)?.key).toBe(key);
  });

  it.each(['AMD EPYC', 'AMD EPYC Processor', 'Intel(R) Xeon(R) CPU @ 2.20GHz', 'Intel(R) Core(TM) i9-13900K', 'AMD Ryzen 9 7950X 16-Core Processor', 'Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz', 'Intel(R) Xeon(R) Platinum 8380H', 'unknown CPU'])(
    '%s matches no platform',
    (model) => {
      expect(matchCpuPlatform(model)).toBeNull();
    },
  );

  it('peaks are channels × 8 bytes × transfer rate', () => {
    const byKey = Object.fromEntries(CPU_PLATFORMS.map((p) => [p.key, p.peakBytesPerSec]));
    expect(byKey['epyc-genoa']).toBe(460.8 * GB);
    expect(byKey['epyc-milan']).toBe(204.8 * GB);
    expect(byKey['xeon-sapphire-rapids']).toBe(307.2 * GB);
    for (const p of CPU_PLATFORMS) expect(p.source, p.key).toMatch(/\([\w.]+\.com[^)]*\)/);
  });

  it('scales by the share of the socket the machine sees, at most one socket', () => {
    const genoa = matchCpuPlatform('AMD EPYC 9654 96-Core Processor')!;
    const small = knownPlatformBandwidth(genoa, 'AMD EPYC 9654 96-Core Processor', 2);
    expect(small.bytesPerSec).toBeCloseTo(460.8 * GB * SUSTAINED_FRACTION * (2 / 96), 0);
    expect(small.note).toMatch(/× 2 of the socket's 96 cores visible \(a VM or container gets its share/);
    expect(small.note).toMatch(/= 7\.7 GB\/s/);
    const whole = knownPlatformBandwidth(genoa, 'AMD EPYC 9654 96-Core Processor', 384);
    expect(whole.bytesPerSec).toBeCloseTo(460.8 * GB * SUSTAINED_FRACTION, 0);
    expect(whole.note).toMatch(/one socket's bandwidth/);
    // The model string's core count wins over the platform's largest part: 48 threads of a 48-core 9474F see it all.
    expect(knownPlatformBandwidth(genoa, 'AMD EPYC 9474F 48-Core Processor', 48).share).toBe(1);
    // Without a stated count the largest part's cores: 8 vCPUs of a Xeon 8480+ are 8 of 56.
    const spr = matchCpuPlatform('Intel(R) Xeon(R) Platinum 8480+')!;
    expect(knownPlatformBandwidth(spr, 'Intel(R) Xeon(R) Platinum 8480+', 8).bytesPerSec).toBeCloseTo(307.2 * GB * 0.8 * (8 / 56), 0);
  });
});

const system = (cpuModel: string, threads: number) => ({ platform: 'linux', release: '6.8', arch: 'x64', cpuModel, threads, speedMHz: 2400, totalMem: 64 * GB, freeMem: 60 * GB });
const detect = (cpuModel: string, threads: number, extra: Parameters<typeof detectHardware>[0] = {}) =>
  detectHardware({ run: async () => null, readTextFile: async () => null, listDir: async () => [], system: system(cpuModel, threads), cgroupLimits: null, ...extra });

describe('bandwidth of a machine never probed', () => {
  it('a bare "AMD EPYC" (this build machine\'s model string) keeps the stated default', async () => {
    const hw = await detect('AMD EPYC', 2);
    expect(hw.bandwidth).toMatchObject({ bytesPerSec: DEFAULT_SYSTEM_BANDWIDTH, source: 'default' });
  });

  it('a known platform gives its scaled figure as source "known", naming the platform', async () => {
    const hw = await detect('AMD EPYC 9R14 96-Core Processor', 4);
    expect(hw.bandwidth.source).toBe('known');
    expect(hw.bandwidth.bytesPerSec).toBeCloseTo(460.8 * GB * 0.8 * (4 / 96), 0);
    expect(hw.bandwidth.note).toMatch(/^known platform AMD EPYC 9004 \(Genoa\): 12-channel DDR5-4800, 460\.8 GB\/s per socket theoretical/);
    expect(cpuTarget(hw)).toMatchObject({ bandwidthSource: 'known', bandwidthBytesPerSec: hw.bandwidth.bytesPerSec });
    // `hardware` shows the figure with its source and the platform.
    expect(hardwareSummaryLines(hw)).toContainEqual(expect.stringMatching(/^Bandwidth 15\.4 GB\/s system memory, known: known platform AMD EPYC 9004 \(Genoa\)/));
    expect(hardwareSummaryLines(hw)).toContainEqual('GPUs      none (no nvidia-smi or rocm-smi GPU, no amdgpu, i915 or xe card with its own memory)');
  });

  it('a container limit narrows the share to the CPUs the container may use', async () => {
    const hw = await detect('AMD EPYC 9654 96-Core Processor', 192, {
      cgroupLimits: { version: '2', memoryMaxBytes: null, memoryHighBytes: null, memoryWorkingSetBytes: null, cpuQuota: 2, cpusetCpus: null, affinityCpus: null, sources: ['cpu.max = 200000 100000 (/)'] },
    });
    expect(hw.cpu.threads).toBe(2);
    expect(hw.bandwidth.bytesPerSec).toBeCloseTo(460.8 * GB * 0.8 * (2 / 96), 0);
  });

  it("this machine's cached probe wins over the known platform", async () => {
    const cache = join(DIR, 'bandwidth.json');
    const model = 'Intel(R) Xeon(R) Platinum 8480+';
    await storeBandwidth(cache, { machine: machineKey({ cpuModel: model, threads: 8, memoryTotalBytes: 64 * GB }), bytes_per_sec: 31e9, threads: 8, duration_ms: 1000, measured_at: '2026-12-01T10:00:00Z' });
    const hw = await detect(model, 8, { bandwidthCachePath: cache });
    expect(hw.bandwidth).toMatchObject({ bytesPerSec: 31e9, source: 'probe' });
    const other = await detect(model, 8, { bandwidthCachePath: join(DIR, 'none.json') });
    expect(other.bandwidth.source).toBe('known');
  });
});
