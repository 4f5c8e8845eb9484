import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress, formatProgressLine, progressMode } from '../../src/ui/progress.js';

/** A stand-in for process.stderr: records what is written; a terminal of `columns` when `tty`. */
function fakeStream(tty: boolean, columns = 80): { write(text: string): boolean; isTTY: boolean; columns: number; text: string; writes: string[] } {
  const stream = {
    isTTY: tty,
    columns,
    writes: [] as string[],
    get text() {
      return this.writes.join('');
    },
    write(text: string) {
      this.writes.push(text);
      return true;
    },
  };
  return stream;
}

function clock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('progress module', () => {
  it('picks a bar on a terminal, plain lines in a pipe, nothing with --json', () => {
    expect(progressMode({ isTTY: true })).toBe('bar');
    expect(progressMode({ isTTY: false })).toBe('lines');
    expect(progressMode({})).toBe('lines');
    expect(progressMode({ isTTY: true }, true)).toBe('quiet');
  });

  it('on a terminal: one line redrawn in place with done/total, rate and ETA, fitted to the width', () => {
    const stream = fakeStream(true, 120);
    const c = clock();
    const progress = new Progress({ stream, now: c.now });
    for (let i = 0; i <= 10; i += 1) {
      progress.update({ label: 'onnx-community/SmolLM2-135M-ONNX@main', done: i * 1024 * 1024, total: 20 * 1024 * 1024, unit: 'bytes', detail: '1/3 files' });
      c.advance(250);
    }
    const frames = stream.writes.filter((w) => w.startsWith('\r'));
    expect(frames.length).toBe(11);
    const last = frames.at(-1)!;
    // 10 MiB of 20 at 4 MiB/s: 2.5 s left.
    expect(last).toMatch(/\[#+-+\]\s+50%\s+10\.0 MiB \/ 20\.0 MiB\s+4\.19 MB\/s\s+ETA 3 s\s+1\/3 files/);
    for (const frame of frames) {
      const line = frame.replace(/^\r/, '').replace('\u001b[K', '');
      expect([...line].length).toBeLessThanOrEqual(119);
    }
    expect(last).toMatch(/^\ronnx-community\/SmolLM2-135M-ONNX@main \[/);
    // At 60 columns the detail and the rate give way first; the label shortened from the left.
    const narrow = formatProgressLine({ label: 'onnx-community/SmolLM2-135M-ONNX@main', done: 10, total: 20, unit: 'bytes', detail: '1/3 files', rate: 4, etaSec: 2.5 }, 60);
    expect(narrow).toMatch(/^…\S*ONNX@main \[#+-+\]\s+50%\s+10 B \/ 20 B\s+ETA 3 s$/);
    expect([...narrow].length).toBeLessThanOrEqual(59);
    expect(stream.text).not.toContain('\n');
    progress.done();
    expect(stream.writes.at(-1)).toBe('\r\u001b[K');
  });

  it('throttles redraws to one per interval, but always draws the finished state', () => {
    const stream = fakeStream(true);
    const c = clock();
    const progress = new Progress({ stream, now: c.now, intervalMs: 100 });
    for (let i = 1; i <= 50; i += 1) {
      progress.update({ label: 'quantizing', done: i, total: 50, unit: 'tensors' });
      c.advance(10);
    }
    // 500 ms of updates every 10 ms: a draw every 100 ms (5), plus the final 50/50.
    expect(stream.writes.length).toBe(6);
    expect(stream.writes.at(-1)).toMatch(/100%\s+50\/50 tensors/);
    expect(stream.writes.at(-1)).not.toMatch(/ETA/);
  });

  it('has no ETA until a rate is known, then the time left at that rate', () => {
    const line = (rate: number | null, etaSec: number | null): string => formatProgressLine({ label: 'x', done: 30, total: 100, unit: 'tensors', rate, etaSec }, 100);
    expect(line(null, null)).not.toMatch(/ETA/);
    expect(line(10, 7)).toMatch(/30%\s+30\/100 tensors\s+10 tensors\/s\s+ETA 7 s/);
    expect(line(null, 125)).toMatch(/ETA 2 min 5 s/);
  });

  it('in a pipe: notes as plain lines, no bar, no carriage return', () => {
    const stream = fakeStream(false);
    const c = clock();
    const progress = new Progress({ stream, now: c.now });
    progress.note('repo@main (commit abc1234): 2 of 3 files to download, 8.0 MiB');
    for (let i = 0; i < 20; i += 1) {
      progress.update({ label: 'x', done: i, total: 20, unit: 'bytes' });
      progress.status(`step ${i}`);
      c.advance(300);
    }
    const stop = progress.timed('step 1/2: building x', 10);
    stop();
    progress.note('done');
    progress.done();
    expect(stream.text).toBe('repo@main (commit abc1234): 2 of 3 files to download, 8.0 MiB\ndone\n');
  });

  it('with --json: nothing at all', () => {
    const stream = fakeStream(true);
    const progress = new Progress({ stream, json: true });
    progress.note('a note');
    progress.update({ label: 'x', done: 1, total: 2 });
    progress.status('s');
    progress.timed('t', 5)();
    progress.done();
    expect(stream.writes).toEqual([]);
  });

  it('a warning is shown with --json too (wrapped on a terminal, as it is in a log), and like a note otherwise', () => {
    const long = 'Waiting for another modelscout run (pid 42) that is writing /models/qwen; this one goes on when it ends.';
    const log = fakeStream(false, 40);
    new Progress({ stream: log, json: true }).warn(long);
    expect(log.writes).toEqual([`${long}\n`]);
    const terminal = fakeStream(true, 40);
    new Progress({ stream: terminal, json: true }).warn(long);
    expect(terminal.text.split('\n').filter(Boolean).length).toBeGreaterThan(2);
    expect(terminal.text.split('\n').every((line) => line.length <= 40)).toBe(true);
    const bar = fakeStream(true);
    const progress = new Progress({ stream: bar, now: () => 0 });
    progress.update({ label: 'writing weights', done: 1, total: 4, unit: 'bytes' });
    const drawn = bar.writes.at(-1)!;
    progress.warn('waiting');
    expect(bar.writes.slice(-3)).toEqual(['\r\u001b[K', 'waiting\n', drawn]);
  });

  it('a note on a terminal clears the bar, stays, and the bar comes back under it', () => {
    const stream = fakeStream(true);
    const progress = new Progress({ stream, now: () => 0 });
    progress.update({ label: 'writing weights', done: 1, total: 4, unit: 'bytes' });
    const bar = stream.writes.at(-1)!;
    progress.note('retrying');
    expect(stream.writes.slice(-3)).toEqual(['\r\u001b[K', 'retrying\n', bar]);
  });

  it('a timed step fills against its prediction, with the time left as the ETA, then says how far over it ran', () => {
    vi.useFakeTimers();
    const stream = fakeStream(true, 120);
    const c = clock();
    const progress = new Progress({ stream, now: c.now });
    const stop = progress.timed('step 1/3: building SmolLM2-135M (predicted 12 s)', 12, 500);
    expect(stream.writes.at(-1)).toMatch(/\[-+\]\s+0%\s+0 s of ≈ 12 s\s+ETA 12 s/);
    c.advance(3000);
    vi.advanceTimersByTime(500);
    expect(stream.writes.at(-1)).toMatch(/step 1\/3: building SmolLM2-135M \(predicted 12 s\) \[#+-+\]\s+25%\s+3 s of ≈ 12 s\s+ETA 9 s/);
    c.advance(12_000);
    vi.advanceTimersByTime(500);
    expect(stream.writes.at(-1)).toMatch(/100%\s+12 s of ≈ 12 s\s+3\.00 s over the prediction/);
    stop();
    const count = stream.writes.length;
    vi.advanceTimersByTime(2000);
    expect(stream.writes.length).toBe(count);
  });
});
