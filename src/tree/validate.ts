import type { z } from 'zod';
import { snakeCase } from '../util/json-keys.js';
import { TREE_FILE_VERSION, camelKeysIn, fromTreeFile, inFileWords } from './file-format.js';
import {
  RESERVED_QUESTION_IDS,
  TREE_SCHEMA_VERSION,
  decisionTreeShallowSchema,
  type Answer,
  type DecisionTree,
  type LeafNode,
  type QuestionNode,
  type TreeNode,
  leafSchema,
  questionShallowSchema,
} from './schema.js';

/** One problem in a tree file: where (a data path and the answers that lead to the node) and what. */
export interface TreeIssue {
  /** Data path inside the file, e.g. `root.answers[1].next.sizeClass.maxParams`. */
  path: string;
  /** The answers leading to the offending node, e.g. `customization=no → latency=relaxed`; `root` at the top. */
  node: string;
  message: string;
}

export class TreeValidationError extends Error {
  readonly issues: TreeIssue[];

  constructor(issues: TreeIssue[]) {
    super(issues.map(formatTreeIssue).join('; '));
    this.name = 'TreeValidationError';
    this.issues = issues;
  }
}

export function formatTreeIssue(issue: TreeIssue): string {
  return `at ${issue.path} (node ${issue.node}): ${issue.message}`;
}

/** Deep enough for any sensible tree; stops YAML alias cycles and runaway nesting. */
const MAX_DEPTH = 32;

interface Crumb {
  path: string;
  node: string;
}

/**
 * Validates raw data (parsed JSON or YAML) as a decision tree: the schema first, node by node, then the
 * cross-references (unique ids, defaults that name an answer, the latency question's answers naming latency
 * classes). Collects every issue rather than stopping at the first, so a user fixes a file in one pass.
 */
export function parseDecisionTree(file: unknown): DecisionTree {
  const { data: raw, form } = fromTreeFile(file);
  const fromVersion = versionIssues(file, form);
  const issues: TreeIssue[] = [];
  let tree: DecisionTree | null = null;
  try {
    tree = parseTreeData(raw, issues);
  } catch (error) {
    if (!(error instanceof TreeValidationError)) throw error;
  }
  if (tree !== null && fromVersion.length === 0) return tree;
  // The validator speaks of the in-memory (camelCase) form: say it in the file's own words, once per place.
  const said = new Set(fromVersion.map((i) => i.path));
  const rest = issues.map((i) => ({ ...i, path: inFileWords(i.path, form), message: inFileWords(i.message, form) })).filter((i) => !(said.has(i.path) && i.path === 'schema_version'));
  throw new TreeValidationError([...fromVersion, ...rest]);
}

/** What the file's version says beyond the validator: camelCase keys in a version "2" file, or no version at all. */
function versionIssues(file: unknown, form: 'v1' | 'v2'): TreeIssue[] {
  if (!isRecord(file)) return [];
  if (form === 'v2') {
    const issues: TreeIssue[] = camelKeysIn(file).map(({ key, at }) => ({ path: at, node: 'root', message: `unknown key "${key}" (a version "2" tree file writes keys in snake_case: "${snakeCase(key)}")` }));
    if (file.schema_version !== TREE_FILE_VERSION) issues.unshift({ path: 'schema_version', node: 'root', message: `schema_version must be "${TREE_FILE_VERSION}" (or write a version-1 file with schemaVersion: 1), got ${JSON.stringify(file.schema_version)}` });
    return issues;
  }
  return 'schemaVersion' in file ? [] : [{ path: 'schema_version', node: 'root', message: `missing "schema_version" ("${TREE_FILE_VERSION}")` }];
}

