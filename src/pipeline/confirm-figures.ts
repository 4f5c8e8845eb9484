/**
 * The figures of a candidate: what was measured (scaled to the full depth when partial), the estimate it is
 * compared with (one estimator call, `estimateAt`), the verdict per variant and per candidate, and the cost.
 */
import type { ModelSpec } from '../catalog/model-spec.js';
import { estimateSpeed, fitMemory, type Efficiency } from '../estimate/index.js';
import type { GraphKind } from '../onnx/metadata.js';
import { COST_YARDSTICK_USD_PER_TOKEN, type ConfirmVariant, type CostFigure, type EstimatedFigures, type ExtrapolatedFigure, type MeasuredFigures, type VariantMeasurement } from '../recommend/confirm-report.js';
import type { BenchResult } from '../report/schema.js';
import { measuredGraph, type ConfirmRun, type Work } from './confirm-run.js';
import { formatOfVariant } from './plan.js';
import { closeCallNote, costPerMillionTokens, decideVerdict, extrapolateToDepth } from './verdict.js';

export function summarizeVariant(run: ConfirmRun, w: Work, variant: ConfirmVariant, results: BenchResult[], benchSec: number): VariantMeasurement {
  const layersList = w.out.depth.layersMeasured;
  const estimated = estimateFigures(run, w, variant);
  const failed = results.find((r) => r.status !== 'ok');
  if (failed || results.length === 0) {
    return { ...failedMeasurement(run, w, variant, failed?.error?.message ?? 'no result', layersList), results, benchSec };
  }
  const B = w.test.batch_size;
  const per = results.map((r) => ({
    layers: r.model.architecture.layers ?? w.spec.numLayers,
    decodeStepMs: r.metrics.decode_tps && r.metrics.decode_tps.p50 > 0 ? (1000 * B) / r.metrics.decode_tps.p50 : null,
    ttftMs: r.metrics.ttft_ms?.p50 ?? null,
    prefill: r.metrics.prefill_tps?.p50 ?? null,
    peak: r.memory.rss_peak_bytes,
  }));
  let measured: MeasuredFigures;
  let extrapolation: VariantMeasurement['extrapolation'] = null;
  const full = w.spec.numLayers;
  if (per.length === 1 && per[0]!.layers === full) {
    const p = per[0]!;
    measured = { decodeTokPerSecPerStream: p.decodeStepMs ? 1000 / p.decodeStepMs : null, ttftMs: p.ttftMs, prefillTokPerSec: p.prefill, peakMemoryBytes: p.peak };
  } else {
    const fit = (pick: (x: (typeof per)[number]) => number | null, estimate: (layers: number) => number): ExtrapolatedFigure | null => {
      const points = per.flatMap((x) => {
        const v = pick(x);
        return v === null ? [] : [{ layers: x.layers, value: v }];
      });
      if (points.length === 0) return null;
      const r = extrapolateToDepth(points, estimate, full);
      return { fixed: r.fixed, perLayer: r.perLayer, full: r.full, points, method: r.method, scale: r.scale };
    };
    const at = estimateAtDepth(run, w, variant);
    const step = fit((x) => x.decodeStepMs, (layers) => at(layers).decodeStepMs);
    const ttft = fit((x) => x.ttftMs, (layers) => at(layers).ttftMs);
    const peak = fit((x) => x.peak, (layers) => at(layers).memoryBytes);
    measured = {
      decodeTokPerSecPerStream: step ? 1000 / step.full : null,
      ttftMs: ttft ? ttft.full : null,
      prefillTokPerSec: ttft && ttft.full > 0 ? (w.test.n_prompt * B * 1000) / ttft.full : null,
      peakMemoryBytes: peak ? Math.round(peak.full) : null,
    };
    if (step && ttft && peak) extrapolation = { decodeStepMs: step, ttftMs: ttft, peakMemoryBytes: peak };
  }
  const extrapolated = per.length > 1 || per[0]!.layers !== full;
  const verdict = decideVerdict({
    targets: run.rec.targets,
    measured,
    usableMemoryBytes: w.candidate.memory.usableBytes,
    extrapolated,
  });
  return {
    variant,
    status: 'ok',
    error: null,
    extrapolated,
    layersMeasured: per.map((x) => x.layers),
    layersFull: full,
    measured,
    estimated,
    errorPct: {
      decodeTokPerSecPerStream: errorPct(measured.decodeTokPerSecPerStream, estimated.decodeTokPerSecPerStream),
      ttftMs: errorPct(measured.ttftMs, estimated.ttftMs),
      memoryBytes: errorPct(measured.peakMemoryBytes, estimated.totalMemoryBytes),
    },
    extrapolation,
    verdict,
    results,
    benchSec: round(benchSec, 1),
  };
}

