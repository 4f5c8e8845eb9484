import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_SAMPLES_PER_KEY,
  addCalibrationSample,
  calibratedEfficiency,
  efficiencyFromMeasurement,
  emptyCalibration,
  readCalibration,
  writeCalibration,
  type CalibrationKey,
} from '../../src/pipeline/calibration.js';
import { estimateSpeed, type Efficiency } from '../../src/estimate/index.js';
import { findModel } from '../../src/catalog/index.js';

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
});
