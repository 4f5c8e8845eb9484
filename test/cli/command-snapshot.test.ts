import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Config } from '@oclif/core';
import { describe, expect, it } from 'vitest';

/**
 * The CLI surface is a contract: every command and its flags. A change here is deliberate — regenerate with
 * `UPDATE_SNAPSHOT=1 npx vitest run test/cli/command-snapshot.test.ts` and say so in the CHANGELOG.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SNAPSHOT = fileURLToPath(new URL('./command-snapshot.json', import.meta.url));

describe('CLI surface', () => {
  it('matches the committed command snapshot', async () => {
    const config = await Config.load(ROOT);
    const surface = config.commands
      .map((c) => ({ command: c.id, flags: Object.keys(c.flags).sort(), args: Object.keys(c.args ?? {}) }))
      .sort((a, b) => a.command.localeCompare(b.command));
    if (process.env.UPDATE_SNAPSHOT) await writeFile(SNAPSHOT, `${JSON.stringify(surface, null, 2)}\n`);
    const committed = JSON.parse(await readFile(SNAPSHOT, 'utf8')) as unknown;
    expect(surface).toEqual(committed);
    // Every command that produces data takes --json.
    for (const c of surface) expect(c.flags, c.command).toContain('json');
  });
});
