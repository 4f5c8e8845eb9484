/**
 * One error vocabulary for every command. Core modules throw `ModelscoutError`; the CLI layer turns it
 * into one line on stderr (plus suggestions) and the exit code from `EXIT_CODES`. Stack traces are
 * printed only with DEBUG set.
 */
export const EXIT_CODES = {
  ok: 0,
  /** A check failed: a regression, a threshold breach, a benchmark that crashed, a rejected candidate. */
  failed: 1,
  /** Bad usage or input: unknown flag value, malformed file, missing model. */
  usage: 2,
  /** A comparison could not tell (noise straddles the threshold). */
  inconclusive: 3,
  /** Interrupted by the user (Ctrl-C, SIGINT). */
  interrupted: 130,
  /** Stopped by SIGTERM (a supervisor, CI cancelling a job). */
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export type ErrorCode =
  | 'E_USAGE'
  | 'E_INPUT'
  | 'E_NOT_FOUND'
  | 'E_FILE'
  | 'E_CONFIG'
  | 'E_TREE'
  | 'E_CATALOG'
  | 'E_MODEL'
  | 'E_UNSUPPORTED'
  | 'E_NETWORK'
  | 'E_AUTH'
  | 'E_CHECKSUM'
  | 'E_OFFLINE'
  | 'E_RUNTIME'
  | 'E_CHECK_FAILED'
  | 'E_INTERRUPTED'
  | 'E_INTERNAL';

export interface ModelscoutErrorOptions {
  /** What the user can do next, each a short imperative sentence. */
  suggestions?: string[];
  exitCode?: ExitCode;
  cause?: unknown;
}

export class ModelscoutError extends Error {
  readonly code: ErrorCode;
  readonly suggestions: string[];
  readonly exitCode: ExitCode;

  constructor(code: ErrorCode, message: string, options: ModelscoutErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ModelscoutError';
    this.code = code;
    this.suggestions = options.suggestions ?? [];
    this.exitCode = options.exitCode ?? defaultExitCode(code);
  }

  toJSON(): { code: ErrorCode; message: string; suggestions: string[]; exit_code: number } {
    return { code: this.code, message: this.message, suggestions: this.suggestions, exit_code: this.exitCode };
  }
}

function defaultExitCode(code: ErrorCode): ExitCode {
  switch (code) {
    case 'E_CHECK_FAILED':
    case 'E_RUNTIME':
    case 'E_NETWORK':
    case 'E_CHECKSUM':
    case 'E_INTERNAL':
      return EXIT_CODES.failed;
    case 'E_INTERRUPTED':
      return EXIT_CODES.interrupted;
    default:
      return EXIT_CODES.usage;
  }
}

/** A usage/input error that names the bad value and the allowed ones. */
export function invalidValue(what: string, value: unknown, allowed: readonly (string | number)[] | string, suggestions: string[] = []): ModelscoutError {
  const allowedText = typeof allowed === 'string' ? allowed : allowed.join(', ');
  return new ModelscoutError('E_INPUT', `invalid ${what} ${JSON.stringify(value)}: expected ${allowedText}`, { suggestions });
}

export function isModelscoutError(error: unknown): error is ModelscoutError {
  return error instanceof ModelscoutError;
}

/** Message of any thrown value, without a stack. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Why `JSON.parse` refused a text, without the excerpt of the text that V8 quotes in its message
 * (`Unexpected token 'v', "vm\n" is not valid JSON`): the file may hold something that must not be echoed
 * (a token file passed by mistake). The CLI puts every message on one line (`describeError`).
 */
export function jsonSyntaxReason(error: unknown): string {
  return errorMessage(error).replace(/,\s*".*"(?:\.\.\.)?\s+is not valid JSON$/s, '');
}
