import { describe, expect, it } from 'vitest';
import { compareLogits, judgeFidelity } from '../../src/quantize/fidelity-metrics.js';
import { createRandom } from '../../src/quantize/random.js';

describe('logit fidelity metrics', () => {
  it('identical logits: cosine 1, full agreement, zero KL', () => {
    const logits = Float32Array.from([1, 2, 3, 0, -1, 5, 2, 2]);
    const m = compareLogits(logits, logits, 4);
    expect(m.positions).toBe(2);
    expect(m.cosineMean).toBeCloseTo(1, 12);
    expect(m.top1Agreement).toBe(1);
    expect(m.klMean).toBeCloseTo(0, 12);
    expect(judgeFidelity(m).pass).toBe(true);
  });

  it('computes KL(P||Q) and agreement against a hand-worked example', () => {
    // Position 0: P = softmax([0, ln 3]) = [1/4, 3/4], Q = softmax([ln 3, 0]) = [3/4, 1/4].
    const m = compareLogits([0, Math.log(3)], [Math.log(3), 0], 2);
    const expectedKl = 0.25 * Math.log(0.25 / 0.75) + 0.75 * Math.log(0.75 / 0.25);
    expect(m.klMean).toBeCloseTo(expectedKl, 12);
    expect(m.top1Agreement).toBe(0);
    expect(m.cosineMean).toBeCloseTo(0, 12);
  });

  it('KL is taken in the direction KL(reference || quantized): an asymmetric example tells the two apart', () => {
    // P = softmax([0, 0]) = [1/2, 1/2], Q = softmax([0, ln 3]) = [1/4, 3/4].
    const m = compareLogits([0, 0], [0, Math.log(3)], 2);
    const pq = 0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75); // 0.1438 nats
    const qp = 0.25 * Math.log(0.25 / 0.5) + 0.75 * Math.log(0.75 / 0.5); // 0.1308 nats
    expect(Math.abs(pq - qp)).toBeGreaterThan(0.01);
    expect(m.klMean).toBeCloseTo(pq, 12);
  });

  it('KL and cosine are invariant to a constant shift of the logits', () => {
    const rnd = createRandom(1);
    const r = Array.from({ length: 50 }, () => rnd.normal());
    const q = r.map((v) => v + 100 + rnd.normal() * 0.01);
    const m = compareLogits(r, q, 50);
    expect(m.klMean).toBeLessThan(1e-3);
    expect(m.top1Agreement).toBe(1);
  });

  it('unrelated logits fail the thresholds', () => {
    const rnd = createRandom(2);
    const vocab = 100;
    const r = Array.from({ length: vocab * 32 }, () => rnd.normal());
    const q = Array.from({ length: vocab * 32 }, () => rnd.normal());
    const verdict = judgeFidelity(compareLogits(r, q, vocab));
    expect(verdict.pass).toBe(false);
    expect(verdict.reasons.join(' ')).toMatch(/cosine .* < 0\.6/);
    expect(verdict.reasons.join(' ')).toMatch(/mean KL .* > 0\.5/);
  });

  it('a mild perturbation passes, and each threshold can fail on its own', () => {
    const rnd = createRandom(3);
    const vocab = 200;
    const r = Array.from({ length: vocab * 16 }, () => rnd.normal());
    const close = r.map((v) => v + rnd.normal() * 0.3);
    expect(judgeFidelity(compareLogits(r, close, vocab)).pass).toBe(true);
    const metrics = compareLogits(r, close, vocab);
    expect(judgeFidelity(metrics, { cosineMean: 0.999, klMean: 10 }).reasons).toHaveLength(1);
    expect(judgeFidelity(metrics, { cosineMean: 0, klMean: 0 }).reasons[0]).toMatch(/mean KL/);
  });

  it('rejects arrays that do not match', () => {
    expect(() => compareLogits([1, 2, 3], [1, 2], 1)).toThrow(/cannot be compared/);
  });
});
