import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ModelSpec } from '../catalog/model-spec.js';
import { loadCatalogInUse, type CatalogInfo } from '../catalog/index.js';
import { hubModelCacheDir, resolveModel, type ResolvedModel } from '../hub/resolve-model.js';
import { resolveHubSettings, resolveTokenPath, type HubSettings } from '../hub/settings.js';
import { modelscoutCacheDir } from '../pipeline/calibration.js';
import type { SynthSource } from '../onnx/synth/index.js';

export { ggufWeightsOf } from '../recommend/model-description.js';

/** Where `models update` keeps the user catalog: `<modelscout cache>/catalog.json`. */
export function userCatalogPath(): string {
  return join(modelscoutCacheDir(process.env, homedir()), 'catalog.json');
}

/** The catalog commands use: the user catalog when `models update` wrote one (else the built-in), plus `--catalog FILE`. */
export function catalogInUse(extraCatalogFile?: string): { models: ModelSpec[]; info: CatalogInfo } {
  return loadCatalogInUse({ userCatalogFile: userCatalogPath(), ...(extraCatalogFile === undefined ? {} : { extraCatalogFile }) });
}

/** The stored Hub token (`huggingface-cli login`), when there is one. */
export function readStoredToken(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Hub settings from the environment (HF_ENDPOINT, HF_TOKEN or the stored token, HF_HUB_OFFLINE, the HF cache). */
export function hubSettingsFromEnv(cacheDir?: string): HubSettings {
  const home = homedir();
  return resolveHubSettings(process.env, { homeDir: home, cacheDir, storedToken: readStoredToken(resolveTokenPath(process.env, home)) });
}

/** How commands reach the Hub for model look-ups: the user's settings, this tool's agent, the look-up cache. */
export function hubLookupDeps(version: string): { settings: HubSettings; fetch: typeof globalThis.fetch; userAgent: string; metaCacheDir: string } {
  return {
    settings: hubSettingsFromEnv(),
    fetch: globalThis.fetch,
    userAgent: `modelscout/${version}; node/${process.versions.node}`,
    metaCacheDir: hubModelCacheDir(modelscoutCacheDir(process.env, homedir())),
  };
}

/**
 * Resolves model references as commands accept them (catalog id, Hub repo id, local folder, config.json,
 * .gguf), with the Hub reached through the user's settings and look-ups cached in the modelscout cache.
 */
export async function resolveModelRefs(references: readonly string[], catalog: ModelSpec[], version: string): Promise<ResolvedModel[]> {
  const deps = { ...hubLookupDeps(version), catalog };
  const resolved: ResolvedModel[] = [];
  for (const reference of references) resolved.push(await resolveModel(reference, deps));
  return resolved;
}

/** What a GGUF's tensors weigh for the estimator: bytes per type, the file type, what a decode step streams. */
/**
 * What `synth` builds for a reference that only the model resolver reaches — a Hub repo id or URL, or a .gguf
 * file (its architecture) — or null for the references synth resolves itself (a catalog id, including a
 * catalog model's Hub repo, a config.json, a folder holding one).
 */
export async function synthSourceOf(reference: string, catalog: ModelSpec[], version: string): Promise<SynthSource | null> {
  const text = reference.trim();
  const gguf = /\.gguf$/i.test(text);
  const url = /^https?:\/\//i.test(text);
  const known = catalog.some((m) => m.id === text.toLowerCase() || m.hfRepo?.toLowerCase() === text.toLowerCase());
  const pathLike = existsSync(text) || text.endsWith('.json') || /^(\.{1,2}|~)?[/\\]/.test(text) || text.startsWith('~');
  if (!gguf && !url && (known || pathLike || !text.includes('/'))) return null;
  const [model] = await resolveModelRefs([text], catalog, version);
  return { spec: model!.spec, raw: model!.config ?? null, label: text };
}
