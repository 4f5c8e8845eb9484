import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { expect } from 'vitest';
import { TINY_CONFIGS } from '../helpers/tiny-model.js';

/** The fault suite: the CLI as a user (or a hostile server) drives it, and what it must never do. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  exitCode?: number | undefined;
  stdout: unknown;
  stderr: unknown;
  timedOut: boolean;
}

/** A running CLI: awaitable, and killable with a signal. */
export interface CliRun extends Promise<CliResult> {
  kill: (signal?: NodeJS.Signals) => boolean;
  pid?: number | undefined;
  /** What the run writes to stderr, as it writes it. */
  stderr: NodeJS.ReadableStream | null;
}

export function cli(args: string[], options: { cwd?: string; env?: Record<string, string>; timeout?: number } = {}): CliRun {
  return execa(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {
    cwd: options.cwd ?? ROOT,
    reject: false,
    stdin: 'ignore',
    timeout: options.timeout ?? 120_000,
    env: { NO_COLOR: '1', MODELSCOUT_CALIBRATION: '', ...(options.env ?? {}) },
  }) as unknown as CliRun;
}

/** Exit 2 (or `code`), one `Error:` line matching `pattern` (plus `Try this:` lines), no stack trace. */
export function expectOneLineError(result: CliResult, pattern: RegExp, code = 2): void {
  const stderr = String(result.stderr);
  expect(result.exitCode, stderr).toBe(code);
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('\r'));
  const errorLines = lines.filter((l) => l.startsWith('Error: '));
  expect(errorLines, stderr).toHaveLength(1);
  expect(errorLines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(stderr).not.toMatch(/unexpected failure/);
}

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `modelscout-faults-${label}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Temporary entries and lock files anywhere below `dir` (what a run must never leave behind). */
export async function leftovers(dir: string): Promise<string[]> {
  const names = (await readdir(dir, { recursive: true }).catch((): string[] => [])).map(String);
  return names.filter((n) => n.split('/').some((seg) => /^\..+\.(tmp|link)-\d+(\.[0-9a-f]{6})?-[0-9a-f]{8}(\.old)?$/.test(seg) || seg.endsWith('.modelscout-lock') || seg.endsWith('.modelscout-lock.takeover')));
}

/** Every file below `dir` with its size: a snapshot to prove a folder was left as it was. */
export async function snapshotTree(dir: string): Promise<string[]> {
  const { readFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const out: string[] = [];
  for (const name of (await readdir(dir, { recursive: true, withFileTypes: true })).sort((a, b) => join(a.parentPath, a.name).localeCompare(join(b.parentPath, b.name)))) {
    const full = join(name.parentPath, name.name);
    if (name.isFile()) out.push(`${full.slice(dir.length)} ${createHash('sha256').update(await readFile(full)).digest('hex').slice(0, 16)}`);
    else out.push(`${full.slice(dir.length)}/`);
  }
  return out;
}

/** A tiny llama config (4 layers, hidden 64): synth builds it in well under a second. */
export const TINY_LLAMA: Record<string, unknown> = TINY_CONFIGS.llama;
