import type { ModelSpec } from '../catalog/model-spec.js';
import { invalidValue } from '../errors.js';
import {
  INTERCONNECT_KINDS,
  defaultEfficiency,
  errorBand,
  type Cluster,
  type ClusterGpu,
  type DeviceTarget,
  type Efficiency,
  type Interconnect,
  type InterconnectKind,
  type Layout,
  type Link,
} from './device.js';
import { DEFAULT_HEADROOM_FRACTION, defaultKvDtype, gpuActivationBytes, servingBatchLimits, type MemoryFit } from './fit.js';
import { kvCacheBreakdown, type KvDtype } from './kv-cache.js';
import { estimateSpeed, type Banded, type SpeedEstimate } from './speed.js';
import { weightBytes, type WeightBytesOptions, type WeightFormat } from './weights.js';

/**
 * Multi-GPU and multi-node layouts: tensor parallel (TP) inside a node, pipeline parallel (PP) across
 * stages, data parallel (DP) replicas over what is left. Pure: a `Cluster` and a model in, per-GPU memory,
 * fit and speed with the communication each step pays out. The per-device roofline is `estimateSpeed`'s;
 * this module adds what sharding costs on top of it.
 */



/**
 * Stated link figures. Bandwidths are datasheet rates per GPU in one direction; latencies are the order of
 * a small-message all-reduce or send (nccl-tests `all_reduce_perf` at a few KiB), which is what decode pays
 * per layer — assumptions, stated so a measurement can replace them.
 */
export const LINKS: Record<InterconnectKind, Link> = {
  // H100 SXM: NVLink 4, 900 GB/s bidirectional per GPU (H100 datasheet) → 450 GB/s each way.
  nvlink: { kind: 'nvlink', bytesPerSec: 450e9, latencySec: 10e-6, source: 'NVLink 4 (H100 SXM datasheet: 900 GB/s bidirectional per GPU); ~10 µs per small all-reduce' },
  // PCIe 4.0 x16: 16 GT/s × 16 lanes ≈ 32 GB/s each way (PCI-SIG); collectives go through the host bridge.
  pcie: { kind: 'pcie', bytesPerSec: 32e9, latencySec: 25e-6, source: 'PCIe 4.0 x16 (≈ 32 GB/s each way, PCI-SIG); ~25 µs per small all-reduce' },
  // InfiniBand NDR: 400 Gb/s per port, one ConnectX-7 port per GPU as in a DGX H100 (NVIDIA DGX H100 user guide).
  ib: { kind: 'ib', bytesPerSec: 50e9, latencySec: 30e-6, source: 'InfiniBand NDR, 400 Gb/s per GPU (one ConnectX-7 port per GPU, DGX H100); ~30 µs per small collective' },
  // 100 GbE per node shared by its GPUs, TCP or RoCE without GPUDirect.
  ethernet: { kind: 'ethernet', bytesPerSec: 12.5e9, latencySec: 60e-6, source: '100 Gb Ethernet per node (12.5 GB/s, shared by the GPUs of the node); ~60 µs per small collective' },
};

/** NVLink per GPU for the SXM parts the accelerator table knows (bytes/s one way). */
const NVLINK_BY_GPU: { match: RegExp; bytesPerSec: number; source: string }[] = [
  { match: /\bH(100|200)\b(?!.*PCIe)/i, bytesPerSec: 450e9, source: 'NVLink 4: 900 GB/s bidirectional per GPU (H100/H200 SXM datasheets)' },
  { match: /\bA100\b/i, bytesPerSec: 300e9, source: 'NVLink 3: 600 GB/s bidirectional per GPU (A100 SXM datasheet)' },
];





/**
 * `--interconnect`: `nvlink`, `pcie`, `ib`, `ethernet`, a bandwidth (`200GB/s`, per GPU one way), or two of
 * them joined by a comma — the link inside a node, then between nodes (`nvlink,ib`). One kind fills its own
 * side (nvlink/pcie: inside a node; ib/ethernet: between nodes) and the default takes the other; one bandwidth
 * applies between nodes when there are several, else inside the node.
 */
export interface InterconnectRequest {
  intraNode?: Link;
  interNode?: Link;
  /** A bandwidth given alone: which side it lands on depends on the node count. */
  either?: Link;
}

/** What `--gpus`, `--nodes` and `--interconnect` asked for; unset parts come from the hardware. */
export interface TopologyRequest {
  gpusPerNode?: number;
  nodes?: number;
  interconnect?: InterconnectRequest;
}

