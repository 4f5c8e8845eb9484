/** `synth`'s output: the built model as text. */
import { relative } from 'node:path';
import type { WriteProgress } from '../onnx/model-io.js';
import type { SynthResult } from '../onnx/synth/index.js';
import { formatBytes, formatDuration, formatInteger } from '../util/format.js';
import type { ProgressTask } from './progress.js';

/** The writer's progress as the progress module's task. */
export function synthTask(p: WriteProgress): ProgressTask {
  return { label: 'writing weights', done: p.bytesDone, total: p.bytesTotal, unit: 'bytes', detail: `${p.tensorsDone}/${p.tensorsTotal} tensors` };
}

export function renderSynthResult(result: SynthResult, wallMs: number, cwd = process.cwd()): string {
  const where = relative(cwd, result.outDir) || '.';
  const lines = [
    `Synthesized ${result.id}: ${result.layersBuilt} of ${result.layersFull} layers, ${result.dtype}, seed ${result.seed}${result.graph === 'fused' ? ', fused graph' : ''} (synthetic weights: speed and memory are real, text is not)`,
    `  ${relative(cwd, result.modelFile)}  ${formatBytes(result.modelBytes)} graph + ${formatBytes(result.dataBytes)} data, ${formatInteger(result.parameters)} parameters, ${formatDuration(wallMs)}`,
  ];
  if (result.verified) lines.push('  verified: ONNX Runtime loads it and one step gives finite logits');
  if (result.genaiConfigFile) lines.push(`  ${relative(cwd, result.genaiConfigFile)}  (onnxruntime-genai config, past_present_share_buffer)`);
  if (result.keptFiles.length > 0) lines.push(`  kept: ${result.keptFiles.join(', ')}`);
  lines.push(`Next: modelscout inspect ${where}`);
  return lines.join('\n');
}
