import type { ModelSpec } from '../catalog/model-spec.js';
import type { CatalogInfo } from '../catalog/user-catalog.js';
import { ModelscoutError } from '../errors.js';
import {
  DEFAULT_HEADROOM_FRACTION,
  defaultEfficiency,
  describeLayout,
  estimateSpeed,
  fitMemory,
  proposeTopology,
  clusterDevice,
  clusterGpuOf,
  resolveInterconnect,
  type DeviceTarget,
  type TopologyRequest,
  type WeightFormat,
} from '../estimate/index.js';
import { ACCELERATORS, type AcceleratorSpec } from '../hardware/accelerators.js';
import type { Hardware } from '../hardware/detect.js';
import { GPU_RUNTIME_OVERHEAD_BYTES, acceleratorAsClusterGpu, cpuTarget, gpuTarget } from '../hardware/device.js';
import type { DecisionTree } from '../tree/schema.js';
import { describeParamRange } from '../tree/render.js';
import type { Requirements } from './requirements.js';
import {
  FINETUNE_DEFAULTS,
  FORMAT_LADDER,
  RANKING_BASIS,
  belowSizeClass,
  describeEpoch,
  estimateFinetune,
  evaluateModel,
  inSizeClass,
  qualityProxy,
  rankEvaluations,
  toCandidate,
  withFinetune,
  type EfficiencyLookup,
  type Evaluation,
  type FixedWeights,
} from './rank.js';
import { RECOMMENDATION_SCHEMA_VERSION, type DeviceSummary, type ExcludedModel, type HardwareNeeded, type ProposedTopology, type Recommendation } from './types.js';
import { serveCommands } from './serve-commands.js';
import { formatCoarseDuration } from '../util/format.js';

export interface RecommendInput {
  tree: DecisionTree;
  requirements: Requirements;
  hardware: Hardware;
  catalog: ModelSpec[];
  /** How many candidates to list (and alternatives when nothing fits). */
  top: number;
  /** Accelerators the "hardware needed" advice may name (default: the NVIDIA entries of the known table). */
  accelerators?: readonly AcceleratorSpec[];
  /** Calibrated efficiencies per device and weight format (measurements on this machine); defaults otherwise. */
  efficiencyFor?: EfficiencyLookup;
  /** GPUs per node, nodes and links (`--gpus`, `--nodes`, `--interconnect`); else the detected GPUs, one node. */
  topology?: TopologyRequest;
  /** Models the user named (`--model`): ranked whatever their size class. */
  models?: GivenModel[];
  /** Which models are ranked: the class's catalog models, the given ones, or both (default: the given ones when any, else the class). */
  candidatesFrom?: CandidatesFrom;
  /** Which catalog `catalog` is, for the report (absent: not said). */
  catalogInfo?: CatalogInfo;
}

export const CANDIDATES_FROM = ['class', 'models', 'both'] as const;
export type CandidatesFrom = (typeof CANDIDATES_FROM)[number];

/** A model named by the user, resolved: its spec and, for a GGUF file, the weights it holds. */
export interface GivenModel {
  reference: string;
  spec: ModelSpec;
  fixed?: FixedWeights;
  /** The model's parsed config.json where one was read: what a synthetic build needs beyond the spec (rope_scaling). */
  config?: Record<string, unknown>;
}

/** At most this many cards are suggested for a class (beyond it, the advice is "a cluster"). */
const MAX_CARDS = 8;

/**
 * The devices a recommendation considers. `auto` takes every device there is, GPUs and the CPU, and each
 * model lands on the best one (see `evaluateModel`), so a model too big for the VRAM can still be offered
 * on the CPU's RAM, ranked below anything that meets the targets.
 */
export function devicesFor(hardware: Hardware, preference: Requirements['device'], topology: TopologyRequest = {}): DeviceTarget[] {
  const gpu = gpusAsCluster(gpuTarget(hardware), topology);
  if (preference === 'cpu') return [cpuTarget(hardware)];
  if (preference === 'gpu') {
    if (gpu === null) {
      throw new ModelscoutError('E_INPUT', 'no GPU detected (nvidia-smi found none) but --device gpu was given', {
        suggestions: ['Use --device cpu or auto, or ask "what if" with --gpu H100-80GB (or --vram 24GiB).'],
      });
    }
    return [gpu];
  }
  return gpu === null ? [cpuTarget(hardware)] : [gpu, cpuTarget(hardware)];
}

