import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { ModelscoutError } from '../../src/errors.js';
import { parseDataText } from '../../src/tree/data-file.js';
import { loadDefaultTree, loadTreeFile, validateTree } from '../../src/tree/load.js';
import { toTreeFile } from '../../src/tree/file-format.js';
import { describeParamRange, renderTree } from '../../src/tree/render.js';
import { TreeValidationError, parseDecisionTree } from '../../src/tree/validate.js';
import { decide, findQuestion, listPaths, listQuestions, nextQuestion, walkTree } from '../../src/tree/walk.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/trees/${name}`, import.meta.url));

describe('default tree', () => {
  const tree = loadDefaultTree();

  it('has exactly the three paths of the design: fine-tune → mid, real-time → small, relaxed → flagship', () => {
    const paths = listPaths(tree).map((p) => ({ answers: p.answers, leaf: p.leaf.id, range: describeParamRange(p.leaf.sizeClass), fineTune: p.leaf.fineTune }));
    expect(paths).toEqual([
      { answers: { customization: 'yes' }, leaf: 'mid', range: '7B–70B', fineTune: true },
      { answers: { customization: 'no', latency: 'realtime' }, leaf: 'small', range: '≤13B', fineTune: false },
      { answers: { customization: 'no', latency: 'relaxed' }, leaf: 'flagship', range: '70B+', fineTune: false },
    ]);
    for (const p of listPaths(tree)) expect(p.leaf.rationale.length).toBeGreaterThan(40);
  });

  it('walks every path to its leaf, recording each step', () => {
    const yes = walkTree(tree, { customization: 'yes' });
    expect(yes.leaf?.id).toBe('mid');
    expect(yes.steps).toEqual([
      { questionId: 'customization', question: tree.root.kind === 'question' ? tree.root.question : '', answer: 'yes', answerLabel: 'yes, we will fine-tune', source: 'given' },
    ]);
    expect(walkTree(tree, { customization: 'no', latency: 'realtime' }).leaf?.id).toBe('small');
    const relaxed = walkTree(tree, { customization: 'no', latency: 'relaxed' });
    expect(relaxed.leaf?.id).toBe('flagship');
    expect(relaxed.steps.map((s) => `${s.questionId}=${s.answer}`)).toEqual(['customization=no', 'latency=relaxed']);
    // An answer off the path (latency on the fine-tuning branch) does not change the leaf.
    expect(walkTree(tree, { customization: 'yes', latency: 'relaxed' }).leaf?.id).toBe('mid');
  });

  it('asks the next question until a leaf is reached', () => {
    expect(nextQuestion(tree, {})?.id).toBe('customization');
    expect(nextQuestion(tree, { customization: 'no' })?.id).toBe('latency');
    expect(nextQuestion(tree, { customization: 'yes' })).toBeNull();
    expect(nextQuestion(tree, { customization: 'no', latency: 'relaxed' })).toBeNull();
  });

  it('fills unanswered questions with defaults: no customization, real-time', () => {
    const d = decide(tree, {});
    expect(d.leaf.id).toBe('small');
    expect(d.steps.map((s) => [s.questionId, s.answer, s.source])).toEqual([
      ['customization', 'no', 'default'],
      ['latency', 'realtime', 'default'],
    ]);
    expect(decide(tree, { latency: 'relaxed' }).steps.map((s) => s.source)).toEqual(['default', 'given']);
  });

  it('rejects an answer that is not one of the values, naming the allowed ones', () => {
    expect(() => walkTree(tree, { customization: 'maybe' })).toThrow(ModelscoutError);
    expect(() => walkTree(tree, { customization: 'maybe' })).toThrow(/invalid answer to "customization".*"maybe": expected yes, no/);
  });

  it('carries the targets per latency class', () => {
    expect(tree.targets.latencyClasses.realtime).toMatchObject({ decodeTokensPerSec: 20, maxTtftMs: 500 });
    expect(tree.targets.latencyClasses.relaxed).toMatchObject({ decodeTokensPerSec: 5 });
    expect(tree.targets).toMatchObject({ contextTokens: 2048, concurrency: 1, defaultLatency: 'realtime', latencyQuestion: 'latency' });
    expect(findQuestion(tree, 'latency')?.answers.map((a) => a.value)).toEqual(['realtime', 'relaxed']);
    expect(listQuestions(tree).map((q) => q.id)).toEqual(['customization', 'latency']);
  });
});

