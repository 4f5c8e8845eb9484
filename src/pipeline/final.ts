import type { ModelSpec } from '../catalog/model-spec.js';
import type { Targets } from '../recommend/requirements.js';
import type { HardwareNeeded } from '../recommend/types.js';
import type { ConfirmedCandidate, FinalVerdict, VariantMeasurement } from '../recommend/confirm-report.js';

/**
 * The final word of a confirm run (pure): the best confirmed candidate in rank order, or a plain statement
 * that none met the targets, the one that came closest, and what would change the outcome — a shorter
 * context (from the measured prefill rate), a smaller model (from the measured rates, scaled by size), a
 * GPU of a named class (from the recommendation's hardware table).
 */
export interface FinalInput {
  candidates: ConfirmedCandidate[];
  targets: Pick<Targets, 'contextTokens' | 'concurrency' | 'decodeTokensPerSec' | 'maxTtftMs'>;
  /** The recommendation's "hardware needed" for the class (computed by the caller when the recommendation has none). */
  hardwareNeeded: HardwareNeeded | null;
  /** Models that could be named as "smaller" alternatives. */
  catalog: ModelSpec[];
  /** Parameters per candidate id (active parameters decide speed). */
  activeParams: Record<string, number>;
}

export function decideFinal(input: FinalInput): FinalVerdict {
  const { candidates, targets } = input;
  const confirmed = candidates.find((c) => c.verdict.status === 'confirmed');
  if (confirmed) {
    const m = measurementOf(confirmed);
    const labels = describeLabels(confirmed, m);
    const f = figuresOf(confirmed);
    const figures = f
      ? `decode ${fmt(f.decodeTokPerSecPerStream)} tok/s per stream (target ≥ ${targets.decodeTokensPerSec}), TTFT ${fmtMs(f.ttftMs)} (target ≤ ${fmtMs(targets.maxTtftMs)})`
      : '';
    return {
      status: 'confirmed',
      candidateId: confirmed.id,
      variant: confirmed.verdict.variant,
      message: `Confirmed: ${confirmed.name} (${confirmed.verdict.variant ?? confirmed.format}${labels}) meets the targets ${whereOf(confirmed)}: ${figures}.`,
      closest: null,
      whatWouldChange: [],
    };
  }
  const measured = candidates.filter((c) => c.verdict.status === 'rejected');
  if (measured.length === 0) {
    const reasons = candidates.map((c) => `${c.name}: ${c.verdict.reasons[0] ?? c.verdict.status}`);
    return {
      status: 'not-measured',
      candidateId: null,
      variant: null,
      message: `No candidate could be measured here, so nothing is confirmed or rejected (${reasons.join('; ') || 'no candidates'}).`,
      closest: null,
      whatWouldChange: input.hardwareNeeded ? [gpuAdvice(input.hardwareNeeded)] : [],
    };
  }
  const scored = measured
    .map((c) => ({ c, m: measurementOf(c), score: closenessOf(c, targets) }))
    .sort((a, b) => b.score - a.score || a.c.rank - b.c.rank);
  const best = scored[0]!;
  const shortfall = best.c.verdict.reasons.join('; ');
  const changes: string[] = [];
  const m = best.m;
  if (m) {
    const missedTtft = m.verdict.checks.some((k) => k.name === 'ttft_ms' && k.met === false);
    const missedDecode = m.verdict.checks.some((k) => k.name === 'decode_tps' && k.met === false);
    const missedMemory = m.verdict.checks.some((k) => k.name === 'memory' && k.met === false);
    const prompt = m.results[0]?.test.n_prompt ?? targets.contextTokens;
    if (missedTtft && m.measured.ttftMs !== null && m.measured.ttftMs > 0) {
      // Prefill time grows at least linearly with the prompt, so the linear scale-down is an upper bound.
      const context = Math.floor((prompt * targets.maxTtftMs) / m.measured.ttftMs);
      changes.push(
        context >= 16
          ? `A shorter context: ${best.c.name} would reach the first token within ${fmtMs(targets.maxTtftMs)} with prompts of about ${context} tokens or fewer (measured ${fmtMs(m.measured.ttftMs)} for ${prompt}).`
          : `A shorter context alone will not do: at the measured prefill rate the ${fmtMs(targets.maxTtftMs)} first-token target would need prompts of under 16 tokens.`,
      );
    }
    const active = input.activeParams[best.c.id];
    if ((missedTtft || missedDecode) && active !== undefined && active > 0) {
      // Decode time per token and prefill time both scale with the active parameters read and multiplied.
      const decodeRatio = missedDecode && m.measured.decodeTokPerSecPerStream ? m.measured.decodeTokPerSecPerStream / targets.decodeTokensPerSec : 1;
      const ttftRatio = missedTtft && m.measured.ttftMs ? targets.maxTtftMs / m.measured.ttftMs : 1;
      const bound = active * Math.min(decodeRatio, ttftRatio);
      const small = input.catalog.filter((s) => s.paramsActive <= bound && s.paramsActive < active).sort((a, b) => b.paramsActive - a.paramsActive);
      // A model this run measured and rejected is no way out, however few its parameters: name the largest one not tried.
      const rejectedHere = new Set(measured.map((c) => c.id));
      const smaller = small.find((s) => !rejectedHere.has(s.id));
      const tried = small.filter((s) => rejectedHere.has(s.id)).map((s) => `${s.name} (${fmtParams(s.paramsActive)})`);
      const triedNote = tried.length === 0 ? '' : `${tried.join(' and ')} ${tried.length === 1 ? 'was' : 'were'} measured in this run and missed too`;
      const example = smaller
        ? ` — e.g. ${smaller.name} (${fmtParams(smaller.paramsActive)})${triedNote ? `; ${triedNote}` : ''}.`
        : triedNote
          ? ` — ${triedNote}, and no other model in the catalog is that small.`
          : ' — no model in the catalog is that small.';
      changes.push(
        `A smaller model: at the rates measured for ${best.c.name} (${fmtParams(active)} active parameters), about ${fmtParams(bound)} or fewer would meet ${missedDecode && missedTtft ? 'both speed targets' : missedDecode ? 'the decode target' : 'the first-token target'}${example}`,
      );
    }
    if (missedDecode && targets.concurrency > 1) changes.push(`Fewer concurrent streams: ${targets.concurrency} streams share each decode step's work.`);
    if (missedMemory) changes.push('More memory, or a more compressed format: the measured peak does not fit the memory usable here.');
  }
  if (input.hardwareNeeded) changes.push(gpuAdvice(input.hardwareNeeded));
  return {
    status: 'none-confirmed',
    candidateId: null,
    variant: null,
    message: `None of the ${candidates.length} candidate${candidates.length === 1 ? '' : 's'} met the targets ${candidates.every((c) => c.endpoint) ? 'on their deployments' : candidates.some((c) => c.endpoint) ? 'here or on their deployments' : 'on this machine'}; the closest was ${best.c.name} (${best.c.verdict.variant ?? best.c.format}${describeLabels(best.c, m)}): ${shortfall}.`,
    closest: { id: best.c.id, name: best.c.name, shortfall },
    whatWouldChange: changes,
  };
}

