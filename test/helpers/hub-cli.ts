import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `bin/run.js` as a new user runs it against a local Hub: HF_ENDPOINT at the server, HF_HOME and
 * XDG_CACHE_HOME under `home` (empty at first), no token, online; `extra` overrides any of it.
 */
export function runAgainstHub(endpoint: string, home: string, args: string[], extra: Record<string, string> = {}) {
  return execa('node', [join(ROOT, 'bin/run.js'), ...args], {
    cwd: ROOT,
    reject: false,
    stdin: 'ignore',
    env: { NO_COLOR: '1', HF_ENDPOINT: endpoint, HF_HOME: join(home, 'hf'), XDG_CACHE_HOME: join(home, 'cache'), HF_TOKEN: '', HF_HUB_OFFLINE: '', HF_HUB_CACHE: '', ...extra },
  });
}
