import { copyFile, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ModelscoutError, errorMessage } from '../errors.js';
import { VARIANT_FILES } from '../estimate/weights.js';
import { floatModelFile, openModelFolder } from '../onnx/model-folder.js';
import { METADATA_KEYS, readModelscoutMetadata, setMetadata } from '../onnx/metadata.js';
import {
  cloneModel,
  externalDataFiles,
  readModel,
  writeModel,
  type LoadedModel,
  type TensorDataSource,
} from '../onnx/model-io.js';
import { assertWritableDir } from '../util/output-path.js';
import { OUTPUT_MANIFEST, publishDirectory, temporarySibling, writeJsonAtomic } from '../util/atomic-write.js';
import type { LockWait } from '../util/file-lock.js';
import { measureFidelity, DEFAULT_FIDELITY_SEED, DEFAULT_FIDELITY_SEQUENCE, type FidelityReport } from './fidelity.js';
import { Int4Quantizer, assertBlockSize, packGatherData, type Int4ErrorStats, type Int4Weight } from './int4.js';
import { hashFilesInWorker, type FileHash } from './hash-files.js';
import { StripeReader } from './stripe-reader.js';
import { findQuantizedNodes, planQuantization, type OutputPart, type QuantizationPlan, type QuantizeJob } from './rewrite.js';

export { INT4_BLOCK_SIZES } from './int4.js';

/**
 * `quantizeModel`: a float ONNX decoder (folder or file) → an onnx-community-style folder with
 * `onnx/model_q4.onnx` (+ `model_q4.onnx_data`), int4 MatMulNBits weights, quantization settings in the
 * model metadata, and a report: sizes, per-tensor error and logit fidelity against the original.
 *
 * Memory: the graph is decoded once; weights are read in stripes of a few MiB, quantized, and each job's
 * packed result is kept only until the writer has stored its initializers, so the peak is about the
 * largest quantized tensor (1/6–1/8 of its float size) plus one stripe plus the graph.
 */

export interface QuantizeModelOptions {
  /** 16, 32, 64, 128 or 256 (default 32). */
  blockSize?: number;
  /** default true */
  symmetric?: boolean;
  /** 0–4 (default 4: int8 compute on CPU). */
  accuracyLevel?: number;
  /** Node-name regular expressions to leave in float. */
  exclude?: readonly string[];
  keepLmHead?: boolean;
  embeddings?: boolean;
  /** Output folder (default: the input model's folder). */
  out?: string;
  /** Run the fidelity check (default true). */
  fidelity?: boolean;
  fidelitySequenceLength?: number;
  fidelitySeed?: number;
  /** onnxruntime intra-op threads for the fidelity check. */
  threads?: number;
  /** Stops quantizing (E_INTERRUPTED); nothing is published and no temporary file is left. */
  signal?: AbortSignal;
}

export type QuantizePhase = 'hash' | 'quantize' | 'fidelity';

export interface QuantizeProgress {
  phase: QuantizePhase;
  done: number;
  total: number;
  /** unit of done/total: bytes (hash) or tensors (quantize, fidelity: models run) */
  unit: 'bytes' | 'tensors' | 'models';
  current?: string;
}

export interface QuantizeHooks {
  onProgress?: (progress: QuantizeProgress) => void;
  /** Another run is publishing into the same output: this one waits for it (called once per wait). */
  onWait?: (wait: LockWait) => void;
}

export interface TensorErrorReport extends Int4ErrorStats {
  /** float source initializer */
  name: string;
  /** nodes it feeds after the rewrite */
  nodes: string[];
  kind: 'matmul' | 'gather' | 'matmul+gather';
  K: number;
  N: number;
  dtype: 'float32' | 'float16';
  bytesBefore: number;
  bytesAfter: number;
}

export type SourceFile = FileHash;

