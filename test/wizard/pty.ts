import { fileURLToPath } from 'node:url';
import pty from '@lydell/node-pty';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A CLI run inside a real pseudo-terminal: wait for text, type keys, collect everything it drew. */
export interface PtySession {
  /** Resolves once `pattern` appears in the output after the last matched position. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  type(keys: string): void;
  exit: Promise<number>;
  /** Everything drawn so far, ANSI escapes removed. */
  text(): string;
  /** Every line or redrawn frame (split at newlines and carriage returns), ANSI escapes removed. */
  frames(): string[];
}

export const KEYS = { enter: '\r', down: '\u001b[B', up: '\u001b[A', ctrlC: '\u0003' } as const;

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}

export function spawnCli(args: string[], cols = 160): PtySession {
  const child = pty.spawn(process.execPath, ['bin/run.js', ...args], {
    cwd: ROOT,
    cols,
    rows: 60,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } as Record<string, string>,
  });
  let raw = '';
  let cursor = 0;
  child.onData((data) => {
    raw += data;
  });
  const exit = new Promise<number>((resolve) => child.onExit(({ exitCode }) => resolve(exitCode)));
  return {
    waitFor(pattern, timeoutMs = 30_000) {
      const started = Date.now();
      return new Promise((resolve, reject) => {
        const poll = setInterval(() => {
          const rest = stripAnsi(raw).slice(cursor);
          const match = pattern.exec(rest);
          if (match) {
            cursor += match.index + match[0].length;
            clearInterval(poll);
            resolve();
          } else if (Date.now() - started > timeoutMs) {
            clearInterval(poll);
            child.kill();
            reject(new Error(`timed out waiting for ${pattern}; the terminal shows:\n${stripAnsi(raw).slice(-2000)}`));
          }
        }, 25);
      });
    },
    type(keys) {
      child.write(keys);
    },
    exit,
    text: () => stripAnsi(raw),
    // eslint-disable-next-line no-control-regex
    frames: () => raw.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').split(/\r\n|\r|\n/),
  };
}

/** Model names of the rows of every candidate table in the text, in order. */
export function tableModelNames(text: string): string[] {
  return [...text.matchAll(/^│ (\d+) +│ (\S[^│]*?) +│/gm)].map((m) => m[2]!);
}