export function parseInterconnect(text: string): InterconnectRequest {
  const parts = text.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (parts.length === 0 || parts.length > 2) throw invalidInterconnect(text);
  const links = parts.map((p) => parseLink(p, text));
  if (links.length === 2) return { intraNode: links[0]!, interNode: links[1]! };
  const link = links[0]!;
  if (link.kind === 'nvlink' || link.kind === 'pcie') return { intraNode: link };
  if (link.kind === 'ib' || link.kind === 'ethernet') return { interNode: link };
  return { either: link };
}

function parseLink(part: string, whole: string): Link {
  if ((INTERCONNECT_KINDS as readonly string[]).includes(part)) return LINKS[part as InterconnectKind];
  const match = /^(\d+(?:\.\d+)?)\s*(gb\/s|gbps|gb\/sec)$/.exec(part);
  if (!match) throw invalidInterconnect(whole);
  const gb = Number(match[1]);
  if (!(gb > 0)) throw invalidInterconnect(whole);
  // "Gbps" is bits; "GB/s" bytes.
  const bytesPerSec = match[2] === 'gbps' ? (gb * 1e9) / 8 : gb * 1e9;
  return { kind: 'custom', bytesPerSec, latencySec: 30e-6, source: `given bandwidth ${part} per GPU one way; ~30 µs per small collective (assumed)` };
}

function invalidInterconnect(text: string): Error {
  return invalidValue('--interconnect', text, 'nvlink, pcie, ib, ethernet, a bandwidth such as 200GB/s or 400Gbps, or two joined by a comma (inside a node, between nodes: nvlink,ib)');
}

/** The links a cluster uses: what was asked, else NVLink for SXM parts (PCIe for others) and InfiniBand between nodes. */
export function resolveInterconnect(gpuName: string, nodes: number, request: InterconnectRequest = {}): Interconnect {
  const nvlink = NVLINK_BY_GPU.find((n) => n.match.test(gpuName));
  const defaultIntra: Link = nvlink ? { ...LINKS.nvlink, bytesPerSec: nvlink.bytesPerSec, source: `${nvlink.source}; ~10 µs per small all-reduce` } : LINKS.pcie;
  let intra = request.intraNode ?? defaultIntra;
  if (intra.kind === 'nvlink' && nvlink) intra = { ...intra, bytesPerSec: nvlink.bytesPerSec, source: `${nvlink.source}; ~10 µs per small all-reduce` };
  let inter = request.interNode ?? LINKS.ib;
  if (request.either) {
    if (nodes > 1) inter = request.either;
    else intra = request.either;
  }
  return { intraNode: intra, interNode: nodes > 1 ? inter : null };
}

/**
 * Whether TP of `tp` shards this model's attention evenly, as vLLM and SGLang require: the query heads
 * divide by `tp`; KV heads divide by `tp`, or when there are fewer KV heads than ranks, `tp` divides by them
 * (each KV head is replicated on tp ÷ kv_heads ranks). MLA caches one latent per token, not heads.
 */
export function tpShardsAttention(spec: Pick<ModelSpec, 'numHeads' | 'numKvHeads' | 'mla'>, tp: number): string | null {
  if (spec.numHeads % tp !== 0) return `TP ${tp} does not divide the ${spec.numHeads} attention heads`;
  if (spec.mla) return null;
  if (tp <= spec.numKvHeads ? spec.numKvHeads % tp !== 0 : tp % spec.numKvHeads !== 0) {
    return `TP ${tp} does not split the ${spec.numKvHeads} KV heads evenly (neither divides the other)`;
  }
  return null;
}

/** Layouts worth planning on a cluster: TP a divisor of the GPUs per node, PP over layers, DP filling the rest exactly. */
export function candidateLayouts(spec: Pick<ModelSpec, 'numHeads' | 'numKvHeads' | 'mla' | 'numLayers'>, cluster: Pick<Cluster, 'gpusPerNode' | 'nodes'>): { layout: Layout; invalid: string | null }[] {
  const total = cluster.gpusPerNode * cluster.nodes;
  const out: { layout: Layout; invalid: string | null }[] = [];
  for (let tp = 1; tp <= cluster.gpusPerNode; tp += 1) {
    if (cluster.gpusPerNode % tp !== 0) continue;
    for (let pp = 1; tp * pp <= total; pp += 1) {
      if (total % (tp * pp) !== 0) continue;
      const layout = { tp, pp, dp: total / (tp * pp) };
      const invalid = tpShardsAttention(spec, tp) ?? (pp > spec.numLayers ? `PP ${pp} exceeds the ${spec.numLayers} layers` : null);
      out.push({ layout, invalid });
    }
  }
  return out;
}

