/**
 * Child-process entry of the benchmark: receives one job over IPC (a model file, session settings and
 * tests), loads the session once, runs the self-check, measures every test and sends the results back one
 * by one, so a crash halfway still leaves the finished tests with the parent. Its RSS is its own.
 */
import { errorMessage, isModelscoutError } from '../errors.js';
import { detectDecoderIo } from '../runtime/decoder-io.js';
import { DecoderLoop } from '../runtime/decoder-loop.js';
import { selfCheck, selfCheckTolerance } from './generate.js';
import { GpuMemorySampler } from './gpu-memory.js';
import { currentRss, startPeakRss } from './memory.js';
import { measureTest } from './measure.js';
import type { ChildMessage, GroupLoad, ParentMessage, WorkerError, WorkerJob } from './protocol.js';
import { syntheticTokenIds } from './scenarios.js';
import { createSession } from '../runtime/session.js';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

function toWorkerError(error: unknown, fallbackCode = 'E_RUNTIME'): WorkerError {
  if (isModelscoutError(error)) return { code: error.code, message: error.message };
  return { code: fallbackCode, message: errorMessage(error).split('\n')[0] ?? 'unknown error' };
}

export async function runJob(job: WorkerJob): Promise<void> {
  const rssBaseline = currentRss();
  const rss = startPeakRss(job.rssIntervalMs);
  let load: GroupLoad | null = null;
  try {
    await send({ type: 'progress', message: `loading ${job.modelFile} (${job.session.device}, ${job.session.threads || 'default'} threads)` });
    const { session, createMs } = await createSession(job.modelFile, job.session, { kvLayout: job.kvLayout });
    const io = detectDecoderIo(session.inputMetadata, session.outputMetadata, job.modelFile);
    const vocab = io.vocabSize ?? job.vocabSize;
    if (vocab === null) throw new Error('the vocabulary size is unknown (logits shape is symbolic and there is no config.json)');
    const loop = new DecoderLoop(session, io, { kvLayout: job.kvLayout, ubatchSize: job.ubatchSize });
    load = {
      session_create_ms: createMs,
      rss_baseline_bytes: rssBaseline,
      rss_after_load_bytes: currentRss(),
      self_check: null,
      kv: { dtype: io.kvType, layers: io.layers.length, kv_heads: io.kvHeads, head_dim: io.headDim },
      vocab_size: vocab,
    };
    await send({ type: 'load', load });
    for (let index = 0; index < job.tests.length; index += 1) {
      const test = job.tests[index] as WorkerJob['tests'][number];
      const gpu = job.session.device === 'cpu' ? null : new GpuMemorySampler();
      try {
        if (gpu) await gpu.start();
        let firstRun: number | null = null;
        const measurement = await measureTest(loop, test, {
          repetitions: job.repetitions,
          warmup: job.warmup,
          seed: job.seed,
          vocabSize: vocab,
          rss,
          onProgress: (message) => void send({ type: 'progress', message }),
        });
        if (index === 0) firstRun = measurement.warmup_ms[0] ?? measurement.samples[0]?.e2e_ms ?? null;
        if (index === 0) load.rss_after_load_bytes = Math.max(load.rss_after_load_bytes, measurement.rss_after_warmup_bytes);
        const gpuPeaks = gpu ? await gpu.stop() : [];
        await send({ type: 'result', payload: { index, measurement, gpu: gpuPeaks, first_run_e2e_ms: firstRun, rss_after_load_bytes: load.rss_after_load_bytes, error: null } });
      } catch (error) {
        if (gpu) await gpu.stop();
        await send({ type: 'result', payload: { index, measurement: null, gpu: [], first_run_e2e_ms: null, rss_after_load_bytes: load.rss_after_load_bytes, error: toWorkerError(error) } });
      }
    }
    // The self-check runs after the tests: it recomputes a sequence in one multi-position pass, whose buffers
    // ONNX Runtime keeps, and run first it put about 10 MiB into the peak of every test that makes no such
    // pass itself (SmolLM2-135M q4 `tg128`: 222–230 against 211–215 MiB without it). The results are sent as
    // they finish (a crash later keeps them); a failed check discards them all (`E_CHECK_FAILED`).
    if (job.selfCheck) {
      await send({ type: 'progress', message: 'self-check: incremental decoding vs full recomputation' });
      let failure: string | null = null;
      try {
        const check = await selfCheck(loop, syntheticTokenIds(job.seed, 8, vocab), 4, selfCheckTolerance(io, job.quantized));
        load.self_check = check;
        if (!check.passed) failure = `self-check failed: incremental decoding differs from full recomputation (max |Δlogit| ${check.max_abs_diff.toExponential(2)} > ${check.tolerance.toExponential(2)})`;
      } catch (error) {
        // Non-finite logits, or a run that failed.
        failure = errorMessage(error).split('\n')[0] ?? 'self-check failed';
      }
      if (failure !== null) {
        await send({ type: 'fatal', load, error: { code: 'E_CHECK_FAILED', message: `${failure}; its measurements are discarded` } });
        return;
      }
      await send({ type: 'load', load });
    }
  } catch (error) {
    await send({ type: 'fatal', load, error: toWorkerError(error, 'E_MODEL') });
  } finally {
    await rss.stop();
  }
}

// Started as a child by the runner: wait for the job, run it, report, exit.
if (process.send) {
  process.once('message', (message: ParentMessage) => {
    if (message.type !== 'job') return;
    runJob(message.job)
      .then(() => send({ type: 'done' }))
      .then(() => process.exit(0))
      .catch(async (error: unknown) => {
        await send({ type: 'fatal', load: null, error: toWorkerError(error, 'E_INTERNAL') });
        process.exit(1);
      });
  });
}
