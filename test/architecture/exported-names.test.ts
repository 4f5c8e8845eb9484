import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { duplicateExports, exportedNames } from './exported-names.js';
import { readSources } from './import-graph.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

describe('exported names of src/', () => {
  const sources = readSources(SRC);

  it('reads the whole tree', () => {
    const all = Object.values(sources).flatMap((text) => exportedNames(text));
    expect(all.length).toBeGreaterThan(500);
    expect(all).toContain('openModelFolder');
    expect(all).toContain('ModelscoutError');
  });

  it('no two modules export the same name', () => {
    expect([...duplicateExports(sources)].map(([name, files]) => `${name}: ${files.join(', ')}`)).toEqual([]);
  });
});

describe('the checker', () => {
  it('sees every kind of exported declaration and local export list, not re-exports, imports or private names', () => {
    const text = [
      "import { imported, other } from './x.js';",
      'export function f() {}',
      'export async function g() {}',
      'export function over(a: string): string;',
      'export function over(a: number): number;',
      'export function over(a: unknown) { return a; }',
      'export const a = 1, b = 2;',
      'export let c = 3;',
      'export class K {}',
      'export abstract class L {}',
      'export interface I {}',
      'export type T = string;',
      'export enum E { X }',
      'export declare const d: number;',
      'export default function main() {}',
      'const local = 1;',
      'export { local as aliased, imported, other as renamed };',
      "export { fromElsewhere } from './y.js';",
      "export type { TypeElsewhere } from './y.js';",
      "export * from './z.js';",
      'function hidden() {}',
    ].join('\n');
    expect(exportedNames(text).sort()).toEqual(['E', 'I', 'K', 'L', 'T', 'a', 'aliased', 'b', 'c', 'd', 'f', 'g', 'over', 'renamed'].sort());
  });

  it('reports a name two modules declare, with both files', () => {
    const dupes = duplicateExports({
      'report/render.ts': 'export function renderTable(report: unknown) {}',
      'ui/layout.ts': 'export function renderTable(head: string[]) {}',
      'catalog/index.ts': "export { renderTable } from '../ui/layout.js';\nexport type Same = 1;",
      'catalog/other.ts': 'export interface Unique {}',
    });
    expect([...dupes]).toEqual([['renderTable', ['report/render.ts', 'ui/layout.ts']]]);
  });
});
