/** `quantize`'s output: its progress events shown through the progress module, and the result as text. */
import { relative } from 'node:path';
import type { QuantizeProgress, QuantizeResult } from '../quantize/index.js';
import { formatBytes, formatInteger, formatPercent } from '../util/format.js';
import { fitToWidth, renderTable } from './layout.js';
import type { Progress } from './progress.js';

/**
 * The handler of the quantizer's progress: the tensors quantized as the bar, the source hash (it runs
 * alongside) in the bar's tail, the fidelity check as a status line.
 */
export function quantizeEventsTo(progress: Progress): (p: QuantizeProgress) => void {
  let hash = '';
  return (p) => {
    if (p.phase === 'hash') {
      hash = p.done >= p.total ? '' : `hashing source ${formatPercent(p.total ? p.done / p.total : 1, 0)}`;
    } else if (p.phase === 'quantize') {
      progress.update({ label: 'quantizing', done: p.done, total: p.total, unit: 'tensors', detail: [hash, p.current ?? ''].filter(Boolean).join('  ') });
    } else {
      progress.status('fidelity: running the original and the quantized model');
    }
  };
}

export function renderQuantizeResult(r: QuantizeResult, width: number | null = null, cwd = process.cwd()): string {
  const lines: string[] = [];
  const shown = (path: string): string => {
    const rel = relative(cwd, path);
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
  lines.push(renderTable(['', 'before', 'after', 'ratio', 'smaller', 'bits/weight'], [['size', formatBytes(r.size.before), formatBytes(r.size.after), `${r.size.ratio.toFixed(2)}×`, formatPercent(r.size.reduction), r.size.bitsPerWeight.toFixed(2)]], width));
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
  const errorRows = r.worstTensors.map((t) => [t.name, `[${t.K}, ${t.N}]`, t.maxAbs.toExponential(2), t.rmse.toExponential(2), formatPercent(t.relativeFrobenius, 2)]);
  errorRows.push(['all quantized weights', '', r.error.maxAbs.toExponential(2), r.error.rmse.toExponential(2), formatPercent(r.error.relativeFrobenius, 2)]);
  lines.push(renderTable(['worst tensors', 'shape [K, N]', 'max abs', 'RMSE', 'rel. Frobenius'], errorRows, width));
  lines.push('');
  const f = r.fidelity;
  if (f.ran) {
    lines.push(`fidelity (${f.sequenceLength} seeded tokens, one prefill pass, vs the original): ${f.pass ? 'PASS' : 'FAIL'}`);
    lines.push(renderTable(['logit cosine (mean / min)', 'top-1 agreement', 'KL mean / max (nats)'], [[`${f.cosineMean.toFixed(4)} / ${f.cosineMin.toFixed(4)}`, formatPercent(f.top1Agreement), `${f.klMean.toFixed(4)} / ${f.klMax.toFixed(4)}`]], width));
    lines.push(`  fails below cosine ${f.thresholds.cosineMean} or above mean KL ${f.thresholds.klMean}${r.input.synthetic ? '; random weights give near-tied logits, so top-1 agreement stays low' : ''}`);
  } else {
    lines.push(`fidelity: not measured (${f.reason})`);
  }
  const perf = r.performance;
  lines.push(`${(perf.throughputMBps).toFixed(0)} MB/s of float weights (${formatBytes(perf.inputWeightBytes)} in ${perf.seconds.toFixed(1)} s), peak RSS ${formatBytes(perf.peakRssBytes)}`);
  return fitToWidth(lines.join('\n'), width);
}
