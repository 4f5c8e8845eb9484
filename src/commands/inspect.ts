import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { inspectModel } from '../onnx/inspect.js';
import { inspectJsonReport } from '../onnx/inspect-report.js';
import { fitToWidth, terminalWidth } from '../ui/layout.js';
import { renderInspect } from '../ui/render-inspect.js';

export default class Inspect extends BaseCommand {
  static override summary = 'Show what an ONNX model holds: I/O signature, ops, weight format, decoder layout and KV-cache bytes per token.';
  static override description = [
    'PATH is a .onnx file or a model folder (its onnx/model*.onnx files; with several, model.onnx is shown unless --variant picks another).',
    'Reports the inputs and outputs with symbolic dims, an op histogram, opset imports, parameters and bytes by dtype, the weight format (fp32, fp16, or int4 MatMulNBits with block size), the decoder layout read from the past_key_values.* inputs (layers, KV heads, head dim) with the KV cache added per token, and whether the weights are synthetic.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> inspect ./models/qwen2.5-0.5b-synthetic',
    '<%= config.bin %> inspect ./models/qwen2.5-0.5b-synthetic --variant fp16',
    '<%= config.bin %> inspect model_q4.onnx --json',
  ];

  static override args = {
    path: Args.string({ required: true, description: 'model folder or .onnx file' }),
  };

  static override flags = {
    variant: Flags.string({ helpValue: 'NAME', description: 'model file of a folder to inspect: fp32 (model.onnx), fp16, q4, q4f16, ... or a file name' }),
    ops: Flags.integer({ min: 1, default: 12, helpValue: 'N', description: 'op types to list in the histogram (human output)' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(Inspect);
    const report = await inspectModel(args.path, flags.variant === undefined ? {} : { variant: flags.variant });
    if (!this.jsonEnabled()) this.log(fitToWidth(renderInspect(report, flags.ops).join('\n'), terminalWidth(process.stdout)));
    return inspectJsonReport(report);
  }
}
