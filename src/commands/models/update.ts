import { rm } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { hubLookupDeps, userCatalogPath } from '../../cli/model-source.js';
import { loadCatalog, readUserCatalog } from '../../catalog/index.js';
import { catalogUpdateModels, catalogUpdateReport } from '../../hub/catalog-update-report.js';
import { buildUserCatalog, ONNX_COMMUNITY } from '../../hub/catalog-update.js';
import { writeJsonAtomic } from '../../util/atomic-write.js';
import { formatParams } from '../../util/format.js';
import { Progress } from '../../ui/progress.js';

export default class ModelsUpdate extends BaseCommand {
  static override summary = 'Refresh a user catalog from the Hub: the most-downloaded text-generation repos and onnx-community exports.';
  static override description = [
    "Reads the Hub's model listing (through @huggingface/hub; HF_ENDPOINT, HF_TOKEN and proxies are honoured): the --limit most-downloaded text-generation repos and the --onnx-limit most-downloaded onnx-community exports. Each repo is resolved like `models show <repo>` (config.json and the safetensors headers, so parameter counts are exact; the look-ups are cached), an onnx-community export is paired with the listed model of the same name as its ONNX repo, and the result is written atomically to the modelscout cache ($XDG_CACHE_HOME/modelscout/catalog.json).",
    'From then on `recommend`, `wizard`, `models`, `models show` and `synth` use the user catalog together with the built-in models it does not list (a built-in entry keeps its curated facts), and `recommend` says which catalog ranked, with its date. Repos that cannot be resolved (gated, no config.json, an architecture without the generic fields) are listed as skipped with the reason. --reset drops the user catalog: the built-in catalog is the offline default again.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> models update',
    '<%= config.bin %> models update --limit 100 --onnx-limit 20',
    'HF_ENDPOINT=https://hf-mirror.com <%= config.bin %> models update --json',
    '<%= config.bin %> models update --reset',
  ];

  static override flags = {
    limit: Flags.integer({ description: 'text-generation repos to take, most downloaded first', default: 40, min: 1, max: 1000, helpValue: 'N' }),
    'onnx-limit': Flags.integer({ description: `${ONNX_COMMUNITY} exports to take, most downloaded first (0: none)`, default: 20, min: 0, max: 1000, helpValue: 'N' }),
    reset: Flags.boolean({ description: 'drop the user catalog: the built-in catalog is used again', default: false }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { flags } = await this.parse(ModelsUpdate);
    const file = userCatalogPath();
    if (flags.reset) {
      const existed = readUserCatalogQuietly(file);
      await rm(file, { force: true });
      if (!this.jsonEnabled()) this.log(existed ? `Dropped the user catalog ${file}: the built-in catalog (${loadCatalog().length} models) is used again.` : `No user catalog at ${file}: the built-in catalog (${loadCatalog().length} models) is in use.`);
      return catalogUpdateReport({ file, action: 'reset', removed: existed, updatedAt: null, endpoint: null, lists: [], models: [], skipped: [] });
    }
    const progress = new Progress({ json: this.jsonEnabled() });
    const catalog = await buildUserCatalog(
      hubLookupDeps(this.config.version),
      { limit: flags.limit, onnxLimit: flags['onnx-limit'], now: () => new Date(), onProgress: (event) => (event.type === 'listed' ? progress.status(event.message) : progress.update({ label: 'resolving', done: event.done, total: event.total, unit: 'repos', detail: event.repo })) },
    ).finally(() => progress.done());
    await writeJsonAtomic(file, catalog);
    const builtin = loadCatalog();
    const models = catalogUpdateModels(catalog, builtin.map((m) => m.hfRepo));
    if (!this.jsonEnabled()) {
      this.log(`Refreshed the user catalog from ${catalog.endpoint} at ${catalog.updatedAt.slice(0, 16).replace('T', ' ')} UTC:`);
      for (const list of catalog.lists) this.log(`  ${list.name}: ${list.repos} repos (${list.query})`);
      for (const m of models) {
        const extra = [m.modelType, ...(m.onnxRepo ? [`ONNX ${m.onnxRepo}`] : []), ...(m.builtin ? ['built-in entry kept'] : [])].join(', ');
        this.log(`  + ${m.hfRepo ?? m.id}  ${formatParams(m.paramsTotal)}  (${extra})`);
      }
      for (const s of catalog.skipped) this.log(`  - ${s.repo}: skipped, ${s.reason}`);
      const added = models.filter((m) => !m.builtin).length;
      this.log(`${models.length} models resolved (${added} beside the ${builtin.length} built-in ones), ${catalog.skipped.length} skipped; written to ${file}.`);
      this.log('`recommend` and `models` now use it; `modelscout models update --reset` returns to the built-in catalog.');
    }
    return catalogUpdateReport({ file, action: 'updated', updatedAt: catalog.updatedAt, endpoint: catalog.endpoint, lists: catalog.lists, models, skipped: catalog.skipped });
  }
}

function readUserCatalogQuietly(file: string): boolean {
  try {
    return readUserCatalog(file) !== null;
  } catch {
    // A damaged file is still a user catalog to drop.
    return true;
  }
}
