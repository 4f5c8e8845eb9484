import { z } from 'zod';
import { snakeCase, snakeCaseJsonSchema } from '../util/json-keys.js';
import { TREE_SCHEMA_VERSION, leafSchema, questionShallowSchema, decisionTreeShallowSchema, type DecisionTree } from './schema.js';

/**
 * The tree file's two forms. Version "2" (what `tree --format json` writes and data/trees/default.yaml is
 * in) has snake_case keys and a string `schema_version`, like every modelscout report; version 1 (camelCase,
 * `schemaVersion: 1`) is still read. In memory the tree is the camelCase form the code is written against.
 * Ids (questions, answers, leaves, latency classes) are lower-case by the schema, so they read the same in
 * both forms; only the keys of `latency_classes` are data and are never renamed.
 */
export const TREE_FILE_VERSION = '2';
export const TREE_FILE_KIND = 'modelscout.decision-tree';

export type TreeFileForm = 'v1' | 'v2';

/** Keys whose object's own keys are data (latency class ids), by the path of field names leading there. */
const DATA_KEY_PATHS = new Set(['targets.latencyClasses', 'targets.latency_classes']);

function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function renameTreeKeys(value: unknown, rename: (key: string) => string, fieldPath: string, seen: Map<object, unknown>): unknown {
  if (value === null || typeof value !== 'object') return value;
  // YAML aliases share objects (and may loop): rename each object once and keep the sharing, so the
  // validator still sees (and names) a loop instead of this walk running forever.
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(renameTreeKeys(item, rename, fieldPath, seen));
    return out;
  }
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  const dataKeys = DATA_KEY_PATHS.has(fieldPath);
  for (const [key, item] of Object.entries(value)) {
    const name = dataKeys ? key : rename(key);
    const childPath = dataKeys ? fieldPath : fieldPath === '' ? name : `${fieldPath}.${name}`;
    out[name] = renameTreeKeys(item, rename, dataKeys ? `${fieldPath}.*` : childPath, seen);
  }
  return out;
}

/** Keys written in camelCase inside a version "2" file (which uses snake_case), with where; data keys left out. */
export function camelKeysIn(value: unknown, fieldPath = '', shownPath = '', seen = new Set<object>()): { key: string; at: string }[] {
  if (value === null || typeof value !== 'object' || seen.has(value)) return [];
  seen.add(value);
  if (Array.isArray(value)) return value.flatMap((item, i) => camelKeysIn(item, fieldPath, `${shownPath}[${i}]`, seen));
  const dataKeys = DATA_KEY_PATHS.has(fieldPath);
  return Object.entries(value).flatMap(([key, item]) => [
    ...(!dataKeys && /[A-Z]/.test(key) ? [{ key, at: shownPath === '' ? '(top level)' : shownPath }] : []),
    ...camelKeysIn(item, dataKeys ? `${fieldPath}.*` : fieldPath === '' ? key : `${fieldPath}.${key}`, shownPath === '' ? key : `${shownPath}.${key}`, seen),
  ]);
}

/**
 * A tree file as parsed (JSON or YAML) → the in-memory (camelCase) form the validator checks, with the
 * form it was written in. A version "2" file is renamed key by key; anything else is left to the validator
 * (a version-1 file as it is; a missing or unknown version is reported there).
 */
export function fromTreeFile(raw: unknown): { data: unknown; form: TreeFileForm } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !('schema_version' in raw)) return { data: raw, form: 'v1' };
  const { schema_version: version, kind: _kind, ...rest } = raw as Record<string, unknown>;
  const renamed = renameTreeKeys(rest, camelCase, '', new Map()) as Record<string, unknown>;
  // The in-memory form carries the version-1 marker; an unknown version keeps its value so the check names it.
  return { data: { schemaVersion: version === TREE_FILE_VERSION ? TREE_SCHEMA_VERSION : version, ...renamed }, form: 'v2' };
}

/** The tree as written by `tree --format json`: version "2", snake_case keys. */
export function toTreeFile(tree: DecisionTree): Record<string, unknown> {
  const { schemaVersion: _version, ...rest } = tree;
  return { schema_version: TREE_FILE_VERSION, kind: TREE_FILE_KIND, ...(renameTreeKeys(rest, snakeCase, '', new Map()) as Record<string, unknown>) };
}

/** A message or data path of the validator (camelCase field names) in the words of a version "2" file. */
export function inFileWords(text: string, form: TreeFileForm): string {
  if (form === 'v1') return text;
  return text.replace(/\bschemaVersion\b/g, 'schema_version').replace(/\b[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+\b/g, snakeCase);
}

// ---------------------------------------------------------------------------------------------- JSON Schema

type Node = z.infer<typeof leafSchema> | (Omit<z.infer<typeof questionShallowSchema>, 'answers'> & { answers: { value: string; label: string; help: string | null; next: Node }[] });

/** The whole tree file as one recursive schema, for the committed JSON Schema (the validator checks node by node). */
function treeFileSchema(): z.ZodType {
  const answerShape = questionShallowSchema.shape.answers.element.shape;
  const node: z.ZodType<Node> = z.lazy(() => z.union([leafSchema, question]));
  const question = questionShallowSchema.extend({
    answers: z.array(z.strictObject({ value: answerShape.value, label: answerShape.label, help: answerShape.help, next: node })).min(2),
  });
  const shape = decisionTreeShallowSchema.shape;
  return z
    .strictObject({ id: shape.id, title: shape.title, description: shape.description, targets: shape.targets, root: node })
    .meta({ title: 'Decision tree', description: 'A modelscout decision tree: questions down to size-class leaves, and the targets behind the latency classes.' });
}

export function buildTreeJsonSchema(): Record<string, unknown> {
  const body = JSON.parse(JSON.stringify(z.toJSONSchema(treeFileSchema(), { target: 'draft-2020-12', io: 'input' }))) as Record<string, unknown> & { properties: Record<string, unknown>; required: string[] };
  const snake = snakeCaseJsonSchema(body) as typeof body;
  return {
    $id: `urn:modelscout:decision-tree:${TREE_FILE_VERSION}`,
    ...snake,
    properties: { schema_version: { type: 'string', const: TREE_FILE_VERSION }, kind: { type: 'string', const: TREE_FILE_KIND }, ...snake.properties },
    required: ['schema_version', ...snake.required],
  };
}