export interface QuantizeResult {
  input: { model: string; folder: string; bytes: number; sha256: string; files: SourceFile[]; synthetic: boolean };
  output: { folder: string; model: string; data: string | null; bytes: number; copied: string[] };
  settings: {
    method: 'rtn';
    bits: 4;
    blockSize: number;
    symmetric: boolean;
    accuracyLevel: number;
    embeddings: boolean;
    keepLmHead: boolean;
    exclude: string[];
    excludedNodes: string[];
  };
  size: {
    before: number;
    after: number;
    /** before / after */
    ratio: number;
    /** 1 - after / before */
    reduction: number;
    /** stored bits (codes + scales + zero points) per quantized weight */
    bitsPerWeight: number;
    quantizedWeights: number;
  };
  nodes: {
    matMul: number;
    quantizedMatMul: number;
    quantizedGather: number;
    lmHead: string | null;
    embedding: string | null;
    skipped: { node: string; op: string; reason: string }[];
  };
  tensors: TensorErrorReport[];
  /** the tensors with the largest relative error, worst first */
  worstTensors: TensorErrorReport[];
  error: { maxAbs: number; rmse: number; relativeFrobenius: number };
  fidelity: (FidelityReport & { ran: true }) | { ran: false; reason: string };
  performance: {
    /** wall time from reading the model to the output being in place (hashing overlaps quantizing) */
    seconds: number;
    /** CPU time of the process (all threads) over the same span: what the work costs on an idle machine */
    cpuSeconds: number;
    inputWeightBytes: number;
    /** float weight bytes quantized per wall second (MB = 10^6 bytes) */
    throughputMBps: number;
    /** peak resident memory of the process up to the end of writing (before the fidelity check) */
    peakRssBytes: number;
  };
}

/** Stripes of about this many bytes are read and quantized at a time. */
const STRIPE_BYTES = 8 << 20;

export function compileExcludePatterns(patterns: readonly string[]): RegExp[] {
  return patterns.map((pattern) => {
    try {
      return new RegExp(pattern);
    } catch (error) {
      throw new ModelscoutError('E_INPUT', `invalid --exclude pattern ${JSON.stringify(pattern)}: ${errorMessage(error)}`, {
        suggestions: ['Pass a JavaScript regular expression matched against node names, e.g. --exclude "lm_head".'],
      });
    }
  });
}