/** GPUs per layer step: each layer runs about this many kernels, none shorter than `MIN_KERNEL_SEC` however small its shard. */
export const KERNELS_PER_LAYER = 12;
export const MIN_KERNEL_SEC = 4e-6;
/** Bytes of one activation element sent between GPUs (fp16/bf16 hidden states, as vLLM and SGLang send them). */
const ACTIVATION_BYTES = 2;

export interface TopologyWorkload {
  context: number;
  promptTokens?: number;
  /** Streams served at once by the whole deployment (split over the DP replicas). */
  concurrency: number;
  kvDtype?: KvDtype;
  efficiency?: Efficiency;
  headroomFraction?: number;
  weightOptions?: WeightBytesOptions;
}

export interface PerGpuMemory {
  weightBytes: number;
  kvBytes: number;
  activationBytes: number;
  runtimeOverheadBytes: number;
  totalBytes: number;
  availableBytes: number;
  usableBytes: number;
  marginBytes: number;
}

export interface CommunicationCost {
  /** All-reduces per step: 2 per layer (after attention and after the MLP) when TP > 1. */
  allReduces: number;
  /** Bytes of one all-reduce message. */
  allReduceBytes: number;
  /** Seconds of TP all-reduce per step. */
  tpSec: number;
  /** Activation sends between PP stages per step, and how many cross nodes. */
  stageHops: number;
  interNodeHops: number;
  /** Seconds of PP sends per step. */
  ppSec: number;
}

export interface TopologyPlan {
  layout: Layout;
  gpusPerReplica: number;
  gpusUsed: number;
  nodesPerReplica: number;
  /** Streams each replica serves (concurrency ÷ DP, rounded up). */
  concurrencyPerReplica: number;
  /** Layers of the heaviest stage. */
  layersPerStage: number;
  perGpu: PerGpuMemory;
  fits: boolean;
  reason: string | null;
  /** Largest context per sequence that fits per GPU at this concurrency (0 when the weights alone do not). */
  maxContext: number;
  /**
   * The KV-cache pool an engine would allocate per GPU (usable memory − weights − activations − runtime, as
   * vLLM sizes it from --gpu-memory-utilization) and the fraction the workload's KV cache fills — the figure to
   * set beside the server's own KV-cache usage.
   */
  kvPool: { bytesPerGpu: number; usageAtLoad: number | null };
  decode: {
    tokPerSecPerStream: Banded | null;
    tokPerSecTotal: Banded | null;
    /** The roofline step of one replica (its TP group's bandwidth and FLOP/s), seconds. */
    computeSec: number | null;
    /** Floor of a step however small the shards: layers × kernels × the shortest kernel. */
    kernelFloorSec: number;
    communication: CommunicationCost;
    stepSec: number | null;
  };
  prefill: {
    tokPerSec: Banded | null;
    ttftMs: Banded | null;
    computeSec: number | null;
    communication: CommunicationCost;
  };
  /** The single-device estimate for one TP group (the roofline this plan adds communication to). */
  deviceEstimate: SpeedEstimate;
  interconnect: Interconnect;
  formula: string;
  notes: string[];
}

/** Weights outside the layers (embeddings, LM head, final norm). */
function nonLayerWeightBytes(spec: ModelSpec, format: WeightFormat, options: WeightBytesOptions): number {
  const bare: ModelSpec = { ...spec, numLayers: 0, moe: spec.moe ? { ...spec.moe, denseLayers: 0 } : null };
  return weightBytes(bare, format, options).totalBytes;
}

/** KV share one GPU holds: 1/tp of the heads, at least one head; MLA's latent is replicated on every TP rank. */
function kvShare(spec: ModelSpec, tp: number): number {
  if (spec.mla) return 1;
  return Math.max(1, spec.numKvHeads / tp) / spec.numKvHeads;
}

/** Ring all-reduce of `bytes` among `ranks` GPUs over `link`: latency + 2(n−1)/n × bytes ÷ bandwidth. */
export function allReduceSec(bytes: number, ranks: number, link: Link): number {
  if (ranks <= 1) return 0;
  return link.latencySec + ((2 * (ranks - 1)) / ranks) * (bytes / link.bytesPerSec);
}

