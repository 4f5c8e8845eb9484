import { homedir } from 'node:os';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { cacheListingReport, scanHubCache, type CacheListing } from '../../hub/cache.js';
import { resolveCacheDir } from '../../hub/settings.js';
import { formatBytes } from '../../util/format.js';

export default class CacheLs extends BaseCommand {
  static override summary = 'List the models in the Hugging Face cache, with sizes and revisions.';
  static override description =
    'Reads the cache that `pull`, huggingface_hub, transformers and huggingface-cli share ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). PARTIAL is what interrupted downloads hold; pulling again resumes them.';

  static override examples = ['<%= config.bin %> cache ls', '<%= config.bin %> cache ls --json', '<%= config.bin %> cache ls --cache-dir /data/hf/hub'];

  static override flags = {
    'cache-dir': Flags.string({ helpValue: 'DIR', description: 'hub cache folder to read instead of $HF_HUB_CACHE / $HF_HOME/hub' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { flags } = await this.parse(CacheLs);
    const cacheDir = flags['cache-dir'] ?? resolveCacheDir(process.env, homedir());
    const listing = await scanHubCache(cacheDir);
    if (!this.jsonEnabled()) this.log(renderListing(listing));
    return cacheListingReport(listing);
  }
}

function renderListing(listing: CacheListing): string {
  if (listing.models.length === 0) {
    return `No models in ${listing.cacheDir}${listing.exists ? '' : ' (the folder does not exist yet)'}. Pull one with \`modelscout pull <repo-id>\`.`;
  }
  const rows = listing.models.map((m) => [
    m.repo,
    formatBytes(m.sizeBytes),
    String(m.revisions.reduce((s, r) => s + r.files, 0)),
    m.revisions.map((r) => `${r.refs.length ? r.refs.join(',') : 'commit'} ${r.commit.slice(0, 7)}`).join('; ') || '-',
    m.incompleteBytes ? formatBytes(m.incompleteBytes) : '-',
    m.lastModified ? m.lastModified.slice(0, 16).replace('T', ' ') : '-',
  ]);
  const header = ['MODEL', 'SIZE', 'FILES', 'REVISIONS', 'PARTIAL', 'MODIFIED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: string[]): string => cells.map((c, i) => (i === 1 || i === 2 || i === 4 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const lines = [`Cache: ${listing.cacheDir}`, format(header), ...rows.map(format)];
  lines.push(`${listing.models.length} model${listing.models.length === 1 ? '' : 's'}, ${formatBytes(listing.totalBytes)} on disk`);
  for (const warning of listing.warnings) lines.push(`warning: unreadable cache entry ${warning}`);
  return lines.join('\n');
}
