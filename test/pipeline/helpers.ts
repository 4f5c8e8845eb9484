import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCatalog } from '../../src/catalog/index.js';
import type { ModelSpec } from '../../src/catalog/model-spec.js';
import type { Hardware } from '../../src/hardware/detect.js';
import { recommend } from '../../src/recommend/recommend.js';
import { resolveRequirements, type RequirementInputs, type Requirements } from '../../src/recommend/requirements.js';
import type { Recommendation } from '../../src/recommend/types.js';
import type { BenchResult } from '../../src/report/schema.js';
import { DEFAULT_TREE_URL, resolveTree } from '../../src/tree/load.js';
import type { DecisionTree } from '../../src/tree/schema.js';

const GiB = 1024 ** 3;

/**
 * Made-up architectures small enough to synthesize, quantize and benchmark in about a second each: the
 * pipeline runs on them exactly as on real models. `tiny-deep` has many thin layers, so a full build costs
 * far more than two shallow ones (the partial-depth path).
 */
export const TINY_CATALOG = {
  models: [
    { id: 'tiny-llama-a', name: 'Tiny-A', modelType: 'llama', hiddenSize: 64, numLayers: 4, numHeads: 4, numKvHeads: 2, intermediateSize: 128, vocabSize: 256, maxContext: 512, tieWordEmbeddings: false },
    { id: 'tiny-llama-b', name: 'Tiny-B', modelType: 'llama', hiddenSize: 96, numLayers: 4, numHeads: 4, numKvHeads: 2, intermediateSize: 192, vocabSize: 256, maxContext: 512, tieWordEmbeddings: true },
    { id: 'tiny-qwen2-c', name: 'Tiny-C', modelType: 'qwen2', hiddenSize: 64, numLayers: 6, numHeads: 4, numKvHeads: 2, intermediateSize: 128, vocabSize: 256, maxContext: 512, tieWordEmbeddings: true, attentionBias: true, ropeTheta: 1000000 },
    { id: 'tiny-llama-d', name: 'Tiny-D', modelType: 'llama', hiddenSize: 32, numLayers: 2, numHeads: 2, numKvHeads: 1, intermediateSize: 64, vocabSize: 128, maxContext: 512, tieWordEmbeddings: true },
  ],
};

export const DEEP_CATALOG = {
  models: [
    { id: 'tiny-deep', name: 'Tiny-Deep', modelType: 'llama', hiddenSize: 256, numLayers: 96, numHeads: 4, numKvHeads: 2, intermediateSize: 512, vocabSize: 512, maxContext: 512, tieWordEmbeddings: true },
  ],
};

/** Writes a catalog file and a copy of the default tree whose small class ends at 100M parameters (only tiny models). */
export async function writeTinyInputs(dir: string, catalog: object = TINY_CATALOG): Promise<{ catalogFile: string; treeFile: string }> {
  await mkdir(dir, { recursive: true });
  const catalogFile = join(dir, 'catalog.json');
  await writeFile(catalogFile, JSON.stringify(catalog, null, 2));
  const original = await readFile(DEFAULT_TREE_URL, 'utf8');
  const tree = original.replace('max_params: 1.3e+10', 'max_params: 1.0e+8').replace(/^id: default$/m, 'id: tiny');
  if (!tree.includes('max_params: 1.0e+8') || !tree.includes('id: tiny')) throw new Error('the default tree changed: update writeTinyInputs');
  const treeFile = join(dir, 'tree.yaml');
  await writeFile(treeFile, tree);
  return { catalogFile, treeFile };
}

/** A 2-core machine described by hand, so tests do not depend on the machine they run on. */
export function testHardware(): Hardware {
  return {
    os: { platform: 'linux', release: 'test', arch: 'x64' },
    cpu: { model: 'Test CPU', cores: 2, threads: 2, features: { avx2: true, avx512: false, vnni: false, amx: false, neon: false }, frequencyGHz: 3 },
    memory: { totalBytes: 16 * GiB, availableBytes: 8 * GiB, source: 'override' },
    gpus: [],
    bandwidth: { bytesPerSec: 20e9, source: 'override', note: 'test' },
    peakFlops: { flopsPerSec: 2e11, source: 'known', basis: 'test' },
    notes: [],
  };
}

export interface TinySetup {
  tree: DecisionTree;
  catalog: ModelSpec[];
  hardware: Hardware;
  requirements: Requirements;
  recommendation: Recommendation;
}

export async function tinyRecommendation(dir: string, inputs: RequirementInputs = { contextTokens: 64 }, top = 4, catalog: object = TINY_CATALOG): Promise<TinySetup> {
  const { catalogFile, treeFile } = await writeTinyInputs(dir, catalog);
  const tree = await resolveTree(treeFile);
  const specs = loadCatalog({ extraCatalogFile: catalogFile });
  const hardware = testHardware();
  const requirements = resolveRequirements(tree, inputs);
  const recommendation = recommend({ tree, requirements, hardware, catalog: specs, top });
  return { tree, catalog: specs, hardware, requirements, recommendation };
}

const stat = (unit: string, value: number): NonNullable<BenchResult['metrics']['decode_tps']> => ({
  unit,
  n: 3,
  mean: value,
  stddev: 0,
  cv_pct: 0,
  min: value,
  p50: value,
  p90: value,
  p99: value,
  max: value,
  ci95: [value, value],
  low_sample_percentiles: ['p90', 'p99'],
});

/** A bench result with the given medians, as a benchmark of `layers` layers would report it. */
export function constructedResult(input: { path: string; layers: number; prompt: number; gen: number; batch: number; decodeTps: number; ttftMs: number; peakBytes: number }): BenchResult {
  const id = `pp${input.prompt}+tg${input.gen}${input.batch > 1 ? `/b${input.batch}` : ''}`;
  return {
    model: {
      id: input.path.split('/').at(-1) ?? input.path,
      path: input.path,
      file: join(input.path, 'onnx', 'model_q4.onnx'),
      synthetic: true,
      architecture: { model_type: 'llama', layers: input.layers, hidden_size: 64, heads: 4, kv_heads: 2, head_dim: 16, vocab_size: 256 },
      files_sha256: {},
    },
    variant: { name: 'q4', quantization: { bits: 4, block_size: 32, symmetric: true, accuracy_level: 4 } },
    config: { device: 'cpu', threads: 2, graph_optimization_level: 'all', repetitions: 3, warmup: 1, seed: 42 },
    test: { id, kind: 'pp+tg', n_prompt: input.prompt, n_gen: input.gen, n_depth: 0, batch_size: input.batch, prompt_lengths: [input.prompt], input_ids_sha256: null },
    status: 'ok',
    error: null,
    load: { session_create_ms: 10, first_run: null, warmup_ms: [], self_check: null },
    metrics: {
      prefill_ms: stat('ms', input.ttftMs),
      prefill_tps: stat('tok/s', (input.prompt * input.batch * 1000) / input.ttftMs),
      first_sample_ms: null,
      ttft_ms: stat('ms', input.ttftMs),
      tpot_ms: null,
      itl_ms: null,
      decode_tps: stat('tok/s', input.decodeTps),
      decode_run_ms: null,
      harness_overhead_pct: null,
      e2e_ms: null,
      output_tps: null,
      total_tps: null,
    },
    memory: { model_files_bytes: null, rss_baseline_bytes: null, rss_after_load_bytes: null, rss_peak_bytes: input.peakBytes, rss_sample_interval_ms: 20, rss_peak_kernel_bytes: null, gpu: [] },
    kv_cache: null,
    estimate: null,
    samples: [],
  };
}

export { GiB };
