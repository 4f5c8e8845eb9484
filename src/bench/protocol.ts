/**
 * Messages between the benchmark runner and its child processes (Node IPC, JSON-serialisable).
 * One child measures one (model file, variant, session settings) and all of its tests.
 */
import type { KvLayout } from '../runtime/kv-cache.js';
import type { SessionSettings } from './matrix.js';
import type { TestMeasurement } from './measure.js';
import type { TestSpec } from './scenarios.js';

export interface WorkerJob {
  modelFile: string;
  session: SessionSettings;
  tests: TestSpec[];
  repetitions: number;
  warmup: number;
  seed: number;
  /** Vocabulary size to draw synthetic ids from when the logits shape does not state it. */
  vocabSize: number | null;
  /** The weights are quantized (wider self-check tolerance). */
  quantized: boolean;
  selfCheck: boolean;
  rssIntervalMs: number;
  kvLayout: KvLayout;
  /** Most prompt positions per forward pass (`DecoderLoopOptions.ubatchSize`). */
  ubatchSize: number;
}

export interface WorkerError {
  code: string;
  message: string;
}

export interface GroupLoad {
  session_create_ms: number;
  rss_baseline_bytes: number;
  rss_after_load_bytes: number;
  self_check: { passed: boolean; max_abs_diff: number; tolerance: number; positions: number } | null;
  kv: { dtype: 'float32' | 'float16'; layers: number; kv_heads: number; head_dim: number };
  vocab_size: number;
}

export interface TestPayload {
  index: number;
  measurement: TestMeasurement | null;
  gpu: import('./gpu-memory.js').GpuMemoryPeak[];
  /** The session's first (cold) run, reported with the first test only. */
  first_run_e2e_ms: number | null;
  /** RSS after the session was created and warmed up (measured after the first test's warm-up). */
  rss_after_load_bytes: number;
  error: WorkerError | null;
}

export type ChildMessage =
  | { type: 'progress'; message: string }
  | { type: 'load'; load: GroupLoad }
  | { type: 'result'; payload: TestPayload }
  /** Nothing could be measured (the session or the self-check failed): every test gets this error. */
  | { type: 'fatal'; error: WorkerError; load: GroupLoad | null }
  | { type: 'done' };

export type ParentMessage = { type: 'job'; job: WorkerJob };
