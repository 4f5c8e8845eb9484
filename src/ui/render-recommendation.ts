import type { CatalogInfo } from '../catalog/index.js';
import type { Banded } from '../estimate/index.js';
import type { ConfirmReport, ConfirmedCandidate, EndpointConfirmation } from '../recommend/confirm-report.js';
import type { Targets } from '../recommend/requirements.js';
import type { Candidate, DeviceSummary, ProposedTopology, Recommendation } from '../recommend/types.js';
import { engineName } from '../serve/server-info.js';
import { describeParamRange } from '../tree/render.js';
import { formatBandwidth, formatBytes, formatDuration, formatFlops, formatParams } from '../util/format.js';
import { wrapWords } from '../util/text.js';
import { fitToWidth, renderTable } from './layout.js';

/**
 * The human view of a `Recommendation` (pure: returns text). `recommend` and `wizard` print the same view;
 * `recommend --confirm` can reuse `renderCandidateTable` beside its measured verdicts.
 */
export function renderRecommendation(rec: Recommendation, width: number | null = null): string {
  const out: string[] = [];
  out.push(...renderDevices(rec.devices.considered), '');

  out.push('Decision path:');
  rec.path.forEach((step, i) => {
    out.push(`  ${i + 1}. ${step.question}  → ${step.answerLabel}${step.source === 'default' ? '  (default)' : ''}`);
  });
  const range = describeParamRange(rec.leaf.sizeClass);
  out.push(`Size class: ${rec.leaf.label} [${rec.leaf.id}, ${range} parameters${rec.leaf.fineTune ? ', with LoRA/QLoRA fine-tuning' : ''}]`);
  out.push(...wrap(`why: ${rec.leaf.rationale}`, 100, width).map((l) => `  ${l}`));

  const t = rec.targets;
  const src = (s: string): string => (s === 'given' ? 'given' : s === 'latency-class' ? `${rec.latency.label}` : 'default');
  out.push(
    `Targets (${rec.latency.label}${rec.latency.source === 'default' ? ', default' : ''}): decode ≥ ${t.decodeTokensPerSec} tok/s per stream [${src(rec.targetSources.decodeTokensPerSec)}], ` +
      `TTFT ≤ ${formatDuration(t.maxTtftMs)} [${src(rec.targetSources.maxTtftMs)}], context ${t.contextTokens} tokens [${src(rec.targetSources.contextTokens)}], ` +
      `concurrency ${t.concurrency} [${src(rec.targetSources.concurrency)}]`,
  );
  out.push('');

  if (rec.catalog) out.push(...wrap(catalogLine(rec.catalog), 110, width));
  if (rec.candidates.length > 0) {
    const pool = rec.candidatesFrom === 'models' ? 'the models given' : rec.candidatesFrom === 'both' ? `the ${rec.leaf.sizeClass.label} class and the models given` : `the ${rec.leaf.sizeClass.label} class`;
    out.push(`Ranked candidates of ${pool} (fits, then meets targets, then quality: a published MMLU-Pro where the catalog has one, else effective parameters):`);
    out.push(renderCandidateTable(rec.candidates, rec.leaf.fineTune, width));
    out.push(...renderReasons(rec.candidates, width));
  }

  if (rec.nothingFits) {
    out.push(...wrap(`✗ ${rec.nothingFits.message}`, 110, width));
    if (rec.nothingFits.alternatives.length > 0) {
      out.push('', `Best alternatives ${rec.nothingFits.alternativesFrom}:`);
      out.push(renderCandidateTable(rec.nothingFits.alternatives, rec.leaf.fineTune, width));
      out.push(...renderReasons(rec.nothingFits.alternatives, width));
    } else {
      out.push(`No smaller model fits either.`);
    }
  }

  if (rec.outcome !== 'nothing-fits') out.push('', ...wrap(`Outcome (${rec.outcome}): ${rec.summary}`, 110, width));
  else out.push('');
  if (rec.hardwareNeeded) {
    out.push(...wrap(`Hardware for the class: ${rec.hardwareNeeded.message}`, 110, width));
    out.push(...renderProposedTopologies(rec.hardwareNeeded.topologies));
  }
  if (rec.excluded.length > 0) {
    out.push('', `Left out of the ${rec.leaf.sizeClass.label} class:`);
    for (const x of rec.excluded) out.push(...wrap(`${x.name} (${formatParams(x.paramsTotal)}): ${x.reason}`, 106, width).map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)));
  }
  if (rec.notes.length > 0) {
    out.push('', 'Notes:');
    for (const n of rec.notes) out.push(...wrap(n, 106, width).map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)));
  }
  if (rec.confirm) out.push('', renderConfirmReport(rec.confirm, rec.targets, width));
  return fitToWidth(out.join('\n'), width);
}

