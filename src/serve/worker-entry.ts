/** Entry of a `--workers` child process: one job in, its level run out, over the IPC channel. */
import { runLevelJob, type LevelJob } from './workers.js';

process.once('message', (job) => {
  void runLevelJob(job as LevelJob).then(
    (run) => process.send?.(run, () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(`serve-bench worker failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
});
