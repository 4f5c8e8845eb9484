// src/cli is part of the CLI layer (flag definitions shared by commands), where oclif belongs.
import { Flags } from '@oclif/core';
import { invalidValue } from '../errors.js';
import { DEVICE_PREFERENCES } from '../hardware/device.js';
import type { RequirementInputs } from '../recommend/requirements.js';
import { hardwareFlags, probeFlag } from './hardware-flags.js';

/** Flags shared by `recommend` and `wizard`: where the tree, catalog and hardware come from. */
export const recommendSourceFlags = {
  tree: Flags.string({ description: 'a custom decision tree file (JSON or YAML) instead of the default', helpValue: 'FILE' }),
  catalog: Flags.string({ description: 'extra catalog file (JSON or YAML) of models to add', helpValue: 'FILE' }),
  top: Flags.integer({ description: 'how many ranked candidates to show', default: 5, min: 1, max: 50 }),
  ...probeFlag,
  ...hardwareFlags,
};

/**
 * `recommend`'s answers and targets. Tree answers are plain strings validated against the tree in use (a
 * custom tree may name other answers); numbers are validated here so a bad value is one line, exit 2.
 */
export const requirementFlags = {
  customization: Flags.string({ description: 'does the job need domain customization (fine-tuning / LoRA)? (default tree: yes or no; default no)', helpValue: 'yes|no', helpGroup: 'ANSWERS' }),
  latency: Flags.string({ description: 'how strict is the latency requirement? (default tree: realtime or relaxed; default realtime)', helpValue: 'realtime|relaxed', helpGroup: 'ANSWERS' }),
  context: Flags.integer({ description: 'tokens per request (prompt + output) the KV cache holds and TTFT is quoted at (default 2048)', min: 1, max: 10_000_000, helpGroup: 'TARGETS' }),
  concurrency: Flags.integer({ description: 'streams served at once (default 1)', min: 1, max: 100_000, helpGroup: 'TARGETS' }),
  'target-tps': Flags.string({ description: 'minimum decode tokens/s per stream (default from the latency class: 20 real-time, 5 relaxed)', helpValue: 'N', helpGroup: 'TARGETS' }),
  'max-ttft': Flags.integer({ description: 'maximum time to first token in ms (default from the latency class: 500 real-time, 10000 relaxed)', min: 1, helpValue: 'MS', helpGroup: 'TARGETS' }),
  device: Flags.option({ options: DEVICE_PREFERENCES, description: 'where models run: every device there is (auto, default), the CPU, or the GPUs', helpGroup: 'TARGETS' })(),
  answers: Flags.string({ description: 'a JSON or YAML file of answers and targets, keyed like the flags (e.g. {customization: "no", latency: relaxed, context: 4096}); flags win', helpValue: 'FILE', helpGroup: 'ANSWERS' }),
};

export interface RequirementFlagValues {
  customization?: string | undefined;
  latency?: string | undefined;
  context?: number | undefined;
  concurrency?: number | undefined;
  'target-tps'?: string | undefined;
  'max-ttft'?: number | undefined;
  device?: (typeof DEVICE_PREFERENCES)[number] | undefined;
}

/** Flag values → requirement inputs (answers keyed by the default tree's question ids). */
export function requirementInputsFromFlags(flags: RequirementFlagValues): RequirementInputs {
  const answers: Record<string, string> = {};
  if (flags.customization !== undefined) answers.customization = flags.customization;
  if (flags.latency !== undefined) answers.latency = flags.latency;
  const inputs: RequirementInputs = { answers };
  if (flags.context !== undefined) inputs.contextTokens = flags.context;
  if (flags.concurrency !== undefined) inputs.concurrency = flags.concurrency;
  if (flags['target-tps'] !== undefined) inputs.decodeTokensPerSec = parsePositiveNumber(flags['target-tps'], '--target-tps');
  if (flags['max-ttft'] !== undefined) inputs.maxTtftMs = flags['max-ttft'];
  if (flags.device !== undefined) inputs.device = flags.device;
  return inputs;
}

export function parsePositiveNumber(text: string, what: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw invalidValue(what, text, 'a positive number, e.g. 20 or 7.5');
  return value;
}