function communication(spec: ModelSpec, layout: Layout, cluster: Cluster, tokens: number): CommunicationCost {
  const messageBytes = tokens * spec.hiddenSize * ACTIVATION_BYTES;
  const allReduces = layout.tp > 1 ? 2 * spec.numLayers : 0;
  // TP stays inside a node (candidateLayouts keeps tp ≤ gpusPerNode), so its collectives use the node's link.
  const tpSec = allReduces * allReduceSec(messageBytes, layout.tp, cluster.interconnect.intraNode);
  const stageHops = layout.pp - 1;
  const gpusPerReplica = layout.tp * layout.pp;
  const nodesPerReplica = Math.ceil(gpusPerReplica / cluster.gpusPerNode);
  const interNodeHops = Math.min(stageHops, nodesPerReplica - 1);
  const send = (link: Link): number => link.latencySec + messageBytes / link.bytesPerSec;
  const interLink = cluster.interconnect.interNode ?? cluster.interconnect.intraNode;
  const ppSec = (stageHops - interNodeHops) * send(cluster.interconnect.intraNode) + interNodeHops * send(interLink);
  return { allReduces, allReduceBytes: messageBytes, tpSec, stageHops, interNodeHops, ppSec };
}

function perGpuMemory(spec: ModelSpec, format: WeightFormat, layout: Layout, cluster: Cluster, context: number, concurrencyPerReplica: number, kvDtype: KvDtype, headroomFraction: number, options: WeightBytesOptions): PerGpuMemory {
  const total = weightBytes(spec, format, options).totalBytes;
  const outside = nonLayerWeightBytes(spec, format, options);
  const layersPerStage = Math.ceil(spec.numLayers / layout.pp);
  const stageFraction = layersPerStage / spec.numLayers;
  // TP shards every matrix, the vocabulary tables included (vLLM's VocabParallelEmbedding); the heaviest
  // stage is counted with all the non-layer weights (a conservative bound: with PP they split between the ends).
  const weights = ((total - outside) * stageFraction + outside) / layout.tp;
  const kv = kvCacheBreakdown(spec, { tokens: context, dtype: kvDtype, concurrency: concurrencyPerReplica }).totalBytes * stageFraction * kvShare(spec, layout.tp);
  // A serving engine caps the tokens of one forward pass (chunked prefill): activations follow the cap, not
  // concurrency × context; TP splits them across the group.
  const act = gpuActivationBytes(spec, format, context, concurrencyPerReplica, servingBatchLimits(cluster.gpu)) / layout.tp;
  const overhead = cluster.gpu.runtimeOverheadBytes;
  const available = Math.max(0, cluster.gpu.memoryAvailableBytes);
  const usable = available - Math.round(available * headroomFraction);
  const totalBytes = weights + kv + act + overhead;
  return { weightBytes: weights, kvBytes: kv, activationBytes: act, runtimeOverheadBytes: overhead, totalBytes, availableBytes: available, usableBytes: usable, marginBytes: usable - totalBytes };
}

function kvPoolOf(m: PerGpuMemory): TopologyPlan['kvPool'] {
  const pool = m.usableBytes - m.weightBytes - m.activationBytes - m.runtimeOverheadBytes;
  return { bytesPerGpu: Math.max(0, pool), usageAtLoad: pool > 0 ? m.kvBytes / pool : null };
}

/** `n` identical GPUs summed into one `DeviceTarget` (memory, bandwidth, FLOP/s and runtime overhead × n). */
function gpusAsDevice(g: ClusterGpu, n: number, name: string): DeviceTarget {
  return {
    kind: 'gpu',
    name,
    count: n,
    memoryTotalBytes: g.memoryTotalBytes * n,
    memoryAvailableBytes: g.memoryAvailableBytes * n,
    bandwidthBytesPerSec: g.bandwidthBytesPerSec === null ? null : g.bandwidthBytesPerSec * n,
    bandwidthSource: g.bandwidthSource,
    peakFlops: g.peakFlops === null ? null : g.peakFlops * n,
    peakFlopsSource: g.peakFlopsSource,
    runtimeOverheadBytes: g.runtimeOverheadBytes * n,
  };
}

/** The TP group of one replica as one device: `tp` GPUs' bandwidth and FLOP/s (PP stages run one after another). */
function tpGroupDevice(cluster: Cluster, tp: number): DeviceTarget {
  return gpusAsDevice(cluster.gpu, tp, tp > 1 ? `${cluster.gpu.name} ×${tp}` : cluster.gpu.name);
}

/**
 * One layout of a model on a cluster: per-GPU memory and fit, and decode / prefill with communication.
 * - Decode step = max(roofline of the TP group, layers × kernels × shortest kernel) + 2 × layers all-reduces
 *   of (streams × hidden × 2 B) over the node's link + (PP − 1) stage sends of the same size; a stream's
 *   token passes every stage in turn, so PP adds memory, not speed.
 * - Prefill = the TP group's prefill + the same all-reduces and sends of (prompt × hidden × 2 B).
 * Bands: the device estimate's multiplicative band applied to the whole step.
 */
