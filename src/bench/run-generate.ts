/**
 * `modelscout generate`: greedy generation through the benchmark's own loop for given prompt ids, with
 * the time each token became available. How a user checks a model and the loop (and how tests compare
 * the loop against known references). Runs in this process: nothing here is a measurement to protect.
 */
import { ModelscoutError } from '../errors.js';
import { detectDecoderIo } from '../runtime/decoder-io.js';
import { DecoderLoop, generateGreedy } from './generate.js';
import type { Device, GraphOptLevel, VariantName } from './matrix.js';
import { inspectVariantFile, locateModel, selectVariants } from './model-files.js';
import { autoKvLayout, type KvLayout } from '../runtime/kv-cache.js';
import { createSession, assertDeviceAvailable } from './session.js';

export interface GenerateOptions {
  model: string;
  variant?: VariantName | undefined;
  device: Device;
  threads: number;
  graphOptLevel: GraphOptLevel;
  promptIds: number[];
  maxNew: number;
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
}

export async function runGenerate(options: GenerateOptions): Promise<GenerateReport> {
  assertDeviceAvailable(options.device);
  if (options.promptIds.length === 0) throw new ModelscoutError('E_USAGE', 'no prompt ids given', { suggestions: ['Pass --prompt-ids 1,17,42.'] });
  const model = await locateModel(options.model);
  const [variant] = selectVariants(model, options.variant === undefined ? undefined : [options.variant]);
  if (!variant) throw new ModelscoutError('E_NOT_FOUND', `model ${options.model} has no variant to run`);
  const file = model.files[variant] as string;
  const info = await inspectVariantFile(file, model.path);
  // The fast KV layout where the graph has one (as `bench --kv-layout auto`).
  const kvLayout = autoKvLayout(info.metadata.graph, options.device);
  const { session } = await createSession(file, { device: options.device, threads: options.threads, graphOptLevel: options.graphOptLevel }, { kvLayout });
  try {
    const io = detectDecoderIo(session.inputMetadata, session.outputMetadata);
    const vocab = io.vocabSize ?? info.signature.vocabSize;
    if (vocab !== null) {
      const bad = options.promptIds.find((id) => id < 0 || id >= vocab);
      if (bad !== undefined) {
        throw new ModelscoutError('E_INPUT', `invalid prompt id ${bad}: the vocabulary has ids 0..${vocab - 1}`, { suggestions: [`Use ids below ${vocab}.`] });
      }
    }
    const loop = new DecoderLoop(session, io, { kvLayout });
    const out = await generateGreedy(loop, [options.promptIds], options.maxNew);
    const times = out.tokenTimesMs;
    const first = times[0] as number;
    const last = times[times.length - 1] as number;
    return {
      model: { id: model.id, file, synthetic: info.metadata.synthetic },
      variant,
      device: options.device,
      threads: options.threads,
      kv_layout: kvLayout,
      prompt_ids: options.promptIds,
      ids: out.ids[0] as number[],
      token_times_ms: times,
      run_ms: out.runMs,
      ttft_ms: first,
      decode_tps: times.length > 1 && last > first ? ((times.length - 1) / (last - first)) * 1000 : null,
    };
  } finally {
    await session.release();
  }
}
