import type { DecisionTree, LeafNode, SizeClass, TreeNode } from './schema.js';
import { wrapWords } from '../util/text.js';
import { toTreeFile } from './file-format.js';

export const TREE_FORMATS = ['text', 'mermaid', 'json'] as const;
export type TreeFormat = (typeof TREE_FORMATS)[number];

export function renderTree(tree: DecisionTree, format: TreeFormat, width: number | null = null): string {
  switch (format) {
    case 'text':
      return renderTreeText(tree, width);
    case 'mermaid':
      return renderTreeMermaid(tree);
    case 'json':
      return JSON.stringify(toTreeFile(tree), null, 2);
  }
}

/** `7e9..7e10` → `7B–70B`; open-ended → `70B+`; from zero → `≤13B`. */
export function describeParamRange(sizeClass: Pick<SizeClass, 'minParams' | 'maxParams'>): string {
  const { minParams, maxParams } = sizeClass;
  if (maxParams === null) return `${formatBillions(minParams)}+`;
  if (minParams <= 0) return `≤${formatBillions(maxParams)}`;
  return `${formatBillions(minParams)}–${formatBillions(maxParams)}`;
}

function formatBillions(params: number): string {
  const b = params / 1e9;
  if (b >= 1) return `${Number(b.toPrecision(3))}B`;
  return `${Number((params / 1e6).toPrecision(3))}M`;
}

/**
 * An indented drawing of the tree with each leaf's class and rationale, then the targets per latency class.
 * With a width (a terminal's), every line is wrapped to it under its branch; without, the plain layout.
 */
export function renderTreeText(tree: DecisionTree, width: number | null = null): string {
  const lines: string[] = [tree.title];
  /** `text` wrapped after `first`, continuation lines after `rest` (the branch drawing carried down). */
  const push = (first: string, rest: string, text: string, plainWidth: number | null = null): void => {
    let parts: string[];
    if (width === null) parts = plainWidth === null ? [text] : wrapWords(text, plainWidth);
    else if (first.length + text.length <= width) parts = [text];
    else parts = wrapWords(text, Math.max(20, width - Math.max(first.length, rest.length)));
    parts.forEach((part, i) => lines.push(`${i === 0 ? first : rest}${part}`));
  };
  if (tree.description) push('  ', '  ', tree.description, 100);
  lines.push('');
  const drawNode = (node: TreeNode, prefix: string): void => {
    if (node.kind === 'leaf') return;
    node.answers.forEach((answer, i) => {
      const last = i === node.answers.length - 1;
      const branch = last ? '└─' : '├─';
      const childPrefix = prefix + (last ? '   ' : '│  ');
      const isDefault = node.default === answer.value ? ' (default)' : '';
      const next = answer.next;
      if (next.kind === 'leaf') {
        push(`${prefix}${branch} `, `${childPrefix}   `, `${answer.label}${isDefault} → ${leafHeadline(next)}`);
        push(`${childPrefix}   `, `${childPrefix}   `, `why: ${next.rationale}`, 96);
      } else {
        push(`${prefix}${branch} `, `${childPrefix}   `, `${answer.label}${isDefault} → ? ${next.question}  [${next.id}]`);
        drawNode(next, childPrefix);
      }
    });
  };
  if (tree.root.kind === 'leaf') {
    push('→ ', '  ', leafHeadline(tree.root));
    push('  ', '  ', `why: ${tree.root.rationale}`);
  } else {
    push('? ', '  ', `${tree.root.question}  [${tree.root.id}]`);
    drawNode(tree.root, '');
  }
  const t = tree.targets;
  lines.push('');
  push('', '', 'Targets behind the latency answer (overridable with --target-tps / --max-ttft):');
  for (const [id, c] of Object.entries(t.latencyClasses)) {
    const def = id === t.defaultLatency ? ', the default' : '';
    push('  ', '    ', `${c.label} [${id}${def}]: ≥ ${c.decodeTokensPerSec} tok/s per stream, time to first token ≤ ${formatMs(c.maxTtftMs)} — ${c.description}`);
  }
  push('', '', `Defaults: context ${t.contextTokens} tokens, concurrency ${t.concurrency} (--context / --concurrency).`);
  return lines.join('\n');
}

function leafHeadline(leaf: LeafNode): string {
  const tune = leaf.fineTune ? ', with LoRA/QLoRA fine-tuning' : '';
  return `${leaf.label} [${leaf.id}: ${describeParamRange(leaf.sizeClass)} parameters${tune}]`;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toPrecision(3))} s` : `${ms} ms`;
}

/**
 * A mermaid `flowchart`: questions as rhombi, leaves as boxes, answers as edge labels. Node ids are
 * sanitized (mermaid treats `-` and words like `end` specially) and labels escaped with mermaid entities.
 */
export function renderTreeMermaid(tree: DecisionTree): string {
  const lines = ['flowchart TD'];
  const ids = new Map<TreeNode, string>();
  const used = new Set<string>();
  const idOf = (node: TreeNode): string => {
    const known = ids.get(node);
    if (known !== undefined) return known;
    let id = `${node.kind === 'leaf' ? 'leaf' : 'q'}_${node.id.replace(/[^A-Za-z0-9_]/g, '_')}`;
    while (used.has(id)) id += '_';
    used.add(id);
    ids.set(node, id);
    return id;
  };
  const declare = (node: TreeNode): string => {
    const id = idOf(node);
    if (node.kind === 'question') return `${id}{"${escapeMermaid(node.question)}"}`;
    return `${id}["${escapeMermaid(node.label)}${node.fineTune ? '<br/>+ LoRA/QLoRA fine-tuning' : ''}"]`;
  };
  const visit = (node: TreeNode, first: boolean): void => {
    if (first) lines.push(`  ${declare(node)}`);
    if (node.kind !== 'question') return;
    for (const answer of node.answers) {
      lines.push(`  ${idOf(node)} -->|"${escapeMermaid(answer.label)}"| ${declare(answer.next)}`);
      visit(answer.next, false);
    }
  };
  visit(tree.root, true);
  return lines.join('\n');
}

function escapeMermaid(text: string): string {
  return text.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;').replace(/\|/g, '#124;');
}
