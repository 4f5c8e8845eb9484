import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { pullModel, type CatalogRepos, type PullDeps, type PullEvent, type PullRequest, type PullResult } from '../../src/hub/pull.js';
import type { HubSettings } from '../../src/hub/settings.js';

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `modelscout-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function settingsFor(endpoint: string, cacheDir: string, overrides: Partial<HubSettings> = {}): HubSettings {
  return { endpoint, token: undefined, tokenSource: null, cacheDir, offline: false, downloadTimeoutSec: 10, ...overrides };
}

export interface PullHarness {
  events: PullEvent[];
  sleeps: number[];
  run(model: string, request?: Partial<PullRequest>, deps?: Partial<PullDeps>): Promise<PullResult>;
}

/** `pullModel` with the real fetch, no real waiting (sleeps are recorded), and events collected. */
export function pullHarness(settings: () => HubSettings, catalog: Record<string, CatalogRepos> = {}): PullHarness {
  const events: PullEvent[] = [];
  const sleeps: number[] = [];
  return {
    events,
    sleeps,
    run(model, request = {}, deps = {}) {
      return pullModel({ model, variant: 'auto', include: [], ...request }, {
        settings: settings(),
        fetch: globalThis.fetch,
        userAgent: 'modelscout-test',
        localPathExists: (p) => existsSync(p),
        lookupCatalog: (id) => catalog[id],
        onEvent: (event) => events.push(event),
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        ...deps,
      });
    },
  };
}

/** Runs `fn` and returns the error it throws (failing the test when it does not throw). */
export async function caught(fn: () => Promise<unknown>): Promise<Error & { code?: string; exitCode?: number; suggestions?: string[] }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code?: string; exitCode?: number; suggestions?: string[] };
  }
  throw new Error('expected a failure, but it succeeded');
}

/** An endpoint on loopback where nothing listens (a port that was free a moment ago). */
export async function closedPortEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
