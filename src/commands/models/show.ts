import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { countParams, readModelSpecFromConfigFile, type ModelSpec } from '../../catalog/index.js';
import { catalogInUse, ggufWeightsOf, resolveModelRefs } from '../../cli/model-source.js';
import { ModelscoutError } from '../../errors.js';
import { GGUF_PRESETS, ggufPresetWeights, type GgufWeights } from '../../estimate/gguf.js';
import type { GgufSummary, ResolvedModel } from '../../hub/resolve-model.js';
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
  /** Where the facts came from: the reference as given, its kind, and the Hub commit or file read. */
  source: { reference: string; kind: ResolvedModel['kind']; repo?: string; revision?: string; commit?: string; path?: string; fromCache?: boolean };
  /** Exact figures of the stored weights (safetensors headers or GGUF tensor infos), when they were read. */
  stored: ResolvedModel['stored'];
  /** A GGUF file's header: file type, the bytes of each ggml type, what llama.cpp runs. */
  gguf: (Omit<GgufSummary, 'tensors'> & { weights: GgufWeights }) | null;
  /** The bytes llama.cpp's quantizer would write in each preset (its mix rules applied to this architecture). */
  llamaCpp: Record<string, GgufWeights>;
  notes: string[];
}

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

  async run(): Promise<ModelShowResult> {
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
    if (!this.jsonEnabled()) for (const line of renderModel(result)) this.log(line);
    return result;
  }
}

export function describeModel(spec: ModelSpec, resolved?: ResolvedModel): ModelShowResult {
  const counts = countParams(spec);
  const kvMax = kvCacheBreakdown(spec, { tokens: spec.maxContext, dtype: 'fp16' });
  const weights = Object.fromEntries(WEIGHT_FORMATS.map((f) => [f, weightBytes(spec, f)])) as Record<WeightFormat, WeightBreakdown>;
  const llamaCpp = Object.fromEntries(LLAMA_CPP_SHOWN.map((p) => [p, ggufPresetWeights(spec, p)]));
  const { source = {}, stored = null, gguf = null, notes = [], kind = 'catalog', reference = spec.id } = resolved ?? {};
  return {
    model: spec,
    params: {
      total: spec.paramsTotal,
      active: spec.paramsActive,
      embedding: counts.embedding,
      published: spec.paramsPublished,
      deviationFromPublished: spec.paramsPublished ? (spec.paramsTotal - spec.paramsPublished) / spec.paramsPublished : null,
    },
    kvCache: { bytesPerTokenFp16: kvCacheBytesPerToken(spec, 'fp16'), bytesAtMaxContextFp16: kvMax.totalBytes, formula: kvMax.formula, slidingLayers: kvMax.slidingLayers },
    weights,
    source: { reference, kind, ...source },
    stored,
    gguf: gguf ? { ...withoutTensors(gguf), weights: ggufWeightsOf(gguf, spec) } : null,
    llamaCpp,
    notes,
  };
}

function withoutTensors(gguf: GgufSummary): Omit<GgufSummary, 'tensors'> {
  const { tensors: _tensors, ...rest } = gguf;
  return rest;
}

/** The llama.cpp presets `models show` lists. */
const LLAMA_CPP_SHOWN = GGUF_PRESETS.filter((p) => ['Q8_0', 'Q6_K', 'Q5_K_M', 'Q4_K_M', 'Q4_0'].includes(p));

function renderModel(r: ModelShowResult): string[] {
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
