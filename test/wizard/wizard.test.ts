import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadDefaultTree, loadTreeFile } from '../../src/tree/load.js';
import type { Choice, Prompter } from '../../src/ui/prompts.js';
import { askRequirements, recommendCommandFor } from '../../src/ui/wizard.js';

/** Answers prompts from a script keyed by message prefix; records what was asked and said. */
function scriptedPrompter(script: Record<string, string | number | boolean>): Prompter & { asked: string[]; said: string[]; choices: Record<string, string[]> } {
  const asked: string[] = [];
  const said: string[] = [];
  const choices: Record<string, string[]> = {};
  const answer = (message: string, fallback: unknown): unknown => {
    asked.push(message);
    const key = Object.keys(script).find((k) => message.startsWith(k));
    return key === undefined ? fallback : script[key];
  };
  return {
    asked,
    said,
    choices,
    select: async <T extends string>(q: { message: string; choices: Choice<T>[]; default?: T | undefined }) => {
      choices[q.message] = q.choices.map((c) => c.value);
      return answer(q.message, q.default) as T;
    },
    number: async (q) => answer(q.message, q.default) as number,
    confirm: async (q) => answer(q.message, q.default) as boolean,
    say: (line) => {
      said.push(line);
    },
  };
}

describe('askRequirements', () => {
  it('asks five questions on the default path, each explained, and keeps the class targets', async () => {
    const p = scriptedPrompter({});
    const { inputs, asked } = await askRequirements(loadDefaultTree(), p);
    expect(p.asked).toEqual([
      'Does the job need domain customization (fine-tuning / LoRA)?',
      'How strict is the latency requirement?',
      'Context length (tokens)',
      'Concurrent streams',
      'Keep the real-time targets (≥ 20 tok/s per stream, first token ≤ 500 ms)?',
    ]);
    expect(asked).toBe(5);
    expect(p.said).toContain("  Fine-tuning teaches a model your domain's vocabulary, formats or style; prompting alone serves general tasks.");
    expect(inputs).toEqual({ answers: { customization: 'no', latency: 'realtime' }, contextTokens: 2048, concurrency: 1 });
    expect(p.choices['Does the job need domain customization (fine-tuning / LoRA)?']).toEqual(['yes', 'no']);
  });

  it('asks the latency class for the targets on the fine-tuning branch, and at most seven questions with edited targets', async () => {
    const p = scriptedPrompter({ 'Does the job': 'yes', 'How strict': 'relaxed', Context: 8192, Concurrent: 3, Keep: false, Minimum: 2.5, Maximum: 30000 });
    const { inputs, asked } = await askRequirements(loadDefaultTree(), p);
    expect(asked).toBe(7);
    expect(p.said).toContain('  Real-time means a person waits on each reply; relaxed means seconds per reply are fine. (It sets the speed targets.)');
    expect(inputs).toEqual({ answers: { customization: 'yes', latency: 'relaxed' }, contextTokens: 8192, concurrency: 3, decodeTokensPerSec: 2.5, maxTtftMs: 30000 });
    expect(recommendCommandFor(inputs)).toBe('modelscout recommend --customization yes --latency relaxed --context 8192 --concurrency 3 --target-tps 2.5 --max-ttft 30000');
  });

  it('follows a custom tree and its targets', async () => {
    const tree = await loadTreeFile(fileURLToPath(new URL('../../fixtures/trees/custom-edge.yaml', import.meta.url)));
    const p = scriptedPrompter({ 'Where will': 'server', 'How strict': 'relaxed' });
    const { inputs } = await askRequirements(tree, p);
    expect(p.asked.slice(0, 2)).toEqual(['Where will the model run?', 'How strict is the latency requirement?']);
    expect(p.asked[4]).toBe('Keep the relaxed targets (≥ 3 tok/s per stream, first token ≤ 20000 ms)?');
    expect(inputs.contextTokens).toBe(1024);
    expect(recommendCommandFor(inputs, 'edge.yaml')).toBe('modelscout recommend --latency relaxed --context 1024 --concurrency 1 --tree edge.yaml --answers FILE (holding placement: server)');
  });
});
