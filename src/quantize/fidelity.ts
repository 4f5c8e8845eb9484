import type * as ort from 'onnxruntime-node';
import { ModelscoutError, isModelscoutError } from '../errors.js';
import { detectDecoderIo, type DecoderIo } from '../runtime/decoder-io.js';
import { DecoderLoop } from '../runtime/decoder-loop.js';
import { createSession, runFailure } from '../runtime/session.js';
import { fromFloat16Bits } from '../util/float16.js';
import { compareLogits, FIDELITY_THRESHOLDS, judgeFidelity, type FidelityMetrics, type FidelityThresholds } from './fidelity-metrics.js';
import { createRandom } from './random.js';

/**
 * Model fidelity of a quantized decoder against its original: both run one prefill pass (empty KV cache)
 * over the same seeded token sequence in onnxruntime-node, which yields next-token logits at every
 * position; the logits are then compared (cosine, top-1 agreement, KL). Sessions, feeds and the decoder's
 * I/O come from src/runtime/, as for the benchmark.
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
 * Runs both models and compares their logits. Both paths must be loadable by onnxruntime (external data
 * next to them); the vocabulary and the I/O come from the reference's session.
 */
export async function measureFidelity(referencePath: string, quantizedPath: string, options: FidelityOptions = {}): Promise<FidelityReport> {
  const sequenceLength = options.sequenceLength ?? DEFAULT_FIDELITY_SEQUENCE;
  const seed = options.seed ?? DEFAULT_FIDELITY_SEED;
  const drawn = { tokens: [] as number[], vocabSize: 0 };
  const referenceLogits = await runPrefill(referencePath, options, (io) => {
    if (io.vocabSize === null) {
      throw new ModelscoutError('E_UNSUPPORTED', `${referencePath}: the logits output has no fixed vocabulary size, so a token sequence cannot be drawn`);
    }
    const random = createRandom(seed);
    drawn.vocabSize = io.vocabSize;
    drawn.tokens = Array.from({ length: sequenceLength }, () => random.int(drawn.vocabSize));
    return drawn.tokens;
  });
  const quantizedLogits = await runPrefill(quantizedPath, options, () => drawn.tokens);
  if (quantizedLogits.length !== referenceLogits.length) {
    throw new ModelscoutError('E_CHECK_FAILED', `${quantizedPath}: logits have ${quantizedLogits.length} values, the original ${referenceLogits.length}`);
  }
  const metrics = compareLogits(referenceLogits, quantizedLogits, drawn.vocabSize);
  const verdict = judgeFidelity(metrics);
  return { ...metrics, sequenceLength, seed, vocabSize: drawn.vocabSize, thresholds: { ...FIDELITY_THRESHOLDS }, pass: verdict.pass, reasons: verdict.reasons };
}

/**
 * Logits `[sequence, vocab]` of one prefill pass with an empty KV cache, on the CPU; `tokensFor` picks the
 * tokens once the session's I/O is known. One session is alive at a time.
 */
async function runPrefill(path: string, options: FidelityOptions, tokensFor: (io: DecoderIo) => readonly number[]): Promise<Float32Array> {
  const { session } = await createSession(path, { device: 'cpu', threads: options.threads ?? 0, graphOptLevel: 'all' });
  try {
    let io: DecoderIo;
    try {
      io = detectDecoderIo(session.inputMetadata, session.outputMetadata, path);
    } catch (error) {
      // Not a KV-cache decoder (e.g. a single layer): next-token logits cannot be compared.
      if (isModelscoutError(error)) throw new ModelscoutError('E_UNSUPPORTED', `fidelity needs a KV-cache decoder: ${error.message}`);
      throw error;
    }
    const tokens = tokensFor(io);
    const loop = new DecoderLoop(session, io);
    loop.reset(1, tokens.length);
    try {
      return toFloat32((await loop.prefill([tokens], true)).logits);
    } catch (error) {
      throw runFailure(path, 'the prefill', error);
    }
  } finally {
    await session.release();
  }
}

function toFloat32(tensor: ort.Tensor): Float32Array {
  const data = tensor.data;
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) return Float32Array.from(data, (bits) => fromFloat16Bits(bits));
  throw new ModelscoutError('E_UNSUPPORTED', `logits of type ${tensor.type} are not supported (float32, float16)`);
}
