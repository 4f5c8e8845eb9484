import { Command, Errors, Interfaces } from '@oclif/core';
import { EXIT_CODES, ModelscoutError, errorMessage, isModelscoutError } from '../errors.js';
import { fitToWidth, terminalWidth } from '../ui/layout.js';

/**
 * Base of every modelscout command: `--json` returns the command's result object (nothing else on
 * stdout), and every failure becomes one line on stderr plus suggestions, with a fixed exit code.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  /** Writes a human-facing line to stderr (progress, notes); stdout is reserved for the result. */
  protected note(message: string): void {
    process.stderr.write(`${fitToWidth(message, terminalWidth(process.stderr))}\n`);
  }

  /** oclif's parse, then the checks every command shares: `--json` and `--format` must not disagree. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- oclif's own bounds (FlagOutput / ArgOutput)
  protected override async parse<F extends Record<string, any>, B extends Record<string, any>, A extends Record<string, any>>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const parsed = await super.parse(options, argv);
    checkJsonAgainstFormat(parsed.flags, parsed.metadata);
    return parsed;
  }

  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    const described = describeError(error);
    if (process.env.DEBUG && error.stack) process.stderr.write(`${error.stack}\n`);
    if (this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify({ error: described.json }, null, 2)}\n`);
    }
    process.stderr.write(`Error: ${described.message}\n`);
    for (const suggestion of described.suggestions) process.stderr.write(`  Try this: ${suggestion}\n`);
    this.exit(described.exitCode);
  }
}

/**
 * `--json` is the same as `--format json`: given together with another `--format` (typed, not the default)
 * the request is contradictory, a usage error rather than one of them silently winning.
 */
export function checkJsonAgainstFormat(flags: Record<string, unknown>, metadata: Interfaces.ParserOutput['metadata']): void {
  const format = flags.format;
  if (flags.json !== true || typeof format !== 'string' || format === 'json') return;
  if (metadata.flags.format?.setFromDefault) return;
  throw new ModelscoutError('E_USAGE', `--json and --format ${format} disagree`, {
    suggestions: [`Pass one of them: --json (the same as --format json) or --format ${format}.`],
  });
}

interface DescribedError {
  message: string;
  suggestions: string[];
  exitCode: number;
  json: { code: string; message: string; suggestions: string[]; exit_code: number };
}

/** Maps any thrown value to the one-line form. oclif's own parse errors are usage errors (exit 2). */
export function describeError(error: unknown): DescribedError {
  if (isModelscoutError(error)) {
    // One line, whatever a message quoted (a file's excerpt, a server's reply).
    const message = error.message.replace(/\s*\n\s*/g, ' ').trim();
    return { message, suggestions: error.suggestions, exitCode: error.exitCode, json: { ...error.toJSON(), message } };
  }
  if (isPromptExit(error)) {
    const e = new ModelscoutError('E_INTERRUPTED', 'interrupted', { exitCode: EXIT_CODES.interrupted });
    return { message: e.message, suggestions: [], exitCode: e.exitCode, json: e.toJSON() };
  }
  if (error instanceof Errors.CLIError) {
    const firstLine = stripAnsi(errorMessage(error)).split('\n').map((l) => l.trim()).filter(Boolean);
    const message = firstLine.filter((l) => !/^See more help with/.test(l)).join(' ');
    const suggestions = (error as Errors.CLIError & { suggestions?: string[] }).suggestions ?? ['Run with --help to see the allowed flags and values.'];
    const exitCode = error.oclif?.exit === 0 ? 0 : EXIT_CODES.usage;
    return { message, suggestions, exitCode, json: { code: 'E_USAGE', message, suggestions, exit_code: exitCode } };
  }
  const message = `unexpected failure: ${errorMessage(error).split('\n')[0] ?? ''}`;
  const suggestions = ['Run again with DEBUG=1 for the stack trace, and report it if it persists.'];
  return { message, suggestions, exitCode: EXIT_CODES.failed, json: { code: 'E_INTERNAL', message, suggestions, exit_code: EXIT_CODES.failed } };
}

function isPromptExit(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

export { ModelscoutError };
