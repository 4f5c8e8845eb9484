import Table from 'cli-table3';
import type { Banded } from '../estimate/index.js';
import type { Candidate, DeviceSummary, Recommendation } from '../recommend/types.js';
import { describeParamRange } from '../tree/render.js';
import { formatBandwidth, formatBytes, formatDuration, formatFlops, formatParams } from './format.js';

/**
 * The human view of a `Recommendation` (pure: returns text). `recommend` and `wizard` print the same view;
 * `recommend --confirm` can reuse `renderCandidateTable` beside its measured verdicts.
 */
export function renderRecommendation(rec: Recommendation): string {
  const out: string[] = [];
  out.push(...renderDevices(rec.devices.considered), '');

  out.push('Decision path:');
  rec.path.forEach((step, i) => {
    out.push(`  ${i + 1}. ${step.question}  → ${step.answerLabel}${step.source === 'default' ? '  (default)' : ''}`);
  });
  const range = describeParamRange(rec.leaf.sizeClass);
  out.push(`Size class: ${rec.leaf.label} [${rec.leaf.id}, ${range} parameters${rec.leaf.fineTune ? ', with LoRA/QLoRA fine-tuning' : ''}]`);
  out.push(...wrap(`why: ${rec.leaf.rationale}`, 100).map((l) => `  ${l}`));

  const t = rec.targets;
  const src = (s: string): string => (s === 'given' ? 'given' : s === 'latency-class' ? `${rec.latency.label}` : 'default');
  out.push(
    `Targets (${rec.latency.label}${rec.latency.source === 'default' ? ', default' : ''}): decode ≥ ${t.decodeTokensPerSec} tok/s per stream [${src(rec.targetSources.decodeTokensPerSec)}], ` +
      `TTFT ≤ ${formatDuration(t.maxTtftMs)} [${src(rec.targetSources.maxTtftMs)}], context ${t.contextTokens} tokens [${src(rec.targetSources.contextTokens)}], ` +
      `concurrency ${t.concurrency} [${src(rec.targetSources.concurrency)}]`,
  );
  out.push('');

  if (rec.candidates.length > 0) {
    out.push(`Ranked candidates of the ${rec.leaf.sizeClass.label} class (fits, then meets targets, then quality proxy = effective parameters):`);
    out.push(renderCandidateTable(rec.candidates, rec.leaf.fineTune));
    out.push(...renderReasons(rec.candidates));
  }

  if (rec.nothingFits) {
    out.push(...wrap(`✗ ${rec.nothingFits.message}`, 110));
    if (rec.nothingFits.alternatives.length > 0) {
      out.push('', `Best alternatives ${rec.nothingFits.alternativesFrom}:`);
      out.push(renderCandidateTable(rec.nothingFits.alternatives, rec.leaf.fineTune));
      out.push(...renderReasons(rec.nothingFits.alternatives));
    } else {
      out.push(`No smaller model fits either.`);
    }
  }

  if (rec.outcome !== 'nothing-fits') out.push('', ...wrap(`Outcome (${rec.outcome}): ${rec.summary}`, 110));
  else out.push('');
  if (rec.hardwareNeeded) out.push(...wrap(`Hardware for the class: ${rec.hardwareNeeded.message}`, 110));
  if (rec.excluded.length > 0) {
    out.push('', `Left out of the ${rec.leaf.sizeClass.label} class:`);
    for (const x of rec.excluded) out.push(...wrap(`${x.name} (${formatParams(x.paramsTotal)}): ${x.reason}`, 106).map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)));
  }
  if (rec.notes.length > 0) {
    out.push('', 'Notes:');
    for (const n of rec.notes) out.push(...wrap(n, 106).map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)));
  }
  return out.join('\n');
}

export function renderDevices(devices: DeviceSummary[]): string[] {
  return devices.map((d) => {
    const memory = `${formatBytes(d.memoryAvailableBytes)} ${d.kind === 'gpu' ? 'free VRAM' : 'available RAM'} of ${formatBytes(d.memoryTotalBytes)}`;
    const bw = d.bandwidthBytesPerSec === null ? 'bandwidth unknown' : `${formatBandwidth(d.bandwidthBytesPerSec)} (${d.bandwidthSource})`;
    const flops = d.peakFlops === null ? 'FLOP/s unknown' : `${formatFlops(d.peakFlops)} (${d.peakFlopsSource})`;
    return `${d.kind === 'gpu' ? 'GPU' : 'CPU'}: ${d.name} — ${memory}, ${bw}, ${flops}`;
  });
}

/** The candidate table: format needed, weight / KV / total bytes, fit, decode tok/s and TTFT against the targets. */
export function renderCandidateTable(candidates: Candidate[], withFinetune: boolean): string {
  const head = ['#', 'Model', 'Params', 'Format', 'Weights', 'KV', 'Total', 'Fits', 'Decode/stream', 'TTFT'];
  if (withFinetune) head.push('LoRA / QLoRA');
  // No colours: output must read the same in a pipe, a log and a test.
  const table = new Table({ head, style: { head: [], border: [], compact: true } });
  for (const c of candidates) {
    const row = [
      String(c.rank),
      c.name,
      formatParams(c.paramsTotal) + (c.paramsActive !== c.paramsTotal ? ` (${formatParams(c.paramsActive)} act.)` : ''),
      `${c.format} ${c.device.kind.toUpperCase()}`,
      formatBytes(c.memory.weightBytes),
      formatBytes(c.memory.kvBytes),
      formatBytes(c.memory.totalBytes),
      c.fit === 'fits' ? `yes (${formatBytes(c.memory.usableBytes)})` : `≤${c.memory.maxContext} tok`,
      renderRate(c.speed.decodeTokPerSec, c.meets.decodeTokensPerSec),
      renderTime(c.speed.ttftMs, c.meets.ttft),
    ];
    if (withFinetune) {
      const ft = c.finetune;
      row.push(ft ? `${mark(ft.lora.fits)} ${formatBytes(ft.lora.totalBytes)} / ${mark(ft.qlora.fits)} ${formatBytes(ft.qlora.totalBytes)}` : '—');
    }
    table.push(row);
  }
  return table.toString();
}

function renderReasons(candidates: Candidate[]): string[] {
  const out: string[] = [];
  for (const c of candidates) {
    out.push(`  ${c.rank}. ${c.name}${c.onnxRepo ? ` (ONNX: ${c.onnxRepo})` : ''}`);
    for (const line of [...c.tradeoffs.map((x) => `trade-off: ${x}`), ...c.reasons]) {
      out.push(...wrap(line, 104).map((l, i) => (i === 0 ? `     - ${l}` : `       ${l}`)));
    }
  }
  return out;
}

function mark(ok: boolean | null): string {
  return ok === null ? '?' : ok ? '✓' : '✗';
}

function renderRate(b: Banded | null, meets: boolean | null): string {
  if (b === null) return '? (no bandwidth)';
  return `${mark(meets)} ${short(b.value)} tok/s`;
}

function renderTime(b: Banded | null, meets: boolean | null): string {
  if (b === null) return '? (no FLOP/s)';
  return `${mark(meets)} ${formatDuration(b.value)}`;
}

function short(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function wrap(text: string, width: number): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}
