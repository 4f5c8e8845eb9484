import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { readStoredToken } from '../cli/model-source.js';
import { findModel, loadCatalog } from '../catalog/index.js';
import type { ModelSpec } from '../catalog/model-spec.js';
import { pullModel, type CatalogRepos, type PullResult } from '../hub/pull.js';
import { pullJsonReport } from '../hub/pull-report.js';
import { resolveHubSettings, resolveTokenPath } from '../hub/settings.js';
import { Progress } from '../ui/progress.js';
import { pullEventsTo, renderPullResult } from '../ui/render-pull.js';

export default class Pull extends BaseCommand {
  static override summary = 'Download an ONNX model from the Hugging Face Hub (or a mirror) into the shared Hugging Face cache.';
  static override description = [
    'MODEL is a Hub repo id (org/name[@revision]), a catalog id (pulls its ONNX export), a Hub URL, or a local folder or .onnx file (checked and used in place).',
    'Fetches config.json, generation_config.json, the tokenizer files and the chosen ONNX variant with its external data. Downloads resume (HTTP Range) after a dropped connection or Ctrl-C, every file is checked against the Hub\'s sha256 / git hash before it becomes visible, and 429/5xx answers are retried.',
    'The cache is the one huggingface_hub, transformers and huggingface-cli use ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), so their downloads are reused and vice versa.',
    'Environment: HF_ENDPOINT (a mirror), HF_TOKEN (gated or private repos; `huggingface-cli login`\'s stored token works too), HF_HUB_OFFLINE=1 (cache only, no network), HF_HUB_DOWNLOAD_TIMEOUT (seconds of silence before a download resumes).',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> pull onnx-community/Qwen2.5-0.5B-Instruct',
    '<%= config.bin %> pull qwen2.5-0.5b --variant fp16',
    '<%= config.bin %> pull onnx-community/SmolLM2-135M-ONNX@main --variant all --json',
    'HF_ENDPOINT=https://hf-mirror.com <%= config.bin %> pull https://huggingface.co/onnx-community/gemma-2-2b-it',
    'HF_HUB_OFFLINE=1 <%= config.bin %> pull onnx-community/Qwen2.5-0.5B-Instruct',
  ];

  static override args = {
    model: Args.string({ required: true, description: 'Hub repo id (org/name[@revision]), catalog id, Hub URL, or local path' }),
  };

  static override flags = {
    variant: Flags.option({
      options: ['auto', 'q4', 'q4f16', 'fp16', 'fp32', 'all'] as const,
      default: 'auto' as const,
      description: 'ONNX weight format to fetch (auto: the first of q4, q4f16, fp16, fp32 the repo has; all: every .onnx file)',
    })(),
    include: Flags.string({ multiple: true, helpValue: 'GLOB', description: 'also fetch files matching this fnmatch glob (e.g. "*.md"); repeatable' }),
    'cache-dir': Flags.string({ helpValue: 'DIR', description: 'hub cache folder to use instead of $HF_HUB_CACHE / $HF_HOME/hub' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(Pull);
    const home = homedir();
    const settings = resolveHubSettings(process.env, { homeDir: home, cacheDir: flags['cache-dir'], storedToken: readStoredToken(resolveTokenPath(process.env, home)) });
    const json = this.jsonEnabled();
    const progress = new Progress({ json });

    // Ctrl-C aborts the downloads (partial files stay resumable) and exits 130; a second one exits at once.
    const controller = new AbortController();
    const onSignal = (): void => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort(new Error('interrupted'));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const started = performance.now();
    let result: PullResult;
    try {
      result = await pullModel({ model: args.model, variant: flags.variant, include: flags.include ?? [] }, {
        settings,
        fetch: globalThis.fetch,
        userAgent: `modelscout/${this.config.version}; node/${process.versions.node}`,
        lookupCatalog: catalogLookup(),
        localPathExists: (path) => existsSync(path),
        signal: controller.signal,
        onEvent: pullEventsTo(progress, args.model),
      });
    } finally {
      progress.done();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const elapsedMs = performance.now() - started;
    if (!json) this.log(renderPullResult(result, elapsedMs));
    return pullJsonReport(result);
  }
}

/** Catalog ids (and the original repo ids the catalog knows) resolve to the catalog's ONNX repo. */
function catalogLookup(): (id: string) => CatalogRepos | undefined {
  let catalog: ModelSpec[] | undefined;
  return (id) => {
    try {
      catalog ??= loadCatalog();
      const spec = findModel(id, catalog);
      return { id: spec.id, onnxRepo: spec.onnxRepo, hfRepo: spec.hfRepo };
    } catch {
      return undefined;
    }
  };
}
