/** `pull`'s output: its events shown through the progress module, and the result as text. */
import { relative } from 'node:path';
import type { PullEvent, PullResult } from '../hub/pull.js';
import { lockWaitMessage } from '../util/file-lock.js';
import { formatBandwidth, formatBytes, formatDuration } from '../util/format.js';
import type { Progress } from './progress.js';

/**
 * The handler of `pullModel`'s events: one aggregate bar (all parallel downloads together) on a terminal;
 * the resolved revision, resumes, retries and waits as notes; each finished file as a note in a pipe.
 */
export function pullEventsTo(progress: Progress, model: string): (event: PullEvent) => void {
  let label = model;
  return (event) => {
    switch (event.type) {
      case 'resolved':
        label = `${event.repo}@${event.revision}`;
        progress.note(event.downloadFiles === 0
          ? `${label} (commit ${event.commit.slice(0, 7)}): all ${event.files} files already in the cache`
          : `${label} (commit ${event.commit.slice(0, 7)}): ${event.downloadFiles} of ${event.files} files to download, ${formatBytes(event.downloadBytes)}`);
        break;
      case 'progress':
        progress.update({ label, done: event.doneBytes, total: event.totalBytes, unit: 'bytes', detail: `${event.filesDone}/${event.filesTotal} files` });
        break;
      case 'resume':
        progress.note(`${event.file}: ${event.reason}; resuming from ${formatBytes(event.offset)}`);
        break;
      case 'retry':
        progress.note(`${event.notice.reason} from ${new URL(event.notice.url).host}; retry ${event.notice.attempt} in ${formatDuration(event.notice.delayMs)}`);
        break;
      case 'waiting':
        progress.warn(lockWaitMessage(event, `is downloading ${event.file}`));
        break;
      case 'file-done':
        // On a terminal the bar counts the files; a log lists them.
        if (progress.mode === 'lines') progress.note(`  ${event.path} (${formatBytes(event.size)})`);
        break;
      case 'proxy':
        progress.note(`${event.endpoint} via proxy ${event.proxy} (${event.variable})`);
        break;
    }
  };
}

export function renderPullResult(result: PullResult, elapsedMs: number): string {
  const lines: string[] = [];
  const where = result.source === 'local' ? 'local model' : `${result.repo}@${result.revision} (commit ${result.commit?.slice(0, 7)})`;
  const from = result.source === 'cache' ? ' from the cache (offline)' : result.catalogId ? ` for catalog model ${result.catalogId}` : '';
  lines.push(`Pulled ${where}${from}: ${result.variants.join(', ')}`);
  lines.push(`  folder  ${result.path}`);
  for (const onnx of result.onnx) {
    const rel = relative(result.path, onnx);
    const data = result.files.filter((f) => f.path !== rel && f.path.startsWith(`${rel}_data`) || f.path === `${rel}.data`);
    lines.push(`  model   ${rel}${data.length ? ` + ${data.length} external data file${data.length > 1 ? 's' : ''} (${formatBytes(data.reduce((s, f) => s + f.size, 0))})` : ''}`);
  }
  const downloaded = result.files.filter((f) => f.downloaded).length;
  const rate = result.transferredBytes > 0 && elapsedMs > 0 ? `, ${formatBandwidth(result.transferredBytes / (elapsedMs / 1000))}` : '';
  const resumed = result.files.reduce((s, f) => s + f.resumedFromBytes, 0);
  lines.push(`  files   ${result.files.length} (${formatBytes(result.totalBytes)}); downloaded ${downloaded} (${formatBytes(result.transferredBytes)} in ${formatDuration(elapsedMs)}${rate})${resumed ? `, resumed from ${formatBytes(resumed)} already on disk` : ''}; ${formatBytes(result.reusedBytes)} reused from the cache`);
  return lines.join('\n');
}
