import { performance } from 'node:perf_hooks';
import { Args, Flags } from '@oclif/core';
import { withInterrupts } from '../cli/interrupt.js';
import { BaseCommand } from '../cli/base-command.js';
import { catalogInUse, synthSourceOf } from '../cli/model-source.js';
import { MAX_SEED, defaultSynthOutDir, planSynth, synthesizeModel } from '../onnx/synth/index.js';
import { Progress } from '../ui/progress.js';
import { renderSynthResult, synthTask } from '../ui/render-synth.js';
import { checkDecoderRuns } from '../runtime/verify.js';
import { synthJsonReport } from '../onnx/synth/report.js';
import { lockWaitMessage } from '../util/file-lock.js';

export default class Synth extends BaseCommand {
  static override summary = 'Build an ONNX decoder with the exact architecture of any model reference (catalog id, Hub repo, config.json, .gguf), and seeded random weights.';
  static override description = [
    'Speed and memory of the synthetic model are those of the real architecture; its text is noise. Every report made from it says "synthetic".',
    'MODEL is any model reference: a catalog id (see `modelscout models`), a Hub repo id (org/name[@revision] or its URL: its config.json is read through HF_ENDPOINT / HF_TOKEN, cached for offline use), the path of a Hugging Face config.json (or a folder holding one), or a .gguf file (the architecture in its header; the weights are not read). Supported: the Llama family (Llama, Mistral, Qwen2/2.5, SmolLM) and GPT-2; other architectures are refused in one line naming what the builder lacks.',
    'Output, laid out like an onnx-community repo: DIR/config.json (layer count as built, plus a "modelscout" block with seed and source), DIR/generation_config.json, DIR/onnx/model.onnx (fp32) or model_fp16.onnx (fp16), with weights of 1 KiB or more in model*.onnx_data. The folder appears atomically; other variants already in it are kept when they come from the same architecture, seed and depth.',
    'Default DIR: ./models/<id>-synthetic. Same seed, same bytes; --layers N builds the first N layers at full width (recorded in the metadata).',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> synth qwen2.5-0.5b',
    '<%= config.bin %> synth smollm2-135m --dtype fp16 --seed 7',
    '<%= config.bin %> synth llama-3.1-8b --layers 4 --out /tmp/llama-4l',
    '<%= config.bin %> synth ./my-model/config.json --json',
    '<%= config.bin %> synth Qwen/Qwen2.5-1.5B-Instruct --layers 4',
    '<%= config.bin %> synth ./qwen2.5-0.5b-instruct-q4_k_m.gguf --dtype fp16',
    '<%= config.bin %> synth qwen2.5-0.5b --graph fused --max-length 4096',
  ];

  static override args = {
    model: Args.string({ required: true, description: 'catalog id, Hub repo id (org/name[@revision]), config.json or folder, or .gguf file' }),
  };

  static override flags = {
    dtype: Flags.option({ options: ['fp32', 'fp16'] as const, default: 'fp32' as const, description: 'weight and activation type' })(),
    layers: Flags.integer({ min: 1, helpValue: 'N', description: 'build only the first N decoder layers (default: all)' }),
    seed: Flags.integer({ min: 0, max: MAX_SEED, default: 0, helpValue: 'S', description: 'seed of the random weights' }),
    out: Flags.string({ helpValue: 'DIR', description: 'output folder (default ./models/<id>-synthetic)' }),
    verify: Flags.boolean({ default: false, description: 'load the model in ONNX Runtime and run one step before publishing it (needs memory for the whole model)' }),
    graph: Flags.option({
      options: ['standard', 'fused'] as const,
      default: 'standard' as const,
      description: 'standard ONNX ops, or ONNX Runtime fused kernels (GroupQueryAttention, SkipSimplifiedLayerNormalization, packed q/k/v; Llama family; writes genai_config.json)',
    })(),
    'max-length': Flags.integer({ min: 1, helpValue: 'N', description: 'fused graph: longest sequence (prompt + new tokens, padding included) it accepts [default: the context length]' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(Synth);
    const catalog = catalogInUse().models;
    const model = await synthSourceOf(args.model, catalog, this.config.version);
    const { resolved } = await planSynth({ source: args.model, catalog, seed: flags.seed, graph: flags.graph, ...(model ? { model } : {}), ...(flags.layers !== undefined ? { layers: flags.layers } : {}) });
    const outDir = flags.out ?? defaultSynthOutDir(resolved.spec.id);

    const progress = new Progress({ json: this.jsonEnabled() });
    const started = performance.now();
    try {
      const result = await withInterrupts((signal) => synthesizeModel({
        source: args.model,
        catalog,
        ...(model ? { model } : {}),
        dtype: flags.dtype,
        seed: flags.seed,
        outDir,
        producerVersion: this.config.version,
        signal,
        ...(flags.verify ? { verify: checkDecoderRuns } : {}),
        graph: flags.graph,
        ...(flags['max-length'] !== undefined ? { maxLength: flags['max-length'] } : {}),
        ...(flags.layers !== undefined ? { layers: flags.layers } : {}),
        onProgress: (p) => progress.update(synthTask(p)),
        onWait: (wait) => progress.warn(lockWaitMessage(wait)),
      }));
      progress.done();
      const wallMs = performance.now() - started;
      if (!this.jsonEnabled()) this.log(renderSynthResult(result, wallMs));
      return synthJsonReport({ ...result, wallMs: Math.round(wallMs) });
    } finally {
      progress.done();
    }
  }
}
