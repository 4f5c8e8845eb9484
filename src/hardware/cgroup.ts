import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * Container limits: what the kernel lets this process use, which can be far below the host's RAM and CPUs
 * (a pod limited to 4 GiB and 2 CPUs on a 256 GiB node). Read from the cgroup this process belongs to —
 * cgroup v2 (`memory.max`, `memory.high`, `cpu.max`, `cpuset.cpus.effective`) or the v1 controllers
 * (`memory.limit_in_bytes`, `cpu.cfs_quota_us` / `cpu.cfs_period_us`, `cpuset.cpus`) — taking the tightest
 * limit on the path up to the mount point (limits are hierarchical), and the scheduler affinity
 * (`Cpus_allowed_list` in /proc/self/status, what `sched_getaffinity` and `nproc` report).
 *
 * Pure apart from reading files under `root` (default `/`): tests point it at a fake tree in a temp folder.
 */
export interface CgroupLimits {
  /** The cgroup version the limits came from: 2, 1, both (a hybrid host), or null when none is readable. */
  version: '1' | '2' | 'hybrid' | null;
  /** Hard memory limit (v2 memory.max, v1 memory.limit_in_bytes), null when unlimited. */
  memoryMaxBytes: number | null;
  /** v2 memory.high: above it the kernel throttles and reclaims hard; null when unset. */
  memoryHighBytes: number | null;
  /** Memory the cgroup holds now that cannot simply be dropped (usage less inactive page cache); null when unknown. */
  memoryWorkingSetBytes: number | null;
  /** CPU bandwidth quota in CPUs (quota ÷ period, e.g. 1.5), null when unlimited. */
  cpuQuota: number | null;
  /** CPUs in the cgroup's cpuset, null when not limited by one (or unreadable). */
  cpusetCpus: number | null;
  /** CPUs this process may be scheduled on (affinity), null when unknown. */
  affinityCpus: number | null;
  /** Where each limit was read, for the reader (e.g. `memory.max = 4294967296 (/sys/fs/cgroup/ms)`). */
  sources: string[];
}

export interface CgroupReadOptions {
  /** Filesystem root the /proc and /sys paths are read under (default `/`). */
  root?: string;
  /** File reader (default: fs); returns null when the file is missing or unreadable. */
  readText?: (path: string) => Promise<string | null>;
}

/** v1 reports "no limit" as a page-aligned value near 2^63; anything this large is no limit. */
const UNLIMITED_THRESHOLD = 2 ** 60;

interface Mount {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** Parses /proc/self/mountinfo lines of cgroup and cgroup2 mounts. */
export function parseCgroupMounts(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    const fsType = right[0] ?? '';
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({ root: unescapeMount(left[3] ?? '/'), mountPoint: unescapeMount(left[4] ?? ''), fsType, superOptions: (right[2] ?? '').split(',') });
  }
  return mounts;
}

function unescapeMount(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Parses /proc/self/cgroup: v1 lines `id:controller,controller:/path`, the v2 line `0::/path`. */
export function parseProcCgroup(text: string): { v2: string | null; v1: Map<string, string> } {
  let v2: string | null = null;
  const v1 = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers, path] = match as unknown as [string, string, string, string];
    if (id === '0' && controllers === '') v2 = path;
    else for (const c of controllers.split(',')) if (c) v1.set(c.replace(/^name=/, ''), path);
  }
  return { v2, v1 };
}

/** Counts the CPUs in a list like `0-3,8,10-11` (cpuset.cpus, Cpus_allowed_list); null when empty or malformed. */
export function countCpuList(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  let count = 0;
  for (const part of trimmed.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) return null;
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from) return null;
    count += to - from + 1;
  }
  return count;
}

/**
 * The folders of this process's cgroup in one hierarchy, innermost first, up to the mount point. The path
 * in /proc/self/cgroup is relative to the hierarchy's root; the mount shows the part below `mount.root`
 * (a container sees its own cgroup as the root of a cgroup namespace, where the path is `/`).
 */
