import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_SAMPLES_PER_KEY,
  addCalibrationSample,
  calibratedEfficiency,
  calibrationHook,
  calibrationKeyFor,
  efficiencyLookup,
  resetCalibration,
  resolveCalibrationPath,
  sampleFromMeasurement,
  summarizeCalibration,
  efficiencyFromMeasurement,
  emptyCalibration,
  readCalibration,
  writeCalibration,
  type CalibrationKey,
} from '../../src/pipeline/calibration.js';
import { estimateSpeed, type Efficiency } from '../../src/estimate/index.js';
import { findModel } from '../../src/catalog/index.js';
import { preferredGraph } from '../../src/onnx/fused/synth-graph.js';

const key: CalibrationKey = { hardware: 'cpu:Test CPU:2 threads', device: 'cpu', format: 'q4' };
const fallback: Efficiency = { decode: 0.6, prefill: 0.3, source: 'default' };
const sample = (decode: number | null, prefill: number | null) => ({ decode, prefill, model: 'm', test: 't', measured_at: '2026-01-01T00:00:00Z' });

describe('calibration', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('has no calibrated efficiency before any sample', () => {
    expect(calibratedEfficiency(emptyCalibration(), key, fallback)).toBeNull();
  });

  it('uses the median of the samples of the same key only', () => {
    let file = emptyCalibration();
    file = addCalibrationSample(file, key, sample(0.2, 0.1));
    file = addCalibrationSample(file, key, sample(0.4, null));
    file = addCalibrationSample(file, key, sample(0.3, 0.2));
    file = addCalibrationSample(file, { ...key, format: 'fp32' }, sample(0.9, 0.9));
    const eff = calibratedEfficiency(file, key, fallback);
    expect(eff).toMatchObject({ decode: 0.3, source: 'calibrated' });
    expect(eff?.prefill).toBeCloseTo(0.15);
  });

  it('keeps only the most recent samples', () => {
    let file = emptyCalibration();
    for (let i = 0; i < MAX_SAMPLES_PER_KEY + 3; i++) file = addCalibrationSample(file, key, sample(i, null));
    expect(file.entries[0]?.samples).toHaveLength(MAX_SAMPLES_PER_KEY);
    expect(file.entries[0]?.samples[0]?.decode).toBe(3);
  });

  it('derives efficiencies that make the estimator reproduce the measurement', () => {
    const spec = findModel('qwen2.5-0.5b');
    const device = { kind: 'cpu' as const, name: 'test', bandwidthBytesPerSec: 20e9, bandwidthSource: 'override' as const, peakFlops: 1e11 };
    const base = estimateSpeed({ spec, format: 'q4', context: 512, promptTokens: 512, device });
    const eff = efficiencyFromMeasurement(base.basis, { decodeTokPerSecPerStream: 30, prefillTokPerSec: 200 });
    const again = estimateSpeed({ spec, format: 'q4', context: 512, promptTokens: 512, device, efficiency: { decode: eff.decode!, prefill: eff.prefill!, source: 'calibrated' } });
    expect(again.decodeTokPerSec?.value).toBeCloseTo(30, 5);
    expect(again.prefillTokPerSec?.value).toBeCloseTo(200, 5);
  });

  it('round-trips through its file and rejects a foreign file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ms-cal-'));
    dirs.push(dir);
    const path = join(dir, 'calibration.json');
    expect(await readCalibration(path)).toEqual(emptyCalibration());
    const file = addCalibrationSample(emptyCalibration(), key, sample(0.5, 0.25));
    await writeCalibration(path, file);
    expect(await readCalibration(path)).toEqual(file);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, '{"hello": 1}');
    await expect(readCalibration(path)).rejects.toThrow(/not a modelscout calibration file/);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ hello: 1 });
  });

  it('writes a string schema_version "2" and still reads version-1 files (numeric 1, same content)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ms-cal-'));
    dirs.push(dir);
    const path = join(dir, 'calibration.json');
    const file = addCalibrationSample(emptyCalibration(), key, sample(0.5, 0.25));
    await writeCalibration(path, file);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ schema_version: '2' });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, JSON.stringify({ ...file, schema_version: 1 }));
    expect(await readCalibration(path)).toEqual(file);
    await writeFile(path, JSON.stringify({ ...file, schema_version: 3 }));
    await expect(readCalibration(path)).rejects.toThrow(/schema_version "2" or 1/);
    await writeFile(path, JSON.stringify({ ...file, entries: [{ ...file.entries[0], format: 'q9' }] }));
    await expect(readCalibration(path)).rejects.toThrow(/not a modelscout calibration file/);
  });
});

