import { ModelscoutError, invalidValue } from '../errors.js';
import type { DecisionTree, LeafNode, QuestionNode, TreeNode } from './schema.js';

/** Answers keyed by question id, e.g. `{ customization: 'no', latency: 'realtime' }`. */
export type TreeAnswers = Readonly<Record<string, string>>;

/** Where an answer came from: given by the user (flag, answers file, prompt) or the question's default. */
export type AnswerSource = 'given' | 'default';

export interface PathStep {
  questionId: string;
  question: string;
  answer: string;
  answerLabel: string;
  source: AnswerSource;
}

export interface TreeWalk {
  /** Questions answered on the way down, in order. */
  steps: PathStep[];
  /** The leaf reached, or null when a question on the path is still unanswered. */
  leaf: LeafNode | null;
  /** The first unanswered question on the path (null when a leaf was reached). */
  pending: QuestionNode | null;
}

export interface WalkOptions {
  /** Fill unanswered questions with their default answer (non-interactive use). */
  useDefaults?: boolean;
}

/**
 * Follows the answers from the root. Stops at the first question without an answer (unless defaults are
 * used), so the same function drives the wizard (ask `pending`, walk again) and `recommend` (defaults on).
 * An answer that is not one of the question's values is a usage error naming the allowed values.
 */
export function walkTree(tree: DecisionTree, answers: TreeAnswers, options: WalkOptions = {}): TreeWalk {
  const steps: PathStep[] = [];
  let node: TreeNode = tree.root;
  while (node.kind === 'question') {
    const given = Object.hasOwn(answers, node.id) ? answers[node.id] : undefined;
    const value = given ?? (options.useDefaults ? (node.default ?? undefined) : undefined);
    if (value === undefined) return { steps, leaf: null, pending: node };
    const answer = node.answers.find((a) => a.value === value);
    if (answer === undefined) {
      throw invalidValue(`answer to "${node.id}" (${node.question})`, value, node.answers.map((a) => a.value), [
        `Answer "${node.id}" with one of: ${node.answers.map((a) => a.value).join(', ')}.`,
      ]);
    }
    steps.push({ questionId: node.id, question: node.question, answer: answer.value, answerLabel: answer.label, source: given === undefined ? 'default' : 'given' });
    node = answer.next;
  }
  return { steps, leaf: node, pending: null };
}

/** The next question to ask given the answers so far, or null when they reach a leaf. */
export function nextQuestion(tree: DecisionTree, answers: TreeAnswers): QuestionNode | null {
  return walkTree(tree, answers).pending;
}

/** Walks with defaults; a question on the path with neither an answer nor a default is a usage error. */
export function decide(tree: DecisionTree, answers: TreeAnswers): { steps: PathStep[]; leaf: LeafNode } {
  const walk = walkTree(tree, answers, { useDefaults: true });
  if (walk.leaf === null) {
    const q = walk.pending;
    const id = q?.id ?? '?';
    const values = q?.answers.map((a) => a.value).join(', ') ?? '';
    throw new ModelscoutError('E_INPUT', `the tree asks "${q?.question ?? id}" (${id}) and it has no default: an answer is needed (${values})`, {
      suggestions: [`Give it in an answers file (answers: { ${id}: ... }) or run \`modelscout wizard\`.`],
    });
  }
  return { steps: walk.steps, leaf: walk.leaf };
}

/** Every question in the tree, depth-first. */
export function listQuestions(tree: DecisionTree): QuestionNode[] {
  const out: QuestionNode[] = [];
  const visit = (node: TreeNode): void => {
    if (node.kind !== 'question') return;
    out.push(node);
    for (const a of node.answers) visit(a.next);
  };
  visit(tree.root);
  return out;
}

export function findQuestion(tree: DecisionTree, id: string): QuestionNode | null {
  return listQuestions(tree).find((q) => q.id === id) ?? null;
}

/** Every root-to-leaf path as the answers that take it, with its leaf. */
export function listPaths(tree: DecisionTree): { answers: Record<string, string>; leaf: LeafNode }[] {
  const out: { answers: Record<string, string>; leaf: LeafNode }[] = [];
  const visit = (node: TreeNode, answers: Record<string, string>): void => {
    if (node.kind === 'leaf') {
      out.push({ answers, leaf: node });
      return;
    }
    for (const a of node.answers) visit(a.next, { ...answers, [node.id]: a.value });
  };
  visit(tree.root, {});
  return out;
}
