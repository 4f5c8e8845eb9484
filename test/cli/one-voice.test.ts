import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyModel } from '../helpers/tiny-model.js';

/** One name per idea across commands; renamed flags keep their old names as hidden aliases. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function cli(args: string[]) {
  return execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' } });
}

let dir: string;
let model: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-one-voice-'));
  model = (await buildTinyModel({ arch: 'llama', layers: 1, dir: join(dir, 'tiny') })).outDir;
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TG = ['--tests', 'pp4+tg2', '--repetitions', '1', '--warmup', '0', '--threads', '1', '--json'];

describe('renamed flags', () => {
  it.each([
    ['--target-tps', '1e12', 'decode_tps'],
    ['--min-decode-tps', '1e12', 'decode_tps'],
    ['--max-ttft', '1e-9', 'ttft_ms'],
    ['--max-ttft-ms', '1e-9', 'ttft_ms'],
  ])('bench %s sets the threshold', async (flag, value, metric) => {
    const r = await cli(['bench', model, ...TG, flag, value]);
    expect(r.exitCode, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as { outcome: { reasons: string[] } };
    expect(report.outcome.reasons.join(' ')).toContain(metric);
  }, 60_000);

  it.each(['--gen-tokens', '--max-new'])('generate %s sets the number of tokens', async (flag) => {
    const r = await cli(['generate', model, '--prompt-ids', '1,2,3', flag, '3', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { ids: number[] }).ids).toHaveLength(3);
  }, 60_000);

  it('a bad value is reported under the new name', async () => {
    const r = await cli(['bench', model, '--min-decode-tps', '0']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('Error: invalid --target-tps "0": expected a number greater than 0');
  });

  it('help shows only the new names', async () => {
    const bench = (await cli(['bench', '--help'])).stdout;
    expect(bench).toContain('--target-tps');
    expect(bench).toContain('--max-ttft');
    expect(bench).not.toMatch(/min-decode-tps|max-ttft-ms/);
    const generate = (await cli(['generate', '--help'])).stdout;
    expect(generate).toContain('--gen-tokens');
    expect(generate).not.toContain('max-new');
  });
});

describe('--json and --format', () => {
  it.each([
    ['tree', '--format', 'mermaid'],
    ['tree', '--format', 'text'],
    ['compare', 'a.json', 'b.json', '--format', 'markdown'],
    ['bench', 'model', '--format', 'table'],
  ])('%s: --json with a different --format is a usage error', async (...args) => {
    const r = await cli([...args, '--json']);
    expect(r.exitCode).toBe(2);
    const format = args[args.length - 1]!;
    expect(r.stderr.split('\n')[0]).toBe(`Error: --json and --format ${format} disagree`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('agreeing is fine', async () => {
    const both = await cli(['tree', '--format', 'json', '--json']);
    expect(both.exitCode, both.stderr).toBe(0);
    const alone = await cli(['tree', '--json']);
    expect(JSON.parse(both.stdout)).toEqual(JSON.parse(alone.stdout));
    const mermaid = await cli(['tree', '--format', 'mermaid']);
    expect(mermaid.exitCode).toBe(0);
    expect(mermaid.stdout).toMatch(/^flowchart/m);
  });
});

describe('topics and mistyped commands', () => {
  it('the root help describes each topic with its own text', async () => {
    const r = await cli(['--help']);
    const topics = r.stdout.split('\nCOMMANDS\n')[0]!.split('\nTOPICS\n')[1]!.replace(/\s+/g, ' ');
    expect(topics).toContain('calibration The efficiencies fitted to this machine by recommend --confirm: show them, or reset them');
    expect(topics).toContain('cache The Hugging Face hub cache');
    expect(topics).toContain('models The model catalog');
    // Not a subcommand's text.
    expect(topics).not.toContain('Forget the measured efficiencies');
    expect(topics).not.toContain('List the models in the Hugging Face cache');
  });

  it.each([
    [['recomend'], 'did you mean `modelscout recommend`?'],
    [['calibration', 'shw'], 'did you mean `modelscout calibration show`'],
    [['serve'], 'did you mean `modelscout serve-bench`?'],
    [['benchh', './model', '--json'], 'unknown command "benchh": did you mean `modelscout bench`?'],
  ])('%j gets one line with the closest command, exit 2', async (args, hint) => {
    const r = await cli(args);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Error: unknown command "/);
    expect(lines[0]).toContain(hint);
  });

  it('a command far from every name gets no guess', async () => {
    const r = await cli(['xyzzy']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe('Error: unknown command "xyzzy" (`modelscout --help` lists them)');
  });

  it('a mistyped catalog id gets the closest ids', async () => {
    const r = await cli(['models', 'show', 'llama-3.1-8']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/unknown model "llama-3\.1-8": did you mean llama-3\.1-8b/);
  });
});

describe('a file that is not JSON', () => {
  // The file's first characters must not be echoed: a token file passed by mistake would land in a CI log.
  it.each([
    ['report', (f: string) => ['report', f]],
    ['compare', (f: string) => ['compare', f, f]],
    ['bench --config', (f: string) => ['bench', '--config', f]],
    ['models show', (f: string) => ['models', 'show', f]],
  ])('%s fails in one line that does not quote it', async (_name, args) => {
    const file = join(dir, 'token.json');
    // Short enough that V8's message would quote all of it, and on two lines.
    await writeFile(file, 'hf_Secret\nx\n');
    const r = await cli(args(file));
    expect(r.exitCode, r.stderr).toBe(2);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^Error: .*token\.json.* not valid JSON: Unexpected token/);
    expect(lines.slice(1).every((l) => l.startsWith('  Try this: ')), r.stderr).toBe(true);
    expect(r.stderr).not.toContain('Secret');
    expect(r.stdout).not.toContain('Secret');
  });
});
