import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/index.js';
import type { ModelSpec } from '../../src/catalog/model-spec.js';
import { decideFinal, type FinalInput } from '../../src/pipeline/final.js';
import type { ConfirmedCandidate, VariantMeasurement } from '../../src/recommend/confirm-report.js';

const targets: FinalInput['targets'] = { contextTokens: 512, concurrency: 1, decodeTokensPerSec: 20, maxTtftMs: 500 };

/** A candidate measured here (q4, full depth) and rejected on its first-token time; only what `decideFinal` reads is real. */
function rejectedOnTtft(rank: number, spec: ModelSpec, ttftMs: number): ConfirmedCandidate {
  const checks = [
    { name: 'decode_tps', required: 20, measured: 120, margin_pct: 500, met: true, unit: 'tok/s' },
    { name: 'ttft_ms', required: 500, measured: ttftMs, margin_pct: ((500 - ttftMs) / 500) * 100, met: false, unit: 'ms' },
  ] as const;
  const verdict = { status: 'rejected' as const, checks: [...checks], reasons: [`time to first token ${ttftMs} ms exceeds the 500 ms target`], extrapolated: false };
  const measurement = {
    variant: 'q4',
    status: 'ok',
    error: null,
    extrapolated: false,
    layersMeasured: [spec.numLayers],
    layersFull: spec.numLayers,
    measured: { decodeTokPerSecPerStream: 120, ttftMs, prefillTokPerSec: (512 / ttftMs) * 1000, peakMemoryBytes: 300 * 2 ** 20 },
    verdict,
    results: [{ test: { n_prompt: 512 } }],
  } as unknown as VariantMeasurement; // the estimates, errors and full bench results play no part in the final word
  return {
    rank,
    id: spec.id,
    name: spec.name,
    device: { kind: 'cpu', name: 'cpu' },
    format: 'q4',
    source: { synthetic: true },
    depth: { mode: 'full', layersFull: spec.numLayers, layersMeasured: [spec.numLayers] },
    measurements: [measurement],
    verdict: { ...verdict, variant: 'q4' },
    cost: null,
    timings: { obtainSec: 1, quantizeSec: 1, benchSec: 10 },
    notes: [],
  } as unknown as ConfirmedCandidate; // `source` carries only the synthetic label here
}

function smallerModelLine(input: FinalInput): string {
  const line = decideFinal(input).whatWouldChange.find((l) => l.startsWith('A smaller model: '));
  expect(line).toBeDefined();
  return line!;
}

describe('the final word when no candidate met the targets', () => {
  const catalog = loadCatalog();
  const smol = catalog.find((m) => m.id === 'smollm2-135m')!;
  const gpt2 = catalog.find((m) => m.id === 'gpt2')!;
  const activeParams = Object.fromEntries(catalog.map((m) => [m.id, m.paramsActive]));
  // SmolLM2-135M 516 ms and gpt2 526 ms for a 512-token prompt: both a little over the 500 ms target, as measured on a 2-vCPU host.
  const candidates = [rejectedOnTtft(1, smol, 516), rejectedOnTtft(2, gpt2, 526)];

  it('does not offer a smaller model that this run has just measured and rejected', () => {
    expect(gpt2.paramsActive).toBeLessThan(smol.paramsActive * (500 / 516));
    const line = smallerModelLine({ candidates, targets, hardwareNeeded: null, catalog, activeParams });
    expect(line).not.toMatch(/e\.g\. gpt2/);
    expect(line).toMatch(/— gpt2 \(\d+M\) was measured in this run and missed too, and no other model in the catalog is that small\.$/);
  });

  it('names the largest small-enough model that was not tried, and says which ones were', () => {
    const tiny: ModelSpec = { ...gpt2, id: 'tiny-gpt', name: 'Tiny-GPT', paramsActive: 60e6, paramsTotal: 60e6 };
    const line = smallerModelLine({ candidates, targets, hardwareNeeded: null, catalog: [...catalog, tiny], activeParams });
    expect(line).toMatch(/ — e\.g\. Tiny-GPT \(60M\); gpt2 \(\d+M\) was measured in this run and missed too\.$/);
  });

  it('names a small-enough model as before when none of them was measured here', () => {
    const line = smallerModelLine({ candidates: [candidates[0]!], targets, hardwareNeeded: null, catalog, activeParams });
    expect(line).toMatch(/ — e\.g\. gpt2 \(\d+M\)\.$/);
  });
});
