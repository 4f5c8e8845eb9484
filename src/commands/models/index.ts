import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { fitToWidth, renderTable, terminalWidth } from '../../ui/layout.js';
import { loadCatalog } from '../../catalog/index.js';
import { modelListingReport, modelRow } from '../../recommend/model-listing.js';
import { catalogInUse } from '../../cli/model-source.js';
import { catalogLine } from '../../ui/render-recommendation.js';
import { invalidValue } from '../../errors.js';
import { parseParamCount } from '../../estimate/units.js';
import { formatBytes, formatInteger, formatParams, formatTokens } from '../../util/format.js';

export default class Models extends BaseCommand {
  static override summary = 'List the model catalog: real open-weight LLMs with their architecture, size and ONNX export.';
  static override description =
    'Parameter counts are computed from each architecture (checked against the published ones). KV/token is the fp16 KV cache per token; fp16 and q4 are the weight bytes in those formats (q4: int4 MatMulNBits, block 128, symmetric, fp32 scales; embeddings and norms stay fp32). --catalog adds or replaces models from a JSON or YAML file with the same schema as data/catalog.json.';

  static override examples = [
    '<%= config.bin %> models',
    '<%= config.bin %> models --family qwen3 --max-params 14B',
    '<%= config.bin %> models --catalog my-models.yaml --json',
  ];

  static override flags = {
    family: Flags.string({ description: 'only this family (e.g. qwen2.5, llama3.1, gemma2)', helpValue: 'FAMILY' }),
    'max-params': Flags.string({ description: 'only models with at most this many parameters (total)', helpValue: '14B' }),
    catalog: Flags.string({ description: 'extra catalog file (JSON or YAML) of models to add', helpValue: 'FILE' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { flags } = await this.parse(Models);
    const maxParams = flags['max-params'] === undefined ? null : parseParamCount(flags['max-params'], '--max-params');
    const { models: catalog, info } = catalogInUse(flags.catalog);
    const builtinIds = new Set(loadCatalog().map((m) => m.id));
    const family = flags.family?.toLowerCase() ?? null;
    if (family !== null) {
      const families = [...new Set(catalog.map((m) => m.family))].sort();
      if (!families.includes(family)) throw invalidValue('--family', flags.family, families);
    }
    const models = catalog
      .filter((m) => family === null || m.family === family)
      .filter((m) => maxParams === null || m.paramsTotal <= maxParams)
      .sort((a, b) => a.paramsTotal - b.paramsTotal)
      .map((m) => modelRow(m, info.kind === 'user' && !builtinIds.has(m.id) ? 'user' : 'built-in'));
    if (!this.jsonEnabled()) {
      const width = terminalWidth(process.stdout);
      const rows = models.map((m) => [
        m.id,
        formatParams(m.paramsTotal),
        m.moe ? formatParams(m.paramsActive) : '',
        m.modelType,
        m.attentionKind,
        formatTokens(m.maxContext),
        formatInteger(m.kvBytesPerTokenFp16),
        formatBytes(m.fp16Bytes),
        formatBytes(m.q4Bytes),
        shortLicense(m.license),
        m.onnxRepo ? (m.onnxStatus === 'confirmed' ? 'yes' : m.onnxStatus ?? 'yes') : '',
      ]);
      this.log(renderTable(['id', 'params', 'active', 'type', 'attn', 'context', 'KV/token', 'fp16', 'q4', 'license', 'ONNX'], rows, width));
      this.log(fitToWidth(`${models.length} model${models.length === 1 ? '' : 's'}. ONNX: yes = export of this model; sibling = of its Instruct sibling; unconfirmed = named by third parties only.\n${catalogLine(info)}`, width));
    }
    return modelListingReport({ filters: { family, maxParams, catalogFile: flags.catalog ?? null }, catalog: info, count: models.length, models });
  }
}

/** `gemma (Gemma Terms of Use)` → `gemma`; `DeepSeek Model License (model weights); MIT (code)` → `DeepSeek Model License`. */
function shortLicense(license: string | null): string {
  if (license === null) return '';
  return license.split(/\s*[(;]/)[0] ?? license;
}
