import type { ModelSpec } from '../catalog/model-spec.js';
import { ModelscoutError } from '../errors.js';
import { clusterDevice, clusterGpuOf, planTopology, resolveInterconnect, type DeviceTarget, type TopologyRequest, type WeightFormat } from '../estimate/index.js';
import type { Hardware } from '../hardware/detect.js';
import { gpuTarget } from '../hardware/device.js';
import { gpusAsCluster } from './recommend.js';
import { FORMAT_LADDER, summarizeTopology } from './rank.js';
import type { CandidateTopology } from './types.js';

/** One weight format of a model on a cluster: the best layout, or why none fits. */
export interface FormatLayout {
  format: WeightFormat;
  fits: boolean;
  /** Null when nothing fits (see `reason`). */
  topology: CandidateTopology | null;
  decodeTokPerSec: number | null;
  ttftMs: number | null;
  reason: string | null;
  /** Layouts left out before planning: attention heads TP cannot split, more stages than layers. */
  invalid: string[];
}

export interface ModelTopology {
  device: string;
  gpusPerNode: number;
  nodes: number;
  context: number;
  concurrency: number;
  formats: FormatLayout[];
}

/**
 * `models show --gpus/--nodes`: each GPU format of the model laid out on the cluster the hardware (detected or
 * --gpu) and the topology request describe.
 */
export function planModelTopology(spec: ModelSpec, hardware: Hardware, request: TopologyRequest, workload: { context: number; concurrency: number }): ModelTopology {
  const detected = gpuTarget(hardware);
  const gpu = gpusAsCluster(detected, request);
  // One GPU (--gpu L4) is a cluster of one: the same per-GPU memory and speed, no communication.
  const device: DeviceTarget | null =
    gpu !== null && !gpu.cluster ? clusterDevice({ gpu: clusterGpuOf(gpu), gpusPerNode: gpu.count, nodes: 1, interconnect: resolveInterconnect(clusterGpuOf(gpu).name, 1, request.interconnect) }) : gpu;
  if (device === null || !device.cluster) {
    throw new ModelscoutError('E_INPUT', 'a layout needs GPUs: none was detected and no --gpu was given', {
      suggestions: ['Name the GPU and how many, e.g. --gpu H100-80GB --gpus 8 (add --nodes 2 for two nodes).'],
    });
  }
  const cluster = device.cluster;
  const formats = FORMAT_LADDER.gpu.map((format): FormatLayout => {
    const choice = planTopology(spec, format, cluster, { context: workload.context, promptTokens: workload.context, concurrency: workload.concurrency });
    const plan = choice.best;
    const nearest = choice.plans[0] ?? null;
    return {
      format,
      fits: plan !== null,
      topology: plan ? summarizeTopology(plan) : null,
      decodeTokPerSec: plan?.decode.tokPerSecPerStream?.value ?? null,
      ttftMs: plan?.prefill.ttftMs?.value ?? null,
      reason: plan ? null : (nearest?.reason ?? choice.invalid[0]?.reason ?? 'no layout'),
      invalid: choice.invalid.map((i) => i.reason),
    };
  });
  return { device: device.name, gpusPerNode: cluster.gpusPerNode, nodes: cluster.nodes, context: workload.context, concurrency: workload.concurrency, formats };
}
