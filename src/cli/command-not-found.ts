import type { Hook } from '@oclif/core';
import { closeMatches } from '../catalog/index.js';
import { EXIT_CODES } from '../errors.js';

/**
 * oclif `command_not_found` hook: a mistyped command gets one line naming the closest command(s) and exit 2
 * (a usage error), instead of oclif's bare "command … not found".
 */
const hook: Hook.CommandNotFound = async function (options) {
  // With a space as topic separator oclif's id runs on into the arguments: keep the command words only.
  const parts = options.id.split(':');
  const isTopic = options.config.topics.some((t) => t.name === parts[0]);
  const typed = parts.slice(0, isTopic ? 2 : 1).join(' ');
  const names = [...new Set(options.config.commands.filter((c) => !c.hidden).map((c) => c.id.replaceAll(':', ' ')))];
  // A subcommand of a command already suggested (`serve-bench merge` beside `serve-bench`) adds nothing.
  const close = closeMatches(typed.toLowerCase(), names, 2).filter((c, _, all) => !all.some((o) => o !== c && c.startsWith(`${o} `)));
  const hint = close.length > 0 ? `: did you mean ${close.map((c) => `\`${options.config.bin} ${c}\``).join(' or ')}?` : '';
  process.stderr.write(`Error: unknown command "${typed}"${hint} (\`${options.config.bin} --help\` lists them)\n`);
  process.exitCode = EXIT_CODES.usage;
};

export default hook;
