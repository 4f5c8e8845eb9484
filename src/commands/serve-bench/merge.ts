import { readFile } from 'node:fs/promises';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { ModelscoutError } from '../../errors.js';
import { renderJson } from '../../report/render.js';
import { renderServeMarkdown, renderServeTable } from '../../report/serve-render.js';
import { serveReportSchema, type ServeReport } from '../../report/serve-schema.js';
import { mergeShardReports, type ShardFile } from '../../serve/merge.js';
import { redactArgv } from '../../serve/options.js';
import { writeFileAtomic } from '../../util/atomic-write.js';

export default class ServeBenchMerge extends BaseCommand {
  static override summary = 'Combine the shard reports of one serve-bench run (--shard i/n) into one report, every figure recomputed from the raw records.';
  static override description = `Each shard report (serve-bench --shard i/n --start-at TIME --out FILE) keeps its raw per-request records with absolute times. merge concatenates them and computes every figure — percentiles, throughput, goodput, SLOs — from the records of the whole run, never by averaging the shards. Reports of different runs (another seed, load, workload, target or start time), a shard given twice or a missing shard are refused.

Exit codes: as serve-bench (0 pass, 1 failed requests or a missed SLO, 3 a client-limited run), 2 bad input.`;

  static override examples = ['<%= config.bin %> serve-bench merge shard-0.json shard-1.json --out run.json', '<%= config.bin %> serve-bench merge shard-*.json --format markdown'];

  static override strict = false;

  static override args = { reports: Args.string({ description: 'shard reports (--out files of serve-bench --shard)', required: true }) };

  static override flags = {
    format: Flags.option({ options: ['table', 'markdown', 'json'] as const, default: 'table' as const, description: 'stdout format (--json is the same as --format json)' })(),
    out: Flags.string({ description: 'write the merged JSON report to this file (atomically)', helpValue: 'FILE' }),
  };

  async run(): Promise<ServeReport> {
    const { argv, flags } = await this.parse(ServeBenchMerge);
    const files = argv as string[];
    const shards: ShardFile[] = [];
    for (const file of files) shards.push({ file, report: await readShard(file) });
    const report = mergeShardReports(shards, redactArgv(['serve-bench', 'merge', ...process.argv.slice(3)]));
    if (flags.out) await writeFileAtomic(flags.out, renderJson(report));
    process.exitCode = report.outcome.exit_code;
    const format = this.jsonEnabled() ? 'json' : flags.format;
    if (!this.jsonEnabled()) process.stdout.write(format === 'markdown' ? renderServeMarkdown(report) : format === 'json' ? renderJson(report) : renderServeTable(report));
    return report;
  }
}

async function readShard(file: string): Promise<ServeReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ModelscoutError('E_FILE', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? ''}`, { suggestions: ['Pass the --out files of serve-bench --shard runs.'] });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ModelscoutError('E_INPUT', `${file} is not JSON`, { suggestions: ['Pass the --out files of serve-bench --shard runs.'] });
  }
  const r = serveReportSchema.safeParse(parsed);
  if (!r.success) throw new ModelscoutError('E_INPUT', `${file} is not a serve-bench report (schema_version 1): ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? ''}`, { suggestions: ['Pass the --out files of serve-bench --shard runs.'] });
  return r.data;
}