export function planLayout(spec: ModelSpec, format: WeightFormat, layout: Layout, cluster: Cluster, workload: TopologyWorkload): TopologyPlan {
  const context = Math.max(1, workload.context);
  const promptTokens = Math.max(1, workload.promptTokens ?? context);
  const concurrencyPerReplica = Math.max(1, Math.ceil(workload.concurrency / layout.dp));
  const kvDtype = workload.kvDtype ?? defaultKvDtype(format, 'gpu');
  const headroom = workload.headroomFraction ?? DEFAULT_HEADROOM_FRACTION;
  const options = workload.weightOptions ?? {};
  const gpusPerReplica = layout.tp * layout.pp;
  const notes: string[] = [];

  const memoryAt = (tokens: number): PerGpuMemory => perGpuMemory(spec, format, layout, cluster, tokens, concurrencyPerReplica, kvDtype, headroom, options);
  const perGpu = memoryAt(context);
  const fits = perGpu.marginBytes >= 0;
  let maxContext = 0;
  if (memoryAt(1).marginBytes >= 0) {
    let lo = 1;
    let hi = spec.maxContext;
    if (memoryAt(hi).marginBytes >= 0) lo = hi;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (memoryAt(mid).marginBytes >= 0) lo = mid;
      else hi = mid - 1;
    }
    maxContext = lo;
  }
  let reason: string | null = null;
  if (!fits) {
    const where = `${gib(perGpu.usableBytes)} GiB usable per GPU (${cluster.gpu.name})`;
    reason = perGpu.weightBytes + perGpu.runtimeOverheadBytes > perGpu.usableBytes
      ? `TP ${layout.tp} × PP ${layout.pp}: ${gib(perGpu.weightBytes)} GiB of ${format} weights per GPU exceed ${where}`
      : `TP ${layout.tp} × PP ${layout.pp}: weights and the KV cache for ${context} tokens × ${concurrencyPerReplica} per replica need ${gib(perGpu.totalBytes)} GiB per GPU, over ${where}${maxContext > 0 ? `; at most ${maxContext} tokens fit` : ''}`;
  }

  const device = tpGroupDevice(cluster, layout.tp);
  const efficiency = workload.efficiency ?? defaultEfficiency({ kind: 'gpu', bandwidthSource: device.bandwidthSource });
  const band = errorBand(efficiency);
  const deviceEstimate = estimateSpeed({ spec, format, context, promptTokens, concurrency: concurrencyPerReplica, kvDtype, device, efficiency, weightOptions: options });
  const kernelFloorSec = spec.numLayers * KERNELS_PER_LAYER * MIN_KERNEL_SEC;
  const decodeComm = communication(spec, layout, cluster, concurrencyPerReplica);
  const prefillComm = communication(spec, layout, cluster, promptTokens);

  const roofDecode = deviceEstimate.decodeTokPerSec;
  const computeSec = roofDecode === null ? null : 1 / roofDecode.value;
  const stepSec = computeSec === null ? null : Math.max(computeSec, kernelFloorSec) + decodeComm.tpSec + decodeComm.ppSec;
  const banded = (value: number): Banded => ({ value, low: value * band.low, high: value * band.high });
  const bandedTime = (value: number): Banded => ({ value, low: value / band.high, high: value / band.low });
  const roofTtft = deviceEstimate.ttftMs;
  const prefillComputeSec = roofTtft === null ? null : roofTtft.value / 1000;
  const prefillSec = prefillComputeSec === null ? null : prefillComputeSec + prefillComm.tpSec + prefillComm.ppSec;

  if (computeSec !== null && kernelFloorSec > computeSec) {
    notes.push(`the shards are so small that the kernel floor (${spec.numLayers} layers × ${KERNELS_PER_LAYER} kernels × ${MIN_KERNEL_SEC * 1e6} µs) sets the step, not memory bandwidth`);
  }
  if (spec.mla && layout.tp > 1) notes.push('MLA caches one latent per token: every TP rank holds the whole KV cache of its stage (no head split)');
  if (!spec.mla && layout.tp > spec.numKvHeads) notes.push(`TP ${layout.tp} > ${spec.numKvHeads} KV heads: each KV head is replicated on ${layout.tp / spec.numKvHeads} GPUs`);
  if (spec.moe && layout.tp > 1) notes.push('MoE experts are split by TP like dense layers; expert parallelism (vLLM --enable-expert-parallel) trades the all-reduce for all-to-all and is not modelled');
  if (layout.pp > 1) notes.push(`PP ${layout.pp}: a stream's token passes the stages in turn, so PP adds memory, not per-stream speed; the heaviest stage holds ${Math.ceil(spec.numLayers / layout.pp)} layers`);

  return {
    layout,
    gpusPerReplica,
    gpusUsed: gpusPerReplica * layout.dp,
    nodesPerReplica: Math.ceil(gpusPerReplica / cluster.gpusPerNode),
    concurrencyPerReplica,
    layersPerStage: Math.ceil(spec.numLayers / layout.pp),
    perGpu,
    fits,
    reason,
    maxContext,
    kvPool: kvPoolOf(perGpu),
    decode: {
      tokPerSecPerStream: stepSec === null ? null : banded(1 / stepSec),
      tokPerSecTotal: stepSec === null ? null : banded(Math.max(1, workload.concurrency) / stepSec),
      computeSec,
      kernelFloorSec,
      communication: decodeComm,
      stepSec,
    },
    prefill: {
      tokPerSec: prefillSec === null ? null : banded(promptTokens / prefillSec),
      ttftMs: prefillSec === null ? null : bandedTime(prefillSec * 1000),
      computeSec: prefillComputeSec,
      communication: prefillComm,
    },
    deviceEstimate,
    interconnect: cluster.interconnect,
    formula:
      'decode step = max(TP group roofline, layers × kernels × shortest kernel) + 2 × layers × all-reduce(streams × hidden × 2 B) + (PP − 1) × send(streams × hidden × 2 B); all-reduce = latency + 2(TP − 1)/TP × bytes ÷ link bandwidth; TTFT = TP group prefill + the same collectives for prompt × hidden × 2 B',
    notes,
  };
}

