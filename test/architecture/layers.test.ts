import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycles, folderEdges, graphFromSources, importsOf, layerViolations, readGraph } from './import-graph.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

describe('the layers of src/', () => {
  const graph = readGraph(SRC);

  it('reads the whole tree', () => {
    expect(graph.edges.size).toBeGreaterThan(100);
    expect(graph.edges.get('commands/recommend.ts')?.size).toBeGreaterThan(3);
  });

  it('has no import pointing up the layer list, and no module imports a command', () => {
    expect(layerViolations(graph).map((v) => `${v.from} → ${v.to}: ${v.why}`)).toEqual([]);
  });

  it('has no import cycle between files', () => {
    expect(cycles(graph.edges).map((c) => c.join(' ⇄ '))).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    expect(cycles(folderEdges(graph)).map((c) => c.join(' ⇄ '))).toEqual([]);
  });
});

describe('the checker', () => {
  it('reads static, type-only, re-export, side-effect and dynamic imports, and skips comments and packages', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      "export { c } from './c.js';",
      "export * from './d.js';",
      "import './e.js';",
      "const f = await import('./f.js');",
      "import { z } from 'zod';",
      "// import { g } from './g.js';",
      "/* import { h } from './h.js'; */",
      'import {\n  i,\n  j,\n} from "./ij.js";',
    ].join('\n');
    expect(importsOf(text).sort()).toEqual(['../b/b.js', './a.js', './c.js', './d.js', './e.js', './f.js', './ij.js']);
  });

  it('finds an upward import, a command imported, and a folder missing from the layer list', () => {
    const graph = graphFromSources({
      'hub/progress.ts': "import { formatBytes } from '../ui/format.js';",
      'ui/format.ts': 'export const formatBytes = 1;',
      'commands/wizard.ts': "import { flags } from './recommend.js';",
      'commands/recommend.ts': "import { x } from '../util/x.js';",
      'util/x.ts': 'export const x = 1;',
      'pipeline/run.ts': "import type { R } from '../commands/recommend.js';",
      'misc/thing.ts': 'export {};',
    });
    expect(layerViolations(graph).map((v) => `${v.from} → ${v.to}: ${v.why}`).sort()).toEqual([
      'commands/wizard.ts → commands/recommend.ts: a command imports another command',
      'hub/progress.ts → ui/format.ts: hub → ui points up the layer list',
      'misc/thing.ts → misc/thing.ts: src/misc/ is not in the layer list',
      'pipeline/run.ts → commands/recommend.ts: imports a command',
    ]);
  });

  it('finds a cycle between files, through type-only imports and index files too', () => {
    const graph = graphFromSources({
      'bench/kv-cache.ts': "import { P } from './kv-preallocated.js';",
      'bench/kv-preallocated.ts': "import type { KvCache } from './kv-cache.js';",
      'hub/a.ts': "import { b } from './b';",
      'hub/b/index.ts': "import { c } from '../c.js';",
      'hub/c.ts': "import { a } from './a.js';",
      'hub/d.ts': "import { a } from './a.js';",
      'util/self.ts': "import { s } from './self.js';",
    });
    expect(cycles(graph.edges).map((c) => c.join(' ⇄ ')).sort()).toEqual([
      'bench/kv-cache.ts ⇄ bench/kv-preallocated.ts',
      'hub/a.ts ⇄ hub/b/index.ts ⇄ hub/c.ts',
      'util/self.ts',
    ]);
  });

  it('finds a cycle between folders even when each file-level edge points down on its own', () => {
    const graph = graphFromSources({
      'report/compare.ts': "import { mean } from '../bench/stats.js';",
      'bench/stats.ts': 'export const mean = 1;',
      'bench/index.ts': "import { render } from '../report/render.js';",
      'report/render.ts': 'export const render = 1;',
    });
    expect(cycles(graph.edges)).toEqual([]);
    expect(cycles(folderEdges(graph)).map((c) => c.join(' ⇄ '))).toEqual(['bench ⇄ report']);
  });
});
