/**
 * `modelscout generate`: greedy generation through the benchmark's own loop for given prompt ids, with
 * the time each token became available. How a user checks a model and the loop (and how tests compare
 * the loop against known references). Runs in this process: nothing here is a measurement to protect.
 */
import { ModelscoutError } from '../errors.js';
import { loadTokenizer, type LocalTokenizer } from '../hub/tokenizer.js';
import { detectDecoderIo } from '../runtime/decoder-io.js';
import { DecoderLoop } from '../runtime/decoder-loop.js';
import { generateGreedy } from './generate.js';
import { z } from 'zod';
import { DEVICES, type Device, type GraphOptLevel } from '../runtime/session.js';
import { VARIANT_NAMES, type VariantName } from '../estimate/weights.js';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import { inspectVariantFile, selectVariants } from './model-files.js';
import { openModelFolder } from '../onnx/model-folder.js';
import { autoKvLayout, type KvLayout } from '../runtime/kv-cache.js';
import { createSession, assertDeviceAvailable } from '../runtime/session.js';
import type { Assignable, Expect } from '../util/type-checks.js';

export interface GenerateOptions {
  model: string;
  variant?: VariantName | undefined;
  device: Device;
  threads: number;
  graphOptLevel: GraphOptLevel;
  /** Token ids to feed as they are (synthetic models have no tokenizer). */
  promptIds?: number[] | undefined;
  /** Text, tokenized with the model's own tokenizer.json; exclusive with `promptIds`. */
  prompt?: string | undefined;
  /** Wrap `prompt` as one user message in the model's chat template. */
  chat?: boolean | undefined;
  maxNew: number;
}

/** The text side of a run that started from text. */
export interface GeneratedText {
  prompt: string;
  chat: boolean;
  /** The folder of the tokenizer.json used. */
  tokenizer: string;
  /** The prompt exactly as encoded (the chat template applied when `chat`). */
  rendered_prompt: string;
  /** The generated ids decoded, up to the first end-of-sequence id (generation itself never stops early). */
  text: string;
  /** Index in `ids` of the first end-of-sequence id; null when none was generated. */
  eos_index: number | null;
}

export interface GenerateReport {
  model: { id: string; file: string; synthetic: boolean };
  variant: VariantName;
  device: Device;
  threads: number;
  /** The KV cache layout the loop used (see `bench --kv-layout`). */
  kv_layout: KvLayout;
  prompt_ids: number[];
  ids: number[];
  /** ms from the start of the prefill until each token was available (index 0: the first token = TTFT). */
  token_times_ms: number[];
  /** ms inside session.run for the prefill, then each decode step. */
  run_ms: number[];
  ttft_ms: number;
  /** (n − 1) / (t_n − t_1); null with one token. */
  decode_tps: number | null;
  /** Present when the prompt was text: what was encoded and what came out. */
  text: GeneratedText | null;
}

interface PromptInput {
  ids: number[];
  tokenizer: LocalTokenizer | null;
  rendered: string | null;
}

/** The prompt ids: given, or the text encoded by the model's tokenizer (through its chat template with `chat`). */
async function promptInput(modelPath: string, options: GenerateOptions): Promise<PromptInput> {
  if (options.prompt !== undefined && options.promptIds !== undefined) {
    throw new ModelscoutError('E_USAGE', 'give either a prompt text (--prompt) or token ids (--prompt-ids), not both');
  }
  if (options.prompt === undefined) {
    if (options.chat) throw new ModelscoutError('E_USAGE', '--chat applies the chat template to --prompt text', { suggestions: ['Pass --prompt "your text" with --chat.'] });
    if (!options.promptIds || options.promptIds.length === 0) {
      throw new ModelscoutError('E_USAGE', 'no prompt given', { suggestions: ['Pass --prompt "some text" (models with a tokenizer.json) or --prompt-ids 1,17,42.'] });
    }
    return { ids: options.promptIds, tokenizer: null, rendered: null };
  }
  if (options.prompt.trim() === '') throw new ModelscoutError('E_USAGE', 'the prompt text is empty', { suggestions: ['Pass --prompt "some text".'] });
  const tokenizer = await loadTokenizer(modelPath);
  const rendered = options.chat ? tokenizer.applyChatTemplate([{ role: 'user', content: options.prompt }]) : options.prompt;
  const ids = options.chat ? tokenizer.encodeChat([{ role: 'user', content: options.prompt }]) : tokenizer.encode(options.prompt);
  if (ids.length === 0) throw new ModelscoutError('E_USAGE', 'the prompt text encodes to no tokens', { suggestions: ['Pass a longer --prompt.'] });
  return { ids, tokenizer, rendered };
}

