import { Args, Flags } from '@oclif/core';
import { withInterrupts } from '../cli/interrupt.js';
import { BaseCommand } from '../cli/base-command.js';
import { EXIT_CODES } from '../errors.js';
import { quantizeModel, type QuantizeResult } from '../quantize/index.js';
import { quantizeJsonReport } from '../quantize/report.js';
import { terminalWidth } from '../ui/layout.js';
import { Progress } from '../ui/progress.js';
import { quantizeEventsTo, renderQuantizeResult } from '../ui/render-quantize.js';
import { lockWaitMessage } from '../util/file-lock.js';

export default class Quantize extends BaseCommand {
  static override summary = 'Quantize a float ONNX decoder to int4 (ONNX Runtime MatMulNBits) and measure what it costs in fidelity.';
  static override description = [
    'Every MatMul whose weight is a constant 2-D float32/float16 initializer (also inside If/Loop subgraphs) becomes com.microsoft MatMulNBits with 4-bit round-to-nearest block-wise quantization along K, byte-compatible with ONNX Runtime\'s own quantizer. A weight shared by several MatMuls is quantized once. The token-embedding Gather becomes GatherBlockQuantized too (a tied LM head shares its int4 bytes, so the model is about the size of a llama.cpp Q4_0 file); --no-embeddings keeps the table float.',
    'Weights are read, quantized and written one tensor at a time (external data in and out), so memory stays near the largest tensor. The result is written as onnx/model_q4.onnx (model_q4f16.onnx for fp16 weights) with model_q4.onnx_data next to the source files, or into --out DIR with config.json and the tokenizer files copied. The settings and the source model\'s sha256 go into the model metadata (modelscout.quantization).',
    'The report gives the size before/after, bits per weight, per-tensor error and the model\'s fidelity: the original and the quantized model run the same seeded token sequence in onnxruntime, and their next-token logits are compared (cosine similarity, top-1 agreement, KL divergence). A fidelity below the thresholds (a broken model) exits 1.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> quantize models/qwen2.5-0.5b-synthetic',
    '<%= config.bin %> quantize models/qwen2.5-0.5b-synthetic --block-size 128 --asymmetric',
    '<%= config.bin %> quantize onnx/model.onnx --keep-lm-head --exclude "/layers\\.0/" --out models/q4 --json',
  ];

  static override args = {
    model: Args.string({ required: true, description: 'model folder (onnx/model.onnx inside) or a .onnx file' }),
  };

  static override flags = {
    'block-size': Flags.integer({ default: 128, helpValue: '16|32|64|128|256', description: 'weights per quantization block along K' }),
    symmetric: Flags.boolean({ exclusive: ['asymmetric'], description: 'symmetric quantization, no zero points (default)' }),
    asymmetric: Flags.boolean({ exclusive: ['symmetric'], description: 'asymmetric quantization with a 4-bit zero point per block' }),
    'accuracy-level': Flags.integer({ default: 4, helpValue: '0..4', description: 'MatMulNBits accuracy_level (4: int8 compute on CPU, 0: unset)' }),
    exclude: Flags.string({ multiple: true, helpValue: 'REGEX', description: 'leave nodes whose name matches in float (repeatable)' }),
    'keep-lm-head': Flags.boolean({ description: 'leave the MatMul that produces the logits in float' }),
    embeddings: Flags.boolean({ default: true, allowNo: true, description: 'quantize the token embedding too (GatherBlockQuantized; a tied LM head shares its int4 bytes); --no-embeddings keeps it float' }),
    out: Flags.string({ helpValue: 'DIR', description: 'output model folder (default: the input model folder)' }),
    fidelity: Flags.boolean({ default: true, allowNo: true, description: 'compare logits of the original and the quantized model in onnxruntime' }),
    'fidelity-tokens': Flags.integer({ default: 32, min: 1, max: 4096, description: 'tokens in the fidelity prefill pass' }),
    threads: Flags.integer({ min: 1, description: 'onnxruntime intra-op threads for the fidelity check' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(Quantize);
    const progress = new Progress({ json: this.jsonEnabled() });
    let result: QuantizeResult;
    try {
      result = await withInterrupts((signal) => quantizeModel(
        args.model,
        {
          blockSize: flags['block-size'],
          symmetric: !flags.asymmetric,
          accuracyLevel: flags['accuracy-level'],
          exclude: flags.exclude ?? [],
          keepLmHead: flags['keep-lm-head'],
          embeddings: flags.embeddings,
          fidelity: flags.fidelity,
          fidelitySequenceLength: flags['fidelity-tokens'],
          ...(flags.out !== undefined ? { out: flags.out } : {}),
          ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
          signal,
        },
        { onProgress: quantizeEventsTo(progress), onWait: (wait) => progress.warn(lockWaitMessage(wait)) },
      ));
    } finally {
      progress.done();
    }
    if (!this.jsonEnabled()) this.log(renderQuantizeResult(result, terminalWidth(process.stdout)));
    if (result.fidelity.ran && !result.fidelity.pass) {
      this.note(`Error: fidelity check failed (${result.fidelity.reasons.join('; ')}): ${result.output.model} does not behave like the original`);
      this.note('  Try this: re-run with --block-size 32 and --keep-lm-head; if it still fails, report the model.');
      process.exitCode = EXIT_CODES.failed;
    }
    return quantizeJsonReport(result);
  }
}
