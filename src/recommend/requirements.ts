import { z } from 'zod';
import { ModelscoutError, invalidValue } from '../errors.js';
import type { DecisionTree, LeafNode } from '../tree/schema.js';
import { decide, findQuestion, listQuestions, type PathStep } from '../tree/walk.js';

import { DEVICE_PREFERENCES, type DevicePreference } from '../hardware/device.js';

export { DEVICE_PREFERENCES, type DevicePreference };

/** The concrete targets behind the latency label. */
export interface Targets {
  /** Tokens per request (prompt + generated) the KV cache must hold and the TTFT is measured at. */
  contextTokens: number;
  /** Concurrent streams served at once (each with its own KV cache). */
  concurrency: number;
  /** Minimum decode tokens per second, per stream. */
  decodeTokensPerSec: number;
  /** Maximum time to first token, milliseconds, for a prompt filling the context. */
  maxTtftMs: number;
}

/** Where a target's value came from: the tree's default, the latency class, or the user. */
export type TargetSource = 'default' | 'latency-class' | 'given';

/** What the user said: tree answers by question id, and any target given explicitly. All optional. */
export interface RequirementInputs {
  answers?: Record<string, string>;
  contextTokens?: number;
  concurrency?: number;
  decodeTokensPerSec?: number;
  maxTtftMs?: number;
  device?: DevicePreference;
}

export interface Requirements {
  treeId: string;
  /** Answers as given (question id → value), including the latency answer off its branch. */
  answers: Record<string, string>;
  /** The decision path, each step marked given or default. */
  path: PathStep[];
  leaf: LeafNode;
  latency: { id: string; label: string; description: string; source: 'given' | 'default' };
  targets: Targets;
  targetSources: Record<keyof Targets, TargetSource>;
  device: DevicePreference;
}

/**
 * Defaults that replace the tree's own for one use: `recommend --confirm` runs every prompt for real, so
 * it defaults to a shorter context than the tree's (see `CONFIRM_DEFAULT_CONTEXT`).
 */
export interface TargetDefaults {
  contextTokens?: number;
  concurrency?: number;
}

/**
 * Resolves the answers into the leaf and the targets in force: given values win, then the latency class's
 * defaults (decode tok/s, TTFT), then the tree's (context, concurrency). The latency answer sets the targets
 * even where the path does not branch on it (the fine-tuning branch).
 */
export function resolveRequirements(tree: DecisionTree, inputs: RequirementInputs = {}, defaults: TargetDefaults = {}): Requirements {
  const answers = { ...(inputs.answers ?? {}) };
  checkAnswerKeys(tree, answers);
  const { steps, leaf } = decide(tree, answers);

  const { targets: t } = tree;
  const latencyQuestion = findQuestion(tree, t.latencyQuestion);
  const onPath = steps.find((s) => s.questionId === t.latencyQuestion);
  let latencyId: string;
  let latencySource: 'given' | 'default';
  if (onPath) {
    latencyId = onPath.answer;
    latencySource = onPath.source;
  } else if (answers[t.latencyQuestion] !== undefined) {
    latencyId = answers[t.latencyQuestion] ?? t.defaultLatency;
    latencySource = 'given';
    if (latencyQuestion && !latencyQuestion.answers.some((a) => a.value === latencyId)) {
      throw invalidValue(`answer to "${t.latencyQuestion}" (${latencyQuestion.question})`, latencyId, latencyQuestion.answers.map((a) => a.value));
    }
  } else {
    latencyId = t.defaultLatency;
    latencySource = 'default';
  }
  const latencyClass = t.latencyClasses[latencyId];
  if (latencyClass === undefined) throw invalidValue('latency class', latencyId, Object.keys(t.latencyClasses));

  const pick = <T>(given: T | undefined, fallback: T, fallbackSource: TargetSource): [T, TargetSource] =>
    given === undefined ? [fallback, fallbackSource] : [given, 'given'];
  const [contextTokens, contextSource] = pick(inputs.contextTokens, defaults.contextTokens ?? t.contextTokens, 'default');
  const [concurrency, concurrencySource] = pick(inputs.concurrency, defaults.concurrency ?? t.concurrency, 'default');
  const [decodeTokensPerSec, tpsSource] = pick(inputs.decodeTokensPerSec, latencyClass.decodeTokensPerSec, 'latency-class');
  const [maxTtftMs, ttftSource] = pick(inputs.maxTtftMs, latencyClass.maxTtftMs, 'latency-class');
  checkPositive('--context', contextTokens, true);
  checkPositive('--concurrency', concurrency, true);
  checkPositive('--target-tps', decodeTokensPerSec, false);
  checkPositive('--max-ttft', maxTtftMs, false);

  return {
    treeId: tree.id,
    answers,
    path: steps,
    leaf,
    latency: { id: latencyId, label: latencyClass.label, description: latencyClass.description, source: latencySource },
    targets: { contextTokens, concurrency, decodeTokensPerSec, maxTtftMs },
    targetSources: { contextTokens: contextSource, concurrency: concurrencySource, decodeTokensPerSec: tpsSource, maxTtftMs: ttftSource },
    device: inputs.device ?? 'auto',
  };
}