function parseTreeData(raw: unknown, issues: TreeIssue[]): DecisionTree {
  const top = decisionTreeShallowSchema.safeParse(raw, { reportInput: true });
  if (!top.success) {
    // Report shallow problems, except a bad root, which the node walk below reports with more precision.
    issues.push(...zodIssues(top.error, { path: '', node: 'root' }).filter((i) => !i.path.startsWith('root') && !(i.path === 'schemaVersion' && !(isRecord(raw) && raw.schemaVersion !== undefined && raw.schemaVersion !== TREE_SCHEMA_VERSION))));
  }
  const rootRaw = isRecord(raw) ? raw.root : undefined;
  const root = rootRaw === undefined ? null : parseNode(rootRaw, { path: 'root', node: 'root' }, [], issues);
  if (rootRaw === undefined) issues.push({ path: 'root', node: 'root', message: 'the tree needs a "root" node' });
  if (issues.length > 0 || !top.success || root === null) throw new TreeValidationError(issues);

  const tree: DecisionTree = { ...top.data, root };
  checkCrossReferences(tree, issues);
  if (issues.length > 0) throw new TreeValidationError(issues);
  return tree;
}

/** A question on the way down: its raw object (cycles are found by identity) and its id. */
interface Ancestor {
  raw: unknown;
  id: string;
  path: string;
}

function parseNode(raw: unknown, at: Crumb, ancestors: readonly Ancestor[], issues: TreeIssue[]): TreeNode | null {
  // YAML aliases can make a node its own descendant: name the loop instead of descending until the depth limit.
  const loopStart = ancestors.findIndex((a) => a.raw === raw);
  if (loopStart >= 0) {
    const loop = ancestors.slice(loopStart).map((a) => a.id);
    const first = ancestors[loopStart]!;
    issues.push({
      path: shortPath(at.path),
      node: shortCrumb(at.node),
      message: `the tree loops: this answer leads back to question "${first.id}" (at ${first.path}); cycle ${[...loop, first.id].join(' → ')}`,
    });
    return null;
  }
  if (ancestors.length > MAX_DEPTH) {
    const message = `the tree is nested deeper than ${MAX_DEPTH} levels`;
    // Once is enough: every branch below the limit would say the same.
    if (!issues.some((i) => i.message === message)) issues.push({ path: shortPath(at.path), node: shortCrumb(at.node), message });
    return null;
  }
  const kind = isRecord(raw) ? raw.kind : undefined;
  if (kind === 'leaf') {
    const parsed = leafSchema.safeParse(raw, { reportInput: true });
    if (!parsed.success) {
      issues.push(...zodIssues(parsed.error, at));
      return null;
    }
    const leaf: LeafNode = parsed.data;
    return leaf;
  }
  if (kind !== 'question') {
    const got = isRecord(raw) ? JSON.stringify(kind ?? null) : `a ${describeType(raw)}`;
    issues.push({ ...at, message: `a node must be an object with "kind": "question" or "leaf" (got ${got})` });
    return null;
  }
  const parsed = questionShallowSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    issues.push(...zodIssues(parsed.error, at));
    return null;
  }
  const q = parsed.data;
  const answers: Answer[] = [];
  let complete = true;
  q.answers.forEach((a, index) => {
    const next = parseNode(
      a.next,
      { path: `${at.path}.answers[${index}].next`, node: joinCrumb(at.node, `${q.id}=${a.value}`) },
      [...ancestors, { raw, id: q.id, path: at.path }],
      issues,
    );
    if (next === null) complete = false;
    else answers.push({ value: a.value, label: a.label, help: a.help, next });
  });
  if (!complete) return null;
  const question: QuestionNode = { kind: 'question', id: q.id, question: q.question, help: q.help, default: q.default, answers };
  return question;
}