describe('rendering', () => {
  const tree = loadDefaultTree();

  it('draws the tree as a mermaid flowchart with both questions and all three leaves', () => {
    const m = renderTree(tree, 'mermaid');
    expect(m.split('\n')[0]).toBe('flowchart TD');
    expect(m).toContain('q_customization{"Does the job need domain customization (fine-tuning / LoRA)?"}');
    expect(m).toContain('q_customization -->|"yes, we will fine-tune"| leaf_mid["Mid-size models, 7B–70B<br/>+ LoRA/QLoRA fine-tuning"]');
    expect(m).toContain('q_customization -->|"no, prompting is enough"| q_latency{"How strict is the latency requirement?"}');
    expect(m).toContain('q_latency -->|"real-time"| leaf_small["Small models, under 13B"]');
    expect(m).toContain('q_latency -->|"latency acceptable"| leaf_flagship["Flagship models, 70B+"]');
  });

  it('escapes quotes and sanitizes ids in mermaid', () => {
    const custom = structuredClone(tree);
    if (custom.root.kind !== 'question') throw new Error('unexpected');
    custom.root.question = 'Say "yes" | no?';
    custom.root.id = 'needs-tuning';
    const m = renderTree(custom, 'mermaid');
    expect(m).toContain('q_needs_tuning{"Say #quot;yes#quot; #124; no?"}');
  });

  it('renders text with every leaf, its rationale and the targets', () => {
    const t = renderTree(tree, 'text');
    expect(t).toContain('? Does the job need domain customization (fine-tuning / LoRA)?');
    expect(t).toMatch(/yes, we will fine-tune → Mid-size models, 7B–70B/);
    expect(t).toMatch(/real-time \(default\) → Small models, under 13B/);
    expect(t).toMatch(/latency acceptable → Flagship models, 70B\+/);
    expect(t).toContain('why: Fine-tuning needs a base');
    expect(t).toContain('real-time [realtime, the default]: ≥ 20 tok/s per stream, time to first token ≤ 500 ms');
    expect(t).toContain('latency acceptable [relaxed]: ≥ 5 tok/s per stream, time to first token ≤ 10 s');
  });

  it('round-trips through JSON', () => {
    const again = parseDecisionTree(JSON.parse(renderTree(tree, 'json')));
    expect(again).toEqual(tree);
  });
});