function checkAnswerKeys(tree: DecisionTree, answers: Record<string, string>): void {
  const ids = listQuestions(tree).map((q) => q.id);
  for (const key of Object.keys(answers)) {
    if (!ids.includes(key)) {
      throw new ModelscoutError('E_INPUT', `the tree "${tree.id}" has no question "${key}": its questions are ${ids.join(', ')}`, {
        suggestions: ['Run `modelscout tree` to see the questions and their answers.'],
      });
    }
  }
}

function checkPositive(flag: string, value: number, integer: boolean): void {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw invalidValue(flag, value, integer ? 'a positive integer' : 'a positive number');
  }
}

const answersFileSchema = z
  .object({
    context: z.number().int().positive().optional(),
    concurrency: z.number().int().positive().optional(),
    'target-tps': z.number().positive().optional(),
    'max-ttft': z.number().positive().optional(),
    device: z.enum(DEVICE_PREFERENCES).optional(),
  })
  // Every other key is a tree answer; YAML/JSON booleans read as yes/no.
  .catchall(z.union([z.string(), z.boolean()]).transform((v) => (typeof v === 'boolean' ? (v ? 'yes' : 'no') : v)));

/**
 * An answers file (JSON or YAML) mirrors the flags: tree answers by question id plus any of `context`,
 * `concurrency`, `target-tps`, `max-ttft`, `device`. Returns the inputs, or a one-line error naming the key.
 */
export function parseAnswersData(data: unknown, source: string): RequirementInputs {
  const parsed = answersFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
    const message = issue?.code === 'invalid_type' && issue.path.length === 0 ? 'expected a mapping of question ids and targets' : (issue?.message ?? 'invalid');
    throw new ModelscoutError('E_INPUT', `invalid answers file ${source}: at ${where}: ${message}`, {
      suggestions: ['An answers file looks like: {"customization": "no", "latency": "relaxed", "context": 4096, "concurrency": 2}'],
    });
  }
  const { context, concurrency, 'target-tps': tps, 'max-ttft': ttft, device, ...answers } = parsed.data;
  const inputs: RequirementInputs = { answers: answers as Record<string, string> };
  if (context !== undefined) inputs.contextTokens = context;
  if (concurrency !== undefined) inputs.concurrency = concurrency;
  if (tps !== undefined) inputs.decodeTokensPerSec = tps;
  if (ttft !== undefined) inputs.maxTtftMs = ttft;
  if (device !== undefined) inputs.device = device;
  return inputs;
}

/** Later inputs win, key by key (flags over an answers file). */
export function mergeInputs(...layers: RequirementInputs[]): RequirementInputs {
  const out: RequirementInputs = { answers: {} };
  for (const layer of layers) {
    const { answers, ...rest } = layer;
    out.answers = { ...out.answers, ...(answers ?? {}) };
    for (const [key, value] of Object.entries(rest) as [keyof RequirementInputs, unknown][]) {
      if (value !== undefined) (out as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}
