import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = (args: string[]) => execa(process.execPath, ['bin/run.js', 'tree', ...args], { cwd: ROOT, reject: false });

describe('modelscout tree', () => {
  it('prints the default tree as a mermaid flowchart', async () => {
    const r = await run(['--format', 'mermaid']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      [
        'flowchart TD',
        '  q_customization{"Does the job need domain customization (fine-tuning / LoRA)?"}',
        '  q_customization -->|"yes, we will fine-tune"| leaf_mid["Mid-size models, 7B–70B<br/>+ LoRA/QLoRA fine-tuning"]',
        '  q_customization -->|"no, prompting is enough"| q_latency{"How strict is the latency requirement?"}',
        '  q_latency -->|"real-time"| leaf_small["Small models, under 13B"]',
        '  q_latency -->|"latency acceptable"| leaf_flagship["Flagship models, 70B+"]',
      ].join('\n'),
    );
    expect(r.stderr).toBe('');
  });

  it('prints text by default and the tree object with --format json or --json', async () => {
    const text = await run([]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain('? Does the job need domain customization (fine-tuning / LoRA)?  [customization]');
    const json = await run(['--format', 'json']);
    const flag = await run(['--json']);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(flag.stdout));
    expect(JSON.parse(flag.stdout)).toMatchObject({ schema_version: '2', kind: 'modelscout.decision-tree', id: 'default', targets: { latency_classes: { realtime: { max_ttft_ms: 500 } } }, root: { id: 'customization' } });
  });

  it('validates and prints a custom tree file', async () => {
    const r = await run(['--tree', 'fixtures/trees/custom-edge.yaml', '--format', 'mermaid']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`q_placement -->|"on the user's device"| leaf_tiny["Tiny models, up to 2B"]`);
  });

  it('rejects an invalid tree with the path of the offending node, exit 2', async () => {
    const r = await run(['--tree', 'fixtures/trees/invalid-nodes.yaml']);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(
      'Error: invalid tree file fixtures/trees/invalid-nodes.yaml: at root.answers[0].next (node customization=yes): unknown key "colour" (and 1 more problem)',
    );
    expect(r.stderr).toContain('at root.answers[1].next.answers[0].next.sizeClass (node customization=no → latency=realtime): missing "sizeClass"');
    expect(r.stderr).not.toMatch(/^\s+at .*\.js:\d+/m);
  });

  it('gives one line and exit 2 for malformed YAML, a missing file and a bad format', async () => {
    const malformed = await run(['--tree', 'fixtures/trees/malformed.yaml']);
    expect(malformed.exitCode).toBe(2);
    expect(malformed.stderr.split('\n')[0]).toMatch(/^Error: tree file fixtures\/trees\/malformed\.yaml is not valid YAML: .+ at line \d+, column \d+$/);
    const missing = await run(['--tree', 'nowhere.yaml']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.split('\n')[0]).toBe('Error: cannot read tree file nowhere.yaml: no such file');
    const format = await run(['--format', 'dot']);
    expect(format.exitCode).toBe(2);
    expect(format.stderr.split('\n')[0]).toBe('Error: Expected --format=dot to be one of: text, mermaid, json');
  });
});