/**
 * Deployments past one machine: one line per model and GPU, and the vLLM and SGLang commands of the first
 * proposal of each model (the others differ only in the sizes).
 */
export function renderProposedTopologies(topologies: ProposedTopology[]): string[] {
  if (topologies.length === 0) return [];
  const out = ['', 'Past one machine (smallest deployment per GPU that fits and meets the targets; estimates include TP/PP communication):'];
  const shown = new Set<string>();
  for (const t of topologies) {
    const speed = t.decodeTokPerSec === null ? '' : `; ≈ ${formatRate(t.decodeTokPerSec.value)} tok/s per stream${t.ttftMs === null ? '' : `, TTFT ≈ ${Math.round(t.ttftMs.value)} ms`}`;
    out.push(...wrap(`${t.summary} — ${formatBytes(t.perGpuBytes)} of ${formatBytes(t.usablePerGpuBytes)} usable per GPU${speed}`, 106, null).map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)));
    if (shown.has(t.model.id)) continue;
    shown.add(t.model.id);
    out.push('    vLLM:');
    for (const line of t.commands.vllm) out.push(`      ${line}`);
    out.push('    SGLang:');
    for (const line of t.commands.sglang) out.push(`      ${line}`);
    for (const note of t.commands.notes) out.push(...wrap(note, 100, null).map((l) => `      ${l.startsWith('#') ? l : `# ${l}`}`));
  }
  return out;
}

