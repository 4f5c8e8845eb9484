import { readFileSync } from 'node:fs';
import { ModelscoutError } from '../errors.js';
import { parseDataText, readDataFile } from './data-file.js';
import type { DecisionTree } from './schema.js';
import { TreeValidationError, formatTreeIssue, parseDecisionTree } from './validate.js';

/** The default tree ships as data (`data/trees/default.yaml`), two levels up from both src/tree and dist/tree. */
export const DEFAULT_TREE_URL = new URL('../../data/trees/default.yaml', import.meta.url);

let defaultTree: DecisionTree | null = null;

/** The built-in tree, parsed and validated once per process. */
export function loadDefaultTree(): DecisionTree {
  if (defaultTree === null) {
    const text = readFileSync(DEFAULT_TREE_URL, 'utf8');
    defaultTree = validateTree(parseDataText(text, DEFAULT_TREE_URL.pathname, 'tree file', 'E_TREE'), DEFAULT_TREE_URL.pathname);
  }
  return defaultTree;
}

/** A custom tree file (JSON or YAML), validated; errors name the file and the path of the offending node. */
export async function loadTreeFile(path: string): Promise<DecisionTree> {
  return validateTree(await readDataFile(path, 'tree file', 'E_TREE'), path);
}

/** `--tree FILE` when given, else the default tree. */
export async function resolveTree(path: string | undefined): Promise<DecisionTree> {
  return path === undefined ? loadDefaultTree() : loadTreeFile(path);
}

export function validateTree(data: unknown, source: string): DecisionTree {
  try {
    return parseDecisionTree(data);
  } catch (error) {
    if (!(error instanceof TreeValidationError)) throw error;
    const [first, ...rest] = error.issues;
    const more = rest.length > 0 ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : '';
    throw new ModelscoutError('E_TREE', `invalid tree file ${source}: ${first ? formatTreeIssue(first) : 'unknown problem'}${more}`, {
      suggestions: [
        ...rest.slice(0, 4).map((i) => `Also fix ${formatTreeIssue(i)}.`),
        'Compare with the default tree: modelscout tree --format json',
      ],
      cause: error,
    });
  }
}
