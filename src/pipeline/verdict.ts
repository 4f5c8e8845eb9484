import type { Verdict, VerdictCheck } from '../recommend/confirm-report.js';
import type { Targets } from '../recommend/requirements.js';

/**
 * The verdict on one benchmarked candidate: does what was measured on this machine meet the targets the
 * recommendation promised? Pure: measured and estimated figures in, a verdict with its reasons out.
 */
/** The measured figures a verdict is decided on. */
export interface VerdictFigures {
  /** Median decode tokens/s of one stream at the tested concurrency. */
  decodeTokPerSecPerStream: number | null;
  /** Median time to first token for a prompt of the target context. */
  ttftMs: number | null;
  /** Peak resident memory of the benchmark process (CPU) or device memory used (GPU). */
  peakMemoryBytes: number | null;
}

export interface VerdictInput {
  targets: Pick<Targets, 'decodeTokensPerSec' | 'maxTtftMs'>;
  measured: VerdictFigures | null;
  /** Memory the model may use on this machine (available memory less the estimator's headroom). */
  usableMemoryBytes: number;
  extrapolated: boolean;
  /** Set when the candidate could not be measured: why. */
  notMeasuredReason?: string;
  /** Set when the benchmark itself failed. */
  error?: string;
  /** False when memory is the server's business (a deployment measured over HTTP): no memory check. */
  checkMemory?: boolean;
}

function marginPct(measured: number, required: number, higherIsBetter: boolean): number {
  if (required === 0) return 0;
  return ((higherIsBetter ? measured - required : required - measured) / required) * 100;
}

export function decideVerdict(input: VerdictInput): Verdict {
  if (input.error !== undefined) {
    return { status: 'error', checks: [], reasons: [`the benchmark failed: ${input.error}`], extrapolated: input.extrapolated };
  }
  if (input.measured === null) {
    return { status: 'estimate-only', checks: [], reasons: [input.notMeasuredReason ?? 'not measured on this machine'], extrapolated: false };
  }
  const m = input.measured;
  const checks: VerdictCheck[] = [];
  const reasons: string[] = [];

  const decodeMet = m.decodeTokPerSecPerStream === null ? null : m.decodeTokPerSecPerStream >= input.targets.decodeTokensPerSec;
  checks.push({
    name: 'decode_tps',
    required: input.targets.decodeTokensPerSec,
    measured: m.decodeTokPerSecPerStream,
    margin_pct: m.decodeTokPerSecPerStream === null ? null : marginPct(m.decodeTokPerSecPerStream, input.targets.decodeTokensPerSec, true),
    met: decodeMet,
    unit: 'tok/s',
  });
  if (decodeMet === false) {
    const [got, want] = [m.decodeTokPerSecPerStream!, input.targets.decodeTokensPerSec];
    reasons.push(`decode ${fmt(got)} tok/s per stream is below the ${fmt(want)} tok/s target (${fmt(want - got)} tok/s short, ${fmtShare(got, want)} of the target)`);
  }

  const ttftMet = m.ttftMs === null ? null : m.ttftMs <= input.targets.maxTtftMs;
  checks.push({
    name: 'ttft_ms',
    required: input.targets.maxTtftMs,
    measured: m.ttftMs,
    margin_pct: m.ttftMs === null ? null : marginPct(m.ttftMs, input.targets.maxTtftMs, false),
    met: ttftMet,
    unit: 'ms',
  });
  if (ttftMet === false) {
    const [got, limit] = [m.ttftMs!, input.targets.maxTtftMs];
    reasons.push(`time to first token ${fmt(got)} ms exceeds the ${fmt(limit)} ms target (+${fmt(got - limit)} ms, ${fmtTimes(got, limit)} the target)`);
  }

  if (input.checkMemory !== false) {
    const memMet = m.peakMemoryBytes === null ? null : m.peakMemoryBytes <= input.usableMemoryBytes;
    checks.push({
      name: 'memory',
      required: input.usableMemoryBytes,
      measured: m.peakMemoryBytes,
      margin_pct: m.peakMemoryBytes === null ? null : marginPct(m.peakMemoryBytes, input.usableMemoryBytes, false),
      met: memMet,
      unit: 'bytes',
    });
    if (memMet === false) {
      const gib = (bytes: number): string => (bytes / 2 ** 30).toFixed(2);
      reasons.push(`peak memory ${gib(m.peakMemoryBytes!)} GiB does not fit the ${gib(input.usableMemoryBytes)} GiB usable here (${gib(m.peakMemoryBytes! - input.usableMemoryBytes)} GiB over)`);
    }
  }

  const unknown = checks.filter((c) => c.met === null).map((c) => c.name);
  if (unknown.length > 0 && reasons.length === 0) {
    return { status: 'estimate-only', checks, reasons: [`not measured: ${unknown.join(', ')}`], extrapolated: input.extrapolated };
  }
  return { status: reasons.length === 0 ? 'confirmed' : 'rejected', checks, reasons, extrapolated: input.extrapolated };
}

/** A timing check decided within this many percent of its target is a close call (see `closeCallNote`). */
export const CLOSE_CALL_PCT = 10;

/**
 * A note when the verdict's speed checks were decided within `CLOSE_CALL_PCT` of their targets, met or not:
 * closer than a shared or busy machine's speed moves between runs, so another run may land on the other
 * side. Null when every timing check was clear of its target (memory does not move that way).
 */