/**
 * Several GPUs (detected or asked for with --gpus / --nodes) become a cluster the planner lays models out on
 * with TP / PP / DP and their communication; one GPU on one node stays a single device.
 */
export function gpusAsCluster(gpu: DeviceTarget | null, topology: TopologyRequest): DeviceTarget | null {
  if (topology.gpusPerNode !== undefined && gpu === null) {
    throw new ModelscoutError('E_INPUT', `--gpus ${topology.gpusPerNode} needs a GPU model, and none was detected`, {
      suggestions: ['Name it with --gpu, e.g. --gpu H100-80GB --gpus 8 --nodes 2.'],
    });
  }
  if (gpu === null) return null;
  const gpusPerNode = topology.gpusPerNode ?? gpu.count;
  const nodes = topology.nodes ?? 1;
  if (gpusPerNode * nodes <= 1 && topology.interconnect === undefined) return gpu;
  const card = clusterGpuOf(gpu);
  return clusterDevice({ gpu: card, gpusPerNode, nodes, interconnect: resolveInterconnect(card.name, nodes, topology.interconnect) });
}

/**
 * From resolved requirements and the hardware to a `Recommendation`: the leaf's class filtered from the
 * catalog, each model evaluated (format needed, memory fit, speed) on the devices, ranked; when nothing of
 * the class fits, the best models below it and what hardware the class would need. Pure: the caller detects
 * the hardware and loads the catalog.
 */
