import * as ort from 'onnxruntime-node';
import { ModelscoutError, errorMessage } from '../errors.js';
import { detectDecoderSignature, type DecoderSignature } from '../onnx/decoder-signature.js';
import type { OnnxModel } from '../onnx/proto.js';
import { fromFloat16Bits } from '../util/float16.js';
import { compareLogits, FIDELITY_THRESHOLDS, judgeFidelity, type FidelityMetrics, type FidelityThresholds } from './fidelity-metrics.js';
import { createRandom } from './random.js';

/**
 * Model fidelity of a quantized decoder against its original: both run one prefill pass (empty KV cache)
 * over the same seeded token sequence in onnxruntime-node, which yields next-token logits at every
 * position; the logits are then compared (cosine, top-1 agreement, KL). One session is alive at a time.
 */

export interface FidelityOptions {
  /** Tokens in the prefill pass (default 32). */
  sequenceLength?: number;
  /** Seed of the token sequence (default 1234). */
  seed?: number;
  /** Intra-op threads for onnxruntime (default: its own choice). */
  threads?: number;
}

export interface FidelityReport extends FidelityMetrics {
  sequenceLength: number;
  seed: number;
  vocabSize: number;
  thresholds: FidelityThresholds;
  pass: boolean;
  /** why it failed, empty when it passed */
  reasons: string[];
}

export const DEFAULT_FIDELITY_SEQUENCE = 32;
export const DEFAULT_FIDELITY_SEED = 1234;

/**
 * Runs both models and compares their logits. `reference` is the decoded original model (for the I/O
 * signature); both paths must be loadable by onnxruntime (external data next to them).
 */
export async function measureFidelity(reference: { path: string; model: OnnxModel }, quantizedPath: string, options: FidelityOptions = {}): Promise<FidelityReport> {
  const sequenceLength = options.sequenceLength ?? DEFAULT_FIDELITY_SEQUENCE;
  const seed = options.seed ?? DEFAULT_FIDELITY_SEED;
  const signature = detectDecoderSignature(reference.model, reference.path);
  const vocabSize = signature.vocabSize;
  if (vocabSize === null) {
    throw new ModelscoutError('E_UNSUPPORTED', `${reference.path}: the logits output has no fixed vocabulary size, so a token sequence cannot be drawn`);
  }
  const random = createRandom(seed);
  const tokens = Array.from({ length: sequenceLength }, () => random.int(vocabSize));
  const referenceLogits = await runPrefill(reference.path, signature, tokens, options);
  const quantizedLogits = await runPrefill(quantizedPath, signature, tokens, options);
  if (quantizedLogits.length !== referenceLogits.length) {
    throw new ModelscoutError('E_CHECK_FAILED', `${quantizedPath}: logits have ${quantizedLogits.length} values, the original ${referenceLogits.length}`);
  }
  const metrics = compareLogits(referenceLogits, quantizedLogits, vocabSize);
  const verdict = judgeFidelity(metrics);
  return { ...metrics, sequenceLength, seed, vocabSize, thresholds: { ...FIDELITY_THRESHOLDS }, pass: verdict.pass, reasons: verdict.reasons };
}

/** Logits `[sequence, vocab]` of one prefill pass with an empty KV cache. */
export async function runPrefill(path: string, signature: DecoderSignature, tokens: readonly number[], options: FidelityOptions = {}): Promise<Float32Array> {
  const sessionOptions: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3 };
  if (options.threads !== undefined) sessionOptions.intraOpNumThreads = options.threads;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, sessionOptions);
  } catch (error) {
    throw new ModelscoutError('E_RUNTIME', `onnxruntime could not load ${path}: ${firstLine(errorMessage(error))}`, {
      suggestions: ['Check that the model and its external data file are complete.'],
    });
  }
  try {
    const feeds = buildPrefillFeeds(signature, tokens);
    let outputs: ort.InferenceSession.ReturnType;
    try {
      outputs = await session.run(feeds, [signature.logits.name]);
    } catch (error) {
      throw new ModelscoutError('E_RUNTIME', `onnxruntime failed to run ${path}: ${firstLine(errorMessage(error))}`);
    }
    const logits = outputs[signature.logits.name];
    if (!logits) throw new ModelscoutError('E_RUNTIME', `${path} returned no ${signature.logits.name}`);
    return toFloat32(logits);
  } finally {
    await session.release();
  }
}

/** Feeds of a first (no-cache) step: ids, an all-ones mask, positions 0..S-1, and zero-length caches. */
export function buildPrefillFeeds(signature: DecoderSignature, tokens: readonly number[]): Record<string, ort.Tensor> {
  const length = tokens.length;
  const ints = (values: readonly number[], dtype: string): ort.Tensor =>
    dtype === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(values), [1, values.length])
      : new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [1, values.length]);
  const feeds: Record<string, ort.Tensor> = { [signature.inputIds.name]: ints(tokens, signature.inputIds.dtype) };
  if (signature.attentionMask) feeds[signature.attentionMask.name] = ints(new Array<number>(length).fill(1), signature.attentionMask.dtype);
  if (signature.positionIds) feeds[signature.positionIds.name] = ints(Array.from({ length }, (_, i) => i), signature.positionIds.dtype);
  if (signature.numLogitsToKeep) {
    // 0 asks exports with this input for the logits of every position.
    const rank = signature.numLogitsToKeep.shape?.length ?? 0;
    feeds[signature.numLogitsToKeep.name] = new ort.Tensor('int64', BigInt64Array.from([0n]), rank === 0 ? [] : [1]);
  }
  if (signature.numKvHeads === null || signature.headDim === null) {
    throw new ModelscoutError('E_UNSUPPORTED', 'the KV cache inputs do not declare their head count and head size, so an empty cache cannot be built');
  }
  const dims = [1, signature.numKvHeads, 0, signature.headDim];
  for (const name of [...signature.pastKeyNames, ...signature.pastValueNames]) {
    feeds[name] = signature.kvDtype === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
  }
  return feeds;
}

function toFloat32(tensor: ort.Tensor): Float32Array {
  const data = tensor.data;
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) return Float32Array.from(data, (bits) => fromFloat16Bits(bits));
  throw new ModelscoutError('E_UNSUPPORTED', `logits of type ${tensor.type} are not supported (float32, float16)`);
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
