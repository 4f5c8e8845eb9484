/**
 * The one progress module: every long command (pull, synth, quantize, bench, serve-bench, models update,
 * recommend --confirm) shows its progress through a `Progress`, on stderr (stdout is the result's).
 *
 * - On a terminal (`bar`): one line redrawn in place — a bar with done/total, the rate and the ETA, fitted
 *   to the terminal's width and redrawn at most every `intervalMs` — and milestone notes that stay above it.
 * - In a pipe or a file (`lines`): the milestone notes only, one plain line each (no bar, no carriage
 *   return, no percentages), so that a log reads the same on every machine.
 * - With `--json` (`quiet`): no progress; warnings (`warn`) still go to stderr, as errors do.
 *
 * The core emits events through its hooks; commands turn them into `update`, `status` and `note` calls here.
 */
import { formatBandwidth, formatBytes, formatDuration } from '../util/format.js';
import { fitToWidth, terminalWidth } from './layout.js';

export type ProgressMode = 'bar' | 'lines' | 'quiet';

/** What the module writes to: process.stderr, or a fake one in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** `bytes` shows sizes and B/s; `seconds` shows elapsed / predicted time; any other word counts items. */
export type ProgressUnit = 'bytes' | 'seconds' | string;

export interface ProgressTask {
  /** What is being done, e.g. `writing weights`, `onnx-community/SmolLM2-135M-ONNX@main`. */
  label: string;
  done: number;
  total: number;
  unit?: ProgressUnit;
  /** A short tail after the figures, e.g. `3/7 files`. */
  detail?: string;
  /** Seconds left when the caller knows better than the rate (a predicted step); null: no ETA. */
  etaSec?: number | null;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Default: quiet with `json`, else bar on a terminal, lines otherwise. */
  mode?: ProgressMode;
  json?: boolean;
  /** Milliseconds of a monotonic clock (tests pass a fake one). */
  now?: () => number;
  /** Least milliseconds between two redraws of the bar. */
  intervalMs?: number;
}

/** The mode for a stream: nothing with --json, a bar on a terminal, plain lines otherwise. */
export function progressMode(stream: { isTTY?: boolean }, json = false): ProgressMode {
  if (json) return 'quiet';
  return stream.isTTY === true ? 'bar' : 'lines';
}

const CLEAR_LINE = '\r\u001b[K';
const DEFAULT_COLUMNS = 80;