describe('custom trees', () => {
  it('loads a valid YAML tree with other questions and classes', async () => {
    const tree = await loadTreeFile(fixture('custom-edge.yaml'));
    expect(listPaths(tree).map((p) => p.leaf.id)).toEqual(['tiny', 'small', 'large']);
    expect(decide(tree, {}).leaf.id).toBe('tiny');
    // The latency question has no default: on its branch an answer is required.
    expect(() => decide(tree, { placement: 'server' })).toThrow(/has no default: an answer is needed \(realtime, relaxed\)/);
    expect(decide(tree, { placement: 'server', latency: 'relaxed' }).leaf.sizeClass).toEqual({ id: 'large', label: 'large (30B+)', minParams: 3e10, maxParams: null, tolerance: 0.05 });
  });

  it('reports every problem of an invalid tree with the path of the offending node', async () => {
    const error = await loadTreeFile(fixture('invalid-nodes.yaml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelscoutError);
    const e = error as ModelscoutError;
    expect(e.code).toBe('E_TREE');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/^invalid tree file .*invalid-nodes\.yaml: at root\.answers\[0\]\.next \(node customization=yes\): unknown key "colour" \(and 1 more problem\)$/);
    expect(e.suggestions[0]).toBe('Also fix at root.answers[1].next.answers[0].next.sizeClass (node customization=no → latency=realtime): missing "sizeClass" (object).');
  });

  it('checks cross-references once the shape is right', async () => {
    const tree = await loadTreeFile(fixture('custom-edge.yaml'));
    const raw = JSON.parse(JSON.stringify(tree)) as Record<string, unknown> & { root: { default: string; answers: { next: { answers: { next: { id: string } }[] } }[] }; targets: { latencyClasses: Record<string, unknown> } };
    raw.root.default = 'cloud';
    raw.root.answers[1]!.next.answers[0]!.next.id = 'tiny';
    delete raw.targets.latencyClasses.relaxed;
    const issues = captureIssues(raw);
    expect(issues).toEqual([
      'at root.default (node root): default "cloud" is not one of the answers (device, server)',
      'at root.answers[1].next.answers[0].next.id (node placement=server → latency=realtime): duplicate node id "tiny" (first used at root.answers[0].next)',
      'at root.answers[1].next.answers[1].value (node placement=server): answer "relaxed" of the latency question must name a latency class (realtime)',
    ]);
  });

  it('names wrong kinds, short questions, bad bounds and a missing latency question', () => {
    const base = v1File() as { root: { answers: { next: Record<string, unknown> }[] }; targets: Record<string, unknown> };
    const bad = structuredClone(base);
    bad.root.answers[0]!.next = { kind: 'branch' };
    expect(captureIssues(bad)).toEqual(['at root.answers[0].next (node customization=yes): a node must be an object with "kind": "question" or "leaf" (got "branch")']);

    const short = structuredClone(base);
    const latency = short.root.answers[1]!.next as { answers: unknown[] };
    latency.answers = latency.answers.slice(0, 1);
    expect(captureIssues(short)).toEqual(['at root.answers[1].next.answers (node customization=no): a question needs at least 2 answers']);

    const bounds = structuredClone(base);
    (bounds.root.answers[0]!.next.sizeClass as Record<string, unknown>).maxParams = 1e9;
    expect(captureIssues(bounds)).toEqual(['at root.answers[0].next.sizeClass.maxParams (node customization=yes): maxParams must be ≥ minParams']);

    const noLatency = structuredClone(base);
    noLatency.targets.latencyQuestion = 'speed';
    expect(captureIssues(noLatency)).toEqual(['at targets.latencyQuestion (node root): no question with id "speed" in the tree']);

    expect(captureIssues({ schemaVersion: 2 })).toContain('at schemaVersion (node root): Invalid input: expected 1');
    expect(captureIssues([1, 2])).toContain('at root (node root): the tree needs a "root" node');
    expect(captureIssues({ id: 'x' })).toContain('at schema_version (node root): missing "schema_version" ("2")');
  });

  it('reads version "2" files (snake_case) and version-1 files (camelCase) to the same tree, and writes version "2"', () => {
    const v1 = loadDefaultTree();
    const file = toTreeFile(v1);
    expect(file).toMatchObject({ schema_version: '2', kind: 'modelscout.decision-tree', targets: { latency_question: 'latency', latency_classes: { realtime: { decode_tokens_per_sec: 20 } } } });
    expect(JSON.stringify(file)).not.toMatch(/"[a-z]+[A-Z]\w*":/);
    expect(parseDecisionTree(JSON.parse(JSON.stringify(file)))).toEqual(v1);
    // Latency class ids are data: an id with an underscore is not renamed either way.
    const renamed = structuredClone(file) as { targets: { default_latency: string; latency_classes: Record<string, unknown> }; root: { answers: { next: { answers: { value: string }[] } }[] } };
    renamed.targets.latency_classes = { real_time: renamed.targets.latency_classes.realtime, relaxed: renamed.targets.latency_classes.relaxed };
    renamed.targets.default_latency = 'real_time';
    renamed.root.answers[1]!.next.answers[0]!.value = 'real_time';
    (renamed.root.answers[1]!.next as unknown as { default: string }).default = 'real_time';
    expect(Object.keys(parseDecisionTree(renamed).targets.latencyClasses)).toEqual(['real_time', 'relaxed']);
  });

  it('speaks of a version "2" file in its own words', () => {
    const file = toTreeFile(loadDefaultTree()) as Record<string, unknown> & { targets: { latency_classes: { realtime: Record<string, unknown> } }; root: { answers: { next: { size_class: Record<string, unknown> } }[] } };
    const bounds = structuredClone(file);
    bounds.root.answers[0]!.next.size_class.max_params = 1e9;
    expect(captureIssues(bounds)).toEqual(['at root.answers[0].next.size_class.max_params (node customization=yes): max_params must be ≥ min_params']);
    const camel = structuredClone(file);
    camel.targets.latency_classes.realtime.maxTtftMs = 5;
    expect(captureIssues(camel)).toEqual(['at targets.latency_classes.realtime (node root): unknown key "maxTtftMs" (a version "2" tree file writes keys in snake_case: "max_ttft_ms")']);
    expect(captureIssues({ ...file, schema_version: 2 })).toEqual(['at schema_version (node root): schema_version must be "2" (or write a version-1 file with schemaVersion: 1), got 2']);
  });

  it('names a cycle (YAML aliases can build them) in one short line instead of hitting the depth limit', () => {
    const leaf = { kind: 'leaf', id: 'l', label: 'L', sizeClass: { id: 's', label: 's' }, rationale: 'r' };
    const q: Record<string, unknown> = { kind: 'question', id: 'q', question: 'Q?', help: 'h', answers: [] };
    const r: Record<string, unknown> = { kind: 'question', id: 'r', question: 'R?', help: 'h', answers: [] };
    q.answers = [{ value: 'a', label: 'a', next: r }, { value: 'b', label: 'b', next: leaf }];
    r.answers = [{ value: 'c', label: 'c', next: leaf }, { value: 'd', label: 'd', next: q }];
    const issues = captureIssues({ ...v1File(), root: q });
    expect(issues).toEqual(['at root.answers[0].next.answers[1].next (node q=a → r=d): the tree loops: this answer leads back to question "q" (at root); cycle q → r → q']);
  });

  it('a YAML file whose alias makes a question its own answer is one line naming the cycle', () => {
    const tree = v1File() as { root: { answers: { next: Record<string, unknown> }[] } };
    // customization=no leads to the latency question; make its "relaxed" answer lead back to the root.
    const latency = tree.root.answers[1]!.next as { answers: { next: unknown }[] };
    latency.answers[1]!.next = tree.root;
    const yaml = stringifyYaml(tree);
    expect(yaml).toMatch(/\*\w+/); // written with an alias, as a user's file would be
    const error = (() => {
      try {
        return validateTree(parseDataText(yaml, 'loop.yaml', 'tree file', 'E_TREE'), 'loop.yaml');
      } catch (e) {
        return e as ModelscoutError;
      }
    })() as ModelscoutError;
    expect(error.message).toBe(
      'invalid tree file loop.yaml: at root.answers[1].next.answers[1].next (node customization=no → latency=relaxed): the tree loops: this answer leads back to question "customization" (at root); cycle customization → latency → customization',
    );
  });

  it('still stops at runaway nesting without a cycle, on one short line', () => {
    const leaf = { kind: 'leaf', id: 'l', label: 'L', sizeClass: { id: 's', label: 's' }, rationale: 'r' };
    let node: Record<string, unknown> = leaf;
    for (let i = 40; i > 0; i--) node = { kind: 'question', id: `q${i}`, question: 'Q?', help: 'h', answers: [{ value: 'a', label: 'a', next: node }, { value: 'b', label: 'b', next: leaf }] };
    const issues = captureIssues({ ...v1File(), root: node });
    expect(issues).toEqual([
      'at root.answers[0].next.answers[0].next.… 29 levels ….answers[0].next.answers[0].next (node q1=a → q2=a → … 29 more … → q32=a → q33=a): the tree is nested deeper than 32 levels',
    ]);
  });

  it('a value of the wrong type is reported as such, not as missing', () => {
    const base = v1File() as { root: { answers: { next: Record<string, unknown> }[] } };
    const wrong = structuredClone(base);
    (wrong.root.answers[0]!.next.sizeClass as Record<string, unknown>).maxParams = '70B';
    expect(captureIssues(wrong)).toEqual(['at root.answers[0].next.sizeClass.maxParams (node customization=yes): "maxParams" must be a number, got a string ("70B")']);
    const missing = structuredClone(base);
    delete missing.root.answers[0]!.next.rationale;
    expect(captureIssues(missing)).toEqual(['at root.answers[0].next.rationale (node customization=yes): missing "rationale" (string)']);
  });

  it('turns a syntax error or a missing file into one line naming the file', async () => {
    await expect(loadTreeFile(fixture('malformed.yaml'))).rejects.toThrow(/^tree file .*malformed\.yaml is not valid YAML: .*line \d+/);
    await expect(loadTreeFile(fixture('nope.yaml'))).rejects.toThrow(/^cannot read tree file .*nope\.yaml: no such file$/);
    expect(() => validateTree({}, 'x.json')).toThrow(/^invalid tree file x\.json: at /);
  });
});

/** The default tree as a version-1 file (camelCase, `schemaVersion: 1`): the in-memory form, as older files are. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each test narrows the parts it edits
function v1File(): any {
  return JSON.parse(JSON.stringify(loadDefaultTree()));
}

function captureIssues(raw: unknown): string[] {
  try {
    parseDecisionTree(raw);
  } catch (error) {
    if (error instanceof TreeValidationError) return error.issues.map((i) => `at ${i.path} (node ${i.node}): ${i.message}`);
    throw error;
  }
  throw new Error('expected the tree to be rejected');
}