function cgroupDirs(rootDir: string, mount: Mount, cgroupPath: string): string[] {
  const base = join(rootDir, mount.mountPoint);
  let relative = cgroupPath;
  if (mount.root !== '/' && (relative === mount.root || relative.startsWith(`${mount.root}/`))) relative = relative.slice(mount.root.length);
  else if (mount.root !== '/') relative = '/';
  const parts = relative.split('/').filter((p) => p !== '' && p !== '..');
  const dirs: string[] = [];
  for (let n = parts.length; n >= 0; n -= 1) dirs.push(join(base, ...parts.slice(0, n)));
  return dirs;
}

function parseBytes(text: string | null): number | null {
  if (text === null) return null;
  const value = text.trim();
  if (value === '' || value === 'max') return null;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 && n < UNLIMITED_THRESHOLD ? n : null;
}

function minOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

function statField(text: string | null, key: string): number | null {
  if (text === null) return null;
  const match = new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}

async function readTextDefault(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

export async function readCgroupLimits(options: CgroupReadOptions = {}): Promise<CgroupLimits> {
  const root = options.root ?? '/';
  const read = options.readText ?? readTextDefault;
  const limits: CgroupLimits = { version: null, memoryMaxBytes: null, memoryHighBytes: null, memoryWorkingSetBytes: null, cpuQuota: null, cpusetCpus: null, affinityCpus: null, sources: [] };

  const status = await read(join(root, 'proc/self/status'));
  const allowed = status === null ? null : /^Cpus_allowed_list:\s*(.*)$/m.exec(status)?.[1];
  if (allowed) limits.affinityCpus = countCpuList(allowed);

  const procCgroup = await read(join(root, 'proc/self/cgroup'));
  const mountInfo = await read(join(root, 'proc/self/mountinfo'));
  if (procCgroup === null || mountInfo === null) return limits;
  const membership = parseProcCgroup(procCgroup);
  const mounts = parseCgroupMounts(mountInfo);
  const used = new Set<'1' | '2'>();

  // Reads `file` in every folder from the innermost up; returns the tightest value and where it was.
  const tightest = async (dirs: string[], file: string, parse: (text: string | null) => number | null): Promise<{ value: number; dir: string } | null> => {
    let best: { value: number; dir: string } | null = null;
    for (const dir of dirs) {
      const value = parse(await read(join(dir, file)));
      if (value !== null && (best === null || value < best.value)) best = { value, dir };
    }
    return best;
  };
  const note = (file: string, hit: { value: number; dir: string }, shown: string): void => {
    limits.sources.push(`${file} = ${shown} (/${relative(root, hit.dir)})`);
  };

  const v2Mount = mounts.find((m) => m.fsType === 'cgroup2');
  if (v2Mount && membership.v2 !== null) {
    const dirs = cgroupDirs(root, v2Mount, membership.v2);
    const max = await tightest(dirs, 'memory.max', parseBytes);
    const high = await tightest(dirs, 'memory.high', parseBytes);
    const cpu = await tightest(dirs, 'cpu.max', parseCpuMax);
    const cpuset = await read(join(dirs[0]!, 'cpuset.cpus.effective'));
    if (max) {
      limits.memoryMaxBytes = max.value;
      note('memory.max', max, String(max.value));
    }
    if (high) {
      limits.memoryHighBytes = high.value;
      note('memory.high', high, String(high.value));
    }
    if (cpu) {
      limits.cpuQuota = cpu.value;
      note('cpu.max', cpu, `${cpu.value} CPU`);
    }
    if (cpuset !== null && countCpuList(cpuset) !== null) limits.cpusetCpus = countCpuList(cpuset);
    if (max || high) {
      const current = parseBytes(await read(join(dirs[0]!, 'memory.current')));
      const inactive = statField(await read(join(dirs[0]!, 'memory.stat')), 'inactive_file') ?? 0;
      if (current !== null) limits.memoryWorkingSetBytes = Math.max(0, current - inactive);
    }
    if (max || high || cpu || limits.cpusetCpus !== null) used.add('2');
  }

  // v1 controllers (also on a hybrid host, where cgroup2 is mounted without the memory or cpu controller).
  const v1Mount = (controller: string): Mount | undefined => mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes(controller));
  const memMount = v1Mount('memory');
  const memPath = membership.v1.get('memory');
  if (memMount && memPath !== undefined && limits.memoryMaxBytes === null) {
    const dirs = cgroupDirs(root, memMount, memPath);
    const max = await tightest(dirs, 'memory.limit_in_bytes', parseBytes);
    if (max) {
      limits.memoryMaxBytes = max.value;
      note('memory.limit_in_bytes', max, String(max.value));
      const usage = parseBytes(await read(join(dirs[0]!, 'memory.usage_in_bytes')));
      const inactive = statField(await read(join(dirs[0]!, 'memory.stat')), 'total_inactive_file') ?? 0;
      if (usage !== null) limits.memoryWorkingSetBytes = Math.max(0, usage - inactive);
      used.add('1');
    }
  }
  const cpuMount = v1Mount('cpu');
  const cpuPath = membership.v1.get('cpu');
  if (cpuMount && cpuPath !== undefined && limits.cpuQuota === null) {
    const dirs = cgroupDirs(root, cpuMount, cpuPath);
    let best: { value: number; dir: string } | null = null;
    for (const dir of dirs) {
      const quota = Number((await read(join(dir, 'cpu.cfs_quota_us')))?.trim() ?? Number.NaN);
      const period = Number((await read(join(dir, 'cpu.cfs_period_us')))?.trim() ?? Number.NaN);
      if (quota > 0 && period > 0 && (best === null || quota / period < best.value)) best = { value: quota / period, dir };
    }
    if (best) {
      limits.cpuQuota = best.value;
      note('cpu.cfs_quota_us', best, `${best.value} CPU`);
      used.add('1');
    }
  }
  const cpusetMount = v1Mount('cpuset');
  const cpusetPath = membership.v1.get('cpuset');
  if (cpusetMount && cpusetPath !== undefined && limits.cpusetCpus === null) {
    const dirs = cgroupDirs(root, cpusetMount, cpusetPath);
    const text = (await read(join(dirs[0]!, 'cpuset.effective_cpus'))) ?? (await read(join(dirs[0]!, 'cpuset.cpus')));
    if (text !== null && countCpuList(text) !== null) {
      limits.cpusetCpus = countCpuList(text);
      used.add('1');
    }
  }
  limits.version = used.size === 2 ? 'hybrid' : used.has('2') ? '2' : used.has('1') ? '1' : null;
  return limits;
}

/** `cpu.max`: `max 100000` (no limit) or `150000 100000` (1.5 CPUs). */
export function parseCpuMax(text: string | null): number | null {
  if (text === null) return null;
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return null;
  const q = Number(quota);
  const p = Number(period ?? 100000);
  return q > 0 && p > 0 ? q / p : null;
}

/** The memory limit that binds: the lower of memory.max and memory.high; null when neither is set. */
export function effectiveMemoryLimit(limits: Pick<CgroupLimits, 'memoryMaxBytes' | 'memoryHighBytes'>): number | null {
  return minOf(limits.memoryMaxBytes, limits.memoryHighBytes);
}

/**
 * Whole CPUs this process can keep busy: the fewest of the affinity mask, the cpuset and the quota
 * (rounded down, at least 1 — a 1.5-CPU quota runs two threads at three quarters each); null when none applies.
 */
export function effectiveCpuLimit(limits: Pick<CgroupLimits, 'cpuQuota' | 'cpusetCpus' | 'affinityCpus'>): number | null {
  const quota = limits.cpuQuota === null ? null : Math.max(1, Math.floor(limits.cpuQuota));
  return minOf(minOf(quota, limits.cpusetCpus), limits.affinityCpus);
}