function gpuAdvice(need: HardwareNeeded): string {
  const options = need.options.slice(0, 3).map((o) => `${o.count}× ${o.name}`);
  return options.length > 0
    ? `A GPU: the class needs ≈ ${(need.memoryBytes / 2 ** 30).toFixed(1)} GiB free, ≈ ${Math.round(need.bandwidthBytesPerSec / 1e9)} GB/s and ≈ ${(need.peakFlops / 1e12).toPrecision(3)} TFLOP/s for these targets — e.g. ${options.join(', ')}.`
    : `A GPU cluster: ${need.message}`;
}

/** The measurement the candidate's verdict rests on. */
export function measurementOf(c: ConfirmedCandidate): VariantMeasurement | null {
  return c.measurements.find((m) => m.variant === c.verdict.variant && m.status === 'ok') ?? null;
}

function describeLabels(c: ConfirmedCandidate, m: VariantMeasurement | null): string {
  const labels: string[] = [];
  if (c.source.synthetic) labels.push('synthetic weights');
  if (m?.extrapolated) labels.push(`extrapolated from ${m.layersMeasured.join(' and ')} of ${m.layersFull} layers`);
  return labels.length > 0 ? `, ${labels.join(', ')}` : '';
}

/** The figures the verdict rests on: the chosen variant's, or the deployment's at the target concurrency. */
function figuresOf(c: ConfirmedCandidate): { decodeTokPerSecPerStream: number | null; ttftMs: number | null } | null {
  const m = measurementOf(c);
  if (m) return m.measured;
  const level = c.endpoint?.level;
  return level ? { decodeTokPerSecPerStream: level.decodeTokPerSecPerStreamP50, ttftMs: level.ttftMsP50 } : null;
}

function whereOf(c: ConfirmedCandidate): string {
  return c.endpoint ? `on its deployment (${c.endpoint.url})` : 'on this machine';
}

/** Product of measured ÷ target per speed target, each capped at 1; 0 when the memory does not fit. */
function closenessOf(c: ConfirmedCandidate, targets: FinalInput['targets']): number {
  const f = figuresOf(c);
  if (!f) return 0;
  if (c.verdict.checks.some((k) => k.name === 'memory' && k.met === false)) return 0;
  const d = f.decodeTokPerSecPerStream;
  const t = f.ttftMs;
  const decode = d === null ? 0 : Math.min(1, d / targets.decodeTokensPerSec);
  const ttft = t === null || t <= 0 ? 0 : Math.min(1, targets.maxTtftMs / t);
  return decode * ttft;
}

function fmt(x: number | null): string {
  if (x === null) return 'n/a';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function fmtMs(ms: number | null): string {
  if (ms === null) return 'n/a';
  return ms >= 1000 ? `${(ms / 1000).toPrecision(3)} s` : `${Math.round(ms)} ms`;
}

function fmtParams(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toPrecision(3)}B` : `${Math.round(n / 1e6)}M`;
}
