import { ModelscoutError, errorMessage } from '../errors.js';
import { detectDecoderSignature } from './decoder-signature.js';
import { readModel } from './model-io.js';

export interface DecoderCheck {
  /** Dims of the logits of the check step ([1, tokens, vocab]). */
  logitsDims: number[];
  /** Sequence length of the present cache returned (= tokens). */
  presentLength: number;
}

/**
 * Loads a decoder in ONNX Runtime (CPU) and runs one step with empty past tensors: the check that a model
 * written by modelscout is one ONNX Runtime accepts and that produces finite logits. Needs memory for
 * the whole model, so it is opt-in for big ones.
 */
export async function checkDecoderRuns(modelPath: string, tokens = 3): Promise<DecoderCheck> {
  const loaded = await readModel(modelPath);
  const sig = detectDecoderSignature(loaded.model, modelPath);
  // Loaded on demand: the native addon is only needed for this check.
  const ort = await import('onnxruntime-node');
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
  } catch (error) {
    throw new ModelscoutError('E_MODEL', `${modelPath}: ONNX Runtime rejected the model: ${errorMessage(error).split('\n')[0] ?? ''}`);
  }
  try {
    const ids = BigInt64Array.from({ length: tokens }, (_, i) => BigInt(i + 1));
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      input_ids: new ort.Tensor('int64', ids, [1, tokens]),
    };
    if (sig.attentionMask) feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(tokens).fill(1n), [1, tokens]);
    if (sig.positionIds) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: tokens }, (_, i) => BigInt(i)), [1, tokens]);
    if (sig.numLogitsToKeep) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([0n]), []);
    const heads = sig.numKvHeads ?? 1;
    const dim = sig.headDim ?? 1;
    for (const name of [...sig.pastKeyNames, ...sig.pastValueNames]) {
      feeds[name] = sig.kvDtype === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), [1, heads, 0, dim]) : new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, dim]);
    }
    let out: Awaited<ReturnType<typeof session.run>>;
    try {
      out = await session.run(feeds);
    } catch (error) {
      throw new ModelscoutError('E_MODEL', `${modelPath}: ONNX Runtime failed to run one step: ${errorMessage(error).split('\n')[0] ?? ''}`);
    }
    const logits = out[sig.logits.name]!;
    const values = logits.data as Float32Array | Uint16Array;
    // float16 comes back as bit patterns: exponent bits all ones means Inf/NaN.
    const finite = logits.type === 'float16' ? (values as Uint16Array).every((h) => (h & 0x7c00) !== 0x7c00) : (values as Float32Array).every(Number.isFinite);
    if (!finite) throw new ModelscoutError('E_MODEL', `${modelPath}: one step produced non-finite logits`);
    const present = out[sig.presentKeyNames[0]!]!;
    return { logitsDims: [...logits.dims], presentLength: present.dims[2] ?? 0 };
  } finally {
    await session.release();
  }
}