/** The estimator's figures for the model cut to `layers` layers: what partial depths are scaled with. */
function estimateAtDepth(run: ConfirmRun, w: Work, variant: ConfirmVariant): (layers: number) => { decodeStepMs: number; ttftMs: number; memoryBytes: number } {
  return (layers) => {
    const e = estimateAt(run, w, variant, layers);
    return {
      decodeStepMs: e.decodeTokPerSecPerStream ? 1000 / e.decodeTokPerSecPerStream : 0,
      ttftMs: e.ttftMs ?? 0,
      memoryBytes: e.totalMemoryBytes ?? 0,
    };
  };
}

/** The estimate a measurement is compared with: the full model. */
function estimateFigures(run: ConfirmRun, w: Work, variant: ConfirmVariant): EstimatedFigures {
  return estimateAt(run, w, variant, w.spec.numLayers);
}

/**
 * The one call of the estimator behind every figure confirm compares with a measurement: speed and memory of
 * the model at `layers` layers, with the efficiencies the recommendation was made with, for the test run
 * (the prompt fills the context; TTFT is the batch's prompts prefilled together, one request's × the batch).
 */
function estimateAt(run: ConfirmRun, w: Work, variant: ConfirmVariant, layers: number): EstimatedFigures {
  const format = formatOfVariant(variant);
  // The graph form measured (fused where synth builds one, a pulled export as it is) is the one estimated.
  const graph = measuredGraph(w);
  const efficiency: Efficiency | undefined = run.initialLookup(w.device, format, graph);
  const B = w.test.batch_size;
  const spec: ModelSpec = layers === w.spec.numLayers ? w.spec : { ...w.spec, numLayers: layers };
  const speed = estimateSpeed({ spec, format, context: w.test.n_prompt, promptTokens: w.test.n_prompt, concurrency: B, device: w.device, graph, ...(efficiency ? { efficiency } : {}) });
  const fit = fitMemory({ spec, format, context: w.test.n_prompt + w.test.n_gen, concurrency: B, device: w.device, graph });
  return {
    decodeTokPerSecPerStream: speed.decodeTokPerSec?.value ?? null,
    ttftMs: speed.ttftMs ? speed.ttftMs.value * B : null,
    prefillTokPerSec: speed.prefillTokPerSec?.value ?? null,
    totalMemoryBytes: fit.totalBytes,
    efficiencySource: efficiency?.source === 'calibrated' ? 'calibrated' : 'default',
  };
}

export function failedMeasurement(run: ConfirmRun, w: Work, variant: ConfirmVariant, message: string, layersList: number[]): VariantMeasurement {
  return {
    variant,
    status: 'error',
    error: message,
    extrapolated: layersList.length > 1 || layersList[0] !== w.spec.numLayers,
    layersMeasured: layersList,
    layersFull: w.spec.numLayers,
    measured: { decodeTokPerSecPerStream: null, ttftMs: null, prefillTokPerSec: null, peakMemoryBytes: null },
    estimated: estimateFigures(run, w, variant),
    errorPct: { decodeTokPerSecPerStream: null, ttftMs: null, memoryBytes: null },
    extrapolation: null,
    verdict: decideVerdict({ targets: run.rec.targets, measured: null, usableMemoryBytes: w.candidate.memory.usableBytes, extrapolated: false, error: message }),
    results: [],
    benchSec: 0,
  };
}