export function recommend(input: RecommendInput): Recommendation {
  const { tree, requirements: req, catalog, top } = input;
  const devices = devicesFor(input.hardware, req.device, input.topology);
  const sizeClass = req.leaf.sizeClass;
  const given = input.models ?? [];
  const from: CandidatesFrom = input.candidatesFrom ?? (given.length > 0 ? 'models' : 'class');
  const classModels = from === 'models' ? [] : catalog.filter((m) => inSizeClass(m, sizeClass));
  const pool: GivenModel[] = [...classModels.map((spec) => ({ reference: spec.id, spec })), ...(from === 'class' ? [] : given)];

  const evaluations: Evaluation[] = [];
  const excluded: ExcludedModel[] = [];
  for (const { spec, fixed } of pool) {
    // Calibrations are ONNX Runtime measurements: a llama.cpp file is estimated at the stated defaults.
    const result = evaluateModel(spec, devices, req.targets, fixed ? undefined : input.efficiencyFor, fixed);
    if (result.ok) evaluations.push(req.leaf.fineTune ? withFinetune(result.evaluation, req.targets.contextTokens, input.efficiencyFor) : result.evaluation);
    else excluded.push({ id: spec.id, name: spec.name, paramsTotal: spec.paramsTotal, reason: result.reason, smallestTotalBytes: result.smallestTotalBytes });
  }
  const ranked = rankEvaluations(evaluations, req.targets);
  const candidates = ranked.slice(0, top).map((e, i) => toCandidate(e, i + 1, req.targets, req.leaf.fineTune));
  excluded.sort((a, b) => a.paramsTotal - b.paramsTotal);

  const classLabel = sizeClass.label;
  const poolText = from === 'models' ? 'the models given' : `the ${classLabel} class`;
  const targetsText = `≥ ${req.targets.decodeTokensPerSec} tok/s per stream and TTFT ≤ ${formatMs(req.targets.maxTtftMs)} at ${req.targets.contextTokens} tokens × ${req.targets.concurrency}`;
  const notes: string[] = [];
  if (given.length > 0 && from !== 'class') {
    const named = given.map((g) => (g.fixed ? `${g.reference} (GGUF ${g.fixed.variant}, llama.cpp)` : g.reference)).join(', ');
    notes.push(from === 'models' ? `Ranked the models given with --model only: ${named}.` : `Ranked the ${classLabel} class of the catalog and the models given with --model: ${named}.`);
  }
  let outcome: Recommendation['outcome'];
  let summary: string;
  let nothingFits: Recommendation['nothingFits'] = null;
  const hardwareNeeded = classModels.length > 0 ? computeHardwareNeeded(classModels, req, input.accelerators ?? ACCELERATORS) : null;

  if (candidates.length === 0) {
    outcome = 'nothing-fits';
    const below = from === 'models' ? [] : catalog.filter((m) => belowSizeClass(m, sizeClass));
    const alternativeEvaluations = below.flatMap((spec) => {
      const r = evaluateModel(spec, devices, req.targets, input.efficiencyFor);
      if (!r.ok) return [];
      return [req.leaf.fineTune ? withFinetune(r.evaluation, req.targets.contextTokens, input.efficiencyFor) : r.evaluation];
    });
    const alternatives = rankEvaluations(alternativeEvaluations, req.targets)
      .slice(0, top)
      .map((e, i) => toCandidate(e, i + 1, req.targets, req.leaf.fineTune));
    const where = describeDevices(devices);
    const smallest = excluded.find((x) => x.smallestTotalBytes !== null);
    const why =
      pool.length === 0
        ? `the catalog holds no model of ${describeParamRange(sizeClass)} parameters`
        : smallest
          ? `even the smallest, ${smallest.name}, needs ${gib(smallest.smallestTotalBytes ?? 0)} GiB in its most compressed format, and ${where} has ${gib(usableOf(devices))} GiB usable`
          : `no model of the class can serve ${req.targets.contextTokens} tokens here`;
    const message = `Nothing of ${poolText} fits here: ${why}.`;
    const alternativesFrom = sizeClass.minParams > 0 ? `below ${describeParamRange({ minParams: 0, maxParams: sizeClass.minParams }).replace('≤', '')}` : 'none (there is no smaller class)';
    nothingFits = { message, alternatives, alternativesFrom };
    summary = alternatives.length > 0 ? `${message} Best alternative below the class: ${alternatives[0]!.name} (${alternatives[0]!.format}).` : message;
  } else if (candidates.some((c) => c.meets.all && c.fit === 'fits')) {
    outcome = 'meets-targets';
    const best = candidates[0]!;
    summary = `${best.name} (${best.variant ?? best.format}${best.engine ? ` in ${best.engine}` : ''}, on the ${best.device.kind.toUpperCase()}) is the best of ${poolText} here and meets every target (${targetsText}).`;
  } else {
    outcome = 'fits-below-targets';
    const best = candidates[0]!;
    const full = evaluations.filter((e) => e.fit === 'fits').length;
    const reduced = evaluations.length - full;
    const count = full > 0 ? `${full} model${full === 1 ? '' : 's'} of ${poolText} fit${full === 1 ? 's' : ''} here` : `models of ${poolText} fit here only at a reduced context (${reduced})`;
    summary = `${count}, but none meets every target (${targetsText}); the best compromise is ${best.name} (${best.format}${best.fit === 'reduced-context' ? `, ≤ ${best.memory.maxContext} tokens` : ''}).`;
  }
  if (req.leaf.fineTune) {
    notes.push(
      `Fine-tuning memory is shown at LoRA rank ${FINETUNE_DEFAULTS.rank}, batch ${FINETUNE_DEFAULTS.batch} × ${req.targets.contextTokens} tokens, on the device each model runs on; its time for one epoch of ${FINETUNE_DEFAULTS.epochTokens / 1e6} M training tokens, from the device's peak FLOP/s. Models whose fine-tuning fits rank first.`,
    );
    const shown = candidates.length > 0 ? candidates : (nothingFits?.alternatives ?? []);
    const top = shown[0];
    const fits = (c: (typeof shown)[number]): boolean => Boolean(c.finetune && (c.finetune.lora.fits || c.finetune.qlora.fits));
    const practical = (c: (typeof shown)[number]): boolean => fits(c) && c.finetune?.epoch.feasible !== false;
    if (top && !shown.some(practical)) {
      const spec = catalog.find((m) => m.id === top.id);
      const plan = spec ? planFinetuneElsewhere(spec, top, req.targets.contextTokens, input.accelerators ?? ACCELERATORS) : null;
      const count = `${shown.length} candidate${shown.length === 1 ? '' : 's'}`;
      // Memory first; where it fits but an epoch takes longer than is practical, say that instead.
      const none = shown.some(fits)
        ? `Fine-tuning fits but is practical on none of the ${count} here (one epoch of ${FINETUNE_DEFAULTS.epochTokens / 1e6} M tokens of ${top.name} takes ${top.finetune?.epoch.seconds ? formatCoarseDuration(top.finetune.epoch.seconds.value) : 'unknown time'}).`
        : `Fine-tuning fits on none of the ${count} here (QLoRA of ${top.name} needs ${gib(top.finetune?.qlora.totalBytes ?? 0)} GiB, ${gib(top.finetune?.qlora.usableBytes ?? 0)} GiB usable).`;
      notes.unshift(plan ? `${none} ${plan}` : `${none} No known GPU holds it: fine-tune on several GPUs, or pick a smaller model.`);
      summary = `${summary} ${none}${plan ? ` ${plan}` : ''}`;
    }
  }
  for (const d of devices) {
    const calibrated = FORMAT_LADDER[d.kind].flatMap((format) => {
      const efficiency = input.efficiencyFor?.(d, format);
      return efficiency?.source === 'calibrated' ? [`${format} (decode ${efficiency.decode.toFixed(3)}, prefill ${efficiency.prefill.toFixed(3)})`] : [];
    });
    if (calibrated.length > 0) {
      notes.push(`Speed estimates on ${d.name} are calibrated from measurements on this machine for ${calibrated.join(', ')}; other formats use the stated default efficiencies (see \`modelscout calibration show\`).`);
    }
    if (d.kind === 'cpu' && d.bandwidthSource === 'default' && d.bandwidthBytesPerSec !== null) {
      notes.push(`The CPU's memory bandwidth is a stated default (${formatRate(d.bandwidthBytesPerSec)}), not measured; \`modelscout hardware --probe\` measures it, and later estimates use the cached figure.`);
    }
    if (d.bandwidthBytesPerSec === null || d.peakFlops === null) {
      notes.push(`The speed of ${d.name} is unknown (not in the accelerator table), so models on it cannot be judged against the targets and rank below those that can; pass --bandwidth (e.g. 900GB/s), or --gpu with a known model.`);
    }
    if (d.peakFlopsSource === 'default') notes.push(`The ${d.kind.toUpperCase()}'s peak FLOP/s (TTFT estimates) is a stated default from its cores, clock and vector width${d.kind === 'cpu' ? '; `modelscout hardware --probe` measures what its kernels deliver' : ''}.`);
  }

  return {
    schemaVersion: RECOMMENDATION_SCHEMA_VERSION,
    kind: 'modelscout.recommendation',
    tree: { id: tree.id, title: tree.title },
    path: req.path,
    leaf: { id: req.leaf.id, label: req.leaf.label, rationale: req.leaf.rationale, sizeClass: req.leaf.sizeClass, fineTune: req.leaf.fineTune },
    latency: req.latency,
    targets: req.targets,
    targetSources: req.targetSources,
    devices: { preference: req.device, considered: devices.map(summarizeDevice) },
    outcome,
    summary,
    ...(from !== 'class' && given.length > 0 ? { candidatesFrom: from } : {}),
    ...(input.catalogInfo ? { catalog: input.catalogInfo } : {}),
    candidates,
    excluded,
    nothingFits,
    hardwareNeeded: outcome === 'meets-targets' ? null : hardwareNeeded,
    ranking: RANKING_BASIS,
    notes,
    confirm: null,
  };
}

