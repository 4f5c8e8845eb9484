/**
 * The run matrix: models × variants × session settings × tests → ordered run specs, grouped so that each
 * (model, variant, session settings) is loaded once, in one child process, and all its tests run there
 * (llama-bench `get_cmd_params_instances` orders its instances the same way). Pure.
 */
import type { Device, GraphOptLevel } from '../runtime/session.js';
import type { VariantName } from '../estimate/weights.js';
import type { TestSpec } from './scenarios.js';

export interface MatrixModel {
  /** The model as the user named it (folder or .onnx file). */
  ref: string;
  /** Variants to run for this model, already resolved against its files. */
  variants: readonly VariantName[];
}

export interface MatrixInput {
  models: readonly MatrixModel[];
  devices: readonly Device[];
  /** intra-op thread counts; 0 means ONNX Runtime's default (one per physical core). */
  threads: readonly number[];
  graphOptLevel: GraphOptLevel;
  tests: readonly TestSpec[];
}

export interface SessionSettings {
  device: Device;
  threads: number;
  graphOptLevel: GraphOptLevel;
}

/** One (model, variant, session) instance: one child process, one session load, several tests. */
export interface RunGroup {
  /** Position in the whole run, from 0. */
  index: number;
  /** `model|variant|device|threads|opt`, unique within a run. */
  key: string;
  model: string;
  variant: VariantName;
  session: SessionSettings;
  tests: TestSpec[];
}

/**
 * Expands the matrix. Order: model, variant, device, threads, then tests in the given order; a model's
 * variants stay together so its files stay in the page cache. Duplicate models/variants collapse.
 */
export function expandRunMatrix(input: MatrixInput): RunGroup[] {
  const groups: RunGroup[] = [];
  const seen = new Set<string>();
  for (const model of input.models) {
    for (const variant of model.variants) {
      for (const device of input.devices) {
        for (const threads of input.threads) {
          const key = [model.ref, variant, device, threads, input.graphOptLevel].join('|');
          if (seen.has(key)) continue;
          seen.add(key);
          groups.push({
            index: groups.length,
            key,
            model: model.ref,
            variant,
            session: { device, threads, graphOptLevel: input.graphOptLevel },
            tests: [...input.tests],
          });
        }
      }
    }
  }
  return groups;
}

/** Number of (group, test) results the matrix will produce. */
export function countRuns(groups: readonly RunGroup[]): number {
  let n = 0;
  for (const g of groups) n += g.tests.length;
  return n;
}