function checkCrossReferences(tree: DecisionTree, issues: TreeIssue[]): void {
  const seen = new Map<string, string>();
  const questions = new Map<string, { node: QuestionNode; at: Crumb }>();
  visitNodes(tree.root, { path: 'root', node: 'root' }, (node, at) => {
    const first = seen.get(node.id);
    if (first !== undefined) issues.push({ ...at, path: `${at.path}.id`, message: `duplicate node id "${node.id}" (first used at ${first})` });
    else seen.set(node.id, at.path);
    if (node.kind !== 'question') return;
    if ((RESERVED_QUESTION_IDS as readonly string[]).includes(node.id)) {
      issues.push({ ...at, path: `${at.path}.id`, message: `"${node.id}" is reserved for a target (${RESERVED_QUESTION_IDS.join(', ')}); pick another question id` });
    }
    questions.set(node.id, { node, at });
    const values = new Set<string>();
    node.answers.forEach((a, i) => {
      if (values.has(a.value)) issues.push({ ...at, path: `${at.path}.answers[${i}].value`, message: `duplicate answer "${a.value}" in question "${node.id}"` });
      values.add(a.value);
    });
    if (node.default !== null && !values.has(node.default)) {
      issues.push({ ...at, path: `${at.path}.default`, message: `default "${node.default}" is not one of the answers (${[...values].join(', ')})` });
    }
  });

  const { targets } = tree;
  const classes = Object.keys(targets.latencyClasses);
  if (classes.length === 0) issues.push({ path: 'targets.latencyClasses', node: 'root', message: 'at least one latency class is needed' });
  if (!(targets.defaultLatency in targets.latencyClasses)) {
    issues.push({ path: 'targets.defaultLatency', node: 'root', message: `"${targets.defaultLatency}" is not a latency class (${classes.join(', ')})` });
  }
  const latency = questions.get(targets.latencyQuestion);
  if (latency === undefined) {
    issues.push({ path: 'targets.latencyQuestion', node: 'root', message: `no question with id "${targets.latencyQuestion}" in the tree` });
    return;
  }
  latency.node.answers.forEach((a, i) => {
    if (!(a.value in targets.latencyClasses)) {
      issues.push({
        ...latency.at,
        path: `${latency.at.path}.answers[${i}].value`,
        message: `answer "${a.value}" of the latency question must name a latency class (${classes.join(', ')})`,
      });
    }
  });
}

/** Depth-first, answers in order; `at` gives each node's data path and breadcrumb. */
export function visitNodes(node: TreeNode, at: Crumb, visit: (node: TreeNode, at: Crumb) => void): void {
  visit(node, at);
  if (node.kind !== 'question') return;
  node.answers.forEach((a, i) => {
    visitNodes(a.next, { path: `${at.path}.answers[${i}].next`, node: joinCrumb(at.node, `${node.id}=${a.value}`) }, visit);
  });
}

function joinCrumb(parent: string, step: string): string {
  return parent === 'root' ? step : `${parent} → ${step}`;
}

/** A data path for one line: the first levels and the last, the middle counted. */
function shortPath(path: string): string {
  const parts = path.split(/(?=\.answers\[)/);
  return parts.length <= 6 ? path : `${parts.slice(0, 3).join('')}.… ${parts.length - 5} levels …${parts.slice(-2).join('')}`;
}

/** A breadcrumb for one line: the first two steps and the last two, the middle counted. */
function shortCrumb(crumb: string): string {
  const steps = crumb.split(' → ');
  return steps.length <= 5 ? crumb : [...steps.slice(0, 2), `… ${steps.length - 4} more …`, ...steps.slice(-2)].join(' → ');
}

function zodIssues(error: z.ZodError, at: Crumb): TreeIssue[] {
  return error.issues.map((issue) => ({
    path: joinPath(at.path, issue.path),
    node: at.node,
    message: describeZodIssue(issue),
  }));
}

function describeZodIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type') {
    const key = `"${String(issue.path.at(-1) ?? '')}"`;
    // Issues carry their input only when parsed with reportInput: absent means missing, present means the wrong type.
    if (!('input' in issue) || issue.input === undefined) return `missing ${key} (${issue.expected})`;
    return `${key} must be ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}, got ${describeValue(issue.input)}`;
  }
  return issue.message;
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value);
  const shown = text === undefined ? String(value) : text.length > 40 ? `${text.slice(0, 37)}…` : text;
  return `a ${describeType(value)} (${shown})`;
}

function joinPath(base: string, rest: readonly PropertyKey[]): string {
  let out = base;
  for (const key of rest) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'null';
  return typeof value;
}
