/** `models show`'s output: one model in full, as lines of text. */
import type { ModelShowResult } from '../recommend/model-description.js';
import type { ModelTopology } from '../recommend/model-topology.js';
import { formatBytes, formatInteger, formatParams, formatPercent, formatTokens } from '../util/format.js';

export function renderModel(r: ModelShowResult): string[] {
  const m = r.model;
  const attention = m.mla
    ? `MLA (kv_lora_rank ${m.mla.kvLoraRank}, q_lora_rank ${m.mla.qLoraRank ?? 'none'}, qk_nope ${m.mla.qkNopeHeadDim} + qk_rope ${m.mla.qkRopeHeadDim}, v ${m.mla.vHeadDim}), ${m.numHeads} heads`
    : `${m.attentionKind.toUpperCase()}: ${m.numHeads} query heads, ${m.numKvHeads} KV heads, head_dim ${m.headDim}${m.headDim * m.numHeads !== m.hiddenSize ? ` (explicit; hidden/heads would be ${m.hiddenSize / m.numHeads})` : ''}`;
  const src = r.source;
  const from = src.kind === 'hub'
    ? `Hub ${src.repo}@${src.revision} (commit ${src.commit?.slice(0, 12)}${src.fromCache ? ', from the cache' : ''})`
    : src.kind === 'catalog' ? 'built-in catalog' : `${src.kind === 'gguf' ? 'GGUF file' : src.kind === 'config' ? 'config file' : 'local folder'} ${src.path ?? src.reference}`;
  const lines = [
    `${m.name}${m.hfRepo ? ` (${m.hfRepo})` : ''}`,
    `  source      ${from}`,
    `  family ${m.family}, model_type ${m.modelType}, license ${m.license ?? 'unknown'}`,
    `  params      ${formatParams(r.params.total)} total${m.moe ? `, ${formatParams(r.params.active)} active` : ''} (${formatInteger(r.params.total)} ${r.stored && r.stored.params === r.params.total ? `exact, from the ${r.stored.basis} headers` : 'computed'}${r.params.published ? `; published ${m.paramsPublishedNote ?? formatParams(r.params.published)}, ${formatPercent(r.params.deviationFromPublished ?? 0, 2)} off` : ''}); embeddings ${formatParams(r.params.embedding)}`,
    `  layers      ${m.numLayers}, hidden ${m.hiddenSize}, intermediate ${m.intermediateSize}, vocab ${formatInteger(m.vocabSize)}, context ${formatTokens(m.maxContext)}`,
    `  attention   ${attention}${m.attentionBias ? ', q/k/v bias' : ''}`,
    `  window      ${m.slidingWindow === null ? 'none (global attention)' : `${m.slidingWindow} tokens on ${m.slidingWindowPattern === 'alternate' ? 'every other layer (even layers)' : m.slidingWindowPattern === 'interleaved' ? `${m.slidingLayers ?? 0} of ${m.numLayers} layers (the rest global)` : 'every layer'}`}`,
  ];
  if (m.moe) {
    lines.push(`  MoE         ${m.moe.experts} experts, ${m.moe.activeExperts} active per token${m.moe.sharedExperts ? `, ${m.moe.sharedExperts} shared` : ''}, expert FFN ${m.moe.expertIntermediateSize}${m.moe.denseLayers ? `, first ${m.moe.denseLayers} layers dense` : ''}`);
  }
  lines.push(
    `  norm        ${m.norm} (eps ${m.normEps}), ${m.position === 'rope' ? `RoPE theta ${formatInteger(m.ropeTheta ?? 0)}` : 'learned positions'}, ${m.hiddenAct}, tied embeddings ${m.tieWordEmbeddings ? 'yes' : 'no'}`,
    `  KV cache    ${formatInteger(r.kvCache.bytesPerTokenFp16)} B/token at fp16; ${formatBytes(r.kvCache.bytesAtMaxContextFp16)} per sequence at ${formatTokens(m.maxContext)} (${r.kvCache.formula})`,
    '  weights',
  );
  if (r.stored) {
    const s = r.stored;
    const mix = s.dtypes.map((d) => `${d.dtype} ${formatParams(d.params)} (${formatBytes(d.bytes)})`).join(', ');
    lines.splice(lines.length - 1, 0, `  stored      ${formatInteger(s.params)} parameters in ${s.tensors} tensors, ${s.files} ${s.basis} file${s.files === 1 ? '' : 's'}: ${mix}`);
  }
  if (r.gguf) {
    const g = r.gguf;
    lines.splice(lines.length - 1, 0, `  gguf        ${g.fileType ?? 'mixed'} (v${g.version}, ${g.architecture}), ${formatBytes(g.fileBytes)} file = ${formatBytes(g.dataOffset)} header + ${formatBytes(g.tensorBytes)} tensors (${g.weights.bitsPerParam.toFixed(2)} bits/param); runs in ${g.engine}`);
  }
  for (const [format, w] of Object.entries(r.weights)) {
    const float = w.floatTensors.length > 0 ? `; ${w.floatDtype}: ${w.floatTensors.join(', ')}` : '';
    const int4 = w.int4 ? ` (block ${w.int4.blockSize}, ${w.int4.symmetric ? 'symmetric' : 'asymmetric'}, ${w.int4.scaleDtype} scales: ${w.int4.bitsPerWeight} bits/weight)` : '';
    lines.push(`    ${format.padEnd(6)} ${formatBytes(w.totalBytes).padStart(10)}  ${w.bitsPerParam.toFixed(2)} bits/param${int4}${float}`);
  }
  lines.push('  llama.cpp   (GGUF presets, llama-quantize mix rules)');
  for (const [preset, w] of Object.entries(r.llamaCpp)) {
    lines.push(`    ${preset.padEnd(6)} ${formatBytes(w.totalBytes).padStart(10)}  ${w.bitsPerParam.toFixed(2)} bits/param; ${w.types.map((t) => `${t.type} ${formatBytes(t.bytes)}`).join(', ')}`);
  }
  if (r.topology) lines.push(...renderModelTopology(r.topology));
  for (const q of m.scores ?? []) lines.push(`  quality     ${q.metric}: ${q.score.toFixed(1)} (${q.date}, ${q.source})`);
  if (m.onnxRepo) lines.push(`  ONNX        ${m.onnxRepo}${m.onnxStatus && m.onnxStatus !== 'confirmed' ? ` (${m.onnxStatus === 'sibling' ? 'export of the Instruct sibling' : 'unconfirmed'})` : ''}`);
  for (const note of new Set([...(m.notes ?? []), ...r.notes])) lines.push(`  note        ${note}`);
  return lines;
}

