/**
 * The check that a model written by modelscout is one ONNX Runtime accepts: load it on the CPU and run one
 * prefill step with an empty cache, through the same session and decoder loop the benchmark uses. Needs
 * memory for the whole model, so it is opt-in for big ones.
 */
import { ModelscoutError } from '../errors.js';
import { detectDecoderIo } from './decoder-io.js';
import { DecoderLoop } from './decoder-loop.js';
import { createSession, runFailure } from './session.js';

export interface DecoderCheck {
  /** Dims of the logits of the check step ([1, tokens, vocab]). */
  logitsDims: number[];
  /** Sequence length of the present cache returned (= tokens). */
  presentLength: number;
}

/** Runs one step of `tokens` ids (1..tokens) and checks that the logits are finite. */
export async function checkDecoderRuns(modelPath: string, tokens = 3): Promise<DecoderCheck> {
  const { session } = await createSession(modelPath, { device: 'cpu', threads: 0, graphOptLevel: 'all' });
  try {
    const io = detectDecoderIo(session.inputMetadata, session.outputMetadata, modelPath);
    const loop = new DecoderLoop(session, io);
    loop.reset(1, tokens);
    let logits;
    try {
      ({ logits } = await loop.prefill([Array.from({ length: tokens }, (_, i) => i + 1)], true));
    } catch (error) {
      throw runFailure(modelPath, 'one step', error);
    }
    const values = logits.data as Float32Array | Uint16Array;
    // float16 comes back as bit patterns: exponent bits all ones means Inf/NaN.
    const finite = logits.type === 'float16' ? (values as Uint16Array).every((h) => (h & 0x7c00) !== 0x7c00) : (values as Float32Array).every(Number.isFinite);
    if (!finite) throw new ModelscoutError('E_MODEL', `${modelPath}: one step produced non-finite logits`);
    return { logitsDims: [...logits.dims], presentLength: loop.pastLength };
  } finally {
    await session.release();
  }
}