export interface TopologyChoice {
  /** The chosen layout (fits; meets the targets when any layout does), or null when none fits. */
  best: TopologyPlan | null;
  /** Every valid layout planned, best first. */
  plans: TopologyPlan[];
  /** Layouts left out before planning (attention heads that do not shard, more stages than layers). */
  invalid: { layout: Layout; reason: string }[];
}

export interface TopologyTargets {
  decodeTokensPerSec: number;
  maxTtftMs: number;
}

/**
 * Every valid layout of a model on a cluster, planned and ordered: layouts that fit first; among them the
 * ones meeting the targets, most total tokens/s first (more replicas serve more); otherwise the fastest
 * stream first. A layout that does not fit is never `best`.
 */
export function planTopology(spec: ModelSpec, format: WeightFormat, cluster: Cluster, workload: TopologyWorkload, targets?: TopologyTargets): TopologyChoice {
  const invalid: TopologyChoice['invalid'] = [];
  const plans: TopologyPlan[] = [];
  for (const { layout, invalid: why } of candidateLayouts(spec, cluster)) {
    if (why !== null) invalid.push({ layout, reason: why });
    else plans.push(planLayout(spec, format, layout, cluster, workload));
  }
  const meets = (p: TopologyPlan): boolean =>
    targets !== undefined && (p.decode.tokPerSecPerStream?.value ?? 0) >= targets.decodeTokensPerSec && (p.prefill.ttftMs?.value ?? Infinity) <= targets.maxTtftMs;
  const stream = (p: TopologyPlan): number => p.decode.tokPerSecPerStream?.value ?? 0;
  const total = (p: TopologyPlan): number => p.decode.tokPerSecTotal?.value ?? 0;
  plans.sort((a, b) => {
    if (a.fits !== b.fits) return a.fits ? -1 : 1;
    if (!a.fits) return b.perGpu.marginBytes - a.perGpu.marginBytes; // nearest to fitting first
    if (meets(a) !== meets(b)) return meets(a) ? -1 : 1;
    if (meets(a)) return total(b) - total(a) || stream(b) - stream(a) || a.layout.pp - b.layout.pp;
    return stream(b) - stream(a) || total(b) - total(a) || a.layout.pp - b.layout.pp;
  });
  const best = plans[0]?.fits ? plans[0] : null;
  return { best, plans, invalid };
}

export interface TopologyProposal {
  gpusPerNode: number;
  nodes: number;
  plan: TopologyPlan;
  /** Whether the plan meets the targets (false: the smallest cluster that fits, targets missed). */
  meetsTargets: boolean;
}

/** Cluster shapes tried for a proposal, smallest first: 1, 2, 4, 8 GPUs in one node, then nodes of 8. */
export function clusterShapes(maxNodes: number, gpusPerNode = 8): { gpusPerNode: number; nodes: number }[] {
  const shapes: { gpusPerNode: number; nodes: number }[] = [];
  for (let g = 1; g <= gpusPerNode; g *= 2) shapes.push({ gpusPerNode: g, nodes: 1 });
  for (let n = 2; n <= maxNodes; n += 1) shapes.push({ gpusPerNode, nodes: n });
  return shapes;
}

