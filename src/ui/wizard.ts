import type { RequirementInputs } from '../recommend/requirements.js';
import type { DecisionTree } from '../tree/schema.js';
import { findQuestion, nextQuestion } from '../tree/walk.js';
import type { Prompter } from './prompts.js';

export interface WizardAnswers {
  inputs: RequirementInputs;
  /** How many questions were asked (the wizard stays at about six). */
  asked: number;
}

/**
 * Asks the tree's questions in order (each with its one-line help), then the latency class if the path did
 * not ask it (it sets the speed targets), the context and concurrency, and whether to keep the class's
 * targets: five questions, seven when the targets are edited. Returns the same inputs `recommend` takes,
 * so both reach the same recommendation from the same answers.
 */
export async function askRequirements(tree: DecisionTree, prompter: Prompter): Promise<WizardAnswers> {
  const answers: Record<string, string> = {};
  let asked = 0;
  for (let q = nextQuestion(tree, answers); q !== null; q = nextQuestion(tree, answers)) {
    prompter.say(`  ${q.help}`);
    answers[q.id] = await prompter.select({
      message: q.question,
      choices: q.answers.map((a) => ({ value: a.value, name: a.label, description: a.help ?? undefined })),
      default: q.default ?? undefined,
    });
    asked += 1;
  }

  const t = tree.targets;
  const latencyQuestion = findQuestion(tree, t.latencyQuestion);
  if (latencyQuestion && answers[latencyQuestion.id] === undefined) {
    prompter.say(`  ${latencyQuestion.help} (It sets the speed targets.)`);
    answers[latencyQuestion.id] = await prompter.select({
      message: latencyQuestion.question,
      choices: latencyQuestion.answers.map((a) => ({ value: a.value, name: a.label, description: a.help ?? undefined })),
      default: t.defaultLatency,
    });
    asked += 1;
  }
  const latencyClass = t.latencyClasses[answers[t.latencyQuestion] ?? t.defaultLatency] ?? t.latencyClasses[t.defaultLatency]!;

  prompter.say('  Tokens per request, prompt plus answer: the KV cache holds them, and the first token waits for the whole prompt.');
  const contextTokens = await prompter.number({ message: 'Context length (tokens)', default: t.contextTokens, min: 1, max: 10_000_000, integer: true });
  prompter.say('  Requests served at the same time, each with its own KV cache and its own stream of tokens.');
  const concurrency = await prompter.number({ message: 'Concurrent streams', default: t.concurrency, min: 1, max: 100_000, integer: true });
  asked += 2;

  prompter.say(`  ${latencyClass.label}: ${latencyClass.description}.`);
  const keep = await prompter.confirm({
    message: `Keep the ${latencyClass.label} targets (≥ ${latencyClass.decodeTokensPerSec} tok/s per stream, first token ≤ ${latencyClass.maxTtftMs} ms)?`,
    default: true,
  });
  asked += 1;
  const inputs: RequirementInputs = { answers, contextTokens, concurrency };
  if (!keep) {
    inputs.decodeTokensPerSec = await prompter.number({ message: 'Minimum decode tokens/s per stream', default: latencyClass.decodeTokensPerSec, min: 0.01, integer: false });
    inputs.maxTtftMs = await prompter.number({ message: 'Maximum time to first token (ms)', default: latencyClass.maxTtftMs, min: 1, integer: true });
    asked += 2;
  }
  return { inputs, asked };
}

/** The `recommend` invocation that reproduces the wizard's answers (answers other than the default tree's go in a file). */
export function recommendCommandFor(inputs: RequirementInputs, treeFile?: string): string {
  const parts = ['modelscout recommend'];
  const answers = inputs.answers ?? {};
  const other = Object.keys(answers).filter((k) => k !== 'customization' && k !== 'latency');
  if (answers.customization !== undefined) parts.push(`--customization ${answers.customization}`);
  if (answers.latency !== undefined) parts.push(`--latency ${answers.latency}`);
  if (inputs.contextTokens !== undefined) parts.push(`--context ${inputs.contextTokens}`);
  if (inputs.concurrency !== undefined) parts.push(`--concurrency ${inputs.concurrency}`);
  if (inputs.decodeTokensPerSec !== undefined) parts.push(`--target-tps ${inputs.decodeTokensPerSec}`);
  if (inputs.maxTtftMs !== undefined) parts.push(`--max-ttft ${inputs.maxTtftMs}`);
  if (treeFile !== undefined) parts.push(`--tree ${treeFile}`);
  if (other.length > 0) parts.push(`--answers FILE (holding ${other.map((k) => `${k}: ${answers[k]}`).join(', ')})`);
  return parts.join(' ');
}

/**
 * The wizard's last step: measure the top candidates here? Off by default — it takes minutes (synthesize or
 * pull, quantize, benchmark) — and the same run is `recommend ... --confirm` for scripts.
 */
export async function askConfirm(prompter: Prompter, candidates: number, budgetSec: number): Promise<boolean> {
  prompter.say(`  Confirming pulls or synthesizes each of the top ${candidates} candidates, quantizes it to int4 and benchmarks it here (planned to take at most about ${Math.ceil(budgetSec / 60)} min).`);
  return prompter.confirm({ message: `Confirm by benchmarking the top ${candidates} on this machine?`, default: false });
}