export function finishCandidate(run: ConfirmRun, w: Work): void {
  const out = w.out;
  if (w.unmeasurable !== null && out.measurements.length === 0) {
    out.verdict = { ...decideVerdict({ targets: run.rec.targets, measured: null, usableMemoryBytes: w.candidate.memory.usableBytes, extrapolated: false, notMeasuredReason: `estimate only: ${w.unmeasurable}` }), variant: null };
    if (out.depth.mode !== 'none') out.depth = { mode: 'none', layersFull: w.spec.numLayers, layersMeasured: [] };
    return;
  }
  const ok = out.measurements.filter((m) => m.status === 'ok');
  const primary = out.measurements.find((m) => m.variant === w.primary);
  let chosen: VariantMeasurement | undefined = primary?.status === 'ok' ? primary : ok[0];
  if (chosen && chosen.verdict.status !== 'confirmed') {
    const other = ok.find((m) => m !== chosen && m.verdict.status === 'confirmed');
    if (other) {
      out.notes.push(`confirmed as ${other.variant}: the recommended ${w.candidate.format} variant (${chosen.variant}) missed (${chosen.verdict.reasons.join('; ')})`);
      chosen = other;
    }
  }
  if (!chosen) {
    const failed = out.measurements[0];
    out.verdict = { ...(failed?.verdict ?? decideVerdict({ targets: run.rec.targets, measured: null, usableMemoryBytes: 0, extrapolated: false, error: 'not measured' })), variant: failed?.variant ?? null };
    return;
  }
  out.verdict = { ...chosen.verdict, variant: chosen.variant };
  const close = closeCallNote(chosen.verdict);
  if (close !== null) out.notes.push(`${chosen.variant}: ${close}`);
  out.cost = costOf(run, chosen);
}

function costOf(run: ConfirmRun, m: VariantMeasurement): CostFigure | null {
  const price = run.options.pricePerHourUsd;
  if (price === undefined || price === null || m.measured.decodeTokPerSecPerStream === null) return null;
  const total = m.measured.decodeTokPerSecPerStream * (m.results[0]?.test.batch_size ?? 1);
  const perMillion = costPerMillionTokens(price, total);
  if (perMillion === null) return null;
  return {
    pricePerHourUsd: price,
    decodeTokPerSecTotal: total,
    usdPerMillionTokens: perMillion,
    usdPerToken: perMillion / 1e6,
    yardstickUsdPerToken: COST_YARDSTICK_USD_PER_TOKEN,
    belowYardstick: perMillion / 1e6 < COST_YARDSTICK_USD_PER_TOKEN,
  };
}

/** e.g. `qwen2.5-7b (1 of 28 layers, synthetic, fused graph)`: what a calibration sample was measured on. */
export function describeRun(spec: ModelSpec, layers: number, synthetic: boolean, graph: GraphKind): string {
  const parts = [...(layers !== spec.numLayers ? [`${layers} of ${spec.numLayers} layers`] : []), ...(synthetic ? ['synthetic'] : []), ...(graph === 'fused' ? ['fused graph'] : [])];
  return parts.length > 0 ? `${spec.id} (${parts.join(', ')})` : spec.id;
}

/** As in the bench report: (estimated − measured) ÷ measured × 100, positive when the estimate was higher. */
export function errorPct(measured: number | null, estimated: number | null): number | null {
  if (measured === null || estimated === null || measured === 0) return null;
  return ((estimated - measured) / measured) * 100;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function fmt(x: number | null): string {
  if (x === null) return 'n/a';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}