export async function quantizeModel(input: string, options: QuantizeModelOptions = {}, hooks: QuantizeHooks = {}): Promise<QuantizeResult> {
  const blockSize = options.blockSize ?? 128;
  assertBlockSize(blockSize);
  const symmetric = options.symmetric ?? true;
  const accuracyLevel = options.accuracyLevel ?? 4;
  const exclude = [...(options.exclude ?? [])];
  const excludePatterns = compileExcludePatterns(exclude);
  const keepLmHead = options.keepLmHead ?? false;
  const embeddings = options.embeddings ?? true;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();

  const source = await openModelFolder(input);
  const resolved = { modelPath: floatModelFile(source), folder: source.folder };
  const loaded = await readModel(resolved.modelPath);
  const metadata = readModelscoutMetadata(loaded.model);
  const quantizedNodes = findQuantizedNodes(loaded.model);
  if (quantizedNodes.length > 0 || metadata.quantization) {
    throw new ModelscoutError('E_INPUT', `${resolved.modelPath} is already quantized (${quantizedNodes.length} int4 node(s)${metadata.quantization ? ', modelscout.quantization metadata' : ''})`, {
      suggestions: ['Quantize the float model (onnx/model.onnx) instead.'],
    });
  }

  const model = cloneModel(loaded.model);
  const plan = planQuantization(model, { blockSize, symmetric, accuracyLevel, exclude: excludePatterns, keepLmHead, embeddings });
  if (plan.jobs.length === 0) throw noEligibleWeights(resolved.modelPath, plan);

  const outFolder = options.out ? resolve(options.out) : resolved.folder;
  const fileName = plan.jobs.every((j) => j.dtype === 'float16') ? VARIANT_FILES.q4f16 : VARIANT_FILES.q4;
  const relativeModel = join('onnx', fileName);
  const outModelPath = join(outFolder, relativeModel);
  if (outModelPath === resolved.modelPath) {
    throw new ModelscoutError('E_INPUT', `the output ${outModelPath} would overwrite the input model`, { suggestions: ['Pass --out DIR.'] });
  }

  // The source is hashed on a worker thread while this thread quantizes.
  await assertWritableDir(outFolder, options.out ? '--out' : 'the model folder');
  const sourcePaths = [loaded.path, ...(await externalDataFiles(loaded)).map((f) => f.path)];
  const sourceBytes = (await Promise.all(sourcePaths.map(async (p) => (await stat(p)).size))).reduce((a, b) => a + b, 0);
  const hashing = hashFilesInWorker(sourcePaths, (done) => hooks.onProgress?.({ phase: 'hash', done, total: sourceBytes, unit: 'bytes' }));
  hashing.catch(() => undefined); // awaited below; this only keeps an early failure elsewhere from leaving it unhandled

  const quantizationMetadata = (sha256: string | null): Record<string, unknown> => ({
    method: 'rtn',
    bits: 4,
    block_size: blockSize,
    symmetric,
    accuracy_level: accuracyLevel,
    embeddings,
    keep_lm_head: keepLmHead,
    exclude,
    excluded_nodes: plan.excluded,
    source_model: basename(resolved.modelPath),
    source_sha256: sha256,
  });
  setMetadata(model, { [METADATA_KEYS.quantization]: quantizationMetadata(null) });

  const jobRuns = new JobRunner(loaded, plan, blockSize, symmetric, hooks);
  let copied: string[] = [];
  let written: Awaited<ReturnType<typeof writeModel>>;
  let files: SourceFile[] = [];
  const writeInto = async (folder: string): Promise<void> => {
    copied = await copySiblingFiles(resolved.folder, folder);
    if (copied.includes('genai_config.json')) await pointGenaiConfigAt(join(folder, 'genai_config.json'), relativeModel);
    const path = join(folder, relativeModel);
    written = await writeModel(path, model, {
      tensorData: jobRuns.tensorData(),
      source: loaded,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(hooks.onWait ? { onWait: hooks.onWait } : {}),
      // The source hash (computed in a worker while quantizing) goes into the metadata before the graph is
      // encoded, so the graph and its data are published once, together.
      beforeEncode: async (out) => {
        files = await hashing;
        setMetadata(out, { [METADATA_KEYS.quantization]: quantizationMetadata(files[0]!.sha256) });
      },
    });
  };
  if (outFolder === resolved.folder) {
    await writeInto(outFolder);
  } else if (await isModelFolder(outFolder)) {
    await writeInto(outFolder);
  } else {
    await publishDirectory(outFolder, { kind: 'quantize', ...(options.signal ? { signal: options.signal } : {}), ...(hooks.onWait ? { onWait: hooks.onWait } : {}) }, (tmp) => writeInto(tmp));
  }
  const quantizeSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;

  const tensors = jobRuns.reports();
  const quantizedWeights = plan.jobs.reduce((sum, j) => sum + j.K * j.N, 0);
  const storedBytes = tensors.reduce((sum, t) => sum + t.bytesAfter, 0);
  const inputWeightBytes = tensors.reduce((sum, t) => sum + t.bytesBefore, 0);
  const before = files.reduce((sum, f) => sum + f.bytes, 0);
  const sourceSha256 = files[0]!.sha256;
  const after = written!.modelBytes + written!.dataBytes;

  let fidelity: QuantizeResult['fidelity'];
  if (options.fidelity === false) {
    fidelity = { ran: false, reason: 'disabled (--no-fidelity)' };
  } else {
    hooks.onProgress?.({ phase: 'fidelity', done: 0, total: 2, unit: 'models' });
    try {
      const report = await measureFidelity(resolved.modelPath, outModelPath, {
        sequenceLength: options.fidelitySequenceLength ?? DEFAULT_FIDELITY_SEQUENCE,
        seed: options.fidelitySeed ?? DEFAULT_FIDELITY_SEED,
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
      });
      fidelity = { ran: true, ...report };
    } catch (error) {
      // A model that is not a KV-cache decoder (e.g. a single layer) cannot be compared by next-token logits.
      if (error instanceof ModelscoutError && error.code === 'E_UNSUPPORTED') fidelity = { ran: false, reason: error.message };
      else throw error;
    }
    hooks.onProgress?.({ phase: 'fidelity', done: 2, total: 2, unit: 'models' });
  }

  const worstTensors = [...tensors].sort((a, b) => b.relativeFrobenius - a.relativeFrobenius).slice(0, 5);
  return {
    input: { model: resolved.modelPath, folder: resolved.folder, bytes: before, sha256: sourceSha256, files, synthetic: metadata.synthetic },
    // (written.dataPath may name the temporary folder the output was built in.)
    output: { folder: outFolder, model: outModelPath, data: written!.dataPath ? join(dirname(outModelPath), basename(written!.dataPath)) : null, bytes: after, copied },
    settings: { method: 'rtn', bits: 4, blockSize, symmetric, accuracyLevel, embeddings, keepLmHead, exclude, excludedNodes: plan.excluded },
    size: {
      before,
      after,
      ratio: before / after,
      reduction: 1 - after / before,
      bitsPerWeight: (storedBytes * 8) / quantizedWeights,
      quantizedWeights,
    },
    nodes: {
      matMul: plan.matMulCount,
      quantizedMatMul: plan.replaced.filter((r) => r.op === 'MatMulNBits').length,
      quantizedGather: plan.replaced.filter((r) => r.op === 'GatherBlockQuantized').length,
      lmHead: plan.lmHead,
      embedding: plan.embedding,
      skipped: plan.skipped,
    },
    tensors,
    worstTensors,
    error: overallError(tensors),
    fidelity,
    performance: { seconds: quantizeSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, inputWeightBytes, throughputMBps: inputWeightBytes / 1e6 / quantizeSeconds, peakRssBytes },
  };
}

