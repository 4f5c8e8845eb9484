import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { readModelSpecFromConfigFile } from '../../catalog/index.js';
import { catalogInUse, resolveModelRefs } from '../../cli/model-source.js';
import { ModelscoutError } from '../../errors.js';
import type { ResolvedModel } from '../../hub/resolve-model.js';
import { hardwareOverridesFromFlags } from '../../cli/hardware-flags.js';
import { topologyFlags, topologyFromFlags } from '../../cli/topology-flags.js';
import { gpuOverrideKeys } from '../../hardware/accelerators.js';
import { describeModel, modelShowReport, type ModelShowResult } from '../../recommend/model-description.js';
import { fitToWidth, terminalWidth } from '../../ui/layout.js';
import { renderModel } from '../../ui/render-model.js';

export type { ModelShowResult };

export default class ModelsShow extends BaseCommand {
  static override summary = 'Show one model in full: architecture, parameter counts, KV cache per token, weight bytes per format.';
  static override description =
    'MODEL is any model reference: a catalog id (see `modelscout models`), a Hub repo id (org/name, optionally @revision; config.json and the safetensors headers are read with range requests, so parameter counts and stored dtypes are exact; HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE are honoured and the look-up is cached), a local folder (config.json, *.safetensors), a config.json, or a .gguf file (header and tensor infos only). Known architectures: llama, mistral, qwen2, qwen3, gemma2, gemma3, phi3, mixtral, qwen3_moe, deepseek_v2, deepseek_v3, gpt2; other decoders are estimated from their generic fields, with a caveat.';

  static override examples = [
    '<%= config.bin %> models show llama-3.1-8b',
    '<%= config.bin %> models show HuggingFaceTB/SmolLM3-3B',
    '<%= config.bin %> models show ./qwen2.5-0.5b-instruct-q4_k_m.gguf',
    '<%= config.bin %> models show --config ./my-model/config.json --json',
  ];

  static override args = {
    id: Args.string({ description: 'catalog id, Hub repo id (org/name[@revision]), local folder, config.json or .gguf file', required: false }),
  };

  static override flags = {
    config: Flags.string({ description: 'a Hugging Face config.json to read instead of a catalog id', helpValue: 'FILE' }),
    catalog: Flags.string({ description: 'extra catalog file (JSON or YAML) to look the id up in', helpValue: 'FILE' }),
    gpu: Flags.string({ description: `with --gpus/--nodes: the GPU model, optionally how many per node, e.g. 8xH100 (${gpuOverrideKeys().join(', ')}); default the detected GPUs`, helpValue: '8xH100', helpGroup: 'HARDWARE' }),
    ...topologyFlags,
    context: Flags.integer({ description: 'with a layout: tokens per sequence the KV cache holds and TTFT is quoted at', default: 2048, min: 1, max: 10_000_000 }),
    concurrency: Flags.integer({ description: 'with a layout: sequences served at once', default: 1, min: 1, max: 100_000 }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(ModelsShow);
    if ((args.id === undefined) === (flags.config === undefined)) {
      throw new ModelscoutError('E_USAGE', args.id === undefined ? 'give a model id or --config FILE' : 'give either a model id or --config FILE, not both', {
        suggestions: ['Run `modelscout models` for the ids, e.g. `modelscout models show qwen2.5-0.5b`.'],
      });
    }
    const catalog = catalogInUse(flags.catalog).models;
    const resolved: ResolvedModel = flags.config !== undefined
      ? { reference: flags.config, kind: 'config', spec: await readModelSpecFromConfigFile(flags.config), source: { path: flags.config }, stored: null, gguf: null, notes: [] }
      : (await resolveModelRefs([args.id!], catalog, this.config.version))[0]!;
    const spec = resolved.spec;
    const result: ModelShowResult = describeModel(spec, resolved);
    const request = topologyFromFlags(flags);
    if (request !== undefined || flags.gpu !== undefined) {
      // Loaded only when a layout is asked for: plain `models show` stays quick to start.
      const [{ detectHardware }, { planModelTopology }] = await Promise.all([import('../../hardware/detect.js'), import('../../recommend/model-topology.js')]);
      const hardware = await detectHardware({ probe: false, overrides: hardwareOverridesFromFlags({ gpu: flags.gpu }) });
      result.topology = planModelTopology(spec, hardware, request ?? {}, { context: flags.context, concurrency: flags.concurrency });
    }
    if (!this.jsonEnabled()) this.log(fitToWidth(renderModel(result).join('\n'), terminalWidth(process.stdout)));
    return modelShowReport(result);
  }
}