/**
 * Where a model that cannot be fine-tuned here could be: the known GPU with the least memory on which its
 * QLoRA fits (LoRA when that fits too), with the time of one epoch there; then it is served here as ranked.
 */
export function planFinetuneElsewhere(spec: ModelSpec, served: Pick<Recommendation['candidates'][number], 'format' | 'device'>, seqLen: number, accelerators: readonly AcceleratorSpec[]): string | null {
  const options = accelerators
    .filter((a): a is AcceleratorSpec & { memoryBytes: number } => a.vendor === 'nvidia' && a.memoryBytes !== null && a.fp16Flops !== null)
    .sort((a, b) => a.memoryBytes - b.memoryBytes);
  for (const acc of options) {
    const device: DeviceTarget = {
      kind: 'gpu',
      name: acc.name,
      count: 1,
      memoryTotalBytes: acc.memoryBytes,
      memoryAvailableBytes: acc.memoryBytes,
      bandwidthBytesPerSec: acc.memoryBandwidthBytesPerSec,
      bandwidthSource: 'known',
      peakFlops: acc.fp16Flops,
      peakFlopsSource: 'known',
      runtimeOverheadBytes: GPU_RUNTIME_OVERHEAD_BYTES,
    };
    const f = estimateFinetune(spec, device, seqLen);
    if (!f.qlora.fits) continue;
    const method = f.lora.fits ? f.lora : f.qlora;
    return `Plan: fine-tune ${spec.name} with ${method.method === 'lora' ? 'LoRA' : 'QLoRA'} on one ${acc.name} (needs ${gib(method.totalBytes)} GiB of ${gib(method.usableBytes)} GiB usable; ${describeEpoch(f.time, '')}), then serve the adapted model here (${served.format} on the ${served.device.kind.toUpperCase()}).`;
  }
  return null;
}