function renderModelTopology(t: ModelTopology): string[] {
  const lines = [`  layouts     on ${t.device} (${t.gpusPerNode} GPU${t.gpusPerNode === 1 ? '' : 's'} per node × ${t.nodes} node${t.nodes === 1 ? '' : 's'}), ${formatTokens(t.context)} tokens × ${t.concurrency}`];
  for (const f of t.formats) {
    if (!f.topology) {
      lines.push(`    ${f.format.padEnd(6)} does not fit: ${f.reason ?? ''}`);
      continue;
    }
    const p = f.topology;
    const layout = [`TP ${p.tp}`, ...(p.pp > 1 ? [`PP ${p.pp}`] : []), ...(p.dp > 1 ? [`DP ${p.dp}`] : [])].join(' × ');
    const comm = (p.communication.decodeTpSec + p.communication.decodePpSec) * 1000;
    lines.push(
      `    ${f.format.padEnd(6)} ${layout.padEnd(16)} ${formatBytes(p.perGpu.totalBytes)} of ${formatBytes(p.perGpu.usableBytes)} per GPU; decode ≈ ${f.decodeTokPerSec === null ? '?' : f.decodeTokPerSec.toFixed(1)} tok/s per stream (${comm.toFixed(2)} ms communication per step), TTFT ≈ ${f.ttftMs === null ? '?' : Math.round(f.ttftMs)} ms`,
    );
  }
  return lines;
}
