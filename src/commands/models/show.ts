import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { countParams, findModel, loadCatalog, readModelSpecFromConfigFile, type ModelSpec } from '../../catalog/index.js';
import { ModelscoutError } from '../../errors.js';
import { kvCacheBreakdown, kvCacheBytesPerToken } from '../../estimate/kv-cache.js';
import { WEIGHT_FORMATS, weightBytes, type WeightBreakdown, type WeightFormat } from '../../estimate/weights.js';
import { formatBytes, formatInteger, formatParams, formatPercent, formatTokens } from '../../util/format.js';
import { hardwareOverridesFromFlags } from '../../cli/hardware-flags.js';
import { topologyFlags, topologyFromFlags } from '../../cli/topology-flags.js';
import { gpuOverrideKeys } from '../../hardware/accelerators.js';
import type { ModelTopology } from '../../recommend/model-topology.js';

export interface ModelShowResult {
  model: ModelSpec;
  params: { total: number; active: number; embedding: number; published: number | null; deviationFromPublished: number | null };
  kvCache: {
    bytesPerTokenFp16: number;
    /** fp16 KV bytes of one sequence at the model's maximum context (sliding layers capped at their window). */
    bytesAtMaxContextFp16: number;
    formula: string;
    slidingLayers: number;
  };
  weights: Record<WeightFormat, WeightBreakdown>;
  /** With --gpus / --nodes / --gpu: each GPU format laid out on that cluster. */
  topology?: ModelTopology;
}

export default class ModelsShow extends BaseCommand {
  static override summary = 'Show one model in full: architecture, parameter counts, KV cache per token, weight bytes per format.';
  static override description =
    'ID is a catalog id (see `modelscout models`); --config reads any Hugging Face config.json instead (llama, mistral, qwen2, qwen3, gemma2, phi3, mixtral, qwen3_moe, deepseek_v3, gpt2).';

  static override examples = [
    '<%= config.bin %> models show llama-3.1-8b',
    '<%= config.bin %> models show --config ./my-model/config.json --json',
  ];

  static override args = {
    id: Args.string({ description: 'catalog id of the model', required: false }),
  };

  static override flags = {
    config: Flags.string({ description: 'a Hugging Face config.json to read instead of a catalog id', helpValue: 'FILE' }),
    catalog: Flags.string({ description: 'extra catalog file (JSON or YAML) to look the id up in', helpValue: 'FILE' }),
    gpu: Flags.string({ description: `with --gpus/--nodes: the GPU model, optionally how many per node (${gpuOverrideKeys().join(', ')}); default the detected GPUs`, helpValue: 'H100-80GB[x8]', helpGroup: 'HARDWARE' }),
    ...topologyFlags,
    context: Flags.integer({ description: 'with a layout: tokens per sequence the KV cache holds and TTFT is quoted at', default: 2048, min: 1, max: 10_000_000 }),
    concurrency: Flags.integer({ description: 'with a layout: sequences served at once', default: 1, min: 1, max: 100_000 }),
  };

  async run(): Promise<ModelShowResult> {
    const { args, flags } = await this.parse(ModelsShow);
    if ((args.id === undefined) === (flags.config === undefined)) {
      throw new ModelscoutError('E_USAGE', args.id === undefined ? 'give a model id or --config FILE' : 'give either a model id or --config FILE, not both', {
        suggestions: ['Run `modelscout models` for the ids, e.g. `modelscout models show qwen2.5-0.5b`.'],
      });
    }
    const spec = flags.config !== undefined
      ? await readModelSpecFromConfigFile(flags.config)
      : findModel(args.id!, loadCatalog(flags.catalog === undefined ? {} : { extraCatalogFile: flags.catalog }));
    const result: ModelShowResult = describeModel(spec);
    const request = topologyFromFlags(flags);
    if (request !== undefined || flags.gpu !== undefined) {
      // Loaded only when a layout is asked for: plain `models show` stays quick to start.
      const [{ detectHardware }, { planModelTopology }] = await Promise.all([import('../../hardware/detect.js'), import('../../recommend/model-topology.js')]);
      const hardware = await detectHardware({ probe: false, overrides: hardwareOverridesFromFlags({ gpu: flags.gpu }) });
      result.topology = planModelTopology(spec, hardware, request ?? {}, { context: flags.context, concurrency: flags.concurrency });
    }
    if (!this.jsonEnabled()) for (const line of renderModel(result)) this.log(line);
    return result;
  }
}

