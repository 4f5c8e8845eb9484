import { loadCatalogInUse, type CatalogInfo } from '../catalog/index.js';
import type { ModelSpec } from '../catalog/model-spec.js';
import type { TopologyRequest } from '../estimate/topology.js';
import { detectHardware, type AutoProbeEvent, type Hardware, type HardwareOverrides, type ProbeMode } from '../hardware/detect.js';
import { measureCpuBusy } from '../hardware/cpu-busy.js';
import { probeCpuKernels } from '../runtime/kernel-probe.js';
import { readDataFile } from '../tree/data-file.js';
import { resolveTree } from '../tree/load.js';
import type { DecisionTree } from '../tree/schema.js';
import type { CandidatesFrom, GivenModel } from './recommend.js';
import { parseAnswersData, type RequirementInputs } from './requirements.js';

/** What a recommendation is made against: the tree, the hardware (detected, with overrides) and the catalog. */
export interface RecommendContext {
  tree: DecisionTree;
  hardware: Hardware;
  catalog: ModelSpec[];
  /** GPUs per node, nodes and links asked for (`--gpus`, `--nodes`, `--interconnect`). */
  topology?: TopologyRequest;
  /** Models named with `--model`, resolved (see `RecommendInput.models`). */
  models?: GivenModel[];
  candidatesFrom?: CandidatesFrom;
  /** Which catalog `catalog` is (built-in, or the user catalog with its date). */
  catalogInfo?: CatalogInfo;
}

/** The context's given models, pool choice and catalog description, as `recommend` takes them. */
export function rankingInputsOf(context: RecommendContext): { models?: GivenModel[]; candidatesFrom?: CandidatesFrom; catalogInfo?: CatalogInfo } {
  return {
    ...(context.models ? { models: context.models } : {}),
    ...(context.candidatesFrom ? { candidatesFrom: context.candidatesFrom } : {}),
    ...(context.catalogInfo ? { catalogInfo: context.catalogInfo } : {}),
  };
}

export interface LoadContextOptions {
  treeFile?: string | undefined;
  catalogFile?: string | undefined;
  /** The user catalog `models update` writes: used when the file exists. */
  userCatalogFile?: string | undefined;
  overrides?: HardwareOverrides;
  /** Probe this machine: always, never, or once per machine when estimates run on its CPU (see `ProbeMode`). */
  probe?: ProbeMode;
  /** Told when the automatic probe starts or is skipped (the command says so). */
  onAutoProbe?: (event: AutoProbeEvent) => void;
  topology?: TopologyRequest;
  /** The per-machine bandwidth cache (see `src/hardware/bandwidth-cache.ts`); unset: no cache. */
  bandwidthCachePath?: string;
}

/** Loads the tree and the catalog first (cheap, and where bad input shows), then detects the hardware. */
export async function loadRecommendContext(options: LoadContextOptions): Promise<RecommendContext> {
  const tree = await resolveTree(options.treeFile);
  const { models: catalog, info: catalogInfo } = loadCatalogInUse({
    ...(options.catalogFile === undefined ? {} : { extraCatalogFile: options.catalogFile }),
    ...(options.userCatalogFile === undefined ? {} : { userCatalogFile: options.userCatalogFile }),
  });
  const hardware = await detectHardware({
    probe: options.probe ?? false,
    kernelProbe: (threads) => probeCpuKernels({ threads }),
    cpuBusy: () => measureCpuBusy(),
    ...(options.overrides ? { overrides: options.overrides } : {}),
    ...(options.onAutoProbe ? { onAutoProbe: options.onAutoProbe } : {}),
    ...(options.bandwidthCachePath ? { bandwidthCachePath: options.bandwidthCachePath } : {}),
  });
  return { tree, hardware, catalog, catalogInfo, ...(options.topology ? { topology: options.topology } : {}) };
}

/** An answers file (JSON or YAML) → requirement inputs; one-line errors name the file. */
export async function loadAnswersFile(path: string): Promise<RequirementInputs> {
  return parseAnswersData(await readDataFile(path, 'answers file', 'E_INPUT'), path);
}

