import { confirm, number, select } from '@inquirer/prompts';
import { fitToWidth, terminalWidth } from './layout.js';

/**
 * The prompt adapter: the only module that imports @inquirer/prompts. The wizard talks to this small
 * interface, so it can be driven by a scripted prompter in unit tests and by a real terminal otherwise.
 */
export interface Choice<T extends string> {
  value: T;
  name: string;
  description?: string | undefined;
}

export interface Prompter {
  select<T extends string>(question: { message: string; choices: Choice<T>[]; default?: T | undefined }): Promise<T>;
  number(question: { message: string; default: number; min: number; max?: number | undefined; integer: boolean }): Promise<number>;
  confirm(question: { message: string; default: boolean }): Promise<boolean>;
  /** A line of explanation between questions. */
  say(line: string): void;
}

export interface TerminalStreams {
  input: NodeJS.ReadStream;
  /** Prompts are drawn on stderr, so stdout carries only the result (`wizard --json > rec.json` works). */
  output: NodeJS.WriteStream;
}

/** Inquirer needs a TTY on both ends: keypresses in, cursor movement out. */
export function isInteractive(streams: TerminalStreams): boolean {
  return Boolean(streams.input.isTTY && streams.output.isTTY);
}

/** A prompter on a real terminal. Ctrl-C makes inquirer reject with `ExitPromptError` (the CLI exits 130). */
export function createTerminalPrompter(streams: TerminalStreams): Prompter {
  const context = { input: streams.input, output: streams.output };
  return {
    select: <T extends string>(q: { message: string; choices: Choice<T>[]; default?: T | undefined }) =>
      select<T>({ message: q.message, choices: q.choices.map((c) => ({ value: c.value, name: c.name, ...(c.description ? { description: c.description } : {}) })), default: q.default }, context),
    number: async (q) => {
      const value = await number(
        {
          message: q.message,
          default: q.default,
          min: q.min,
          max: q.max,
          step: q.integer ? 1 : 'any',
          required: true,
        },
        context,
      );
      return value;
    },
    confirm: (q) => confirm({ message: q.message, default: q.default }, context),
    say: (line) => {
      // Wrapped to the terminal it is drawn on (the wizard's notes and the hardware summary are long).
      streams.output.write(`${fitToWidth(line, terminalWidth(streams.output))}\n`);
    },
  };
}