/**
 * The smallest cluster of one GPU model on which a model fits and meets the targets with one replica (the
 * fewest GPUs, then the fewest nodes); when no shape up to `maxNodes` meets them, the smallest that fits.
 * Null when it does not fit even on `maxNodes` full nodes.
 */
export function proposeTopology(
  spec: ModelSpec,
  format: WeightFormat,
  gpu: ClusterGpu,
  workload: TopologyWorkload,
  targets: TopologyTargets,
  options: { maxNodes?: number; gpusPerNode?: number; interconnect?: InterconnectRequest } = {},
): TopologyProposal | null {
  let fallback: TopologyProposal | null = null;
  for (const shape of clusterShapes(options.maxNodes ?? 4, options.gpusPerNode ?? 8)) {
    const cluster: Cluster = { gpu, ...shape, interconnect: resolveInterconnect(gpu.name, shape.nodes, options.interconnect) };
    // One replica: DP stays 1 so the proposal names the GPUs one copy of the model needs.
    const plans = candidateLayouts(spec, cluster)
      .filter((c) => c.invalid === null && c.layout.dp === 1)
      .map((c) => planLayout(spec, format, c.layout, cluster, workload))
      .filter((p) => p.fits);
    if (plans.length === 0) continue;
    const meets = (p: TopologyPlan): boolean => (p.decode.tokPerSecPerStream?.value ?? 0) >= targets.decodeTokensPerSec && (p.prefill.ttftMs?.value ?? Infinity) <= targets.maxTtftMs;
    // Prefer TP inside the node over PP (lower latency), as the engines' guides do.
    plans.sort((a, b) => Number(meets(b)) - Number(meets(a)) || a.layout.pp - b.layout.pp);
    const plan = plans[0]!;
    if (meets(plan)) return { ...shape, plan, meetsTargets: true };
    fallback ??= { ...shape, plan, meetsTargets: false };
  }
  return fallback;
}

/** A plan as the single-device `MemoryFit`: sums over the GPUs of one replica, fit decided per GPU. */
export function planAsMemoryFit(plan: TopologyPlan, spec: ModelSpec, format: WeightFormat, workload: TopologyWorkload): MemoryFit {
  const n = plan.gpusPerReplica;
  const kvDtype = workload.kvDtype ?? defaultKvDtype(format, 'gpu');
  const kv = kvCacheBreakdown(spec, { tokens: workload.context, dtype: kvDtype, concurrency: plan.concurrencyPerReplica });
  const p = plan.perGpu;
  return {
    fits: plan.fits,
    weightBytes: weightBytes(spec, format, workload.weightOptions ?? {}).totalBytes,
    kvBytes: kv.totalBytes,
    activationBytes: p.activationBytes * n,
    runtimeOverheadBytes: p.runtimeOverheadBytes * n,
    totalBytes: p.totalBytes * n,
    availableBytes: p.availableBytes * n,
    headroomBytes: (p.availableBytes - p.usableBytes) * n,
    usableBytes: p.usableBytes * n,
    marginBytes: p.marginBytes * n,
    reason: plan.reason,
    maxContext: plan.maxContext,
    kvDtype,
    context: workload.context,
    concurrency: workload.concurrency,
    basis: {
      kvFormula: `${kv.formula}, per replica; each GPU holds ${spec.mla ? 'its stage’s whole latent cache' : `1/${Math.min(plan.layout.tp, spec.numKvHeads)} of the KV heads`} of ${plan.layersPerStage} layers`,
      headroomFraction: workload.headroomFraction ?? DEFAULT_HEADROOM_FRACTION,
      activationAssumption: `per GPU: the replica's activations ÷ TP ${plan.layout.tp}; fit is decided on the heaviest GPU (TP ${plan.layout.tp} × PP ${plan.layout.pp}, ${gib(p.totalBytes)} GiB of ${gib(p.usableBytes)} GiB usable)`,
    },
  };
}

