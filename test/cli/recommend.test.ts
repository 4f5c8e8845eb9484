import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recommendation } from '../../src/recommend/types.js';
import { parseRecommendation } from '../helpers/recommendation.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Fixed what-if hardware: 24 GiB of RAM, 20 GB/s, no GPU — the results do not depend on the machine.
const HARDWARE = ['--ram', '24GiB', '--bandwidth', '20GB/s'];
const run = (args: string[]) => execa(process.execPath, ['bin/run.js', 'recommend', ...args], { cwd: ROOT, reject: false });
const runJson = async (args: string[]): Promise<Recommendation> => {
  const r = await run([...args, ...HARDWARE, '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  return parseRecommendation(r.stdout);
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-recommend-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('modelscout recommend', () => {
  it('runs with no flags on built-in defaults: no customization, real-time, 2048 tokens, 1 stream', async () => {
    const r = await run(HARDWARE);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Decision path:\n  1. Does the job need domain customization (fine-tuning / LoRA)?  → no, prompting is enough  (default)');
    expect(r.stdout).toContain('Size class: Small models, under 13B [small, ≤13B parameters]');
    expect(r.stdout).toContain('Targets (real-time, default): decode ≥ 20 tok/s per stream [real-time], TTFT ≤ 500 ms [real-time], context 2048 tokens [default], concurrency 1 [default]');
    expect(r.stdout).toMatch(/│ 1 │ \S+/);
  });

  it('--customization no --latency realtime --json: the ≤13B leaf, ranked candidates with bytes, fit, speed and reasons', async () => {
    const rec = await runJson(['--customization', 'no', '--latency', 'realtime']);
    expect(rec).toMatchObject({ schemaVersion: 1, kind: 'modelscout.recommendation', leaf: { id: 'small', fineTune: false }, confirm: null });
    expect(rec.path.map((s) => [s.questionId, s.answer, s.source])).toEqual([
      ['customization', 'no', 'given'],
      ['latency', 'realtime', 'given'],
    ]);
    expect(rec.targets).toEqual({ contextTokens: 2048, concurrency: 1, decodeTokensPerSec: 20, maxTtftMs: 500 });
    expect(rec.candidates).toHaveLength(5);
    for (const c of rec.candidates) {
      expect(c.paramsTotal).toBeLessThanOrEqual(13e9 * 1.05);
      expect(c.memory.weightBytes).toBeGreaterThan(0);
      expect(c.memory.kvBytes).toBeGreaterThan(0);
      expect(c.memory.totalBytes).toBeGreaterThan(c.memory.weightBytes + c.memory.kvBytes);
      expect(c.fit).toBe('fits');
      expect(c.speed.decodeTokPerSec!.value).toBeGreaterThan(0);
      expect(c.speed.ttftMs!.value).toBeGreaterThan(0);
      expect(c.reasons.length).toBeGreaterThanOrEqual(3);
    }
    expect(rec.candidates.map((c) => c.rank)).toEqual([1, 2, 3, 4, 5]);
  });

  it('--customization yes reaches the 7B–70B leaf with the LoRA / QLoRA fit', async () => {
    const rec = await runJson(['--customization', 'yes']);
    expect(rec.leaf).toMatchObject({ id: 'mid', fineTune: true });
    expect(rec.candidates[0]!.finetune).toMatchObject({ lora: { method: 'lora', rank: 16 }, qlora: { method: 'qlora', rank: 16 } });
  });

  it('--latency relaxed on 24 GiB: says plainly that nothing of the 70B+ class fits, with alternatives and the hardware needed', async () => {
    const r = await run(['--customization', 'no', '--latency', 'relaxed', ...HARDWARE]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/✗ Nothing of the flagship \(70B\+\) class fits here: even the smallest, Llama-3\.1-70B, needs/);
    expect(r.stdout).toContain('Best alternatives below 70B:');
    expect(r.stdout).toMatch(/Hardware for the class: .*Llama-3\.1-70B at q4f16, needs/);
    const rec = await runJson(['--customization', 'no', '--latency', 'relaxed']);
    expect(rec.outcome).toBe('nothing-fits');
    expect(rec.leaf.id).toBe('flagship');
    expect(rec.nothingFits!.alternatives.length).toBeGreaterThan(0);
  });

  it('reads an answers file (YAML), and flags win over it', async () => {
    const file = join(dir, 'answers.yaml');
    await writeFile(file, 'customization: no\nlatency: relaxed\ncontext: 4096\nconcurrency: 2\n');
    const fromFile = await runJson(['--answers', file]);
    expect(fromFile.leaf.id).toBe('flagship');
    expect(fromFile.targets).toMatchObject({ contextTokens: 4096, concurrency: 2, decodeTokensPerSec: 5 });
    const overridden = await runJson(['--answers', file, '--latency', 'realtime', '--context', '1024']);
    expect(overridden.leaf.id).toBe('small');
    expect(overridden.targets).toMatchObject({ contextTokens: 1024, concurrency: 2, decodeTokensPerSec: 20 });
  });

  it('uses a custom tree with --tree', async () => {
    const rec = await runJson(['--tree', 'fixtures/trees/custom-edge.yaml']);
    expect(rec.tree.id).toBe('edge-first');
    expect(rec.leaf.id).toBe('tiny');
    expect(rec.candidates.every((c) => c.paramsTotal <= 2e9 * 1.05)).toBe(true);
  });

  it.each([
    [['--latency', 'fast'], 'Error: invalid answer to "latency" (How strict is the latency requirement?) "fast": expected realtime, relaxed'],
    [['--customization', 'maybe'], 'Error: invalid answer to "customization" (Does the job need domain customization (fine-tuning / LoRA)?) "maybe": expected yes, no'],
    [['--target-tps', 'fast'], 'Error: invalid --target-tps "fast": expected a positive number, e.g. 20 or 7.5'],
    [['--context', '0'], 'Error: Parsing --context Expected an integer greater than or equal to 1 but received: 0'],
    [['--device', 'tpu'], 'Error: Expected --device=tpu to be one of: auto, cpu, gpu'],
    [['--ram', 'lots'], 'Error: invalid --ram "lots": expected a size such as 24GiB, 80GB or 512MiB'],
    [['--device', 'gpu'], 'Error: no GPU detected (nvidia-smi found none) but --device gpu was given'],
    [['--tree', 'fixtures/trees/invalid-nodes.yaml'], 'Error: invalid tree file fixtures/trees/invalid-nodes.yaml: at root.answers[0].next (node customization=yes): unknown key "colour" (and 1 more problem)'],
  ])('rejects %j with one line and exit 2', async (args, line) => {
    // oclif refuses a flag given twice: keep the fixed hardware only where the case does not set it.
    const hardware = HARDWARE[0] === args[0] ? HARDWARE.slice(2) : HARDWARE;
    const r = await run([...args, ...hardware]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(line);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('rejects a malformed or invalid answers file with one line and exit 2', async () => {
    const malformed = join(dir, 'malformed.yaml');
    await writeFile(malformed, 'customization: [no\n');
    const a = await run(['--answers', malformed, ...HARDWARE]);
    expect(a.exitCode).toBe(2);
    expect(a.stderr.split('\n')[0]).toMatch(/^Error: answers file .*malformed\.yaml is not valid YAML: /);
    const badKey = join(dir, 'bad.json');
    await writeFile(badKey, JSON.stringify({ customization: 'no', context: 'long' }));
    const b = await run(['--answers', badKey, ...HARDWARE]);
    expect(b.exitCode).toBe(2);
    expect(b.stderr.split('\n')[0]).toMatch(/^Error: invalid answers file .*bad\.json: at context: /);
    const unknown = join(dir, 'unknown.json');
    await writeFile(unknown, JSON.stringify({ budget: 'low' }));
    const c = await run(['--answers', unknown, ...HARDWARE]);
    expect(c.exitCode).toBe(2);
    expect(c.stderr.split('\n')[0]).toBe('Error: the tree "default" has no question "budget": its questions are customization, latency');
  });

  it('prints the error object on stdout with --json', async () => {
    const r = await run(['--latency', 'fast', '--json', ...HARDWARE]);
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'E_INPUT', exit_code: 2 } });
  });

  it('on a GPU, int8 needs less memory than fp16 (16-bit KV cache) and activations follow the engine\'s tokens per pass', async () => {
    // Qwen2.5-3B at 32 × 4,096 on an L4: vLLM caps one forward pass at 2,048 tokens, so the activations are
    // those of 2,048 tokens (not 32 × 4,096), and int8 weights (fp8 weight-only) keep the fp16 KV cache.
    const r = await run(['--gpu', 'L4', '--ram', '24GiB', '--model', 'qwen2.5-3b', '--context', '4096', '--concurrency', '32', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const rec = parseRecommendation(r.stdout);
    const c = rec.candidates[0]!;
    expect(c.format).toBe('int8');
    expect(c.memory.kvDtype).toBe('fp16');
    expect(c.memory.activationBytes).toBeLessThan(0.25 * 1024 ** 3);
    expect(c.memory.basis.activationAssumption).toContain('at most 2048 tokens');
    // fp16 fits too (it is only slower): the trade-off says so rather than that it needs more memory.
    expect(c.tradeoffs[0]).toMatch(/^int8 weights needed: fp16 fits but /);
  });
});
