import { z } from 'zod';

/**
 * The decision tree as data. A tree file (JSON or YAML) holds a nested tree of question and leaf nodes plus
 * the concrete targets behind the latency labels. Nesting (rather than a flat node table with references)
 * mirrors how the tree is drawn, makes cycles impossible, and gives every node a readable path
 * (`root.answers[1].next`) for error messages.
 */

export const TREE_SCHEMA_VERSION = 1;

/**
 * Names of the targets an answers file (and `recommend`'s flags) sets beside the tree answers; no question
 * may use them as its id, so an answers file stays one flat mapping.
 */
export const RESERVED_QUESTION_IDS = ['context', 'concurrency', 'target-tps', 'max-ttft', 'device'] as const;

/** Question and leaf ids: lower-case words joined by `-` or `_` (also used as mermaid node names). */
const idSchema = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be lower-case letters, digits, "-" or "_", starting with a letter');
const textSchema = z.string().trim().min(1, 'must not be empty');

export interface SizeClass {
  /** Short id, e.g. `small`, `mid`, `flagship`. */
  id: string;
  /** How the class is spoken of, e.g. `mid-size, 7B–70B`. */
  label: string;
  /** Lower bound on total parameters (nominal; 0 for no lower bound). */
  minParams: number;
  /** Upper bound on total parameters (nominal), or null for no upper bound. */
  maxParams: number | null;
  /**
   * Slack applied at both bounds, as a fraction: nominal sizes are rounded (Llama-3.1-70B has 70.6B
   * parameters, Qwen2.5-72B 72.7B), so a 70B bound with 5% slack still admits them.
   */
  tolerance: number;
}

export interface LeafNode {
  kind: 'leaf';
  id: string;
  /** What the leaf recommends, e.g. `Mid-size models (7B–70B)`. */
  label: string;
  sizeClass: SizeClass;
  /** Why this class follows from the answers on the way here. */
  rationale: string;
  /** The user will fine-tune (LoRA/QLoRA): show the fine-tuning memory fit too. */
  fineTune: boolean;
}

export interface Answer {
  value: string;
  label: string;
  /** One line on when to pick this answer. */
  help: string | null;
  next: TreeNode;
}

export interface QuestionNode {
  kind: 'question';
  id: string;
  question: string;
  /** One line explaining what the question means. */
  help: string;
  /** Answer used when none is given (`recommend` with no flags), or null when it must be given. */
  default: string | null;
  answers: Answer[];
}

export type TreeNode = QuestionNode | LeafNode;

export interface LatencyClass {
  label: string;
  description: string;
  /** Minimum decode tokens per second per stream. */
  decodeTokensPerSec: number;
  /** Maximum time to first token, milliseconds, at the chosen context. */
  maxTtftMs: number;
}

export interface TreeTargets {
  /** Id of the question whose answer picks the latency class (asked for the targets even off its branch). */
  latencyQuestion: string;
  /** Latency class in force when the answers do not name one. */
  defaultLatency: string;
  latencyClasses: Record<string, LatencyClass>;
  /** Default prompt + generated tokens per request. */
  contextTokens: number;
  /** Default number of concurrent streams. */
  concurrency: number;
}

export interface DecisionTree {
  schemaVersion: typeof TREE_SCHEMA_VERSION;
  id: string;
  title: string;
  description: string | null;
  targets: TreeTargets;
  root: TreeNode;
}

const sizeClassSchema = z
  .object({
    id: idSchema,
    label: textSchema,
    minParams: z.number().nonnegative().default(0),
    maxParams: z.number().positive().nullable().default(null),
    tolerance: z.number().min(0).max(0.5).default(0.05),
  })
  .strict()
  .refine((c) => c.maxParams === null || c.maxParams >= c.minParams, { message: 'maxParams must be ≥ minParams', path: ['maxParams'] });

export const leafSchema = z
  .object({
    kind: z.literal('leaf'),
    id: idSchema,
    label: textSchema,
    sizeClass: sizeClassSchema,
    rationale: textSchema,
    fineTune: z.boolean().default(false),
  })
  .strict();

/**
 * One level of a question: its answers' `next` subtrees are left unparsed here and validated one node at a
 * time by `parseDecisionTree`, which keeps a breadcrumb of the answers taken so every error names its node.
 */
export const questionShallowSchema = z
  .object({
    kind: z.literal('question'),
    id: idSchema,
    question: textSchema,
    help: textSchema,
    default: idSchema.nullable().default(null),
    answers: z
      .array(
        z
          .object({
            value: idSchema,
            label: textSchema,
            help: textSchema.nullable().default(null),
            next: z.unknown().refine((v) => v !== undefined, 'each answer needs a "next" node'),
          })
          .strict(),
      )
      .min(2, 'a question needs at least 2 answers'),
  })
  .strict();

const latencyClassSchema = z
  .object({
    label: textSchema,
    description: textSchema,
    decodeTokensPerSec: z.number().positive(),
    maxTtftMs: z.number().positive(),
  })
  .strict();

const targetsSchema = z
  .object({
    latencyQuestion: idSchema,
    defaultLatency: idSchema,
    latencyClasses: z.record(idSchema, latencyClassSchema),
    contextTokens: z.number().int().positive(),
    concurrency: z.number().int().positive(),
  })
  .strict();

export const decisionTreeShallowSchema = z
  .object({
    schemaVersion: z.literal(TREE_SCHEMA_VERSION),
    id: idSchema,
    title: textSchema,
    description: textSchema.nullable().default(null),
    targets: targetsSchema,
    // Validated node by node (see questionShallowSchema).
    root: z.unknown().refine((v) => v !== undefined, 'the tree needs a "root" node'),
  })
  .strict();
