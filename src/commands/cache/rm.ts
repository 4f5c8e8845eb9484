import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { findModel } from '../../catalog/index.js';
import { ModelscoutError } from '../../errors.js';
import { cacheRemovalReport, removeCachedModel, repoCacheDir, scanCachedModel, type CacheRemoval } from '../../hub/cache.js';
import { validateRepoId } from '../../hub/model-ref.js';
import { resolveCacheDir } from '../../hub/settings.js';
import { createTerminalPrompter, isInteractive } from '../../ui/prompts.js';
import { formatBytes } from '../../util/format.js';

export default class CacheRm extends BaseCommand {
  static override summary = 'Remove a model (all its revisions and partial downloads) from the Hugging Face cache.';
  static override description =
    'Asks for confirmation on a terminal; elsewhere (scripts, CI) it refuses unless --yes is given. A catalog id removes the catalog model\'s ONNX repo.';

  static override examples = ['<%= config.bin %> cache rm onnx-community/Qwen2.5-0.5B-Instruct', '<%= config.bin %> cache rm qwen2.5-0.5b --yes --json'];

  static override args = {
    model: Args.string({ required: true, description: 'Hub repo id (org/name) or catalog id of the cached model' }),
  };

  static override flags = {
    yes: Flags.boolean({ char: 'y', default: false, description: 'remove without asking' }),
    'cache-dir': Flags.string({ helpValue: 'DIR', description: 'hub cache folder instead of $HF_HUB_CACHE / $HF_HOME/hub' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(CacheRm);
    const cacheDir = flags['cache-dir'] ?? resolveCacheDir(process.env, homedir());
    const repo = resolveCachedRepo(args.model, cacheDir);
    const path = repoCacheDir(cacheDir, repo);
    if (!flags.yes) {
      const streams = { input: process.stdin, output: process.stderr };
      if (this.jsonEnabled() || !isInteractive(streams)) {
        throw new ModelscoutError('E_USAGE', `refusing to remove ${repo} from ${cacheDir} without confirmation (not on a terminal)`, {
          suggestions: [`Add --yes: \`modelscout cache rm ${args.model} --yes\`.`],
        });
      }
      const info = await scanCachedModel(path, repo);
      const ok = await createTerminalPrompter(streams).confirm({ message: `Remove ${repo} (${formatBytes(info.sizeBytes + info.incompleteBytes)}) from ${cacheDir}?`, default: false });
      if (!ok) throw new ModelscoutError('E_USAGE', `kept ${repo}: removal not confirmed`);
    }
    const removed = await removeCachedModel(cacheDir, repo);
    const result: CacheRemoval = { repo, path, freedBytes: removed.sizeBytes + removed.incompleteBytes, revisions: removed.revisions.map((r) => r.commit) };
    if (!this.jsonEnabled()) this.log(`Removed ${repo} from ${cacheDir} (${formatBytes(result.freedBytes)} freed)`);
    return cacheRemovalReport(result);
  }
}

/** The literal repo id when it is cached, else the ONNX repo of a catalog id. */
function resolveCachedRepo(model: string, cacheDir: string): string {
  const name = model.trim();
  const validRepo = (() => {
    try {
      validateRepoId(name);
      return true;
    } catch {
      return false;
    }
  })();
  if (validRepo && existsSync(repoCacheDir(cacheDir, name))) return name;
  try {
    const spec = findModel(name);
    if (spec.onnxRepo) return spec.onnxRepo;
  } catch {
    // Not a catalog id either: report it as a repo below.
  }
  if (!validRepo) validateRepoId(name);
  return name;
}
