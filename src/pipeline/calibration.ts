import { readFile } from 'node:fs/promises';
import { ModelscoutError } from '../errors.js';
import type { Efficiency, SpeedEstimate, WeightFormat } from '../estimate/index.js';
import { writeJsonAtomic } from '../util/atomic-write.js';

/**
 * Calibration: the efficiencies the estimator assumes (fraction of peak bandwidth reached at decode, of peak
 * FLOP/s at prefill) fitted to measurements on this machine. Each benchmark adds one sample per key
 * (hardware × device × weight format); later estimates for the same key use the median of the recent
 * samples and say they are calibrated. The file is plain JSON so users can read, diff or delete it.
 */
export const CALIBRATION_SCHEMA_VERSION = 1;
/** Samples kept per key: enough for a stable median, few enough to follow a changed machine. */
export const MAX_SAMPLES_PER_KEY = 9;

export interface CalibrationKey {
  /** A stable description of the hardware, e.g. `cpu:AMD EPYC 7B13:2 threads`. */
  hardware: string;
  device: 'cpu' | 'gpu';
  format: WeightFormat;
}

export interface CalibrationSample {
  decode: number | null;
  prefill: number | null;
  /** The model and test the sample came from, for the reader. */
  model: string;
  test: string;
  measured_at: string;
}

export interface CalibrationEntry extends CalibrationKey {
  samples: CalibrationSample[];
}

export interface CalibrationFile {
  schema_version: typeof CALIBRATION_SCHEMA_VERSION;
  entries: CalibrationEntry[];
}

export function emptyCalibration(): CalibrationFile {
  return { schema_version: CALIBRATION_SCHEMA_VERSION, entries: [] };
}

function sameKey(a: CalibrationKey, b: CalibrationKey): boolean {
  return a.hardware === b.hardware && a.device === b.device && a.format === b.format;
}

/**
 * The efficiencies one measurement implies, from the estimate's own basis: decode efficiency = measured
 * decode rate × bytes read per step ÷ bandwidth; prefill efficiency = measured prefill rate × FLOPs per
 * prompt token ÷ peak FLOP/s. Re-estimating with these efficiencies reproduces the measurement.
 */
export function efficiencyFromMeasurement(
  basis: SpeedEstimate['basis'],
  measured: { decodeTokPerSecPerStream: number | null; prefillTokPerSec: number | null },
): { decode: number | null; prefill: number | null } {
  const bytesPerStep = basis.weightBytesPerStep + basis.kvBytesPerStep;
  const decode =
    measured.decodeTokPerSecPerStream !== null && basis.bandwidthBytesPerSec && bytesPerStep > 0
      ? (measured.decodeTokPerSecPerStream * bytesPerStep) / basis.bandwidthBytesPerSec
      : null;
  const flopsPerPromptToken = basis.prefillFlops / Math.max(1, basis.promptTokens);
  const prefill =
    measured.prefillTokPerSec !== null && basis.peakFlops && flopsPerPromptToken > 0
      ? (measured.prefillTokPerSec * flopsPerPromptToken) / basis.peakFlops
      : null;
  return { decode: finiteOrNull(decode), prefill: finiteOrNull(prefill) };
}

function finiteOrNull(x: number | null): number | null {
  return x !== null && Number.isFinite(x) && x > 0 ? x : null;
}

/** Returns a new file with the sample added under `key` (oldest samples dropped past `MAX_SAMPLES_PER_KEY`). */
export function addCalibrationSample(file: CalibrationFile, key: CalibrationKey, sample: CalibrationSample): CalibrationFile {
  const entries = file.entries.map((e) => ({ ...e, samples: [...e.samples] }));
  let entry = entries.find((e) => sameKey(e, key));
  if (!entry) {
    entry = { hardware: key.hardware, device: key.device, format: key.format, samples: [] };
    entries.push(entry);
  }
  entry.samples.push(sample);
  if (entry.samples.length > MAX_SAMPLES_PER_KEY) entry.samples.splice(0, entry.samples.length - MAX_SAMPLES_PER_KEY);
  return { schema_version: CALIBRATION_SCHEMA_VERSION, entries };
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The calibrated efficiency for `key`, or null when there is no sample. A side with no sample (e.g. prefill
 * never measured) keeps the fallback's value.
 */
export function calibratedEfficiency(file: CalibrationFile, key: CalibrationKey, fallback: Efficiency): Efficiency | null {
  const entry = file.entries.find((e) => sameKey(e, key));
  if (!entry || entry.samples.length === 0) return null;
  const decode = median(entry.samples.flatMap((s) => (s.decode === null ? [] : [s.decode])));
  const prefill = median(entry.samples.flatMap((s) => (s.prefill === null ? [] : [s.prefill])));
  if (decode === null && prefill === null) return null;
  return {
    decode: decode ?? fallback.decode,
    prefill: prefill ?? fallback.prefill,
    source: 'calibrated',
    note: `calibrated from ${entry.samples.length} measurement(s) on ${key.hardware} (${key.device}, ${key.format}): median of the recent samples`,
  };
}

export async function readCalibration(path: string): Promise<CalibrationFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyCalibration();
    throw new ModelscoutError('E_FILE', `cannot read calibration file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<CalibrationFile>;
    if (parsed.schema_version !== CALIBRATION_SCHEMA_VERSION || !Array.isArray(parsed.entries)) throw new Error('unexpected shape');
    return parsed as CalibrationFile;
  } catch {
    throw new ModelscoutError('E_CONFIG', `calibration file ${path} is not a modelscout calibration file (schema_version ${CALIBRATION_SCHEMA_VERSION})`, {
      suggestions: ['Run `modelscout calibration reset` to start a new one.'],
    });
  }
}

export async function writeCalibration(path: string, file: CalibrationFile): Promise<void> {
  await writeJsonAtomic(path, file);
}

/** A stable hardware description for calibration keys: what changes the efficiency, nothing that drifts. */
export function hardwareFingerprint(parts: { device: 'cpu' | 'gpu'; cpuModel: string; threads: number; gpuName?: string | null }): string {
  return parts.device === 'gpu' && parts.gpuName ? `gpu:${parts.gpuName}` : `cpu:${parts.cpuModel}:${parts.threads} threads`;
}
