import { execa } from 'execa';

/**
 * The one place hardware detection starts subprocesses. Detection takes a `CommandRunner` so tests feed
 * canned output (e.g. of `nvidia-smi`) instead of running anything.
 */
export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `command args`; resolves with `null` when the command does not exist (ENOENT). */
export type CommandRunner = (command: string, args: string[]) => Promise<CommandResult | null>;

export const runCommand: CommandRunner = async (command, args) => {
  try {
    const result = await execa(command, args, { reject: false, timeout: 15_000, stdin: 'ignore' });
    if ((result as { code?: string }).code === 'ENOENT') return null;
    return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
};
