import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSpec } from '../catalog/model-spec.js';
import type { GraphKind } from '../onnx/metadata.js';
import { FUSED_GRAPH_REVISION } from '../onnx/fused/build-fused-decoder.js';
import { errorMessage, isModelscoutError } from '../errors.js';
import type { FetchLike } from '../hub/types.js';
import { pullModel, type PullResult } from '../hub/pull.js';
import type { HubSettings } from '../hub/settings.js';
import { fileSafeId, synthesizeModel } from '../onnx/synth/index.js';
import { quantizeModel } from '../quantize/index.js';
import { writeJsonAtomic } from '../util/atomic-write.js';
import { CONFIRM_QUANTIZATION } from './plan.js';

/**
 * Getting a model to benchmark: pull its ONNX export when the Hub (or a mirror) answers, else build it
 * with `synth` (the exact architecture, random weights) and quantize it with `quantize`. Built models are
 * kept in the work dir with a small manifest, so a second run with the same architecture, seed, depth and
 * quantization settings reuses them instead of building again.
 */

export interface HubAccess {
  settings: HubSettings;
  fetch: FetchLike;
  userAgent: string;
}

export interface HubProbe {
  reachable: boolean;
  /** Whether pulls may still be served from the local cache (offline mode). */
  cacheOnly: boolean;
  endpoint: string;
  reason: string;
}

/** How long the Hub gets to answer before the run decides it is offline and synthesizes instead. */
export const HUB_PROBE_TIMEOUT_MS = 3000;

/**
 * Is the Hub reachable? `HF_HUB_OFFLINE` answers without a request (the cache may still hold exports);
 * otherwise one HEAD request with a short timeout: any HTTP answer means reachable, a network error or
 * the timeout means not.
 */