export function describeModel(spec: ModelSpec): ModelShowResult {
  const counts = countParams(spec);
  const kvMax = kvCacheBreakdown(spec, { tokens: spec.maxContext, dtype: 'fp16' });
  const weights = Object.fromEntries(WEIGHT_FORMATS.map((f) => [f, weightBytes(spec, f)])) as Record<WeightFormat, WeightBreakdown>;
  return {
    model: spec,
    params: {
      total: counts.total,
      active: counts.active,
      embedding: counts.embedding,
      published: spec.paramsPublished,
      deviationFromPublished: spec.paramsPublished ? (counts.total - spec.paramsPublished) / spec.paramsPublished : null,
    },
    kvCache: { bytesPerTokenFp16: kvCacheBytesPerToken(spec, 'fp16'), bytesAtMaxContextFp16: kvMax.totalBytes, formula: kvMax.formula, slidingLayers: kvMax.slidingLayers },
    weights,
  };
}

function renderModel(r: ModelShowResult): string[] {
  const m = r.model;
  const attention = m.mla
    ? `MLA (kv_lora_rank ${m.mla.kvLoraRank}, q_lora_rank ${m.mla.qLoraRank ?? 'none'}, qk_nope ${m.mla.qkNopeHeadDim} + qk_rope ${m.mla.qkRopeHeadDim}, v ${m.mla.vHeadDim}), ${m.numHeads} heads`
    : `${m.attentionKind.toUpperCase()}: ${m.numHeads} query heads, ${m.numKvHeads} KV heads, head_dim ${m.headDim}${m.headDim * m.numHeads !== m.hiddenSize ? ` (explicit; hidden/heads would be ${m.hiddenSize / m.numHeads})` : ''}`;
  const lines = [
    `${m.name}${m.hfRepo ? ` (${m.hfRepo})` : ''}`,
    `  family ${m.family}, model_type ${m.modelType}, license ${m.license ?? 'unknown'}`,
    `  params      ${formatParams(r.params.total)} total${m.moe ? `, ${formatParams(r.params.active)} active` : ''} (${formatInteger(r.params.total)} computed${r.params.published ? `; published ${m.paramsPublishedNote ?? formatParams(r.params.published)}, ${formatPercent(r.params.deviationFromPublished ?? 0, 2)} off` : ''}); embeddings ${formatParams(r.params.embedding)}`,
    `  layers      ${m.numLayers}, hidden ${m.hiddenSize}, intermediate ${m.intermediateSize}, vocab ${formatInteger(m.vocabSize)}, context ${formatTokens(m.maxContext)}`,
    `  attention   ${attention}${m.attentionBias ? ', q/k/v bias' : ''}`,
    `  window      ${m.slidingWindow === null ? 'none (global attention)' : `${m.slidingWindow} tokens on ${m.slidingWindowPattern === 'alternate' ? 'every other layer (even layers)' : 'every layer'}`}`,
  ];
  if (m.moe) {
    lines.push(`  MoE         ${m.moe.experts} experts, ${m.moe.activeExperts} active per token${m.moe.sharedExperts ? `, ${m.moe.sharedExperts} shared` : ''}, expert FFN ${m.moe.expertIntermediateSize}${m.moe.denseLayers ? `, first ${m.moe.denseLayers} layers dense` : ''}`);
  }
  lines.push(
    `  norm        ${m.norm} (eps ${m.normEps}), ${m.position === 'rope' ? `RoPE theta ${formatInteger(m.ropeTheta ?? 0)}` : 'learned positions'}, ${m.hiddenAct}, tied embeddings ${m.tieWordEmbeddings ? 'yes' : 'no'}`,
    `  KV cache    ${formatInteger(r.kvCache.bytesPerTokenFp16)} B/token at fp16; ${formatBytes(r.kvCache.bytesAtMaxContextFp16)} per sequence at ${formatTokens(m.maxContext)} (${r.kvCache.formula})`,
    '  weights',
  );
  for (const [format, w] of Object.entries(r.weights)) {
    const float = w.floatTensors.length > 0 ? `; ${w.floatDtype}: ${w.floatTensors.join(', ')}` : '';
    const int4 = w.int4 ? ` (block ${w.int4.blockSize}, ${w.int4.symmetric ? 'symmetric' : 'asymmetric'}, ${w.int4.scaleDtype} scales: ${w.int4.bitsPerWeight} bits/weight)` : '';
    lines.push(`    ${format.padEnd(6)} ${formatBytes(w.totalBytes).padStart(10)}  ${w.bitsPerParam.toFixed(2)} bits/param${int4}${float}`);
  }
  if (r.topology) lines.push(...renderModelTopology(r.topology));
  if (m.onnxRepo) lines.push(`  ONNX        ${m.onnxRepo}${m.onnxStatus && m.onnxStatus !== 'confirmed' ? ` (${m.onnxStatus === 'sibling' ? 'export of the Instruct sibling' : 'unconfirmed'})` : ''}`);
  for (const note of m.notes ?? []) lines.push(`  note        ${note}`);
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
