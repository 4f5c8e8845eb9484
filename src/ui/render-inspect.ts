/** `inspect`'s output: what an ONNX model holds, as lines of text. */
import { relative } from 'node:path';
import type { IoTensorInfo } from '../onnx/decoder-signature.js';
import type { InspectReport } from '../onnx/inspect.js';
import { formatBytes, formatInteger } from '../util/format.js';

function shape(dims: (number | string | null)[] | null): string {
  return dims === null ? '?' : `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/**
 * One line per tensor, except that per-layer cache tensors with one dtype and shape become a single
 * `past_key_values.{0..23}.key|value` line (a 24-layer model would otherwise print 48 lines).
 */
function collapseLayers(list: IoTensorInfo[], pattern: RegExp, prefix: string): string[] {
  const layered = list.filter((t) => pattern.test(t.name));
  const signatures = new Set(layered.map((t) => `${t.dtype} ${shape(t.shape)}`));
  const lines: string[] = [];
  let emitted = false;
  for (const t of list) {
    if (layered.length > 2 && signatures.size === 1 && pattern.test(t.name)) {
      if (!emitted) lines.push(`${prefix}.{0..${layered.length / 2 - 1}}.key|value  ${[...signatures][0]!}`);
      emitted = true;
      continue;
    }
    lines.push(`${t.name}  ${t.dtype} ${shape(t.shape)}`);
  }
  return lines;
}

export function renderInspect(r: InspectReport, maxOps: number, cwd = process.cwd()): string[] {
  const lines: string[] = [];
  const rel = relative(cwd, r.file) || r.file;
  lines.push(`${rel}${r.synthetic ? '  (SYNTHETIC weights: speed and memory are real, text is not)' : ''}`);
  if (r.variants.length > 1) lines.push(`  variants in folder: ${r.variants.map((v) => v.variant).join(', ')}`);
  const data = r.externalData.map((e) => `${e.location} ${formatBytes(e.bytes)}`).join(', ');
  lines.push(`  size: ${formatBytes(r.totalBytes)} (graph ${formatBytes(r.fileBytes)}${data ? `, data ${data}` : ''})`);
  lines.push(`  IR ${r.irVersion ?? '?'}, opsets ${r.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}${r.producer ? `, producer ${r.producer}` : ''}`);
  if (r.metadata.synthetic) {
    const m = r.metadata;
    lines.push(`  synthetic: seed ${m.seed ?? '?'}, source ${m.source ?? '?'}, layers ${m.numLayersBuilt ?? '?'} of ${m.numLayersFull ?? '?'}, graph ${m.graph ?? '?'}`);
  }
  if (r.metadata.quantization) lines.push(`  quantization: ${JSON.stringify(r.metadata.quantization)}`);
  lines.push('Inputs:');
  for (const line of collapseLayers(r.inputs, /^past_key_values\.(\d+)\.(key|value)$/, 'past_key_values')) lines.push(`  ${line}`);
  lines.push('Outputs:');
  for (const line of collapseLayers(r.outputs, /^present\.(\d+)\.(key|value)$/, 'present')) lines.push(`  ${line}`);
  lines.push(`Weights: ${r.weightFormat.description}`);
  lines.push(`  ${formatInteger(r.parameters)} parameters, ${formatBytes(r.initializerBytes)}`);
  for (const d of r.byDtype) lines.push(`  ${d.dtype.padEnd(9)} ${String(d.tensors).padStart(5)} tensors ${formatInteger(d.parameters).padStart(15)} params ${formatBytes(d.bytes).padStart(10)}`);
  if (r.decoder) {
    const d = r.decoder;
    lines.push(`Decoder: ${d.numLayers} layers, ${d.numKvHeads ?? '?'} KV heads, head dim ${d.headDim ?? '?'}, KV cache ${d.kvDtype}${d.vocabSize ? `, vocab ${formatInteger(d.vocabSize)}` : ''}`);
    const extra = [d.positionIds, d.logitsToKeep, d.useCacheBranch].filter((t) => t !== null).map((t) => t.name).join(', ');
    if (extra) lines.push(`  also takes: ${extra}`);
    if (d.kvBytesPerToken !== null) {
      lines.push(`  KV cache per token: ${formatInteger(d.kvBytesPerToken)} bytes at ${d.kvDtype}${d.kvDtype === 'float32' && d.kvBytesPerTokenFp16 !== null ? ` (${formatInteger(d.kvBytesPerTokenFp16)} at float16)` : ''}`);
    }
  } else {
    lines.push(`Decoder: not detected (${r.decoderProblem ?? 'unknown signature'})`);
  }
  lines.push(`Ops (${formatInteger(r.nodes)} nodes):`);
  const shown = r.ops.slice(0, maxOps);
  lines.push(`  ${shown.map((o) => `${o.op} ${o.count}`).join(', ')}${r.ops.length > maxOps ? `, ... ${r.ops.length - maxOps} more` : ''}`);
  return lines;
}