function formatRate(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toPrecision(2);
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
export function renderCandidateTable(candidates: Candidate[], withFinetune: boolean, width: number | null = null): string {
  const head = ['#', 'Model', 'Params', 'Quality', 'Format', 'Weights', 'KV', 'Total', 'Fits', 'Decode/stream', 'TTFT'];
  if (withFinetune) head.push('LoRA / QLoRA');
  const rows: string[][] = [];
  for (const c of candidates) {
    const row = [
      String(c.rank),
      c.name,
      formatParams(c.paramsTotal) + (c.paramsActive !== c.paramsTotal ? ` (${formatParams(c.paramsActive)} act.)` : ''),
      c.quality?.score ? `MMLU-Pro ${c.quality.score.score.toFixed(1)}` : 'size proxy',
      `${c.variant ? `${c.variant} (llama.cpp)` : c.format} ${c.device.kind.toUpperCase()}`,
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
    rows.push(row);
  }
  return renderTable(head, rows, width);
}

function renderReasons(candidates: Candidate[], width: number | null): string[] {
  const out: string[] = [];
  for (const c of candidates) {
    out.push(`  ${c.rank}. ${c.name}${c.onnxRepo ? ` (ONNX: ${c.onnxRepo})` : ''}`);
    for (const line of [...c.tradeoffs.map((x) => `trade-off: ${x}`), ...c.reasons]) {
      out.push(...wrap(line, 104, width).map((l, i) => (i === 0 ? `     - ${l}` : `       ${l}`)));
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

/** The renderer's own wrap at `n` columns in the plain layout; for a terminal, `fitToWidth` wraps the whole view. */
function wrap(text: string, n: number, width: number | null): string[] {
  return width === null ? wrapWords(text, n) : [text.replace(/\s+/g, ' ').trim()];
}

/**
 * The human view of a confirm run: the test, one row per measured variant (measured beside the estimate
 * and its error), each verdict with its reasons, the final word, what would change it, the calibration
 * and the report path. Synthetic and extrapolated figures are labelled in the table and the text.
 */
export function renderConfirmReport(report: ConfirmReport, targets: Targets, width: number | null = null): string {
  const out: string[] = [];
  const s = report.settings;
  const remote = report.candidates.filter((c) => c.endpoint);
  if (remote.length < report.candidates.length) {
    out.push(
      `Confirmation on this machine (${report.mode}: ${s.test.id}, prompt = the ${s.test.promptTokens}-token context, batch = concurrency ${s.test.batch}, ` +
        `${s.test.repetitions} timed runs + ${s.test.warmup} warm-up, ${s.threads} threads; budget ${s.budgetSec} s, took ${formatSeconds(report.durationSec)}):`,
    );
    out.push(...wrap(`Models: ${report.hub.reason}.`, 110, width).map((l) => `  ${l}`));
  }
  const w = remote[0]?.endpoint?.workload;
  if (w) {
    out.push(
      `Confirmation on ${remote.length === 1 ? 'a deployment' : 'deployments'} (serve-bench: prompts of the ${w.promptTokens}-token context, concurrency ${w.sweep.join(', ')}; the verdict at ${w.concurrency}, the targets' concurrency; took ${formatSeconds(report.durationSec)}):`,
    );
  }
  const head = ['#', 'Model', 'Measured as', 'Variant', 'Decode/stream (est., error)', 'TTFT (est., error)', 'Peak memory', 'Verdict'];
  const rows: string[][] = [];
  for (const c of report.candidates) {
    const as = describeSource(c);
    const e = c.endpoint;
    if (e) {
      const l = e.level;
      const perGpu = e.estimate.perGpuBytes !== null && e.estimate.usablePerGpuBytes !== null ? `${formatBytes(e.estimate.perGpuBytes)} of ${formatBytes(e.estimate.usablePerGpuBytes)}/GPU (est.)` : '—';
      rows.push([
        String(c.rank),
        c.name,
        as,
        c.format,
        measuredVsEstimate(l?.decodeTokPerSecPerStreamP50 ?? null, e.estimate.decodeTokPerSecPerStream, e.errorPct.decodeTokPerSecPerStream, 'default', (x) => `${short(x)} tok/s`),
        measuredVsEstimate(l?.ttftMsP50 ?? null, e.estimate.ttftMs, e.errorPct.ttftMs, 'default', (x) => formatDuration(x)),
        perGpu,
        verdictLabel(c.verdict.status, false),
      ]);
      continue;
    }
    if (c.measurements.length === 0) {
      rows.push([String(c.rank), c.name, as, '—', '—', '—', '—', verdictLabel(c.verdict.status, false)]);
      continue;
    }
    c.measurements.forEach((m, i) => {
      const chosen = m.variant === c.verdict.variant;
      rows.push([
        i === 0 ? String(c.rank) : '',
        i === 0 ? c.name : '',
        i === 0 ? as : '',
        `${m.variant}${m.extrapolated ? ' (extrap.)' : ''}`,
        m.status === 'ok' ? measuredVsEstimate(m.measured.decodeTokPerSecPerStream, m.estimated.decodeTokPerSecPerStream, m.errorPct.decodeTokPerSecPerStream, m.estimated.efficiencySource, (x) => `${short(x)} tok/s`) : 'failed',
        m.status === 'ok' ? measuredVsEstimate(m.measured.ttftMs, m.estimated.ttftMs, m.errorPct.ttftMs, m.estimated.efficiencySource, (x) => formatDuration(x)) : '',
        m.measured.peakMemoryBytes === null ? '—' : formatBytes(m.measured.peakMemoryBytes),
        `${verdictLabel(m.verdict.status, m.extrapolated)}${chosen && c.measurements.length > 1 ? ' *' : ''}`,
      ]);
    });
  }
  out.push(renderTable(head, rows, width));
  out.push(
    `  Targets: decode ≥ ${targets.decodeTokensPerSec} tok/s per stream, TTFT ≤ ${formatDuration(targets.maxTtftMs)}, peak memory within the usable memory. ` +
      `Error = (estimate − measured) ÷ measured; "cal." = estimate calibrated on this machine.` +
      (report.candidates.some((c) => c.measurements.length > 1) ? ' * = the variant the verdict rests on.' : ''),
  );
  for (const c of report.candidates) {
    out.push(`  ${c.rank}. ${c.name}: ${verdictLabel(c.verdict.status, c.verdict.extrapolated)}${c.verdict.variant ? ` (${c.verdict.variant})` : ''}`);
    const lines = [...c.verdict.reasons];
    for (const failed of c.measurements.filter((x) => x.status === 'error' && x.variant !== c.verdict.variant)) lines.push(`${failed.variant} benchmark failed: ${failed.error ?? 'no result'}`);
    const m = c.measurements.find((x) => x.variant === c.verdict.variant && x.extrapolation);
    if (m?.extrapolation) {
      const e = m.extrapolation;
      lines.push(
        `extrapolated from ${e.decodeStepMs.points.map((p) => `${p.layers} layer${p.layers === 1 ? '' : 's'}`).join(' and ')} to ${m.layersFull} (${describeMethod(e.decodeStepMs.method, e.decodeStepMs.scale)}): decode step ${formatMsValue(e.decodeStepMs.fixed)} fixed + ${formatMsValue(e.decodeStepMs.perLayer)} per layer = ${formatMsValue(e.decodeStepMs.full)}; ` +
          `TTFT ${formatMsValue(e.ttftMs.fixed)} + ${formatMsValue(e.ttftMs.perLayer)} per layer = ${formatDuration(e.ttftMs.full)}; peak memory ${formatBytes(e.peakMemoryBytes.full)}`,
      );
    }
    if (c.endpoint) lines.push(...describeEndpoint(c.endpoint));
    if (c.cost && c.endpoint) {
      lines.push(`cost at $${c.cost.pricePerHourUsd}/h for the deployment: $${toFixedSmart(c.cost.usdPerMillionTokens)} per million output tokens at the measured ${short(c.cost.decodeTokPerSecTotal)} tok/s (concurrency ${c.endpoint.workload.concurrency})`);
    } else if (c.cost) {
      lines.push(
        `cost at $${c.cost.pricePerHourUsd}/h: $${toFixedSmart(c.cost.usdPerMillionTokens)} per million generated tokens ($${c.cost.usdPerToken.toExponential(2)} per token, ${c.cost.belowYardstick ? 'below' : 'above'} the $${c.cost.yardstickUsdPerToken} per token of hosted APIs) at ${short(c.cost.decodeTokPerSecTotal)} tok/s over ${report.settings.test.batch} stream${report.settings.test.batch === 1 ? '' : 's'}`,
      );
    }
    if (c.source.kind !== 'none') {
      // A step that took no time (models reused from the work dir) is left out rather than printed as "0.0 s".
      const steps = [
        [c.timings.obtainSec, c.source.kind === 'pulled' ? 'pull' : 'synthesize'],
        [c.timings.quantizeSec, 'quantize'],
        [c.timings.benchSec, 'benchmark'],
      ] as const;
      const took = steps.filter(([sec]) => sec >= 0.05).map(([sec, what]) => `${formatSeconds(sec)} to ${what}`);
      if (took.length > 0) lines.push(`took ${took.join(', ')}${c.source.reused ? ' (models reused from the work dir)' : ''}`);
    }
    lines.push(...c.notes);
    for (const line of lines) out.push(...wrap(line, 104, width).map((l, i) => (i === 0 ? `     - ${l}` : `       ${l}`)));
  }
  out.push('', ...wrap(`${report.final.status === 'confirmed' ? '✓' : '✗'} ${report.final.message}`, 110, width));
  if (report.final.whatWouldChange.length > 0) {
    out.push('What would change the outcome:');
    for (const line of report.final.whatWouldChange) out.push(...wrap(line, 106, width).map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)));
  }
  const calibrated = Object.entries(report.calibration.estimatesCalibrated);
  const anyCalibrated = calibrated.some(([, v]) => v);
  out.push(
    '',
    ...wrap(
      `Calibration: ${report.calibration.samplesAdded} measurement${report.calibration.samplesAdded === 1 ? '' : 's'} added to ${report.calibration.file}; ` +
        (calibrated.length === 0 ? 'nothing was estimated against a measurement.' : anyCalibrated ? `the estimates above were calibrated by earlier runs for ${calibrated.filter(([, v]) => v).map(([k]) => k).join(', ')}.` : 'the estimates above used the default efficiencies (the next run will use the calibrated ones).'),
      110,
      width,
    ),
  );
  if (report.candidates.some((c) => c.source.synthetic)) out.push('Synthetic models (random weights): speed and memory are real, the generated text is not.');
  if (report.reportPath) out.push(`Report (JSON): ${report.reportPath}`);
  return fitToWidth(out.join('\n'), width);
}

function describeSource(c: ConfirmedCandidate): string {
  if (c.source.kind === 'endpoint') {
    const layout = c.endpoint?.topology?.layout ?? c.endpoint?.estimate.layout;
    return `deployment${layout ? `, TP ${layout.tp}${layout.pp > 1 ? `×PP ${layout.pp}` : ''}${layout.dp > 1 ? `×DP ${layout.dp}` : ''}` : ''}`;
  }
  if (c.source.kind === 'none') return 'estimate only';
  const kind = c.source.kind === 'pulled' ? 'ONNX export' : 'synthetic';
  const depth = c.depth.mode === 'partial' ? `${c.depth.layersMeasured.join('+')}/${c.depth.layersFull} layers` : 'full depth';
  return `${kind}, ${depth}`;
}

function verdictLabel(status: string, extrapolated: boolean): string {
  const base = status === 'confirmed' ? '✓ confirmed' : status === 'rejected' ? '✗ rejected' : status === 'estimate-only' ? 'estimate only' : 'error';
  return extrapolated && (status === 'confirmed' || status === 'rejected') ? `${base} (extrapolated)` : base;
}

/** A deployment's lines under the table: the server, each level, per-GPU rate, the layout's fit, the server's own metrics. */
function describeEndpoint(e: EndpointConfirmation): string[] {
  const lines = [`server ${e.url}`];
  const levels = e.levels.map((l) => `c=${l.concurrency}: ${l.decodeTokPerSecPerStreamP50 === null ? 'n/a' : short(l.decodeTokPerSecPerStreamP50)} tok/s per stream, TTFT ${l.ttftMsP50 === null ? 'n/a' : formatDuration(l.ttftMsP50)}, ${l.outputTokPerSec === null ? 'n/a' : short(l.outputTokPerSec)} output tok/s (${l.requests} requests)`);
  if (levels.length > 0) lines.push(`measured (medians): ${levels.join('; ')}`);
  if (e.perGpu && e.perGpu.outputTokPerSecPerGpu !== null) lines.push(`${short(e.perGpu.outputTokPerSecPerGpu)} output tok/s per GPU over ${e.perGpu.gpus} GPU${e.perGpu.gpus === 1 ? '' : 's'}`);
  const est = e.estimate;
  const reported = e.topology?.reported ?? null;
  const by = reported?.engine ? `${engineName(reported.engine)}, ${reported.from ?? 'its info endpoint'}` : 'the server';
  const layoutText = (l: { tp: number; pp: number; dp: number }): string => `TP ${l.tp}${l.pp > 1 ? ` × PP ${l.pp}` : ''}${l.dp > 1 ? ` × DP ${l.dp}` : ''}`;
  if ((est.source === 'stated-topology' || est.source === 'server-topology') && est.layout) {
    const which = est.source === 'server-topology' ? `the layout the server reports (${by})` : 'the stated layout';
    lines.push(
      `estimate for ${which}, ${layoutText(est.layout)} on ${est.gpu ?? 'the GPU'}: ` +
        `${est.perGpuBytes === null ? '' : `${formatBytes(est.perGpuBytes)} of ${formatBytes(est.usablePerGpuBytes ?? 0)} usable per GPU, `}${est.fits ? 'fits' : `does not fit${est.fitReason ? ` (${est.fitReason})` : ''}`}`,
    );
  } else if (est.source === 'recommendation') {
    const layout = e.topology?.source === 'server' ? e.topology.layout : null;
    lines.push(
      layout
        ? `layout reported by the server: ${layoutText(layout)} (${by}); estimate: the recommendation's own`
        : `estimate: the recommendation's own (no --topology stated${reported ? `; ${reported.note}` : ''})`,
    );
  }
  if (e.topology?.source === 'stated' && reported?.layout && e.topology.warnings.length === 0) lines.push(`the server reports the same layout (${by})`);
  for (const w of e.topology?.warnings ?? []) lines.push(`warning: ${w}`);
  if (e.server) {
    const v = e.server;
    const pct = (x: number): string => `${x < 0.1 ? (x * 100).toFixed(1) : Math.round(x * 100)}%`;
    const parts = [
      v.kvCacheUsage ? `KV-cache usage peak ${pct(v.kvCacheUsage.max)}, mean ${pct(v.kvCacheUsage.mean)}${est.kvCacheUsage === null ? '' : ` (estimate for this load: ${pct(est.kvCacheUsage)} of the pool)`}` : null,
      v.running ? `running ≤ ${v.running.max}` : null,
      v.waiting ? `waiting ≤ ${v.waiting.max}` : null,
      v.prefixCacheHitRate === null ? null : `prefix-cache hit rate ${pct(v.prefixCacheHitRate)}`,
    ].filter((x) => x !== null);
    lines.push(`server metrics (${v.engine}, ${v.samples} scrapes at the target level): ${parts.join(', ') || 'none of the mapped figures'}`);
  } else {
    lines.push('server metrics: none (no Prometheus /metrics of vLLM, SGLang or TGI at the server)');
  }
  return lines;
}

function measuredVsEstimate(measured: number | null, estimated: number | null, error: number | null, source: string, show: (x: number) => string): string {
  const m = measured === null ? 'n/a' : show(measured);
  if (estimated === null) return m;
  const err = error === null ? '' : `, ${error >= 0 ? '+' : ''}${Math.round(error)}%`;
  return `${m} (${source === 'calibrated' ? 'cal. ' : ''}${show(estimated)}${err})`;
}

function formatSeconds(sec: number): string {
  return sec >= 100 ? `${Math.round(sec)} s` : `${sec.toFixed(1)} s`;
}

function formatMsValue(ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

function toFixedSmart(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(2);
}

function describeMethod(method: string, scale: number): string {
  return method === 'two-depth fit' ? 'a line through the two depths' : `the estimate's fixed and per-layer split × ${scale.toFixed(2)}, the measured ÷ estimated ratio: the two depths differ by less than their noise`;
}

/** Which catalog ranked, in one line: the built-in one, or the user catalog with its date. */
export function catalogLine(info: CatalogInfo): string {
  if (info.kind === 'built-in') return `Catalog: built-in (${info.builtinModels} models; \`modelscout models update\` refreshes a user catalog from the Hub)`;
  const date = info.updatedAt ? `${info.updatedAt.slice(0, 16).replace('T', ' ')} UTC` : 'an unknown date';
  return `Catalog: user catalog refreshed ${date} from ${info.endpoint ?? 'the Hub'} (${info.userModels} models) with the ${info.builtinModels} built-in ones (\`modelscout models update --reset\` returns to the built-in catalog)`;
}
