import { join, resolve } from 'node:path';

/** `$XDG_CACHE_HOME/modelscout`, else `~/.cache/modelscout`: calibration, the bandwidth probe and built models live here. */
export function modelscoutCacheDir(env: Readonly<Record<string, string | undefined>>, homeDir: string): string {
  const xdg = env.XDG_CACHE_HOME?.trim();
  return join(xdg ? resolve(xdg) : join(homeDir, '.cache'), 'modelscout');
}