export function closeCallNote(verdict: Pick<Verdict, 'checks'>): string | null {
  const close = verdict.checks.filter(
    (c) => (c.name === 'decode_tps' || c.name === 'ttft_ms') && c.measured !== null && c.margin_pct !== null && Math.abs(c.margin_pct) < CLOSE_CALL_PCT,
  );
  if (close.length === 0) return null;
  const said = close.map((c) => {
    const what = c.name === 'ttft_ms' ? `TTFT ${fmt(c.measured)} ms` : `decode ${fmt(c.measured)} tok/s per stream`;
    const side = c.met ? 'inside' : 'outside';
    return `${what} is ${Math.abs(c.margin_pct as number).toFixed(0)}% ${side} the ${fmt(c.required)} ${c.unit} target`;
  });
  return `a close call: ${said.join(', and ')}, nearer than a machine's speed can move between runs; measure it again before relying on this verdict`;
}

function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return 'n/a';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/**
 * A miss said as a magnitude and a ratio, never as a negative margin: "+613 ms, 2.2× the target" reads in
 * the direction of the miss, where "-123%" of a lower-is-better figure read backwards.
 */
function fmtTimes(measured: number, target: number): string {
  if (!(target > 0)) return 'n/a×';
  const ratio = measured / target;
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}×`;
}

/** `measured` as a share of `target`, for figures that fell short: "50%". */
function fmtShare(measured: number, target: number): string {
  if (!(target > 0)) return 'n/a';
  return `${((measured / target) * 100).toFixed(0)}%`;
}

/**
 * Cost of generated tokens at the measured rate: the machine's price per hour spread over the tokens all
 * streams generate in that hour. `decodeTokPerSecTotal` is summed over the tested concurrency.
 */
export function costPerMillionTokens(pricePerHourUsd: number, decodeTokPerSecTotal: number): number | null {
  if (!(pricePerHourUsd >= 0) || !(decodeTokPerSecTotal > 0)) return null;
  return (pricePerHourUsd / (decodeTokPerSecTotal * 3600)) * 1e6;
}

/**
 * Scales a partial-depth measurement to the full model. Per-token time is a fixed part (embedding, final
 * norm, LM head, the loop) plus a per-layer part; two depths measured give both, one depth assumes the
 * fixed part is the LM head share given by `fixedFraction`.
 */
export function extrapolateStepTime(points: { layers: number; ms: number }[], fullLayers: number): { ms: number; perLayerMs: number; fixedMs: number } {
  if (points.length === 0) throw new Error('extrapolateStepTime needs at least one measurement');
  if (points.length === 1) {
    const p = points[0]!;
    const perLayerMs = p.ms / p.layers;
    return { ms: perLayerMs * fullLayers, perLayerMs, fixedMs: 0 };
  }
  // Least squares line through (layers, ms).
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.layers, 0) / n;
  const my = points.reduce((s, p) => s + p.ms, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.layers - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.layers - mx) * (p.ms - my), 0);
  const perLayerMs = sxx === 0 ? my / mx : Math.max(0, sxy / sxx);
  const fixedMs = Math.max(0, my - perLayerMs * mx);
  return { ms: fixedMs + perLayerMs * fullLayers, perLayerMs, fixedMs };
}

export interface DepthExtrapolation {
  full: number;
  fixed: number;
  perLayer: number;
  /**
   * `two-depth fit`: the line through the measured depths; `estimate scaled`: the estimator's split into a
   * fixed and a per-layer part, scaled to the measurements (used when the measured depths differ by less
   * than their noise, which a straight fit would turn into a zero or negative per-layer cost).
   */
  method: 'two-depth fit' | 'estimate scaled';
  /** Measured ÷ estimated over the depths measured. */
  scale: number;
}

/**
 * Scales measurements of partial-depth models to the full depth. `estimate(layers)` is the estimator's
 * figure for the same model at that depth; its split into fixed and per-layer parts is the fallback and
 * the plausibility check of the two-depth fit: a fitted per-layer cost more than 3× off the scaled
 * estimate's is taken for noise.
 */
export function extrapolateToDepth(points: { layers: number; value: number }[], estimate: (layers: number) => number, fullLayers: number): DepthExtrapolation {
  if (points.length === 0) throw new Error('extrapolateToDepth needs at least one measurement');
  const sxy = points.reduce((s, p) => s + p.value * estimate(p.layers), 0);
  const sxx = points.reduce((s, p) => s + estimate(p.layers) ** 2, 0);
  const scale = sxx > 0 ? sxy / sxx : 1;
  const [a, b] = [Math.min(...points.map((p) => p.layers)), Math.max(...points.map((p) => p.layers))];
  const estPerLayer = b > a ? (estimate(b) - estimate(a)) / (b - a) : estimate(a) / Math.max(1, a);
  const estFixed = estimate(a) - estPerLayer * a;
  const scaled: DepthExtrapolation = { full: scale * estimate(fullLayers), fixed: scale * estFixed, perLayer: scale * estPerLayer, method: 'estimate scaled', scale };
  if (new Set(points.map((p) => p.layers)).size < 2) return scaled;
  const fit = extrapolateStepTime(points.map((p) => ({ layers: p.layers, ms: p.value })), fullLayers);
  const plausible = fit.perLayerMs > 0 && scaled.perLayer > 0 && fit.perLayerMs >= scaled.perLayer / 3 && fit.perLayerMs <= scaled.perLayer * 3;
  return plausible ? { full: fit.ms, fixed: fit.fixedMs, perLayer: fit.perLayerMs, method: 'two-depth fit', scale } : scaled;
}
