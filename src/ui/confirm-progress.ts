/**
 * `recommend --confirm`'s steps through the progress module: each step as a line saying what it does and
 * what the plan predicts (`step 2/5: building SmolLM2-135M (predicted 12 s)`), and on a terminal a bar that
 * fills with the elapsed time against that prediction, with the time left as the ETA.
 */
import type { ConfirmStepEvent } from '../pipeline/confirm-run.js';
import type { Progress } from './progress.js';

export function confirmStepLine(event: ConfirmStepEvent): string {
  const predicted = event.predictedSec === null ? '' : ` (predicted ${formatPredicted(event.predictedSec)})`;
  return `step ${event.index}/${event.total}: ${event.description}${predicted}`;
}

export function confirmStepsTo(progress: Progress): (event: ConfirmStepEvent) => void {
  let stop: (() => void) | null = null;
  return (event) => {
    stop?.();
    stop = null;
    if (event.stage === 'start') {
      progress.note(confirmStepLine(event));
      if (event.predictedSec !== null) stop = progress.timed(`step ${event.index}/${event.total}`, event.predictedSec);
      else progress.status(`step ${event.index}/${event.total}: ${event.description}`);
    } else {
      progress.done();
    }
  };
}

function formatPredicted(sec: number): string {
  if (sec < 1) return '< 1 s';
  if (sec < 90) return `${Math.round(sec)} s`;
  return `${Math.round(sec / 60)} min`;
}
