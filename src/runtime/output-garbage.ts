/**
 * Bounds the dead buffers a decoder loop leaves behind.
 *
 * onnxruntime-node hands every output of a run back as a new ArrayBuffer (even for a fetch given a
 * preallocated tensor: it writes there, then returns a copy), so each decode step leaves its logits
 * (vocab × 4 bytes per sequence: 192 KiB for SmolLM2, 594 KiB for Qwen2.5) and its new KV positions
 * behind. V8 frees an ArrayBuffer only when a collection finds it dead, and a decode loop allocates so
 * little JavaScript that its young generation rarely fills: over 128 SmolLM2-135M decode steps the dead
 * tensors reached 18–30 MiB of resident memory before anything collected them. The loop hands each run's
 * outputs here; once their bytes pass the budget, a minor collection (a scavenge of the young generation,
 * where these short-lived buffers live: 0.1–0.6 ms) frees them before the next run.
 *
 * The KV cache's own buffers live for a whole generation, so V8 has moved them to its old generation by
 * the time a layout lets them go (a buffer that grew, a repetition of another shape); only a full
 * collection (a few ms) frees those, so it runs once their bytes pass a larger budget.
 *
 * The collector comes from V8's `--expose-gc`, switched on for a fresh context (the way Jest's leak
 * detector reaches it), so it works in any process without a command-line flag. Where V8 refuses, nothing
 * is collected early and the loop runs as before.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as ort from 'onnxruntime-node';

/** Dead output bytes allowed between two minor collections. */
export const OUTPUT_GARBAGE_BUDGET_BYTES = 8 * 2 ** 20;
/** Released cache bytes allowed between two full collections. */
export const RELEASED_CACHE_BUDGET_BYTES = 32 * 2 ** 20;

/** Runs a collection: 'minor' (young generation) or 'major' (the whole heap). */
export type Collect = (type: 'minor' | 'major') => void;

let exposed: Collect | null | undefined;

/** V8's collector; null where it cannot be reached. */
export function heapCollector(): Collect | null {
  if (exposed !== undefined) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    // The options object selects the kind; V8 versions without it run a full collection either way.
    exposed = typeof gc === 'function' ? (type) => void (gc as (options: { type: 'minor' | 'major' }) => void)({ type }) : null;
  } catch {
    exposed = null;
  }
  return exposed;
}

/** Bytes of a run's outputs that live in JavaScript memory (GPU-resident outputs are not counted). */
export function cpuOutputBytes(outputs: Record<string, ort.OnnxValue>): number {
  let bytes = 0;
  for (const value of Object.values(outputs)) {
    const tensor = value as ort.Tensor;
    if (tensor.location !== undefined && tensor.location !== 'cpu' && tensor.location !== 'cpu-pinned') continue;
    const data: unknown = tensor.data;
    if (ArrayBuffer.isView(data)) bytes += data.byteLength;
  }
  return bytes;
}

export interface OutputGarbageOptions {
  outputBudgetBytes?: number;
  releasedBudgetBytes?: number;
  /** Default: V8's (`heapCollector()`); null: never collect early. */
  collect?: Collect | null;
}

export class OutputGarbage {
  readonly outputBudgetBytes: number;
  readonly releasedBudgetBytes: number;
  readonly #collect: Collect | null;
  #outputBytes = 0;
  #releasedBytes = 0;
  /** Collections run so far (tests and diagnostics). */
  readonly collections = { minor: 0, major: 0 };

  constructor(options: OutputGarbageOptions = {}) {
    this.outputBudgetBytes = options.outputBudgetBytes ?? OUTPUT_GARBAGE_BUDGET_BYTES;
    this.releasedBudgetBytes = options.releasedBudgetBytes ?? RELEASED_CACHE_BUDGET_BYTES;
    this.#collect = options.collect === undefined ? heapCollector() : options.collect;
  }

  /** Counts a run's outputs: garbage once the loop has taken what it needs from them. */
  add(outputs: Record<string, ort.OnnxValue>): void {
    if (this.#collect) this.#outputBytes += cpuOutputBytes(outputs);
  }

  /** Counts cache buffers the KV layout let go of. */
  released(bytes: number): void {
    if (this.#collect) this.#releasedBytes += bytes;
  }

  /**
   * Called before a run, when the last run's outputs are dead (a collection after the run would find them
   * alive, move them to the older generation and leave them there, on top of the next prompt pass's
   * peak): a full collection once released cache buffers pass their budget, else a minor one once the
   * outputs pass theirs.
   */
  beforeRun(): void {
    if (!this.#collect) return;
    if (this.#releasedBytes >= this.releasedBudgetBytes) {
      this.#releasedBytes = 0;
      this.#outputBytes = 0;
      this.collections.major += 1;
      this.#collect('major');
    } else if (this.#outputBytes >= this.outputBudgetBytes) {
      this.#outputBytes = 0;
      this.collections.minor += 1;
      this.#collect('minor');
    }
  }
}
