import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface SimProcess {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** The simulated server in its own process (so its timing is not the client's event loop), on 127.0.0.1. */
export async function startSimProcess(args: string[] = []): Promise<SimProcess> {
  const proc = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/sim-server.ts', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    proc.stdout?.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl !== -1) resolve((JSON.parse(text.slice(0, nl)) as { url: string }).url);
    });
    void exited.then(() => reject(new Error('sim-server exited before printing its URL')));
  });
  return {
    url,
    proc,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
