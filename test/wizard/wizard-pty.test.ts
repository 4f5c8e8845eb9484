import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { Recommendation } from '../../src/recommend/types.js';
import { KEYS, ROOT, spawnCli, tableModelNames } from './pty.js';
import { parseRecommendation } from '../helpers/recommendation.js';

// Fixed what-if hardware, so the wizard and `recommend` see the same machine wherever the test runs.
const HARDWARE = ['--ram', '24GiB', '--bandwidth', '20GB/s'];

async function recommendJson(args: string[]): Promise<Recommendation> {
  const result = await execa(process.execPath, ['bin/run.js', 'recommend', ...args, ...HARDWARE, '--json'], { cwd: ROOT, reject: false });
  expect(result.exitCode, result.stderr).toBe(0);
  return parseRecommendation(result.stdout);
}

describe('wizard in a pseudo-terminal', () => {
  it('reaches the same 70B+ verdict and alternatives as recommend --customization no --latency relaxed', async () => {
    const session = spawnCli(['wizard', ...HARDWARE]);
    await session.waitFor(/RAM +24\.0 GiB available of 24\.0 GiB \(what-if\)/);
    await session.waitFor(/Fine-tuning teaches a model/); // the one-line help comes with the question
    await session.waitFor(/\? Does the job need domain customization \(fine-tuning \/ LoRA\)\?/);
    await session.waitFor(/select/);
    session.type(KEYS.enter); // default: no
    await session.waitFor(/\? How strict is the latency requirement\?/);
    await session.waitFor(/select/);
    session.type(KEYS.down);
    await session.waitFor(/❯ latency acceptable/);
    session.type(KEYS.enter);
    await session.waitFor(/\? Context length \(tokens\)/);
    session.type(KEYS.enter); // default 2048
    await session.waitFor(/\? Concurrent streams/);
    session.type(KEYS.enter); // default 1
    await session.waitFor(/\? Keep the latency acceptable targets \(≥ 5 tok\/s per stream, first token ≤ 10000 ms\)\?/);
    session.type(KEYS.enter); // yes
    await session.waitFor(/The same, non-interactive: modelscout recommend --customization no --latency relaxed --context 2048 --concurrency 1/);
    await session.waitFor(/\? Confirm by benchmarking the top 3 on this machine\?/);
    session.type(KEYS.enter); // default: no
    expect(await session.exit).toBe(0);

    const text = session.text();
    expect(text).toContain('✗ Nothing of the flagship (70B+) class fits here');
    const expected = await recommendJson(['--customization', 'no', '--latency', 'relaxed']);
    expect(expected.outcome).toBe('nothing-fits');
    const alternatives = expected.nothingFits!.alternatives.map((c) => c.name);
    expect(alternatives.length).toBeGreaterThan(0);
    expect(tableModelNames(text)).toEqual(alternatives);
  });

  it('asks the latency class off its branch and takes edited targets, like recommend with the same flags', async () => {
    const session = spawnCli(['wizard', ...HARDWARE, '--top', '4']);
    await session.waitFor(/\? Does the job need domain customization/);
    await session.waitFor(/select/);
    session.type(KEYS.up);
    await session.waitFor(/❯ yes, we will fine-tune/);
    session.type(KEYS.enter);
    await session.waitFor(/It sets the speed targets/);
    await session.waitFor(/\? How strict is the latency requirement\?/);
    await session.waitFor(/select/);
    session.type(KEYS.enter); // real-time
    await session.waitFor(/\? Context length \(tokens\)/);
    session.type(`4096${KEYS.enter}`);
    await session.waitFor(/\? Concurrent streams/);
    session.type(`2${KEYS.enter}`);
    await session.waitFor(/\? Keep the real-time targets/);
    session.type(`n${KEYS.enter}`);
    await session.waitFor(/\? Minimum decode tokens\/s per stream/);
    session.type(`1.5${KEYS.enter}`);
    await session.waitFor(/\? Maximum time to first token \(ms\)/);
    session.type(`600000${KEYS.enter}`);
    await session.waitFor(/The same, non-interactive: (modelscout recommend [^\n]+)/);
    await session.waitFor(/\? Confirm by benchmarking the top 3 on this machine\?/);
    session.type(`n${KEYS.enter}`);
    expect(await session.exit).toBe(0);

    const text = session.text();
    expect(text).toContain('modelscout recommend --customization yes --latency realtime --context 4096 --concurrency 2 --target-tps 1.5 --max-ttft 600000');
    expect(text).toMatch(/│ LoRA \/ QLoRA +│/);
    const expected = await recommendJson(['--customization', 'yes', '--latency', 'realtime', '--context', '4096', '--concurrency', '2', '--target-tps', '1.5', '--max-ttft', '600000', '--top', '4']);
    expect(expected.leaf.id).toBe('mid');
    expect(expected.candidates).toHaveLength(4);
    expect(tableModelNames(text)).toEqual(expected.candidates.map((c) => c.name));
  });

  it('exits 130 without a stack trace on Ctrl-C', async () => {
    const session = spawnCli(['wizard', ...HARDWARE]);
    await session.waitFor(/\? Does the job need domain customization/);
    await session.waitFor(/select/);
    session.type(KEYS.ctrlC);
    expect(await session.exit).toBe(130);
    const text = session.text();
    expect(text).toContain('Error: interrupted');
    expect(text).not.toMatch(/^\s+at /m);
  });

  it('refuses to run without a TTY and points to recommend (exit 2)', async () => {
    const result = await execa(process.execPath, ['bin/run.js', 'wizard', ...HARDWARE], { cwd: ROOT, reject: false, input: '' });
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')[0]).toBe('Error: the wizard needs an interactive terminal, and this one is not a TTY');
    expect(result.stderr).toContain('modelscout recommend');
  });
});
