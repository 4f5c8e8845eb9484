/**
 * Output laid out for the terminal it goes to: text re-wrapped and tables narrowed to the terminal's width
 * when the stream is a TTY; when it is not (a pipe, a file, a test), the plain layout, unwrapped beyond what
 * the renderers do themselves, so that logs and scripts see the same lines on every machine.
 */
import Table from 'cli-table3';
import { wrapWords } from '../util/text.js';

/** The width to lay out for: the stream's columns when it is a terminal, else null (the plain layout). */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number }): number | null {
  return stream.isTTY === true && typeof stream.columns === 'number' && stream.columns > 0 ? stream.columns : null;
}

/** Box-drawing rows of a table: left as they are by `fitToWidth` (tables are fitted by `renderTable`). */
const TABLE_LINE = /^\s*[┌├└│┬┼┴─]/;

/**
 * Re-wraps every line wider than `width` at word boundaries. Continuation lines keep the line's indent,
 * plus the width of a leading bullet (`- `, `1. `) so that they align under its text.
 */
export function fitToWidth(text: string, width: number | null): string {
  if (width === null) return text;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.length <= width || TABLE_LINE.test(line)) {
      out.push(line);
      continue;
    }
    const indent = /^\s*/.exec(line)?.[0] ?? '';
    const bullet = /^(?:- |\d+\. |\* )/.exec(line.slice(indent.length))?.[0] ?? '';
    const hanging = ' '.repeat(indent.length + (bullet ? bullet.length : 2));
    const body = wrapWords(line.slice(indent.length + bullet.length), Math.max(20, width - hanging.length));
    body.forEach((part, i) => out.push(i === 0 ? `${indent}${bullet}${part}` : `${hanging}${part}`));
  }
  return out.join('\n');
}

/**
 * A table (no colours: output must read the same in a pipe, a log and a test). With a width, the widest
 * columns give way first, their cells wrapped at word boundaries, but no column gets narrower than its
 * longest word; when even that is too wide, each row becomes one block of `header: value` pairs.
 */
export function renderTable(head: string[], rows: string[][], width: number | null): string {
  const options: ConstructorParameters<typeof Table>[0] = { head, style: { head: [], border: [], compact: true } };
  if (width !== null) {
    const cells = (i: number): string[] => [head[i] ?? '', ...rows.map((r) => r[i] ?? '')];
    const longestWord = (text: string): number => Math.max(0, ...text.split(/\s+/).map((w) => w.length));
    // Each column: its widest cell plus one space of padding either side; the borders: one per column, plus one.
    const widths = head.map((_, i) => Math.max(...cells(i).map((c) => c.length)) + 2);
    const minimum = head.map((_, i) => Math.max(...cells(i).map(longestWord)) + 2);
    const total = (w: number[]): number => w.reduce((a, b) => a + b, 0) + w.length + 1;
    if (total(minimum) > width) return renderBlocks(head, rows, width);
    while (total(widths) > width) {
      let widest = -1;
      for (let i = 0; i < widths.length; i += 1) {
        if ((widths[i] as number) > (minimum[i] as number) && (widest < 0 || (widths[i] as number) > (widths[widest] as number))) widest = i;
      }
      if (widest < 0) break;
      widths[widest] = (widths[widest] as number) - 1;
    }
    if (widths.some((w, i) => w < Math.max(...cells(i).map((c) => c.length)) + 2)) {
      Object.assign(options, { colWidths: widths, wordWrap: true, wrapOnWordBoundary: true });
    }
  }
  const table = new Table(options);
  for (const row of rows) table.push(row);
  return table.toString();
}

/** The narrow layout of a table: one block per row, `header: value` pairs, wrapped to the width. */
function renderBlocks(head: string[], rows: string[][], width: number): string {
  const out: string[] = [];
  for (const row of rows) {
    const [first, ...rest] = row;
    const pairs = rest.flatMap((cell, i) => (cell === '' ? [] : [`${head[i + 1] ?? ''}: ${cell}`]));
    const lead = first ? `${first}.` : ' ';
    out.push(fitToWidth(`- ${lead} ${pairs.join(' · ')}`, width));
  }
  return out.join('\n');
}