function noEligibleWeights(path: string, plan: QuantizationPlan): ModelscoutError {
  const reasons = new Map<string, number>();
  for (const s of plan.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
  const dtypeProblem = plan.skipped.find((s) => /supported: float32, float16/.test(s.reason));
  let detail: string;
  if (plan.matMulCount === 0) detail = 'the graph has no MatMul node';
  else if (plan.excluded.length > 0 && plan.skipped.length === 0) detail = `all ${plan.excluded.length} eligible MatMul node(s) were excluded`;
  else if (dtypeProblem) detail = `${dtypeProblem.reason.replace(/^weight \S+ is /, 'weights are ')}`;
  else detail = [...reasons].map(([reason, count]) => `${count} × ${reason}`).join('; ');
  return new ModelscoutError('E_INPUT', `no eligible MatMul in ${path}: ${detail}; nothing was written`, {
    suggestions: ['Quantize a model whose MatMul weights are float32 or float16 initializers (e.g. one made by `modelscout synth`).'],
  });
}

function overallError(tensors: TensorErrorReport[]): { maxAbs: number; rmse: number; relativeFrobenius: number } {
  let sse = 0;
  let ssw = 0;
  let count = 0;
  let maxAbs = 0;
  for (const t of tensors) {
    const tensorSse = t.rmse * t.rmse * t.count;
    sse += tensorSse;
    ssw += t.relativeFrobenius > 0 ? tensorSse / (t.relativeFrobenius * t.relativeFrobenius) : 0;
    count += t.count;
    maxAbs = Math.max(maxAbs, t.maxAbs);
  }
  return { maxAbs, rmse: count ? Math.sqrt(sse / count) : 0, relativeFrobenius: ssw ? Math.sqrt(sse / ssw) : 0 };
}

/**
 * An existing output folder the int4 files may be added to: one modelscout published, or a model folder
 * (a config.json or an onnx/ folder of models). Any other existing folder goes through `publishDirectory`,
 * which replaces only empty folders and refuses the rest.
 */
async function isModelFolder(dir: string): Promise<boolean> {
  let entries: string[];
  try {
    if (!(await stat(dir)).isDirectory()) return false;
    entries = await readdir(dir);
  } catch {
    return false;
  }
  if (entries.includes(OUTPUT_MANIFEST) || entries.includes('config.json')) return true;
  if (!entries.includes('onnx')) return false;
  return (await readdir(join(dir, 'onnx')).catch((): string[] => [])).some((f) => f.endsWith('.onnx'));
}

/**
 * An onnxruntime-genai config copied beside the int4 model names the float model, which the output folder
 * does not hold: point its decoder at the int4 file (atomically). A file that is not such a config is left
 * as it is.
 */
async function pointGenaiConfigAt(path: string, modelFile: string): Promise<void> {
  let config: { model?: { decoder?: { filename?: unknown } } };
  try {
    config = JSON.parse(await readFile(path, 'utf8')) as typeof config;
  } catch {
    return;
  }
  const decoder = config.model?.decoder;
  if (!decoder || typeof decoder.filename !== 'string') return;
  decoder.filename = modelFile.split(sep).join('/');
  await writeJsonAtomic(path, config);
}

/**
 * Copies the model folder's top-level files (config.json, tokenizer files, ...) into a different output
 * folder, each atomically. Subfolders (the float ONNX files) are not copied.
 */
async function copySiblingFiles(from: string, to: string): Promise<string[]> {
  if (resolve(from) === resolve(to)) return [];
  const copied: string[] = [];
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.')) continue;
    const target = join(to, entry.name);
    await mkdir(to, { recursive: true });
    const tmp = temporarySibling(target);
    try {
      await copyFile(join(from, entry.name), tmp);
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    copied.push(entry.name);
  }
  return copied;
}

/**
 * Runs quantization jobs lazily for the writer: the first initializer of a job it asks for triggers the
 * job; the result stays cached until all of the job's initializers are written, then it is dropped.
 */
class JobRunner {
  private readonly cache = new Map<number, { weight: Int4Weight; pending: number }>();
  private readonly stats = new Map<number, Int4ErrorStats>();
  private readonly reader = new StripeReader();
  private jobsDone = 0;

  constructor(
    private readonly loaded: LoadedModel,
    private readonly plan: QuantizationPlan,
    private readonly blockSize: number,
    private readonly symmetric: boolean,
    private readonly hooks: QuantizeHooks,
  ) {}

  /**
   * Data for the writer: the quantized parts, produced on demand. (Float tensors that stay are copied by
   * the writer itself; it pipelines writes, so every chunk handed to it must be a fresh buffer.)
   */
  tensorData(): Map<string, TensorDataSource> {
    const map = new Map<string, TensorDataSource>();
    for (const job of this.plan.jobs) {
      for (const output of job.outputs) map.set(output.name, () => this.part(job, output.part));
    }
    return map;
  }

  reports(): TensorErrorReport[] {
    return this.plan.jobs.map((job) => {
      const stats = this.stats.get(job.id);
      if (!stats) throw new ModelscoutError('E_INTERNAL', `tensor ${job.source} was never quantized`);
      const elementBytes = job.dtype === 'float16' ? 2 : 4;
      const layoutBytes = job.outputs.reduce((sum, o) => sum + partBytes(job, o.part, this.blockSize), 0);
      return {
        name: job.source,
        nodes: job.nodes,
        kind: job.uses.size === 2 ? 'matmul+gather' : job.uses.has('gather') ? 'gather' : 'matmul',
        K: job.K,
        N: job.N,
        dtype: job.dtype,
        bytesBefore: job.K * job.N * elementBytes,
        bytesAfter: layoutBytes,
        ...stats,
      };
    });
  }

  private async part(job: QuantizeJob, part: OutputPart): Promise<Uint8Array> {
    let entry = this.cache.get(job.id);
    if (!entry) {
      this.hooks.onProgress?.({ phase: 'quantize', done: this.jobsDone, total: this.plan.jobs.length, unit: 'tensors', current: job.source });
      const quantizer = new Int4Quantizer(job.K, job.N, { blockSize: this.blockSize, symmetric: this.symmetric, dtype: job.dtype });
      await feedQuantizer(this.loaded, job, quantizer, this.reader);
      entry = { weight: quantizer.finish(), pending: job.outputs.length };
      this.stats.set(job.id, quantizer.errorStats());
      this.cache.set(job.id, entry);
      this.jobsDone++;
      this.hooks.onProgress?.({ phase: 'quantize', done: this.jobsDone, total: this.plan.jobs.length, unit: 'tensors', current: job.source });
    }
    const bytes = partOf(entry.weight, part);
    entry.pending--;
    if (entry.pending === 0) this.cache.delete(job.id);
    return bytes;
  }
}

function partOf(weight: Int4Weight, part: OutputPart): Uint8Array {
  switch (part) {
    case 'packed':
      return weight.packed;
    case 'gatherData':
      return packGatherData(weight);
    case 'scales':
      return new Uint8Array(weight.scales.buffer, weight.scales.byteOffset, weight.scales.byteLength);
    case 'zeroPoints':
      if (!weight.zeroPoints) throw new ModelscoutError('E_INTERNAL', 'zero points requested from a symmetric weight');
      return weight.zeroPoints;
  }
}

function partBytes(job: QuantizeJob, part: OutputPart, blockSize: number): number {
  const kBlocks = Math.ceil(job.K / blockSize);
  switch (part) {
    case 'packed':
      return job.N * kBlocks * (blockSize / 2);
    case 'gatherData':
      return job.N * Math.ceil(job.K / 2);
    case 'scales':
      return job.N * kBlocks * (job.dtype === 'float16' ? 2 : 4);
    case 'zeroPoints':
      return job.N * Math.ceil(kBlocks / 2);
  }
}

/** Reads the source tensor in stripes and feeds them to the quantizer (rows of W, or rows of Wᵀ). */
async function feedQuantizer(loaded: LoadedModel, job: QuantizeJob, quantizer: Int4Quantizer, reader: StripeReader): Promise<void> {
  const elementBytes = job.dtype === 'float16' ? 2 : 4;
  const { blockSize } = quantizer.layout;
  const totalBytes = job.K * job.N * elementBytes;
  if (job.orientation === 'kn') {
    // Stripes of whole block rows: `bs` consecutive rows of W are contiguous and all one block needs.
    const rowBytes = job.N * elementBytes;
    const stripeRows = Math.max(1, Math.floor(STRIPE_BYTES / (rowBytes * blockSize))) * blockSize;
    for await (const { offset, bytes } of reader.stripes(loaded, job.tensor, totalBytes, stripeRows * rowBytes)) {
      quantizer.addRows(offset / rowBytes, typedView(bytes, job.dtype));
    }
  } else {
    const rowBytes = job.K * elementBytes;
    const stripeRows = Math.max(1, Math.floor(STRIPE_BYTES / rowBytes));
    for await (const { offset, bytes } of reader.stripes(loaded, job.tensor, totalBytes, stripeRows * rowBytes)) {
      quantizer.addColumns(offset / rowBytes, typedView(bytes, job.dtype));
    }
  }
}

/** Float32Array / Uint16Array view of little-endian bytes, copying only when the bytes are unaligned. */
function typedView(bytes: Uint8Array, dtype: 'float32' | 'float16'): Float32Array | Uint16Array {
  const size = dtype === 'float16' ? 2 : 4;
  let source = bytes;
  if (bytes.byteOffset % size !== 0) {
    source = new Uint8Array(bytes.byteLength);
    source.set(bytes);
  }
  return dtype === 'float16'
    ? new Uint16Array(source.buffer, source.byteOffset, source.byteLength / 2)
    : new Float32Array(source.buffer, source.byteOffset, source.byteLength / 4);
}

