// src/cli is part of the CLI layer (flag definitions shared by commands), where oclif belongs.
import { Flags } from '@oclif/core';
import { parseInterconnect, type TopologyRequest } from '../estimate/topology.js';

/**
 * Past one machine: how many GPUs per node, how many nodes, and what links them. The planner then lays each
 * model out as tensor / pipeline / data parallel and counts the communication of every step.
 */
export const topologyFlags = {
  gpus: Flags.integer({ description: 'GPUs per node (default: the detected or --gpu count); several GPUs are planned as TP / PP / DP layouts with their communication', min: 1, max: 64, helpValue: 'N', helpGroup: 'HARDWARE' }),
  nodes: Flags.integer({ description: 'nodes of --gpus GPUs each (default 1)', min: 1, max: 64, helpValue: 'M', helpGroup: 'HARDWARE' }),
  interconnect: Flags.string({
    description: 'links between GPUs: nvlink or pcie inside a node, ib or ethernet between nodes, a bandwidth per GPU (200GB/s, 400Gbps), or both joined by a comma (default: NVLink for SXM GPUs, else PCIe; InfiniBand between nodes)',
    helpValue: 'nvlink|pcie|ib|ethernet|GB/s',
    helpGroup: 'HARDWARE',
  }),
};

export interface TopologyFlagValues {
  gpus?: number | undefined;
  nodes?: number | undefined;
  interconnect?: string | undefined;
}

/** Flag values → the topology request (E_INPUT, exit 2, for a bad --interconnect). */
export function topologyFromFlags(flags: TopologyFlagValues): TopologyRequest | undefined {
  if (flags.gpus === undefined && flags.nodes === undefined && flags.interconnect === undefined) return undefined;
  return {
    ...(flags.gpus !== undefined ? { gpusPerNode: flags.gpus } : {}),
    ...(flags.nodes !== undefined ? { nodes: flags.nodes } : {}),
    ...(flags.interconnect !== undefined ? { interconnect: parseInterconnect(flags.interconnect) } : {}),
  };
}
