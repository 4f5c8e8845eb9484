import { describe, expect, it } from 'vitest';
import { ModelscoutError } from '../../src/errors.js';
import { mergeInputs, parseAnswersData, resolveRequirements } from '../../src/recommend/requirements.js';
import { loadDefaultTree, loadTreeFile } from '../../src/tree/load.js';
import { fileURLToPath } from 'node:url';

const tree = loadDefaultTree();

describe('resolveRequirements', () => {
  it('runs on built-in defaults with no input: no customization, real-time, 2048 tokens, 1 stream', () => {
    const r = resolveRequirements(tree);
    expect(r.leaf.id).toBe('small');
    expect(r.latency).toMatchObject({ id: 'realtime', source: 'default' });
    expect(r.targets).toEqual({ contextTokens: 2048, concurrency: 1, decodeTokensPerSec: 20, maxTtftMs: 500 });
    expect(r.targetSources).toEqual({ contextTokens: 'default', concurrency: 'default', decodeTokensPerSec: 'latency-class', maxTtftMs: 'latency-class' });
    expect(r.device).toBe('auto');
  });

  it('takes the relaxed class targets on the relaxed path', () => {
    const r = resolveRequirements(tree, { answers: { customization: 'no', latency: 'relaxed' } });
    expect(r.leaf.id).toBe('flagship');
    expect(r.targets).toMatchObject({ decodeTokensPerSec: 5, maxTtftMs: 10000 });
    expect(r.latency.source).toBe('given');
  });

  it('lets the latency answer set targets on the fine-tuning branch, where it does not pick the class', () => {
    const relaxed = resolveRequirements(tree, { answers: { customization: 'yes', latency: 'relaxed' } });
    expect(relaxed.leaf.id).toBe('mid');
    expect(relaxed.path.map((s) => s.questionId)).toEqual(['customization']);
    expect(relaxed.latency).toMatchObject({ id: 'relaxed', source: 'given' });
    expect(relaxed.targets.decodeTokensPerSec).toBe(5);
    const dflt = resolveRequirements(tree, { answers: { customization: 'yes' } });
    expect(dflt.latency).toMatchObject({ id: 'realtime', source: 'default' });
    expect(() => resolveRequirements(tree, { answers: { customization: 'yes', latency: 'soon' } })).toThrow(/invalid answer to "latency".*"soon": expected realtime, relaxed/);
  });

  it('lets given targets win over the class defaults and records that they were given', () => {
    const r = resolveRequirements(tree, { contextTokens: 8192, concurrency: 4, decodeTokensPerSec: 12.5, maxTtftMs: 900, device: 'cpu' });
    expect(r.targets).toEqual({ contextTokens: 8192, concurrency: 4, decodeTokensPerSec: 12.5, maxTtftMs: 900 });
    expect(Object.values(r.targetSources)).toEqual(['given', 'given', 'given', 'given']);
    expect(r.device).toBe('cpu');
  });

  it('rejects unknown questions, bad answers and non-positive targets with one line', () => {
    expect(() => resolveRequirements(tree, { answers: { budget: 'low' } })).toThrow('the tree "default" has no question "budget": its questions are customization, latency');
    expect(() => resolveRequirements(tree, { answers: { customization: 'sometimes' } })).toThrow(ModelscoutError);
    expect(() => resolveRequirements(tree, { contextTokens: 0 })).toThrow('invalid --context 0: expected a positive integer');
    expect(() => resolveRequirements(tree, { decodeTokensPerSec: -1 })).toThrow('invalid --target-tps -1: expected a positive number');
  });

  it('resolves a custom tree, with its own targets', async () => {
    const custom = await loadTreeFile(fileURLToPath(new URL('../../fixtures/trees/custom-edge.yaml', import.meta.url)));
    const r = resolveRequirements(custom, { answers: { placement: 'server', latency: 'realtime' } });
    expect(r.leaf.id).toBe('small');
    expect(r.targets).toEqual({ contextTokens: 1024, concurrency: 1, decodeTokensPerSec: 15, maxTtftMs: 800 });
  });
});

describe('answers files', () => {
  it('reads tree answers and targets keyed like the flags; booleans become yes/no', () => {
    const inputs = parseAnswersData({ customization: false, latency: 'relaxed', context: 4096, concurrency: 2, 'target-tps': 7.5, 'max-ttft': 3000, device: 'cpu' }, 'a.yaml');
    expect(inputs).toEqual({
      answers: { customization: 'no', latency: 'relaxed' },
      contextTokens: 4096,
      concurrency: 2,
      decodeTokensPerSec: 7.5,
      maxTtftMs: 3000,
      device: 'cpu',
    });
  });

  it('names the bad key of an invalid answers file', () => {
    expect(() => parseAnswersData({ context: 'long' }, 'a.yaml')).toThrow(/^invalid answers file a\.yaml: at context: /);
    expect(() => parseAnswersData({ device: 'tpu' }, 'a.yaml')).toThrow(/^invalid answers file a\.yaml: at device: /);
    expect(() => parseAnswersData(['no'], 'a.yaml')).toThrow('invalid answers file a.yaml: at (top level): expected a mapping of question ids and targets');
  });

  it('lets flags win over the file, key by key', () => {
    const merged = mergeInputs({ answers: { customization: 'yes', latency: 'relaxed' }, contextTokens: 4096 }, { answers: { latency: 'realtime' }, concurrency: 3 });
    expect(merged).toEqual({ answers: { customization: 'yes', latency: 'realtime' }, contextTokens: 4096, concurrency: 3 });
  });
});
