/**
 * GPU memory during a test, sampled with `nvidia-smi` (through execa) in its own looping mode
 * (`-lms`), so sampling costs the benchmark process nothing but reading a pipe between steps.
 * Device-wide used memory per GPU, and this process's own usage from the compute-apps query.
 */
import type { execa as Execa } from 'execa';

/**
 * execa, imported when a GPU test starts sampling: the benchmark child of a CPU run never needs it, and
 * importing it costs that process about 13 MiB of resident memory, which its measured peak would carry.
 */
let execaModule: Promise<typeof import('execa')> | null = null;
function loadExeca(): Promise<typeof import('execa')> {
  execaModule ??= import('execa');
  return execaModule;
}

export interface GpuMemoryPeak {
  index: number;
  name: string | null;
  used_baseline_bytes: number | null;
  used_peak_bytes: number | null;
  process_used_peak_bytes: number | null;
  source: 'nvidia-smi';
  sample_interval_ms: number;
}

const MIB = 1024 * 1024;

function startLoop(execa: typeof Execa, query: string, intervalMs: number) {
  return execa('nvidia-smi', [query, '--format=csv,noheader,nounits', '-lms', String(intervalMs)], { reject: false, buffer: false });
}

type LoopingProcess = ReturnType<typeof startLoop>;

/** Parses lines of `--query-gpu=index,name,memory.used --format=csv,noheader,nounits` into max used per GPU. */
export function parseGpuUsedLines(text: string): Map<number, { name: string; maxUsed: number; firstUsed: number }> {
  const out = new Map<number, { name: string; maxUsed: number; firstUsed: number }>();
  for (const line of text.split('\n')) {
    const parts = line.split(',').map((p) => p.trim());
    if (parts.length < 3) continue;
    const index = Number(parts[0]);
    const used = Number(parts[2]);
    if (!Number.isInteger(index) || !Number.isFinite(used)) continue;
    const prev = out.get(index);
    if (prev) prev.maxUsed = Math.max(prev.maxUsed, used * MIB);
    else out.set(index, { name: parts[1] ?? '', maxUsed: used * MIB, firstUsed: used * MIB });
  }
  return out;
}

/** Max used memory of process `pid` from lines of `--query-compute-apps=pid,used_memory --format=csv,noheader,nounits`. */
export function parseProcessUsedLines(text: string, pid: number): number | null {
  let max: number | null = null;
  for (const line of text.split('\n')) {
    const [p, used] = line.split(',').map((s) => s.trim());
    if (Number(p) !== pid) continue;
    const v = Number(used);
    if (Number.isFinite(v)) max = Math.max(max ?? 0, v * MIB);
  }
  return max;
}

export class GpuMemorySampler {
  readonly #interval: number;
  #gpu: LoopingProcess | null = null;
  #apps: LoopingProcess | null = null;
  #gpuText = '';
  #appsText = '';
  #baseline: Map<number, { name: string; maxUsed: number; firstUsed: number }> | null = null;

  constructor(intervalMs = 100) {
    this.#interval = intervalMs;
  }

  /** Starts sampling; resolves false (and samples nothing) when nvidia-smi is not there. */
  async start(): Promise<boolean> {
    let execa: typeof Execa;
    try {
      ({ execa } = await loadExeca());
      const once = await execa('nvidia-smi', ['--query-gpu=index,name,memory.used', '--format=csv,noheader,nounits'], { reject: false, timeout: 10_000 });
      if (once.exitCode !== 0) return false;
      this.#baseline = parseGpuUsedLines(String(once.stdout));
    } catch {
      return false;
    }
    this.#gpuText = '';
    this.#appsText = '';
    const gpu = startLoop(execa, '--query-gpu=index,name,memory.used', this.#interval);
    const apps = startLoop(execa, '--query-compute-apps=pid,used_memory', this.#interval);
    gpu.stdout.on('data', (d: Buffer) => (this.#gpuText += d.toString()));
    apps.stdout.on('data', (d: Buffer) => (this.#appsText += d.toString()));
    this.#gpu = gpu;
    this.#apps = apps;
    return true;
  }

  /** Stops sampling and returns the peaks per GPU (empty when sampling never started). */
  async stop(): Promise<GpuMemoryPeak[]> {
    if (!this.#gpu || !this.#baseline) return [];
    for (const p of [this.#gpu, this.#apps]) p?.kill();
    await Promise.allSettled([this.#gpu, this.#apps]);
    const peaks = parseGpuUsedLines(this.#gpuText);
    const proc = parseProcessUsedLines(this.#appsText, process.pid);
    const out: GpuMemoryPeak[] = [];
    for (const [index, base] of this.#baseline) {
      out.push({
        index,
        name: base.name || null,
        used_baseline_bytes: base.firstUsed,
        used_peak_bytes: Math.max(peaks.get(index)?.maxUsed ?? 0, base.firstUsed),
        // compute-apps does not say which GPU; with one GPU it is that one's.
        process_used_peak_bytes: this.#baseline.size === 1 ? proc : null,
        source: 'nvidia-smi',
        sample_interval_ms: this.#interval,
      });
    }
    this.#gpu = null;
    this.#apps = null;
    return out;
  }
}