export class Progress {
  readonly mode: ProgressMode;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly meter = new RateMeter();
  private meterKey = '';
  private lastDraw = -Infinity;
  /** The line on screen now (bar mode), redrawn after a note. */
  private shown: string | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.mode = options.mode ?? progressMode(this.stream, options.json ?? false);
    this.now = options.now ?? (() => performance.now());
    this.intervalMs = options.intervalMs ?? 100;
  }

  /** A task's figures: redraws the bar (terminal only, throttled; a finished task is drawn at once). */
  update(task: ProgressTask): void {
    if (this.mode !== 'bar') return;
    const now = this.now();
    const key = `${task.label}\u0000${task.total}`;
    if (key !== this.meterKey || task.done < this.meter.last()) {
      this.meter.reset();
      this.meterKey = key;
    }
    this.meter.add(now, task.done);
    const finished = task.total > 0 && task.done >= task.total;
    if (now - this.lastDraw < this.intervalMs && !finished) return;
    this.lastDraw = now;
    const etaSec = task.etaSec !== undefined ? task.etaSec : etaFromRate(task, this.meter.rate());
    this.draw(formatProgressLine({ ...task, rate: task.unit === 'seconds' ? null : this.meter.rate(), etaSec }, this.width()));
  }

  /** A status line with no figures (`fidelity: running both models`): redrawn in place, terminal only. */
  status(text: string): void {
    if (this.mode !== 'bar') return;
    const now = this.now();
    if (now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.draw(fitLine(text, this.width()));
  }

  /** A milestone that stays: above the bar on a terminal (wrapped to its width), a plain line in a pipe, nothing with --json. */
  note(text: string): void {
    if (this.mode === 'quiet') return;
    this.line(text);
  }

  /**
   * A warning: shown as a note, and with --json too (on stderr, which --json leaves to warnings and errors),
   * e.g. that the run waits for another one — a CI log must say why a job stands still.
   */
  warn(text: string): void {
    this.line(text);
  }

  private line(text: string): void {
    // A log takes lines as they are; a terminal gets them wrapped to its width (and above the bar).
    if (this.mode === 'lines' || (this.mode === 'quiet' && this.stream.isTTY !== true)) {
      this.stream.write(`${text}\n`);
      return;
    }
    const shown = this.shown;
    if (shown !== null) this.stream.write(CLEAR_LINE);
    this.stream.write(`${fitToWidth(text, terminalWidth(this.stream))}\n`);
    if (shown !== null) this.stream.write(shown);
  }

  /**
   * A step whose length is predicted (`recommend --confirm`): on a terminal its bar fills with the elapsed
   * time against the prediction, with the time left as the ETA, redrawn every `tickMs` until the returned
   * function stops it.
   */
  timed(label: string, predictedSec: number, tickMs = 500): () => void {
    if (this.mode !== 'bar') return () => undefined;
    this.stopTimer();
    const started = this.now();
    const tick = (): void => {
      const elapsed = (this.now() - started) / 1000;
      const total = Math.max(1, Math.round(predictedSec));
      const over = elapsed > predictedSec;
      this.update({
        label,
        done: Math.min(elapsed, total),
        total,
        unit: 'seconds',
        etaSec: over ? null : predictedSec - elapsed,
        ...(over ? { detail: `${formatDuration((elapsed - predictedSec) * 1000)} over the prediction` } : {}),
      });
    };
    this.lastDraw = -Infinity;
    tick();
    const timer = setInterval(tick, tickMs);
    timer.unref?.();
    this.timer = timer;
    return () => {
      if (this.timer === timer) this.stopTimer();
    };
  }

  /** Removes the bar (the command's result follows on a clean line). Safe to call more than once. */
  done(): void {
    this.stopTimer();
    if (this.shown !== null) this.stream.write(CLEAR_LINE);
    this.shown = null;
    this.lastDraw = -Infinity;
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private draw(line: string): void {
    this.stream.write(`\r${line}\u001b[K`);
    this.shown = `\r${line}\u001b[K`;
  }

  private width(): number {
    return terminalWidth(this.stream) ?? DEFAULT_COLUMNS;
  }
}

/** Seconds left at `rate` units per second; null while the rate is unknown or the task is done. */
function etaFromRate(task: ProgressTask, rate: number | null): number | null {
  if (rate === null || !(rate > 0) || task.done >= task.total) return null;
  return (task.total - task.done) / rate;
}

/** One bar line, at most `columns - 1` characters: `label [####----]  42%  figures  rate  ETA 3 s  detail`. */
export function formatProgressLine(task: ProgressTask & { rate: number | null; etaSec: number | null }, columns: number): string {
  const fraction = task.total > 0 ? Math.min(1, Math.max(0, task.done / task.total)) : 1;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const unit = task.unit ?? 'items';
  const amounts =
    unit === 'bytes'
      ? `${formatBytes(task.done)} / ${formatBytes(task.total)}`
      : unit === 'seconds'
        ? `${formatSeconds(Math.floor(task.done))} of ≈ ${formatSeconds(task.total)}`
        : `${Math.round(task.done)}/${Math.round(task.total)} ${unit}`;
  const rate = task.rate !== null && task.rate > 0 ? (unit === 'bytes' ? formatBandwidth(task.rate) : `${task.rate.toFixed(task.rate < 10 ? 1 : 0)} ${unit}/s`) : '';
  // Elapsed seconds round down and the time left rounds up, so the two never add up to more than the total.
  const eta = task.etaSec !== null && task.etaSec >= 0 && fraction < 1 ? `ETA ${formatSeconds(task.etaSec < 60 ? Math.ceil(task.etaSec) : task.etaSec)}` : '';
  const room = Math.max(20, columns - 1);
  // On a narrow terminal the detail goes first, then the rate, then the label is shortened from the left
  // (to no fewer than 16 characters before the rate and the detail go);
  // the bar keeps at least 10 cells, and the percentage, the amounts and the ETA stay.
  const tails = [[percent, amounts, rate, eta, task.detail ?? ''], [percent, amounts, rate, eta], [percent, amounts, eta]].map((parts) => parts.filter(Boolean).join('  '));
  const fits = (t: string, labelLength: number): boolean => room - t.length - 12 - 2 >= labelLength;
  const tail = tails.find((t) => fits(t, task.label.length)) ?? tails.find((t) => fits(t, Math.min(task.label.length, 16))) ?? (tails.at(-1) as string);
  const barWidth = Math.max(10, Math.min(30, room - task.label.length - tail.length - 4));
  const filled = Math.round(fraction * barWidth);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`;
  const labelRoom = room - bar.length - tail.length - 2;
  const label = task.label.length <= labelRoom ? task.label : labelRoom >= 8 ? `…${task.label.slice(-(labelRoom - 1))}` : '';
  return fitLine(`${label ? `${label} ` : ''}${bar} ${tail}`, columns);
}

/** A line cut to the terminal's width, one column short (a full line would wrap on some terminals). */
function fitLine(text: string, columns: number): string {
  const room = Math.max(20, columns - 1);
  const chars = [...text];
  return chars.length <= room ? text : `${chars.slice(0, room - 1).join('')}…`;
}

/** Whole seconds under a minute (`12 s`), else `formatDuration`'s minutes. */
function formatSeconds(sec: number): string {
  return sec < 60 ? `${Math.max(0, Math.round(sec))} s` : formatDuration(sec * 1000);
}

/** Throughput over a sliding window of (time, done) samples. */
export class RateMeter {
  private readonly samples: [number, number][] = [];

  constructor(private readonly windowMs = 3000) {}

  add(timeMs: number, done: number): void {
    this.samples.push([timeMs, done]);
    while (this.samples.length > 2 && (this.samples[0]?.[0] ?? timeMs) < timeMs - this.windowMs) this.samples.shift();
  }

  /** Units per second, once the window spans 200 ms; else null. */
  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last[0] - first[0] < 200) return null;
    return ((last[1] - first[1]) / (last[0] - first[0])) * 1000;
  }

  last(): number {
    return this.samples.at(-1)?.[1] ?? 0;
  }

  reset(): void {
    this.samples.length = 0;
  }
}