/** A plan as the single-device `SpeedEstimate` (rates with communication; the basis says which layout). */
export function planAsSpeedEstimate(plan: TopologyPlan): SpeedEstimate {
  const base = plan.deviceEstimate;
  const c = plan.decode.communication;
  const notes = [...base.basis.notes, ...plan.notes];
  if (c.tpSec > 0 || c.ppSec > 0) {
    notes.push(`communication per decode step: ${ms(c.tpSec)} of TP all-reduce (${c.allReduces} × ${c.allReduceBytes} B) and ${ms(c.ppSec)} of PP sends (${c.stageHops}, ${c.interNodeHops} between nodes)`);
  }
  return {
    decodeTokPerSec: plan.decode.tokPerSecPerStream,
    decodeTokPerSecTotal: plan.decode.tokPerSecTotal,
    prefillTokPerSec: plan.prefill.tokPerSec,
    ttftMs: plan.prefill.ttftMs,
    decodeBound: base.decodeBound,
    basis: { ...base.basis, formula: `${plan.formula} (TP group roofline: ${base.basis.formula})`, notes },
  };
}

/** One card of a cluster from a device that sums `count` identical GPUs. */
export function clusterGpuOf(device: DeviceTarget): ClusterGpu {
  const n = Math.max(1, device.count);
  const name = device.name.replace(/\s*×\d+$/, '');
  return {
    name,
    memoryTotalBytes: device.memoryTotalBytes / n,
    memoryAvailableBytes: device.memoryAvailableBytes / n,
    bandwidthBytesPerSec: device.bandwidthBytesPerSec === null ? null : device.bandwidthBytesPerSec / n,
    bandwidthSource: device.bandwidthSource,
    peakFlops: device.peakFlops === null ? null : device.peakFlops / n,
    peakFlopsSource: device.peakFlopsSource,
    runtimeOverheadBytes: device.runtimeOverheadBytes / n,
  };
}

/** The whole cluster as one `DeviceTarget` (sums), with the cluster attached for the planner. */
export function clusterDevice(cluster: Cluster): DeviceTarget {
  const name = `${cluster.gpu.name} ×${cluster.gpusPerNode}${cluster.nodes > 1 ? ` × ${cluster.nodes} nodes` : ''}`;
  return { ...gpusAsDevice(cluster.gpu, cluster.gpusPerNode * cluster.nodes, name), cluster };
}

/**
 * `--topology tp=8,pp=2,gpu=H100-80GB` (also `dp=`, `gpus=` per node, `nodes=`): the layout a deployment runs,
 * as stated by the user. Unstated: PP 1, DP 1, GPUs per node = TP × PP (at most 8), nodes to hold them all.
 */
export interface StatedTopology {
  layout: Layout;
  gpuKey: string;
  gpusPerNode: number;
  nodes: number;
}

export function parseStatedTopology(text: string): StatedTopology {
  const expected = 'comma-separated key=value pairs: tp=N (required), pp=N, dp=N, gpu=KEY (required, e.g. H100-80GB), gpus=N per node, nodes=N';
  const fields = new Map<string, string>();
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([a-z]+)\s*=\s*(.+)$/i.exec(part);
    if (!m || !['tp', 'pp', 'dp', 'gpu', 'gpus', 'nodes'].includes(m[1]!.toLowerCase()) || fields.has(m[1]!.toLowerCase())) throw invalidValue('--topology', text, expected);
    fields.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  const int = (key: string, fallback: number | null): number => {
    const raw = fields.get(key);
    if (raw === undefined) {
      if (fallback === null) throw invalidValue('--topology', text, expected);
      return fallback;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw invalidValue(`--topology ${key}`, raw, 'a whole number from 1 to 1024');
    return n;
  };
  const tp = int('tp', null);
  const pp = int('pp', 1);
  const dp = int('dp', 1);
  const gpuKey = fields.get('gpu');
  if (gpuKey === undefined) throw invalidValue('--topology', text, expected);
  const gpusPerNode = int('gpus', Math.min(8, tp * pp * dp));
  const nodes = int('nodes', Math.ceil((tp * pp * dp) / gpusPerNode));
  if (gpusPerNode * nodes < tp * pp * dp) throw invalidValue('--topology', text, `enough GPUs for TP × PP × DP (${tp * pp * dp}); ${gpusPerNode} per node × ${nodes} nodes has ${gpusPerNode * nodes}`);
  return { layout: { tp, pp, dp }, gpuKey, gpusPerNode, nodes };
}

/** "TP 8 × PP 2" / "TP 8" / "TP 2 × DP 4". */
export function describeLayout(layout: Layout): string {
  const parts = [`TP ${layout.tp}`];
  if (layout.pp > 1) parts.push(`PP ${layout.pp}`);
  if (layout.dp > 1) parts.push(`DP ${layout.dp}`);
  return parts.join(' × ');
}

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}

function ms(sec: number): string {
  return `${(sec * 1000).toFixed(2)} ms`;
}