/**
 * What the class's smallest model (most compressed GPU format) needs to fit and meet the targets: free
 * memory with headroom, bandwidth for the decode target and FLOP/s for the TTFT target at the default GPU
 * efficiencies, and the fewest known accelerators that provide all three.
 */
export function computeHardwareNeeded(classModels: ModelSpec[], req: Requirements, accelerators: readonly AcceleratorSpec[]): HardwareNeeded | null {
  const { contextTokens: context, concurrency, decodeTokensPerSec, maxTtftMs } = req.targets;
  const format: WeightFormat = FORMAT_LADDER.gpu[FORMAT_LADDER.gpu.length - 1]!;
  const huge: DeviceTarget = {
    kind: 'gpu',
    name: 'hypothetical GPU',
    count: 1,
    memoryTotalBytes: Number.MAX_SAFE_INTEGER,
    memoryAvailableBytes: Number.MAX_SAFE_INTEGER,
    bandwidthBytesPerSec: 1e12,
    bandwidthSource: 'known',
    peakFlops: 1e15,
    peakFlopsSource: 'known',
    runtimeOverheadBytes: 0,
  };
  const usable = classModels.filter((m) => m.maxContext >= context);
  if (usable.length === 0) return null;
  const sized = usable
    .map((spec) => ({ spec, fit: fitMemory({ spec, format, context, concurrency, device: huge, headroomFraction: 0 }) }))
    .sort((a, b) => a.fit.totalBytes - b.fit.totalBytes);
  const { spec, fit } = sized[0]!;
  const speed = estimateSpeed({ spec, format, context, promptTokens: context, concurrency, device: huge });
  const efficiency = defaultEfficiency({ kind: 'gpu', bandwidthSource: 'known' });
  const bytesPerStep = speed.basis.weightBytesPerStep + speed.basis.kvBytesPerStep;
  const bandwidth = (decodeTokensPerSec * bytesPerStep) / efficiency.decode;
  const flops = speed.basis.prefillFlops / ((maxTtftMs / 1000) * efficiency.prefill);
  const memoryFor = (cards: number): number => (fit.totalBytes + cards * GPU_RUNTIME_OVERHEAD_BYTES) / (1 - DEFAULT_HEADROOM_FRACTION);

  const options: HardwareNeeded['options'] = [];
  for (const acc of accelerators) {
    if (acc.vendor !== 'nvidia' || acc.memoryBytes === null || acc.fp16Flops === null) continue;
    for (let cards = 1; cards <= MAX_CARDS; cards += 1) {
      if (cards * acc.memoryBytes >= memoryFor(cards) && cards * acc.memoryBandwidthBytesPerSec >= bandwidth && cards * acc.fp16Flops >= flops) {
        options.push({ name: acc.name, count: cards, memoryBytes: acc.memoryBytes * cards, bandwidthBytesPerSec: acc.memoryBandwidthBytesPerSec * cards });
        break;
      }
    }
  }
  options.sort((a, b) => a.count - b.count || a.memoryBytes - b.memoryBytes);
  const memoryBytes = Math.round(memoryFor(1));
  const listed = options.slice(0, 4).map((o) => `${o.count}× ${o.name}`);
  const message =
    `To fit and meet the targets, the smallest of the class, ${spec.name} at ${format}, needs ≈ ${gib(memoryBytes)} GiB of free memory, ≈ ${formatRate(bandwidth)} of memory bandwidth (${decodeTokensPerSec} tok/s per stream) and ≈ ${formatFlopRate(flops)} (TTFT ≤ ${formatMs(maxTtftMs)})` +
    (listed.length > 0 ? `: for example ${listed.join(', or ')}.` : `: more than ${MAX_CARDS} of any known GPU.`);
  const strongest = [...usable].sort((a, b) => qualityProxy(b) - qualityProxy(a))[0]!;
  const models = strongest.id === spec.id ? [spec] : [strongest, spec];
  const topologies = models.flatMap((m) => proposeTopologies(m, format, req, accelerators));
  return {
    model: { id: spec.id, name: spec.name, format },
    context,
    concurrency,
    memoryBytes,
    bandwidthBytesPerSec: Math.round(bandwidth),
    peakFlops: Math.round(flops),
    options: options.slice(0, 6),
    message,
    topologies,
  };
}