describe('calibration in use', () => {
  const hardware = { cpu: { model: 'Test CPU', cores: 2, threads: 4, features: { avx2: true, avx512: false, vnni: false, amx: false, neon: false }, frequencyGHz: 3 } };
  const cpu = { kind: 'cpu' as const, name: 'Test CPU (CPU, 2 cores)', count: 1, memoryTotalBytes: 16e9, memoryAvailableBytes: 8e9, bandwidthBytesPerSec: 20e9, bandwidthSource: 'default' as const, peakFlops: 1e11, peakFlopsSource: 'default' as const, runtimeOverheadBytes: 0 };

  it('keys the CPU by model and benchmark threads (one per core by default)', () => {
    expect(calibrationKeyFor(hardware, cpu, 'q4')).toEqual({ hardware: 'cpu:Test CPU:2 threads', device: 'cpu', format: 'q4' });
    expect(calibrationKeyFor(hardware, { kind: 'gpu', name: 'NVIDIA L4' }, 'q4f16').hardware).toBe('gpu:NVIDIA L4');
  });

  it('leaves out measurements taken on a busy machine when quieter ones exist', () => {
    const spec = findModel('smollm2-135m');
    const at = (decode: number, busy?: number | null) =>
      sampleFromMeasurement({ spec, layers: spec.numLayers, format: 'q4', device: cpu, promptTokens: 512, batch: 1, decodeTokPerSecPerStream: decode, prefillTokPerSec: 200, model: spec.id, test: 't', measuredAt: '2026-01-01T00:00:00Z', ...(busy !== undefined ? { cpuBusyBefore: busy } : {}) })!;
    const q4 = calibrationKeyFor(hardware, cpu, 'q4');
    const rate = (e: Efficiency | undefined): number => estimateSpeed({ spec, format: 'q4', context: 512, promptTokens: 512, device: cpu, ...(e ? { efficiency: e } : {}) }).decodeTokPerSec!.value;
    // Busy runs (70% and 90% of the CPU taken by others) at 30 and 35 tok/s; a quiet one at 100 and an old
    // sample that never recorded the load at 90.
    let file = addCalibrationSample(emptyCalibration(), q4, at(30, 0.7));
    file = addCalibrationSample(file, q4, at(35, 0.9));
    expect(file.entries[0]!.samples[0]!.cpu_busy_before).toBe(0.7);
    // Only busy samples: they are all there is, so they are used.
    expect(rate(efficiencyLookup(file, hardware)(cpu, 'q4'))).toBeCloseTo(32.5, 6);
    file = addCalibrationSample(file, q4, at(100, 0.05));
    file = addCalibrationSample(file, q4, at(90));
    const lookup = efficiencyLookup(file, hardware)(cpu, 'q4')!;
    expect(rate(lookup)).toBeCloseTo(95, 6);
    expect(lookup.note).toMatch(/calibrated from 2 measurement\(s\) .* \(2 taken on a busy machine left out\)$/);
    expect(calibratedEfficiency(file, q4, fallback)!.note).toMatch(/\(2 taken on a busy machine left out\)$/);
  });

  it('prefers samples of the graph form asked for, then other formats of that form, then the other form', () => {
    const spec = findModel('smollm2-135m');
    const at = (decode: number, graph?: 'fused' | 'standard') =>
      sampleFromMeasurement({ spec, layers: spec.numLayers, format: 'q4', device: cpu, promptTokens: 512, batch: 1, decodeTokPerSecPerStream: decode, prefillTokPerSec: 200, model: spec.id, test: 't', measuredAt: '2026-01-01T00:00:00Z', ...(graph ? { graph } : {}) })!;
    const q4 = calibrationKeyFor(hardware, cpu, 'q4');
    const fp32 = calibrationKeyFor(hardware, cpu, 'fp32');
    // q4: two fused samples at 100 tok/s and one standard at 50 (written before the form was recorded);
    // fp32: one standard sample at 40 tok/s.
    let file = addCalibrationSample(emptyCalibration(), q4, at(100, 'fused'));
    file = addCalibrationSample(file, q4, at(100, 'fused'));
    file = addCalibrationSample(file, q4, at(50));
    file = addCalibrationSample(file, fp32, at(40));
    expect(file.entries[0]!.samples.map((s) => s.graph ?? 'standard')).toEqual(['fused', 'fused', 'standard']);
    const lookup = efficiencyLookup(file, hardware);
    const rate = (e: Efficiency | undefined): number => estimateSpeed({ spec, format: 'q4', context: 512, promptTokens: 512, device: cpu, ...(e ? { efficiency: e } : {}) }).decodeTokPerSec!.value;
    expect(rate(lookup(cpu, 'q4', 'fused'))).toBeCloseTo(100, 6);
    expect(lookup(cpu, 'q4', 'fused')!.note).toMatch(/\(cpu, q4, fused graph\)/);
    expect(rate(lookup(cpu, 'q4', 'standard'))).toBeCloseTo(50, 6);
    // Without a form: every q4 sample (median of 100, 100, 50).
    expect(rate(lookup(cpu, 'q4'))).toBeCloseTo(100, 6);
    // fp32 standard measured: a standard fp32 estimate uses it; a fused fp32 estimate borrows q4's fused samples.
    expect(lookup(cpu, 'fp32', 'standard')!.note).toMatch(/\(cpu, fp32, standard graph\)/);
    expect(lookup(cpu, 'fp32', 'fused')!.note).toMatch(/of q4 on .* \(no fp32 measurement yet, fused graph\)/);
    // int8: nothing measured in any form on this device but q4 and fp32; a standard estimate pools their standard samples.
    expect(lookup(cpu, 'int8', 'standard')!.note).toMatch(/of q4, fp32 on .*standard graph/);
    // The form recommend and confirm assume: fused where the architecture has a fused form.
    expect(preferredGraph(spec)).toBe('fused');
    expect(preferredGraph(findModel('gpt2'))).toBe('standard');
  });

  it('looks up calibrated efficiencies per format, borrows from measured formats for an unmeasured one, and rescales to another bandwidth figure', () => {
    const spec = findModel('smollm2-135m');
    const measured = sampleFromMeasurement({ spec, layers: spec.numLayers, format: 'q4', device: cpu, promptTokens: 512, batch: 1, decodeTokPerSecPerStream: 25, prefillTokPerSec: 230, model: spec.id, test: 'pp512+tg32', measuredAt: '2026-01-01T00:00:00Z' })!;
    expect(measured.bandwidth_bytes_per_sec).toBe(20e9);
    const file = addCalibrationSample(emptyCalibration(), calibrationKeyFor(hardware, cpu, 'q4'), measured);
    const lookup = efficiencyLookup(file, hardware);
    const q4 = lookup(cpu, 'q4')!;
    expect(q4.source).toBe('calibrated');
    expect(estimateSpeed({ spec, format: 'q4', context: 512, promptTokens: 512, device: cpu, efficiency: q4 }).decodeTokPerSec!.value).toBeCloseTo(25, 6);
    // int8 was never measured: it borrows q4's figures instead of the optimistic defaults, and says so.
    expect(lookup(cpu, 'int8')).toMatchObject({ decode: q4.decode, source: 'calibrated' });
    expect(lookup(cpu, 'int8')!.note).toMatch(/of q4 on cpu:Test CPU:2 threads \(no int8 measurement yet\)/);
    // A probe later finds half the bandwidth: the same achieved rate is twice the fraction of it.
    const probed = { ...cpu, bandwidthBytesPerSec: 10e9, bandwidthSource: 'probe' as const };
    expect(lookup(probed, 'q4')!.decode).toBeCloseTo(q4.decode * 2, 9);
    expect(estimateSpeed({ spec, format: 'q4', context: 512, promptTokens: 512, device: probed, efficiency: lookup(probed, 'q4')! }).decodeTokPerSec!.value).toBeCloseTo(25, 6);
    // The hook bench takes gives the same figures for the hardware it runs on.
    expect(calibrationHook(file)(cpu, 'q4', hardware)).toEqual(q4);
    // Another machine has no calibration.
    expect(efficiencyLookup(file, { cpu: { ...hardware.cpu, model: 'Other CPU' } })(cpu, 'q4')).toBeUndefined();
  });

  it('records how far the uncalibrated estimate of the graph form measured was from each sample, and the summary lists them', () => {
    const spec = findModel('smollm2-135m');
    const make = (graph: 'fused' | 'standard') => sampleFromMeasurement({ spec, layers: spec.numLayers, format: 'q4', device: cpu, promptTokens: 512, batch: 1, decodeTokPerSecPerStream: 50, prefillTokPerSec: 800, model: spec.id, test: 'pp512+tg32', measuredAt: '2026-01-02T00:00:00Z', graph })!;
    for (const graph of ['fused', 'standard'] as const) {
      const plain = estimateSpeed({ spec, format: 'q4', context: 512, promptTokens: 512, concurrency: 1, device: cpu, graph });
      const s = make(graph);
      expect(s.uncalibrated_error_pct!.decode).toBeCloseTo(((plain.decodeTokPerSec!.value - 50) / 50) * 100, 6);
      // Measured TTFT = 512 tokens at 800 tok/s = 640 ms.
      expect(s.uncalibrated_error_pct!.ttft).toBeCloseTo(((plain.ttftMs!.value - 640) / 640) * 100, 6);
    }
    expect(make('fused').uncalibrated_error_pct!.decode).not.toBeCloseTo(make('standard').uncalibrated_error_pct!.decode!, 1);
    const file = addCalibrationSample(addCalibrationSample(emptyCalibration(), key, sample(0.2, 0.1)), key, make('fused'));
    const details = summarizeCalibration(file, '/x.json').entries[0]!.sampleDetails;
    expect(details.map((d) => [d.graph, d.uncalibratedErrorPct === null])).toEqual([['standard', true], ['fused', false]]);
  });

  it('resolves the file from the flag, then MODELSCOUT_CALIBRATION, then the XDG cache', () => {
    expect(resolveCalibrationPath({}, '/home/u')).toBe('/home/u/.cache/modelscout/calibration.json');
    expect(resolveCalibrationPath({ XDG_CACHE_HOME: '/xdg' }, '/home/u')).toBe('/xdg/modelscout/calibration.json');
    expect(resolveCalibrationPath({ XDG_CACHE_HOME: '/xdg', MODELSCOUT_CALIBRATION: '/env/cal.json' }, '/home/u')).toBe('/env/cal.json');
    expect(resolveCalibrationPath({ MODELSCOUT_CALIBRATION: '/env/cal.json' }, '/home/u', '/flag/cal.json')).toBe('/flag/cal.json');
  });

  it('summarizes per key and resets all or one hardware', () => {
    let file = addCalibrationSample(emptyCalibration(), key, sample(0.2, 0.1));
    file = addCalibrationSample(file, key, sample(0.4, 0.3));
    file = addCalibrationSample(file, { ...key, hardware: 'gpu:NVIDIA L4', device: 'gpu' }, sample(0.7, 0.5));
    const summary = summarizeCalibration(file, '/x/cal.json');
    expect(summary.samples).toBe(3);
    expect(summary.entries[0]).toMatchObject({ hardware: key.hardware, format: 'q4', samples: 2, models: ['m'], lastMeasuredAt: '2026-01-01T00:00:00Z' });
    expect(summary.entries[0]!.decode).toBeCloseTo(0.3);
    expect(resetCalibration(file, 'gpu:NVIDIA L4')).toMatchObject({ removedSamples: 1, file: { entries: [{ hardware: key.hardware }] } });
    expect(resetCalibration(file)).toEqual({ removedSamples: 3, file: emptyCalibration() });
  });
});
