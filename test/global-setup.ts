import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Builds dist/ once so subprocess tests run the same code the user gets from `npm ci`. Type errors do not
 * stop the emit here (the separate `npm run typecheck` step gates them); a build that emits nothing does.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (result.status !== 0) process.stderr.write(`[global-setup] tsc reported problems:\n${result.stdout}${result.stderr}\n`);
}