/** GPUs a deployment past one machine is proposed on, in this order (when the accelerator table has them). */
export const CLUSTER_GPUS = ['H100-80GB', 'H200', 'A100-80GB', 'L40S'] as const;

/** Nodes of 8 GPUs a proposal may span. */
const MAX_PROPOSAL_NODES = 4;

/**
 * For one model of the class: on each cluster GPU, the smallest deployment (GPUs, nodes, TP × PP) that fits
 * and meets the targets — or only fits, said so — with the vLLM and SGLang commands that serve it.
 */
export function proposeTopologies(spec: ModelSpec, format: WeightFormat, req: Requirements, accelerators: readonly AcceleratorSpec[]): ProposedTopology[] {
  const { contextTokens: context, concurrency } = req.targets;
  const out: ProposedTopology[] = [];
  for (const key of CLUSTER_GPUS) {
    const acc = accelerators.find((a) => a.key === key);
    if (!acc || acc.memoryBytes === null) continue;
    const gpu = acceleratorAsClusterGpu({ ...acc, memoryBytes: acc.memoryBytes });
    const proposal = proposeTopology(spec, format, gpu, { context, promptTokens: context, concurrency }, req.targets, { maxNodes: MAX_PROPOSAL_NODES });
    if (!proposal) continue;
    const { plan } = proposal;
    const gpus = proposal.gpusPerNode * proposal.nodes;
    const where = proposal.nodes === 1 ? 'one node' : `${proposal.nodes} nodes × ${proposal.gpusPerNode}`;
    const summary = `${spec.name} ${format}: ${gpus}× ${acc.name}, ${describeLayout(plan.layout)}, ${where}${proposal.meetsTargets ? '' : ' (fits; misses the targets)'}`;
    out.push({
      model: { id: spec.id, name: spec.name, format, hfRepo: spec.hfRepo },
      gpu: { key: acc.key, name: acc.name },
      gpusPerNode: proposal.gpusPerNode,
      nodes: proposal.nodes,
      tp: plan.layout.tp,
      pp: plan.layout.pp,
      meetsTargets: proposal.meetsTargets,
      decodeTokPerSec: plan.decode.tokPerSecPerStream,
      ttftMs: plan.prefill.ttftMs,
      perGpuBytes: Math.round(plan.perGpu.totalBytes),
      usablePerGpuBytes: Math.round(plan.perGpu.usableBytes),
      summary,
      commands: serveCommands({ model: spec, format, tp: plan.layout.tp, pp: plan.layout.pp, nodes: proposal.nodes, context, concurrency }),
    });
  }
  return out;
}

function summarizeDevice(d: DeviceTarget): DeviceSummary {
  return {
    kind: d.kind,
    name: d.name,
    count: d.count,
    memoryAvailableBytes: d.memoryAvailableBytes,
    memoryTotalBytes: d.memoryTotalBytes,
    bandwidthBytesPerSec: d.bandwidthBytesPerSec,
    bandwidthSource: d.bandwidthSource,
    peakFlops: d.peakFlops,
    peakFlopsSource: d.peakFlopsSource,
  };
}

function describeDevices(devices: DeviceTarget[]): string {
  if (devices.length === 1) return devices[0]!.kind === 'gpu' ? 'the GPU' : 'this machine';
  return 'the largest device';
}

function usableOf(devices: DeviceTarget[]): number {
  return Math.max(...devices.map((d) => d.memoryAvailableBytes * (1 - DEFAULT_HEADROOM_FRACTION)));
}

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toPrecision(3))} s` : `${Math.round(ms)} ms`;
}

function formatFlopRate(flops: number): string {
  return flops >= 1e12 ? `${Number((flops / 1e12).toPrecision(3))} TFLOP/s` : `${Number((flops / 1e9).toPrecision(3))} GFLOP/s`;
}

function formatRate(bytesPerSec: number): string {
  return bytesPerSec >= 1e12 ? `${(bytesPerSec / 1e12).toFixed(2)} TB/s` : `${Math.round(bytesPerSec / 1e9)} GB/s`;
}
