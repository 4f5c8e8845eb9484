import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { parseVariantList } from '../bench/config.js';
import { DEVICES, GRAPH_OPT_LEVELS } from '../runtime/session.js';
import { generateJsonReport, runGenerate } from '../bench/run-generate.js';
import { parseIntegerList } from '../bench/scenarios.js';
import { invalidValue } from '../errors.js';
import { VARIANT_FILES, VARIANT_NAMES } from '../estimate/weights.js';

export default class Generate extends BaseCommand {
  static override summary = 'Greedy generation from text or token ids through the benchmark loop: the text, the ids and when each token arrived.';
  static override description =
    'Prefill the prompt, then decode --gen-tokens tokens greedily with the KV cache (never stopping at EOS), exactly as `bench` does. Prints the generated ids and the time each token became available. Use it to check a model and the loop: the same model and prompt always give the same ids.\n\nText (--prompt) is tokenized offline with the tokenizer.json in the model folder (every model pulled from the Hub has one); --chat wraps it as a user message in the model\'s chat template. The generated text is printed up to the first end-of-sequence token. Synthetic models have no tokenizer: give them --prompt-ids.';

  static override examples = [
    '<%= config.bin %> generate ~/.cache/huggingface/hub/models--onnx-community--SmolLM2-135M-Instruct/snapshots/<commit> --prompt "The capital of France is" --gen-tokens 16',
    '<%= config.bin %> generate ./SmolLM2-135M-Instruct --prompt "Name three colours." --chat --gen-tokens 32',
    '<%= config.bin %> generate models/smollm2-135m-synthetic --prompt-ids 1,17,42 --gen-tokens 24',
    '<%= config.bin %> generate ./model/onnx/model_q4.onnx --prompt-ids 1,17,42 --gen-tokens 8 --json',
  ];

  static override args = {
    model: Args.string({ description: 'model folder (config.json + onnx/model*.onnx) or .onnx file', required: true }),
  };

  static override flags = {
    prompt: Flags.string({ description: "prompt text, tokenized with the model folder's tokenizer.json" }),
    chat: Flags.boolean({ description: "apply the model's chat template to --prompt (one user message)" }),
    'prompt-ids': Flags.string({ description: 'prompt token ids, comma-separated, e.g. 1,17,42 (models without a tokenizer)' }),
    'gen-tokens': Flags.integer({ aliases: ['max-new'], min: 1, max: 100_000, default: 24, description: 'tokens to generate (decode steps; EOS does not stop them)' }),
    variant: Flags.string({ description: `${VARIANT_NAMES.join(', ')} (the model file: ${VARIANT_NAMES.map((v) => VARIANT_FILES[v]).join(', ')}) [default: fp32 when present]` }),
    device: Flags.option({ options: DEVICES, default: 'cpu' as const, description: 'execution provider' })(),
    threads: Flags.integer({ min: 0, default: 0, description: 'intra-op threads (0 = onnxruntime default)' }),
    'graph-opt-level': Flags.option({ options: GRAPH_OPT_LEVELS, default: 'all' as const, description: 'onnxruntime graph optimization level' })(),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(Generate);
    const variants = flags.variant === undefined ? undefined : parseVariantList(flags.variant);
    if (variants === 'all' || (variants && variants.length !== 1)) throw invalidValue('variant', flags.variant, `one of ${VARIANT_NAMES.join(', ')}`);
    const report = await runGenerate({
      model: args.model,
      variant: variants?.[0],
      device: flags.device,
      threads: flags.threads,
      graphOptLevel: flags['graph-opt-level'],
      promptIds: flags['prompt-ids'] === undefined ? undefined : parseIntegerList(flags['prompt-ids'], '--prompt-ids', 0),
      prompt: flags.prompt,
      chat: flags.chat,
      maxNew: flags['gen-tokens'],
    });
    if (!this.jsonEnabled()) {
      const label = `${report.model.id}${report.model.synthetic ? ' (synthetic)' : ''} ${report.variant} on ${report.device}`;
      this.log(`${label}: ${report.prompt_ids.length} prompt ids → ${report.ids.length} new`);
      if (report.text) {
        this.log(`prompt: ${JSON.stringify(report.text.rendered_prompt)}`);
        this.log(`text: ${report.text.text}${report.text.eos_index === null ? '' : ` [end of sequence at token ${report.text.eos_index + 1}]`}`);
      }
      this.log(`ids: ${report.ids.join(',')}`);
      this.log(`token times (ms): ${report.token_times_ms.map((t) => t.toFixed(2)).join(' ')}`);
      this.log(`TTFT ${report.ttft_ms.toFixed(2)} ms${report.decode_tps === null ? '' : `, decode ${report.decode_tps.toFixed(1)} tok/s`}`);
    }
    return generateJsonReport(report);
  }
}
