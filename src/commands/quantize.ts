import { relative } from 'node:path';
import { Args, Flags } from '@oclif/core';
import Table from 'cli-table3';
import { withInterrupts } from '../cli/interrupt.js';
import { BaseCommand } from '../cli/base-command.js';
import { EXIT_CODES } from '../errors.js';
import { quantizeModel, type QuantizeProgress, type QuantizeResult } from '../quantize/index.js';
import { formatBytes, formatInteger, formatPercent } from '../util/format.js';

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
    'block-size': Flags.integer({ default: 32, helpValue: '16|32|64|128|256', description: 'weights per quantization block along K' }),
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

  async run(): Promise<QuantizeResult> {
    const { args, flags } = await this.parse(Quantize);
    const progress = this.jsonEnabled() || !process.stderr.isTTY ? null : new ProgressLine();
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
        { onProgress: (p) => progress?.update(p) },
      ));
    } finally {
      progress?.clear();
    }
    if (!this.jsonEnabled()) this.log(renderQuantizeResult(result));
    if (result.fidelity.ran && !result.fidelity.pass) {
      this.note(`Error: fidelity check failed (${result.fidelity.reasons.join('; ')}): ${result.output.model} does not behave like the original`);
      this.note('  Try this: re-run with --block-size 32 and --keep-lm-head; if it still fails, report the model.');
      process.exitCode = EXIT_CODES.failed;
    }
    return result;
  }
}

/** One redrawn status line on stderr (TTY only); hashing runs alongside quantization, so both show. */
class ProgressLine {
  private last = 0;
  private hash = '';
  private work = '';

  update(p: QuantizeProgress): void {
    if (p.phase === 'hash') this.hash = p.done >= p.total ? '' : `hashing source ${formatPercent(p.total ? p.done / p.total : 1, 0)}`;
    else if (p.phase === 'quantize') this.work = `quantizing ${p.done}/${p.total} tensors${p.current ? `  ${p.current}` : ''}`;
    else this.work = 'fidelity: running the original and the quantized model';
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const text = [this.work, this.hash].filter(Boolean).join('  |  ');
    const width = process.stderr.columns > 20 ? process.stderr.columns : 100;
    process.stderr.write(`\r\u001b[2K${text.slice(0, width - 1)}`);
  }

  clear(): void {
    process.stderr.write('\r\u001b[2K');
  }
}

export function renderQuantizeResult(r: QuantizeResult): string {
  const lines: string[] = [];
  const shown = (path: string): string => {
    const rel = relative(process.cwd(), path);
    return rel.startsWith('..') ? path : rel;
  };
  const s = r.settings;
  lines.push(`Quantized ${shown(r.input.model)}${r.input.synthetic ? ' (synthetic weights)' : ''}`);
  lines.push(`  → ${shown(r.output.model)}${r.output.data ? ` + ${shown(r.output.data).split('/').pop()}` : ''}`);
  lines.push(
    `  rtn int4, block ${s.blockSize}, ${s.symmetric ? 'symmetric' : 'asymmetric'}, accuracy level ${s.accuracyLevel}` +
      `${s.embeddings ? ', embeddings' : ''}${s.keepLmHead ? ', LM head kept float' : ''}`,
  );
  lines.push('');
  const size = new Table({ head: ['', 'before', 'after', 'ratio', 'smaller', 'bits/weight'], style: { head: [], border: [], compact: true } });
  size.push(['size', formatBytes(r.size.before), formatBytes(r.size.after), `${r.size.ratio.toFixed(2)}×`, formatPercent(r.size.reduction), r.size.bitsPerWeight.toFixed(2)]);
  lines.push(size.toString());
  const n = r.nodes;
  lines.push(
    `${n.quantizedMatMul} of ${n.matMul} MatMul → MatMulNBits` +
      `${n.quantizedGather ? `, ${n.quantizedGather} Gather → GatherBlockQuantized` : ''}` +
      ` (${formatInteger(r.size.quantizedWeights)} weights in ${r.tensors.length} tensors)`,
  );
  if (s.excludedNodes.length > 0) lines.push(`excluded: ${s.excludedNodes.join(', ')}`);
  if (n.skipped.length > 0) {
    // Grouped by reason: a decoder has dozens of activation × activation MatMuls (attention), all alike.
    const byReason = new Map<string, string[]>();
    for (const x of n.skipped) byReason.set(x.reason, [...(byReason.get(x.reason) ?? []), x.node]);
    for (const [reason, nodes] of byReason) {
      lines.push(`left as is: ${nodes.length} × ${reason}${nodes.length <= 3 ? ` (${nodes.join(', ')})` : ` (e.g. ${nodes[0]})`}`);
    }
  }
  lines.push('');
  const errors = new Table({ head: ['worst tensors', 'shape [K, N]', 'max abs', 'RMSE', 'rel. Frobenius'], style: { head: [], border: [], compact: true } });
  for (const t of r.worstTensors) errors.push([t.name, `[${t.K}, ${t.N}]`, t.maxAbs.toExponential(2), t.rmse.toExponential(2), formatPercent(t.relativeFrobenius, 2)]);
  errors.push(['all quantized weights', '', r.error.maxAbs.toExponential(2), r.error.rmse.toExponential(2), formatPercent(r.error.relativeFrobenius, 2)]);
  lines.push(errors.toString());
  lines.push('');
  const f = r.fidelity;
  if (f.ran) {
    lines.push(`fidelity (${f.sequenceLength} seeded tokens, one prefill pass, vs the original): ${f.pass ? 'PASS' : 'FAIL'}`);
    const table = new Table({ head: ['logit cosine (mean / min)', 'top-1 agreement', 'KL mean / max (nats)'], style: { head: [], border: [], compact: true } });
    table.push([`${f.cosineMean.toFixed(4)} / ${f.cosineMin.toFixed(4)}`, formatPercent(f.top1Agreement), `${f.klMean.toFixed(4)} / ${f.klMax.toFixed(4)}`]);
    lines.push(table.toString());
    lines.push(`  fails below cosine ${f.thresholds.cosineMean} or above mean KL ${f.thresholds.klMean}${r.input.synthetic ? '; random weights give near-tied logits, so top-1 agreement stays low' : ''}`);
  } else {
    lines.push(`fidelity: not measured (${f.reason})`);
  }
  const perf = r.performance;
  lines.push(`${(perf.throughputMBps).toFixed(0)} MB/s of float weights (${formatBytes(perf.inputWeightBytes)} in ${perf.seconds.toFixed(1)} s), peak RSS ${formatBytes(perf.peakRssBytes)}`);
  return lines.join('\n');
}
