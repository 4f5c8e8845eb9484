import { describe, expect, it } from 'vitest';
import { fitToWidth, renderTable, terminalWidth } from '../../src/ui/layout.js';

describe('layout for the terminal width', () => {
  it('uses the columns of a terminal, and the plain layout (null) for anything else', () => {
    expect(terminalWidth({ isTTY: true, columns: 80 })).toBe(80);
    expect(terminalWidth({ isTTY: false, columns: 80 })).toBeNull();
    expect(terminalWidth({})).toBeNull();
  });

  it('wraps long lines at words, keeping the indent and hanging under a bullet; leaves table rows and the plain layout alone', () => {
    const line = `  - ${'word '.repeat(30).trim()}`;
    const lines = fitToWidth(line, 40).split('\n');
    expect(lines.every((l) => l.length <= 40)).toBe(true);
    expect(lines[0]!.startsWith('  - word')).toBe(true);
    expect(lines.slice(1).every((l) => l.startsWith('    word'))).toBe(true);
    expect(fitToWidth(line, null)).toBe(line);
    const row = `│ ${'x'.repeat(60)} │`;
    expect(fitToWidth(row, 40)).toBe(row);
  });

  it('narrows the widest columns of a table to fit, never below their longest word', () => {
    const head = ['#', 'Model', 'Notes'];
    const rows = [['1', 'SmolLM2-135M', 'a long note that can wrap at any of its many spaces without trouble']];
    const text = renderTable(head, rows, 50);
    const lines = text.split('\n');
    expect(lines.every((l) => [...l].length <= 50)).toBe(true);
    expect(text).toContain('SmolLM2-135M');
    expect(renderTable(head, rows, null).split('\n')[0]!.length).toBeGreaterThan(50);
  });

  it('turns a table too wide even at its longest words into one block per row', () => {
    const head = ['#', 'Model', 'Decode/stream', 'TTFT'];
    const rows = [['1', 'SmolLM2-135M', '✓ 54.7 tok/s', '✗ 5.82 s'], ['', '', '✓ 30 tok/s', '✓ 400 ms']];
    const text = renderTable(head, rows, 30);
    expect(text.split('\n').every((l) => [...l].length <= 30)).toBe(true);
    expect(text).toContain('- 1. Model: SmolLM2-135M');
    expect(text).not.toContain('│');
  });
});
