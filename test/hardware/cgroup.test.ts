import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyContainerLimits, countCpuList, detectHardware, effectiveCpuLimit, parseCpuMax, readCgroupLimits } from '../../src/hardware/index.js';
import { hardwareSummaryLines } from '../../src/hardware/summary.js';
import { cpuTarget } from '../../src/hardware/device.js';
import { cpuRatesFromLayerProbe } from '../../src/estimate/cpu-rates.js';
import { LAYER_PROBE } from '../helpers/layer-probe.js';
import { storeBandwidth, toCachedLayerProbe as toCached } from '../../src/hardware/bandwidth-cache.js';

const GIB = 1024 ** 3;
const roots: string[] = [];

/** A fake filesystem root holding the given files (paths relative to it). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ms-cgroup-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const V2_MOUNTINFO = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';
const V1_MOUNTINFO = [
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

describe('cgroup v2', () => {
  it('reads memory.max, memory.high, cpu.max and the cpuset of the process cgroup, tightest on the path up', async () => {
    const root = tree({
      'proc/self/cgroup': '0::/kubepods/pod1/ctr\n',
      'proc/self/mountinfo': V2_MOUNTINFO,
      'proc/self/status': 'Name:\tnode\nCpus_allowed_list:\t0-63\n',
      // The pod's limit (one level up) is tighter than the container's own memory.max.
      'sys/fs/cgroup/kubepods/pod1/memory.max': `${4 * GIB}\n`,
      'sys/fs/cgroup/kubepods/pod1/ctr/memory.max': `${8 * GIB}\n`,
      'sys/fs/cgroup/kubepods/pod1/ctr/memory.high': 'max\n',
      'sys/fs/cgroup/kubepods/pod1/ctr/memory.current': `${1 * GIB}\n`,
      'sys/fs/cgroup/kubepods/pod1/ctr/memory.stat': `anon 100\ninactive_file ${0.25 * GIB}\n`,
      'sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': '200000 100000\n',
      'sys/fs/cgroup/kubepods/pod1/ctr/cpuset.cpus.effective': '0-63\n',
      'sys/fs/cgroup/kubepods/memory.max': 'max\n',
    });
    const limits = await readCgroupLimits({ root });
    expect(limits.version).toBe('2');
    expect(limits.memoryMaxBytes).toBe(4 * GIB);
    expect(limits.memoryHighBytes).toBeNull();
    expect(limits.memoryWorkingSetBytes).toBe(0.75 * GIB);
    expect(limits.cpuQuota).toBe(2);
    expect(limits.cpusetCpus).toBe(64);
    expect(limits.affinityCpus).toBe(64);
    expect(effectiveCpuLimit(limits)).toBe(2);
    expect(limits.sources.join('; ')).toContain('memory.max = 4294967296 (/sys/fs/cgroup/kubepods/pod1)');
  });

  it('memory.high below memory.max binds; "max" everywhere is no limit', async () => {
    const limited = await readCgroupLimits({
      root: tree({
        'proc/self/cgroup': '0::/app\n',
        'proc/self/mountinfo': V2_MOUNTINFO,
        'sys/fs/cgroup/app/memory.max': `${6 * GIB}`,
        'sys/fs/cgroup/app/memory.high': `${3 * GIB}`,
      }),
    });
    expect(limited.memoryHighBytes).toBe(3 * GIB);
    const unlimited = await readCgroupLimits({
      root: tree({
        'proc/self/cgroup': '0::/\n',
        'proc/self/mountinfo': V2_MOUNTINFO,
        'sys/fs/cgroup/memory.max': 'max',
        'sys/fs/cgroup/cpu.max': 'max 100000',
      }),
    });
    expect(unlimited).toMatchObject({ version: null, memoryMaxBytes: null, cpuQuota: null });
  });

  it('inside a cgroup namespace the process path is "/" and the mount root is its own cgroup', async () => {
    const limits = await readCgroupLimits({
      root: tree({
        'proc/self/cgroup': '0::/\n',
        'proc/self/mountinfo': '30 23 0:26 /kubepods/pod9 /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n',
        'sys/fs/cgroup/memory.max': `${2 * GIB}`,
        'sys/fs/cgroup/cpu.max': '50000 100000',
      }),
    });
    expect(limits.memoryMaxBytes).toBe(2 * GIB);
    expect(limits.cpuQuota).toBe(0.5);
    expect(effectiveCpuLimit(limits)).toBe(1);
  });
});

describe('cgroup v1 (and a hybrid host whose cgroup2 mount has no controllers)', () => {
  it('reads memory.limit_in_bytes, the CFS quota and cpuset.cpus; the near-2^63 "unlimited" value is no limit', async () => {
    const root = tree({
      'proc/self/cgroup': '9:name=systemd:/\n4:memory:/docker/abc\n3:cpuset:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/\n',
      'proc/self/mountinfo': V1_MOUNTINFO,
      'proc/self/status': 'Cpus_allowed_list:\t0-1\n',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
      'sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes': `${4 * GIB}\n`,
      'sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes': `${0.5 * GIB}\n`,
      'sys/fs/cgroup/memory/docker/abc/memory.stat': `cache 0\ntotal_inactive_file ${0.25 * GIB}\n`,
      'sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '150000\n',
      'sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
      'sys/fs/cgroup/cpuset/docker/abc/cpuset.cpus': '0-3\n',
    });
    const limits = await readCgroupLimits({ root });
    expect(limits).toMatchObject({ version: '1', memoryMaxBytes: 4 * GIB, memoryWorkingSetBytes: 0.25 * GIB, cpuQuota: 1.5, cpusetCpus: 4, affinityCpus: 2 });
    // Affinity (2) beats the cpuset (4); the 1.5-CPU quota rounds down to one whole CPU.
    expect(effectiveCpuLimit(limits)).toBe(1);
  });

  it('no /proc files (not Linux, or unreadable): no limits', async () => {
    expect(await readCgroupLimits({ root: tree({}) })).toMatchObject({ version: null, memoryMaxBytes: null, cpuQuota: null, affinityCpus: null });
  });
});

describe('small parsers', () => {
  it('counts CPU lists and reads cpu.max', () => {
    expect(countCpuList('0-3,8,10-11')).toBe(7);
    expect(countCpuList('5')).toBe(1);
    expect(countCpuList('')).toBeNull();
    expect(countCpuList('3-1')).toBeNull();
    expect(parseCpuMax('max 100000')).toBeNull();
    expect(parseCpuMax('250000 100000')).toBe(2.5);
  });
});

describe('limits applied to the hardware', () => {
  const limits = { version: '2' as const, memoryMaxBytes: 4 * GIB, memoryHighBytes: null, memoryWorkingSetBytes: 1 * GIB, cpuQuota: 2, cpusetCpus: null, affinityCpus: 64, sources: ['memory.max = 4294967296 (/sys/fs/cgroup/pod)'] };

  it('RAM, threads and cores become the tighter of host and limit; the host figures are kept', () => {
    const cpu = { cores: 32, threads: 64 };
    const memory = { totalBytes: 256 * GIB, availableBytes: 200 * GIB };
    const applied = applyContainerLimits(cpu, memory, limits);
    expect(cpu).toEqual({ cores: 2, threads: 2 });
    expect(memory).toEqual({ totalBytes: 4 * GIB, availableBytes: 3 * GIB });
    expect(applied?.host).toEqual({ memoryTotalBytes: 256 * GIB, memoryAvailableBytes: 200 * GIB, cores: 32, threads: 64 });
  });

  it('a limit above the host changes nothing and is not reported', () => {
    const cpu = { cores: 2, threads: 2 };
    const memory = { totalBytes: 2 * GIB, availableBytes: 1 * GIB };
    expect(applyContainerLimits(cpu, memory, { ...limits, cpuQuota: 8 })).toBeUndefined();
    expect(cpu.threads).toBe(2);
  });

  it('detectHardware uses the limits for RAM, threads and peak FLOP/s, and says so', async () => {
    const hw = await detectHardware({
      run: async () => null,
      readTextFile: async (path) =>
        path === '/proc/meminfo' ? `MemTotal: ${256 * 1024 * 1024} kB\nMemAvailable: ${200 * 1024 * 1024} kB\n` : path === '/proc/cpuinfo' ? '' : null,
      system: { platform: 'linux', release: '6.0', arch: 'x64', cpuModel: 'Big Server CPU', threads: 64, speedMHz: 2000 },
      cgroupLimits: limits,
    });
    expect(hw.memory.totalBytes).toBe(4 * GIB);
    expect(hw.memory.availableBytes).toBe(3 * GIB);
    expect(hw.cpu.threads).toBe(2);
    expect(hw.peakFlops.basis).toMatch(/^2 cores/);
    expect(hw.limits?.memoryLimitBytes).toBe(4 * GIB);
    const lines = hardwareSummaryLines(hw).join('\n');
    expect(lines).toContain('container limit');
    expect(lines).toContain('host 200.0 GiB available of 256.0 GiB');
  });
});

describe('the bandwidth probe cache', () => {
  it('a cached probe of this machine replaces the stated default; another machine’s does not', async () => {
    const root = tree({});
    const path = join(root, 'cache', 'bandwidth.json');
    const base = {
      run: async () => null,
      readTextFile: async (p: string) => (p === '/proc/meminfo' ? `MemTotal: ${16 * 1024 * 1024} kB\nMemAvailable: ${12 * 1024 * 1024} kB\n` : null),
      system: { platform: 'linux', release: '6.0', arch: 'x64', cpuModel: 'Cached CPU', threads: 1, speedMHz: 2000 },
      cgroupLimits: null,
      bandwidthCachePath: path,
    };
    const before = await detectHardware(base);
    expect(before.bandwidth.source).toBe('default');
    const probed = await detectHardware({ ...base, probe: true, probeDurationMs: 100, timestamp: () => '2026-01-01T00:00:00Z' });
    expect(probed.bandwidth.source).toBe('probe');
    const cached = JSON.parse(readFileSync(path, 'utf8')) as { entries: { machine: string; bytes_per_sec: number }[] };
    expect(cached.entries).toHaveLength(1);
    expect(cached.entries[0]!.bytes_per_sec).toBe(probed.bandwidth.bytesPerSec);
    const after = await detectHardware(base);
    expect(after.bandwidth).toMatchObject({ source: 'probe', bytesPerSec: probed.bandwidth.bytesPerSec });
    expect(after.bandwidth.note).toContain('2026-01-01T00:00:00Z');
    const other = await detectHardware({ ...base, system: { ...base.system, cpuModel: 'Another CPU' } });
    expect(other.bandwidth.source).toBe('default');
  });
});


describe('the CPU kernel probe in detection', () => {
  const setup = () => {
    const root = tree({});
    const path = join(root, 'cache', 'bandwidth.json');
    const base = {
      run: async () => null,
      readTextFile: async (p: string) => (p === '/proc/meminfo' ? `MemTotal: ${16 * 1024 * 1024} kB\nMemAvailable: ${12 * 1024 * 1024} kB\n` : null),
      system: { platform: 'linux', release: '6.0', arch: 'x64', cpuModel: 'Probed CPU', threads: 1, speedMHz: 2000 },
      cgroupLimits: null,
      bandwidthCachePath: path,
      probeDurationMs: 100,
      timestamp: () => '2026-02-01T00:00:00Z',
      kernelProbe: async () => ({ ...LAYER_PROBE, threads: 1, durationMs: 1200 }),
    };
    return { path, base };
  };
  const machine = 'Probed CPU | 1 threads | 16 GiB';

  it('the CPU model’s rates come from the decoder-layer probe (cached with the bandwidth); without a probe from the ISA', async () => {
    const { path, base } = setup();
    const isa = await detectHardware(base);
    expect(isa.peakFlops.source).toBe('default');
    expect(isa.layerProbe).toBeUndefined();
    expect(cpuTarget(isa).cpuRates).toBeUndefined();
    const probed = await detectHardware({ ...base, probe: true, cpuBusy: async () => 0.02 });
    const rates = cpuRatesFromLayerProbe(LAYER_PROBE);
    expect(probed.peakFlops).toMatchObject({ source: 'probe', flopsPerSec: rates.gemmFlopsPerSec.fp32, int8OpsPerSec: rates.int4OpsPerSec });
    expect(probed.peakFlops.basis).toMatch(/decoder-layer probe/);
    expect(cpuTarget(probed)).toMatchObject({ peakFlopsSource: 'probe', cpuRates: rates });
    // Only the probe's own figures are kept (not the caller's thread count or duration).
    expect(probed.layerProbe).toEqual({ ...LAYER_PROBE, note: expect.stringMatching(/decoder-layer stacks/) });
    const cached = JSON.parse(readFileSync(path, 'utf8')) as { schema_version: string; entries: { layer_probe: Record<string, number> }[] };
    expect(cached.schema_version).toBe('1');
    expect(cached.entries[0]!.layer_probe).toMatchObject({ hidden: 896, intermediate: 4864, heads: 14, kv_heads: 2, block_size: 128, int4_decode_sec_per_layer: 620e-6, fp32_prompt_sec_per_token_layer: 150e-6 });
    // A later plain detection (no probe) uses the cached timings: the same rates.
    const later = await detectHardware(base);
    expect(later.layerProbe?.note).toContain('2026-02-01T00:00:00Z');
    expect(cpuTarget(later).cpuRates).toEqual(rates);
    // A what-if bandwidth replaces the probed read rate only.
    const whatIf = cpuTarget(await detectHardware({ ...base, overrides: { bandwidthBytesPerSec: 100e9 } }));
    expect(whatIf.cpuRates).toMatchObject({ readBytesPerSec: 100e9, int4OpsPerSec: rates.int4OpsPerSec });
  });

  it('reads a cache written before the decoder-layer probe: its bandwidth is used, its single-kernel rates are not', async () => {
    const { path, base } = setup();
    await storeBandwidth(path, { machine, bytes_per_sec: 21.1e9, threads: 1, duration_ms: 1000, measured_at: '2025-12-01T00:00:00Z', gemm_flops_per_sec: 111e9, int4_gemv_ops_per_sec: 136e9 });
    const old = await detectHardware(base);
    expect(old.bandwidth).toMatchObject({ source: 'probe', bytesPerSec: 21.1e9 });
    expect(old.peakFlops.source).toBe('default');
    expect(old.layerProbe).toBeUndefined();
    expect(old.notes.join(' ')).toMatch(/earlier, single-kernel probe .* --probe/);
    // A damaged layer probe entry is ignored, not trusted.
    await storeBandwidth(path, { machine, bytes_per_sec: 21.1e9, threads: 1, duration_ms: 1000, measured_at: '2025-12-01T00:00:00Z', layer_probe: { ...toCached(LAYER_PROBE), int4_decode_sec_per_layer: -1 } });
    expect((await detectHardware(base)).layerProbe).toBeUndefined();
  });

  it('a probe on a busy machine is used for the run but not cached', async () => {
    const { path, base } = setup();
    const busy = await detectHardware({ ...base, probe: true, cpuBusy: async () => 0.8 });
    expect(busy.peakFlops.source).toBe('probe');
    expect(busy.notes.join(' ')).toMatch(/80% busy with other work while probing: .* not cached/);
    expect(existsSync(path)).toBe(false);
    expect((await detectHardware(base)).peakFlops.source).toBe('default');
  });
});
