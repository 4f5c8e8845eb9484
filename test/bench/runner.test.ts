import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerJob } from '../../src/bench/protocol.js';
import { runGroupInChild } from '../../src/bench/runner.js';
import { selectTests } from '../../src/bench/scenarios.js';
import { buildTinyModel } from '../helpers/tiny-model.js';

let dir: string;
let modelFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-runner-'));
  modelFile = (await buildTinyModel({ arch: 'llama', layers: 2, dir: join(dir, 'llama') })).modelFile;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function job(tests: string[], repetitions = 2): WorkerJob {
  return {
    modelFile,
    session: { device: 'cpu', threads: 1, graphOptLevel: 'all' },
    tests: selectTests({ tests }),
    repetitions,
    warmup: 0,
    seed: 3,
    vocabSize: null,
    quantized: false,
    selfCheck: true,
    rssIntervalMs: 10,
    kvLayout: 'growing',
    ubatchSize: 512,
  };
}

describe('runGroupInChild', () => {
  it('measures every test in a child process of its own', async () => {
    let pid = 0;
    const outcome = await runGroupInChild(job(['pp8', 'tg4']), { onSpawn: (p) => (pid = p) });
    expect(pid).not.toBe(process.pid);
    expect(outcome.fatal).toBeNull();
    expect(outcome.load?.self_check?.passed).toBe(true);
    expect(outcome.load?.kv).toEqual({ dtype: 'float32', layers: 2, kv_heads: 2, head_dim: 16 });
    expect([...outcome.payloads.keys()].sort()).toEqual([0, 1]);
    const tg = outcome.payloads.get(1)?.measurement;
    expect(tg?.samples).toHaveLength(2);
    expect(tg?.rss_peak_bytes).toBeGreaterThan(0);
    expect(outcome.payloads.get(0)?.first_run_e2e_ms).toBeGreaterThan(0);
  });

  it('runs the self-check after the tests, so its multi-position pass is not in their peaks', async () => {
    const messages: string[] = [];
    const outcome = await runGroupInChild(job(['tg4']), { onProgress: (m) => messages.push(m) });
    expect(outcome.fatal).toBeNull();
    expect(outcome.load?.self_check?.passed).toBe(true);
    const check = messages.findIndex((m) => m.startsWith('self-check'));
    const lastTest = messages.findLastIndex((m) => m.startsWith('tg4'));
    expect(lastTest).toBeGreaterThanOrEqual(0);
    expect(check).toBeGreaterThan(lastTest);
  });

  it('records a killed child (as an out-of-memory kill would) and keeps what finished', async () => {
    let pid = 0;
    let killed = false;
    const outcome = await runGroupInChild(job(['pp4', 'tg4000'], 50), {
      onSpawn: (p) => (pid = p),
      onProgress: (message) => {
        if (!killed && message.startsWith('tg4000')) {
          killed = true;
          process.kill(pid, 'SIGKILL');
        }
      },
    });
    expect(killed).toBe(true);
    expect(outcome.payloads.has(0)).toBe(true);
    expect(outcome.payloads.has(1)).toBe(false);
    expect(outcome.fatal?.message).toMatch(/killed \(SIGKILL: out of memory\?\)/);
  });

  it('reports a model that cannot be loaded as one error', async () => {
    const outcome = await runGroupInChild({ ...job(['pp4']), modelFile: join(dir, 'missing.onnx') });
    expect(outcome.payloads.size).toBe(0);
    expect(outcome.fatal?.code).toBe('E_MODEL');
    expect(outcome.fatal?.message).toMatch(/could not load/);
  });
});
