/**
 * The import graph of src/: which module imports which, the layer each belongs to, and what breaks the
 * layering (an import pointing up the layer list, a module importing a command, an import cycle between
 * files or between folders). Read from the source text, so it sees `import type` and `import('…')` too:
 * a cycle through types alone still couples two modules.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** src/ folders, top first: a module may import its own folder and the folders below it. */
export const LAYERS = [
  'commands', 'cli', 'ui', 'pipeline', 'recommend', 'serve', 'bench', 'report', 'quantize', 'runtime',
  'onnx', 'hardware', 'estimate', 'hub', 'catalog', 'tree', 'util',
] as const;

export interface ImportGraph {
  /** file (relative to src/, `/`-separated) → the files it imports */
  edges: Map<string, Set<string>>;
}

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"](\.[^'"]+)['"]|(?:^|[\s;])import\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;

/** Strips comments so that an import named in a comment is not read as one. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of stripComments(text).matchAll(SPECIFIER)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** Builds the graph from source texts keyed by path relative to src/ (what the tests feed by hand). */
export function graphFromSources(sources: Record<string, string>): ImportGraph {
  const edges = new Map<string, Set<string>>();
  const known = new Set(Object.keys(sources));
  for (const [file, text] of Object.entries(sources)) {
    const targets = new Set<string>();
    for (const spec of importsOf(text)) {
      const joined = join(dirname(file), spec).split('\\').join('/');
      const candidates = [joined.replace(/\.js$/, '.ts'), `${joined}.ts`, `${joined}/index.ts`];
      const hit = candidates.find((c) => known.has(c));
      if (hit) targets.add(hit);
    }
    edges.set(file, targets);
  }
  return { edges };
}

export function readGraph(srcDir: string): ImportGraph {
  return graphFromSources(readSources(resolve(srcDir)));
}

/** Every .ts file under `root` (not .d.ts), by its path relative to `root` with `/` separators. */
export function readSources(root: string): Record<string, string> {
  const sources: Record<string, string> = {};
  (function walk(dir: string) {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) sources[relative(root, path).split('\\').join('/')] = readFileSync(path, 'utf8');
    }
  })(root);
  return sources;
}

/** The folder (layer) a file belongs to; files at the top of src/ (index.ts, errors.ts) belong to none. */
export function layerOf(file: string): string | undefined {
  const parts = file.split('/');
  return parts.length > 1 ? parts[0] : undefined;
}

export interface LayerViolation { from: string; to: string; why: string }

export function layerViolations(graph: ImportGraph): LayerViolation[] {
  const out: LayerViolation[] = [];
  const rank = (layer: string) => (LAYERS as readonly string[]).indexOf(layer);
  for (const [from, targets] of graph.edges) {
    const a = layerOf(from);
    if (a !== undefined && rank(a) < 0) out.push({ from, to: from, why: `src/${a}/ is not in the layer list` });
    for (const to of targets) {
      const b = layerOf(to);
      if (b === 'commands' && a !== 'commands') out.push({ from, to, why: 'imports a command' });
      else if (a === 'commands' && b === 'commands') out.push({ from, to, why: 'a command imports another command' });
      else if (a !== undefined && b !== undefined && a !== b && rank(b) >= 0 && rank(b) < rank(a)) {
        out.push({ from, to, why: `${a} → ${b} points up the layer list` });
      }
    }
  }
  return out;
}

/** Strongly connected components with more than one member (or a self-import): every import cycle. */
export function cycles(edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const connect = (v: string) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) { connect(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1 || edges.get(v)?.has(v)) out.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) connect(v);
  return out;
}

/** The folder-level graph: an edge between two folders when any file of one imports a file of the other. */
export function folderEdges(graph: ImportGraph): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [from, targets] of graph.edges) {
    const a = layerOf(from);
    if (a === undefined) continue;
    if (!out.has(a)) out.set(a, new Set());
    for (const to of targets) {
      const b = layerOf(to);
      if (b !== undefined && b !== a) out.get(a)!.add(b);
    }
  }
  return out;
}
