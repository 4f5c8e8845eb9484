import { formatBandwidth, formatBytes, formatDuration } from '../util/format.js';

/**
 * The one aggregate progress line of `pull` (all parallel downloads together), as text. Pure: the
 * command measures time, decides whether stderr is a terminal and redraws the line.
 */
export interface ProgressState {
  label: string;
  doneBytes: number;
  totalBytes: number;
  filesDone: number;
  filesTotal: number;
  /** Bytes per second over a recent window, when known. */
  rate: number | null;
}

export function formatProgressLine(state: ProgressState, columns = 100): string {
  const fraction = state.totalBytes > 0 ? Math.min(1, Math.max(0, state.doneBytes / state.totalBytes)) : 1;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const amounts = `${formatBytes(state.doneBytes)} / ${formatBytes(state.totalBytes)}`;
  const rate = state.rate !== null && state.rate > 0 ? formatBandwidth(state.rate) : '';
  const eta = state.rate !== null && state.rate > 0 && fraction < 1 ? `ETA ${formatDuration(((state.totalBytes - state.doneBytes) / state.rate) * 1000)}` : '';
  const files = `${state.filesDone}/${state.filesTotal} files`;
  const tail = [percent, amounts, rate, eta, files].filter(Boolean).join('  ');
  const label = state.label.length > 40 ? `…${state.label.slice(-39)}` : state.label;
  // A fixed width (from the widest tail) keeps the bar from jumping as the numbers change.
  const barWidth = Math.max(10, Math.min(30, columns - label.length - 64));
  const filled = Math.round(fraction * barWidth);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`;
  return `${label} ${bar} ${tail}`.slice(0, Math.max(20, columns - 1));
}

/** Throughput over a sliding window of (time, bytes) samples. */
export class RateMeter {
  private readonly samples: [number, number][] = [];

  constructor(private readonly windowMs = 3000) {}

  add(timeMs: number, doneBytes: number): void {
    this.samples.push([timeMs, doneBytes]);
    while (this.samples.length > 2 && (this.samples[0]?.[0] ?? timeMs) < timeMs - this.windowMs) this.samples.shift();
  }

  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last[0] - first[0] < 200) return null;
    return ((last[1] - first[1]) / (last[0] - first[0])) * 1000;
  }
}
