import { isAbsolute, join, resolve } from 'node:path';
import { resolveProxyEnv, type ProxyEnv } from './proxy.js';
import type { Env } from './types.js';

/**
 * Where the Hub is and where its cache lives, resolved from environment variables with the same names,
 * precedence and truthy values as the Python `huggingface_hub` (its `constants.py`), so that one
 * configuration serves modelscout, transformers and huggingface-cli alike. Pure: the caller passes the
 * environment (the command passes `process.env`), the home directory and the stored token, if any.
 */
export interface HubSettings {
  /** Hub base URL without a trailing slash (`HF_ENDPOINT`, for mirrors). */
  endpoint: string;
  /** Access token sent as `Authorization: Bearer`, when one is configured. */
  token: string | undefined;
  /** Where the token came from, for messages (`HF_TOKEN`, the token file, or none). */
  tokenSource: 'HF_TOKEN' | 'HUGGING_FACE_HUB_TOKEN' | 'token file' | null;
  /** The hub cache directory (`…/huggingface/hub`). */
  cacheDir: string;
  /** `HF_HUB_OFFLINE=1`: work from the cache only, never touch the network. */
  offline: boolean;
  /** Seconds without any byte before a download attempt is abandoned and resumed (`HF_HUB_DOWNLOAD_TIMEOUT`). */
  downloadTimeoutSec: number;
  /** `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (either case); absent when no proxy is set. */
  proxy?: ProxyEnv;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
/** huggingface_hub's DEFAULT_DOWNLOAD_TIMEOUT: the read timeout between two chunks. */
export const DEFAULT_DOWNLOAD_TIMEOUT_SEC = 10;

const TRUE_VALUES = new Set(['1', 'ON', 'YES', 'TRUE']);

/** huggingface_hub's `_is_true`: `1`, `ON`, `YES`, `TRUE` in any case. */
export function isTruthyEnv(value: string | undefined): boolean {
  return value !== undefined && TRUE_VALUES.has(value.trim().toUpperCase());
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function resolveHfHome(env: Env, homeDir: string): string {
  const home = nonEmpty(env.HF_HOME);
  if (home) return expandHome(home, homeDir);
  const xdg = nonEmpty(env.XDG_CACHE_HOME);
  return join(xdg ? expandHome(xdg, homeDir) : join(homeDir, '.cache'), 'huggingface');
}

/** Where `huggingface-cli login` stores the token: `HF_TOKEN_PATH`, else `$HF_HOME/token`. */
export function resolveTokenPath(env: Env, homeDir: string): string {
  const explicit = nonEmpty(env.HF_TOKEN_PATH);
  return explicit ? expandHome(explicit, homeDir) : join(resolveHfHome(env, homeDir), 'token');
}

export interface ResolveHubSettingsOptions {
  homeDir: string;
  /** `--cache-dir`, which wins over every variable. */
  cacheDir?: string | undefined;
  /** Contents of the token file, read by the caller (undefined when there is none). */
  storedToken?: string | undefined;
}

export function resolveHubSettings(env: Env, options: ResolveHubSettingsOptions): HubSettings {
  const { homeDir } = options;
  const endpoint = (nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const cacheDir = options.cacheDir !== undefined
    ? resolve(expandHome(options.cacheDir, homeDir))
    : resolveCacheDir(env, homeDir);
  const fromEnv = nonEmpty(env.HF_TOKEN);
  const legacy = nonEmpty(env.HUGGING_FACE_HUB_TOKEN);
  const stored = nonEmpty(options.storedToken);
  const token = fromEnv ?? legacy ?? stored;
  const tokenSource = fromEnv ? 'HF_TOKEN' : legacy ? 'HUGGING_FACE_HUB_TOKEN' : stored ? 'token file' : null;
  const timeout = Number(env.HF_HUB_DOWNLOAD_TIMEOUT);
  const proxy = resolveProxyEnv(env);
  return {
    endpoint,
    token,
    tokenSource,
    cacheDir,
    // TRANSFORMERS_OFFLINE is honoured too, as huggingface_hub does.
    offline: isTruthyEnv(env.HF_HUB_OFFLINE) || isTruthyEnv(env.TRANSFORMERS_OFFLINE),
    downloadTimeoutSec: Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_DOWNLOAD_TIMEOUT_SEC,
    ...(proxy ? { proxy } : {}),
  };
}

/** `HF_HUB_CACHE`, else the legacy `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`. */
export function resolveCacheDir(env: Env, homeDir: string): string {
  const explicit = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  return resolve(explicit ? expandHome(explicit, homeDir) : join(resolveHfHome(env, homeDir), 'hub'));
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return join(homeDir, path.slice(2));
  return isAbsolute(path) ? path : resolve(path);
}
