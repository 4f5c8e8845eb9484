import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseRecommendation } from '../helpers/recommendation.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = (args: string[]) => execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false });

/** The part of `models show --json` (snake_case keys) these tests read. */
interface ModelShowJson {
  topology?: {
    gpus_per_node: number;
    nodes: number;
    context: number;
    concurrency: number;
    formats: { format: string; fits: boolean; reason: string | null; topology: { tp: number; pp: number; per_gpu: { total_bytes: number; activation_bytes: number } } | null }[];
  };
}

describe('past one machine: --gpus, --nodes, --interconnect', () => {
  it('recommend lays the flagship class out on 2 nodes of 8× H100 with communication in every figure', async () => {
    const r = await run(['recommend', '--latency', 'relaxed', '--gpu', 'H100-80GB', '--gpus', '8', '--nodes', '2', '--ram', '24GiB', '--device', 'gpu', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const rec = parseRecommendation(r.stdout);
    expect(rec.devices.considered[0]).toMatchObject({ kind: 'gpu', count: 16, name: 'NVIDIA H100 SXM 80GB ×8 × 2 nodes' });
    const llama = rec.candidates.find((c) => c.id === 'llama-3.1-405b');
    expect(llama?.topology).toBeTruthy();
    const t = llama!.topology!;
    expect(t.tp * t.pp * t.dp).toBe(16);
    expect(t.perGpu.totalBytes).toBeLessThanOrEqual(t.perGpu.usableBytes);
    expect(t.communication.allReducesPerStep).toBe(t.tp > 1 ? 2 * 126 : 0);
    expect(t.interconnect.interNode?.kind).toBe('ib');
    // 405B in fp16 needs both nodes: TP 8 × PP 2 is the only layout where it fits.
    if (llama!.format === 'fp16') expect([t.tp, t.pp]).toEqual([8, 2]);
    expect(llama!.speed.basis.formula).toMatch(/all-reduce/);
  });

  it('recommend renders the layout line and, when the class does not fit, concrete topologies with vLLM and SGLang commands', async () => {
    const r = await run(['recommend', '--latency', 'relaxed', '--gpu', 'RTX-4090', '--ram', '24GiB', '--device', 'gpu']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('Past one machine (smallest deployment per GPU');
    expect(r.stdout).toMatch(/Llama-3\.1-405B q4f16: \d+× NVIDIA H100 SXM 80GB, TP \d+/);
    expect(r.stdout).toContain('vllm serve');
    expect(r.stdout).toContain('python -m sglang.launch_server');
    const json = parseRecommendation((await run(['recommend', '--latency', 'relaxed', '--gpu', 'RTX-4090', '--ram', '24GiB', '--device', 'gpu', '--json'])).stdout);
    const proposals = json.hardwareNeeded?.topologies ?? [];
    expect(proposals.length).toBeGreaterThan(0);
    for (const p of proposals) {
      expect(p.perGpuBytes).toBeLessThanOrEqual(p.usablePerGpuBytes);
      expect(p.commands.vllm.join('\n')).toContain(`--tensor-parallel-size ${p.tp}`);
      expect(p.commands.sglang.join('\n')).toContain(`--tp ${p.tp}`);
    }
  });

  it('models show --gpus --nodes prints each GPU format laid out, and --json carries it', async () => {
    const text = await run(['models', 'show', 'llama-3.1-405b', '--gpu', 'H100-80GB', '--gpus', '8', '--nodes', '2']);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/layouts {5}on NVIDIA H100 SXM 80GB ×8 × 2 nodes/);
    expect(text.stdout).toMatch(/fp16 {3}TP 8 × PP 2/);
    const json = JSON.parse((await run(['models', 'show', 'llama-3.1-405b', '--gpu', 'H100-80GB', '--gpus', '8', '--json'])).stdout) as ModelShowJson;
    const fp16 = json.topology?.formats.find((f) => f.format === 'fp16');
    expect(fp16).toMatchObject({ fits: false, topology: null });
    expect(fp16?.reason).toMatch(/exceed/);
    expect(json.topology?.formats.find((f) => f.format === 'int8')).toMatchObject({ fits: true, topology: { tp: 8, pp: 1 } });
  });

  it('models show --gpu L4 lays out one GPU: Qwen2.5-3B at 32 × 4,096 fits in fp16 and int8, int8 in less memory', async () => {
    const json = JSON.parse((await run(['models', 'show', 'qwen2.5-3b', '--gpu', 'L4', '--context', '4096', '--concurrency', '32', '--json'])).stdout) as ModelShowJson;
    expect(json.topology).toMatchObject({ gpus_per_node: 1, nodes: 1, context: 4096, concurrency: 32 });
    const fp16 = json.topology!.formats.find((f) => f.format === 'fp16')!;
    const int8 = json.topology!.formats.find((f) => f.format === 'int8')!;
    expect(fp16.fits && int8.fits).toBe(true);
    expect(int8.topology!.per_gpu.total_bytes).toBeLessThan(fp16.topology!.per_gpu.total_bytes);
    expect(fp16.topology!.per_gpu.activation_bytes).toBeLessThan(0.25 * 1024 ** 3);
  });

  it('bad input is one line and exit 2', async () => {
    const bad = await run(['recommend', '--gpu', 'H100-80GB', '--interconnect', 'smoke-signals']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('invalid --interconnect "smoke-signals"');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const noGpu = await run(['models', 'show', 'llama-3.1-8b', '--gpus', '4']);
    if (noGpu.exitCode !== 0) {
      // No GPU on this machine: the command says how to name one.
      expect(noGpu.exitCode).toBe(2);
      expect(noGpu.stderr).toContain('--gpu');
    }
  });
});