export async function runGenerate(options: GenerateOptions): Promise<GenerateReport> {
  assertDeviceAvailable(options.device);
  const model = await openModelFolder(options.model);
  const input = await promptInput(model.path, options);
  const promptIds = input.ids;
  const [variant] = selectVariants(model, options.variant === undefined ? undefined : [options.variant]);
  if (!variant) throw new ModelscoutError('E_NOT_FOUND', `model ${options.model} has no variant to run`);
  const file = model.files[variant] as string;
  const info = await inspectVariantFile(file, model.path);
  // The fast KV layout where the graph has one (as `bench --kv-layout auto`), for this generation's depth.
  const kvLayout = autoKvLayout(info.metadata.graph, options.device, promptIds.length + options.maxNew - 2);
  const { session } = await createSession(file, { device: options.device, threads: options.threads, graphOptLevel: options.graphOptLevel }, { kvLayout });
  try {
    const io = detectDecoderIo(session.inputMetadata, session.outputMetadata, file);
    const vocab = io.vocabSize ?? info.signature.vocabSize;
    if (vocab !== null) {
      const bad = promptIds.find((id) => id < 0 || id >= vocab);
      if (bad !== undefined) {
        if (input.tokenizer) {
          throw new ModelscoutError('E_MODEL', `the tokenizer in ${input.tokenizer.folder} gives id ${bad}, but the model's vocabulary has ids 0..${vocab - 1}`, {
            suggestions: ['The tokenizer.json belongs to another model: use the one published with this model, or pass --prompt-ids.'],
          });
        }
        throw new ModelscoutError('E_INPUT', `invalid prompt id ${bad}: the vocabulary has ids 0..${vocab - 1}`, { suggestions: [`Use ids below ${vocab}.`] });
      }
    }
    const loop = new DecoderLoop(session, io, { kvLayout });
    const out = await generateGreedy(loop, [promptIds], options.maxNew);
    const ids = out.ids[0] as number[];
    const times = out.tokenTimesMs;
    const first = times[0] as number;
    const last = times[times.length - 1] as number;
    return {
      model: { id: model.id, file, synthetic: info.metadata.synthetic },
      variant,
      device: options.device,
      threads: options.threads,
      kv_layout: kvLayout,
      prompt_ids: promptIds,
      ids,
      token_times_ms: times,
      run_ms: out.runMs,
      ttft_ms: first,
      decode_tps: times.length > 1 && last > first ? ((times.length - 1) / (last - first)) * 1000 : null,
      text: input.tokenizer ? generatedText(input.tokenizer, options, input.rendered ?? '', ids) : null,
    };
  } finally {
    await session.release();
  }
}

function generatedText(tokenizer: LocalTokenizer, options: GenerateOptions, rendered: string, ids: readonly number[]): GeneratedText {
  const eos = new Set(tokenizer.eosIds);
  const stop = ids.findIndex((id) => eos.has(id));
  return {
    prompt: options.prompt ?? '',
    chat: options.chat ?? false,
    tokenizer: tokenizer.folder,
    rendered_prompt: rendered,
    text: tokenizer.decode(stop < 0 ? ids : ids.slice(0, stop)),
    eos_index: stop < 0 ? null : stop,
  };
}

// ------------------------------------------------------------------------------------------- --json report

const generateReportSchema = z.strictObject({
  model: z.strictObject({ id: z.string(), file: z.string(), synthetic: z.boolean() }),
  variant: z.enum(VARIANT_NAMES),
  device: z.enum(DEVICES),
  threads: z.number().int().min(0),
  kv_layout: z.enum(['growing', 'preallocated', 'appended', 'direct']),
  prompt_ids: z.array(z.number().int()),
  ids: z.array(z.number().int()),
  token_times_ms: z.array(z.number()),
  run_ms: z.array(z.number()),
  ttft_ms: z.number(),
  decode_tps: z.number().nullable(),
  text: z
    .strictObject({ prompt: z.string(), chat: z.boolean(), tokenizer: z.string(), rendered_prompt: z.string(), text: z.string(), eos_index: z.number().int().nullable() })
    .nullable(),
});

export const GENERATE_REPORT_KIND = 'modelscout.generation';

/** `generate --json`: the generation with `schema_version` and `kind`. */
export function generateJsonReport(report: GenerateReport): Record<string, unknown> {
  return toJsonReport(generateReportSchema, report, GENERATE_REPORT_KIND, '1');
}

export function buildGenerateJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(generateReportSchema, GENERATE_REPORT_KIND, '1');
}

export type GenerateSchemaChecks = [Expect<Assignable<z.infer<typeof generateReportSchema>, GenerateReport>>, Expect<Assignable<GenerateReport, z.infer<typeof generateReportSchema>>>];