export async function probeHub(hub: HubAccess | null, probeRepo = 'onnx-community/SmolLM2-135M-ONNX'): Promise<HubProbe> {
  if (hub === null) return { reachable: false, cacheOnly: false, endpoint: '', reason: 'pulling is disabled for this run' };
  const endpoint = hub.settings.endpoint;
  if (hub.settings.offline) {
    return { reachable: false, cacheOnly: true, endpoint, reason: 'HF_HUB_OFFLINE is set: ONNX exports come from the local cache only, other models are synthesized' };
  }
  try {
    const response = await hub.fetch(`${endpoint}/api/models/${probeRepo}`, { method: 'HEAD', signal: AbortSignal.timeout(HUB_PROBE_TIMEOUT_MS), headers: { 'user-agent': hub.userAgent } });
    return { reachable: true, cacheOnly: false, endpoint, reason: `${endpoint} answered (HTTP ${response.status})` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${HUB_PROBE_TIMEOUT_MS / 1000} s` : (cause ?? errorMessage(error));
    return { reachable: false, cacheOnly: false, endpoint, reason: `${endpoint} is not reachable (${why}): models are synthesized` };
  }
}

/**
 * Pulls the int4 export (and the float one when asked) of a repo. Null when the repo has no such file or
 * the pull fails; the reason is returned so the report can say why it fell back to a synthetic model.
 */
export async function pullExport(
  repo: string,
  variants: readonly ('q4' | 'fp32' | 'fp16')[],
  hub: HubAccess,
  signal?: AbortSignal,
): Promise<{ ok: true; result: PullResult; downloadedBytes: number } | { ok: false; reason: string }> {
  let last: PullResult | null = null;
  let downloaded = 0;
  for (const variant of variants) {
    try {
      last = await pullModel(
        { model: repo, variant, include: [] },
        { settings: hub.settings, fetch: hub.fetch, userAgent: hub.userAgent, localPathExists: existsSync, retry: { maxRetries: 1 }, ...(signal ? { signal } : {}) },
      );
      downloaded += last.transferredBytes;
    } catch (error) {
      if (variant === variants[0]) return { ok: false, reason: `pulling ${repo} (${variant}) failed: ${isModelscoutError(error) ? error.message : errorMessage(error)}` };
    }
  }
  return last ? { ok: true, result: last, downloadedBytes: downloaded } : { ok: false, reason: `nothing pulled from ${repo}` };
}

/** What is kept beside a built model, to know what can be reused. */
interface BuildManifest {
  schemaVersion: 1;
  source: string;
  /** sha256 of the ModelSpec the model was built from: a changed catalog entry means a rebuild. */
  architecture: string;
  seed: number;
  layers: number;
  /** The fp32 files are present (partial-depth models drop them once quantized). */
  float: boolean;
  q4: { blockSize: number; symmetric: boolean; accuracyLevel: number } | null;
  /** The graph form (absent in manifests written before it was recorded: standard). */
  graph?: GraphKind;
  /** The fused graph's layout revision (`FUSED_GRAPH_REVISION`; absent: 1, before gate/up were packed). */
  graphRevision?: number;
}

const MANIFEST = 'modelscout-confirm.json';

export function architectureHash(spec: ModelSpec, config?: Record<string, unknown> | null): string {
  // The config keys a synthetic build reads beyond the spec change the model too.
  const extra = config ? { rope_scaling: config.rope_scaling ?? null, mlp_bias: config.mlp_bias ?? null } : null;
  return createHash('sha256').update(JSON.stringify(extra ? [spec, extra] : spec)).digest('hex').slice(0, 16);
}

/** The work-dir folder of a synthetic model: one per model, seed, depth and graph form. */
export function syntheticModelDir(workDir: string, spec: ModelSpec, seed: number, layers: number, graph: GraphKind = 'standard'): string {
  return join(workDir, 'models', `${fileSafeId(spec.id)}-synthetic-s${seed}-l${layers}${graph === 'fused' ? '-fused' : ''}`);
}

function readManifest(dir: string): BuildManifest | null {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as BuildManifest;
    return parsed.schemaVersion === 1 ? parsed : null;
  } catch {
    return null;
  }
}

/** What the work dir already holds of a synthetic model: the same model, seed, depth and graph form, and its int4 files with `CONFIRM_QUANTIZATION`. */
export interface ExistingBuild {
  dir: string;
  float: boolean;
  q4: boolean;
}

export function existingBuild(req: Pick<BuildRequest, 'workDir' | 'spec' | 'seed' | 'layers' | 'graph' | 'config'>): ExistingBuild {
  const graph = req.graph ?? 'standard';
  const dir = syntheticModelDir(req.workDir, req.spec, req.seed, req.layers, graph);
  const arch = architectureHash(req.spec, req.config);
  const q = CONFIRM_QUANTIZATION;
  const previous = readManifest(dir);
  const sameModel = previous !== null && previous.source === req.spec.id && previous.architecture === arch && previous.seed === req.seed && previous.layers === req.layers && (previous.graph ?? 'standard') === graph && (graph !== 'fused' || (previous.graphRevision ?? 1) === FUSED_GRAPH_REVISION);
  return {
    dir,
    float: sameModel && previous.float && existsSync(join(dir, 'onnx', 'model.onnx')),
    q4:
      sameModel &&
      previous.q4 !== null &&
      previous.q4.blockSize === q.blockSize &&
      previous.q4.symmetric === q.symmetric &&
      previous.q4.accuracyLevel === q.accuracyLevel &&
      existsSync(join(dir, 'onnx', 'model_q4.onnx')),
  };
}

export interface BuildRequest {
  spec: ModelSpec;
  catalog: ModelSpec[];
  /** The model's config.json when it was read (a named Hub model, a folder): keys the spec does not carry, e.g. rope_scaling. */
  config?: Record<string, unknown> | null;
  layers: number;
  seed: number;
  workDir: string;
  /** The fp32 files are needed (a float benchmark). */
  needFloat: boolean;
  /** Keep the fp32 files once quantized (false: delete them, partial-depth models do). */
  keepFloat: boolean;
  /** The graph form to synthesize (default standard): fused = ONNX Runtime's fused kernels (synth --graph fused). */
  graph?: GraphKind;
  fidelity: boolean;
  threads: number;
  producerVersion: string;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
  now: () => number;
}

export interface BuildOutcome {
  dir: string;
  synthesized: boolean;
  quantized: boolean;
  synthSec: number;
  quantizeSec: number;
  floatBytes: number;
}

/**
 * Builds (or reuses) a synthetic model at `layers` layers with its int4 variant, and the fp32 one when
 * asked. Quantization settings are `CONFIRM_QUANTIZATION`.
 */
export async function buildSyntheticModel(req: BuildRequest): Promise<BuildOutcome> {
  const graph = req.graph ?? 'standard';
  const existing = existingBuild(req);
  const dir = existing.dir;
  const arch = architectureHash(req.spec, req.config);
  const q = CONFIRM_QUANTIZATION;
  let haveFloat = existing.float;
  let haveQ4 = existing.q4;
  const outcome: BuildOutcome = { dir, synthesized: false, quantized: false, synthSec: 0, quantizeSec: 0, floatBytes: 0 };
  const manifest = (): BuildManifest => ({
    schemaVersion: 1,
    source: req.spec.id,
    architecture: arch,
    seed: req.seed,
    layers: req.layers,
    graph,
    ...(graph === 'fused' ? { graphRevision: FUSED_GRAPH_REVISION } : {}),
    float: haveFloat,
    q4: haveQ4 ? { blockSize: q.blockSize, symmetric: q.symmetric, accuracyLevel: q.accuracyLevel } : null,
  });

  if ((req.needFloat && !haveFloat) || (!haveQ4 && !haveFloat)) {
    req.onProgress?.(`synthesizing ${req.spec.id} at ${req.layers} layer${req.layers === 1 ? '' : 's'} (fp32, seed ${req.seed}${graph === 'fused' ? ', fused graph' : ''})`);
    const started = req.now();
    const built = await synthesizeModel({
      source: req.spec.id,
      catalog: req.catalog,
      ...(req.config ? { model: { spec: req.spec, raw: req.config, label: req.spec.id } } : {}),
      dtype: 'fp32',
      layers: req.layers,
      seed: req.seed,
      graph,
      outDir: dir,
      producerVersion: req.producerVersion,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    outcome.synthSec = (req.now() - started) / 1000;
    outcome.synthesized = true;
    outcome.floatBytes = built.modelBytes + built.dataBytes;
    haveFloat = true;
    // synth keeps other variants only of an identical config; the quantized files may be gone.
    haveQ4 = haveQ4 && existsSync(join(dir, 'onnx', 'model_q4.onnx'));
    await writeJsonAtomic(join(dir, MANIFEST), manifest());
  }
  if (!haveQ4) {
    req.onProgress?.(`quantizing ${req.spec.id} (${req.layers} layers) to int4 (block ${q.blockSize}, accuracy level ${q.accuracyLevel})`);
    const started = req.now();
    const result = await quantizeModel(dir, {
      blockSize: q.blockSize,
      symmetric: q.symmetric,
      accuracyLevel: q.accuracyLevel,
      fidelity: req.fidelity,
      threads: req.threads,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    outcome.quantizeSec = (req.now() - started) / 1000;
    outcome.quantized = true;
    outcome.floatBytes ||= result.input.bytes;
    haveQ4 = true;
    await writeJsonAtomic(join(dir, MANIFEST), manifest());
  }
  if (!req.keepFloat && haveFloat && !req.needFloat) {
    // A partial-depth model is only benchmarked in int4: its float files are the bulk of the disk it takes.
    await rm(join(dir, 'onnx', 'model.onnx'), { force: true });
    await rm(join(dir, 'onnx', 'model.onnx_data'), { force: true });
    haveFloat = false;
    await writeJsonAtomic(join(dir, MANIFEST), manifest());
  }
  return outcome;
}
