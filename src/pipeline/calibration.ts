import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ModelSpec } from '../catalog/model-spec.js';
import { ModelscoutError } from '../errors.js';
import { defaultEfficiency, estimateSpeed, type DeviceTarget, type Efficiency, type SpeedEstimate, type WeightFormat } from '../estimate/index.js';
import { BUSY_THRESHOLD } from '../hardware/cpu-busy.js';
import type { Hardware } from '../hardware/detect.js';
import type { GraphKind } from '../onnx/metadata.js';
import { z } from 'zod';
import { WEIGHT_FORMATS } from '../estimate/weights.js';
import { writeJsonAtomic } from '../util/atomic-write.js';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import { modelscoutCacheDir } from '../util/cache-dir.js';
import type { Assignable, Expect } from '../util/type-checks.js';

export { modelscoutCacheDir };

/**
 * Calibration: the efficiencies the estimator assumes (fraction of peak bandwidth reached at decode, of peak
 * FLOP/s at prefill) fitted to measurements on this machine. Each benchmark adds one sample per key
 * (hardware × device × weight format); later estimates for the same key use the median of the recent
 * samples and say they are calibrated. The file is plain JSON so users can read, diff or delete it.
 */
export const CALIBRATION_SCHEMA_VERSION = '2';
/** Files written before the version became a string ("2"): the same content, read as they are. */
const CALIBRATION_SCHEMA_VERSION_1 = 1;
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
  /**
   * The bandwidth and peak FLOP/s the efficiencies are fractions of. A later estimate against another
   * figure for the same machine (a probe instead of the stated default) rescales the efficiency so the
   * achieved rate stays the same. Absent in samples written before they were recorded.
   */
  bandwidth_bytes_per_sec?: number | null;
  peak_flops?: number | null;
  /**
   * The graph form measured: fused graphs (ONNX Runtime's fused kernels) reach higher efficiencies than the
   * standard export of the same model, so estimates prefer samples of the form they describe. Absent in
   * samples written before it was recorded: standard.
   */
  graph?: GraphKind;
  /**
   * How busy the CPUs were (other processes) just before the measurement, 0–1. Samples from a busy machine
   * understate it: estimates use the quiet samples when there are any. Absent in older samples.
   */
  cpu_busy_before?: number | null;
  /**
   * How far the uncalibrated estimate (the stated default model, this graph form) was from this measurement,
   * (estimate − measured) ÷ measured in %, for decode tok/s and TTFT: drift of the defaults shows here.
   * Absent in older samples.
   */
  uncalibrated_error_pct?: { decode: number | null; ttft: number | null };
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

const nullableNumber = z.number().nullable();
const calibrationSampleSchema = z.strictObject({
  decode: nullableNumber,
  prefill: nullableNumber,
  bandwidth_bytes_per_sec: nullableNumber.exactOptional(),
  peak_flops: nullableNumber.exactOptional(),
  graph: z.enum(['standard', 'fused']).exactOptional(),
  cpu_busy_before: nullableNumber.exactOptional(),
  uncalibrated_error_pct: z.strictObject({ decode: nullableNumber, ttft: nullableNumber }).exactOptional(),
  model: z.string(),
  test: z.string(),
  measured_at: z.string(),
});

/** The calibration file as zod: `schemas/calibration.schema.json` is generated from it; reading checks it. */
export const calibrationFileSchema = z
  .strictObject({
    schema_version: z.literal(CALIBRATION_SCHEMA_VERSION),
    entries: z.array(z.strictObject({ hardware: z.string(), device: z.enum(['cpu', 'gpu']), format: z.enum(WEIGHT_FORMATS), samples: z.array(calibrationSampleSchema) })),
  })
  .meta({ title: 'Calibration file', description: 'Efficiencies measured on this machine (recommend --confirm), per hardware × device × weight format; version 1 files (a numeric schema_version) are read as well.' });

export function buildCalibrationJsonSchema(): Record<string, unknown> {
  return { $id: `urn:modelscout:calibration:${CALIBRATION_SCHEMA_VERSION}`, ...(z.toJSONSchema(calibrationFileSchema, { target: 'draft-2020-12' }) as Record<string, unknown>) };
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

type Against = { bandwidthBytesPerSec: number | null; peakFlops: number | null };

/**
 * The efficiency the median of `samples` implies, or null when they hold no rate. Measurements taken while
 * other processes kept the CPUs busy understate the machine: when quiet ones exist, only they count. A side
 * with no sample (e.g. prefill never measured) keeps the fallback's value. With `against` (the bandwidth and
 * peak FLOP/s the estimate will use), each sample is first rescaled from the figures it was measured
 * against, so what is calibrated is the rate the machine achieves, whichever figure describes the machine.
 * `describe` gets how many samples were used and returns the note's opening.
 */
function efficiencyFromSamples(samples: readonly CalibrationSample[], fallback: Efficiency, against: Against | undefined, describe: (used: number) => string): Efficiency | null {
  const quiet = samples.filter((s) => (s.cpu_busy_before ?? 0) <= BUSY_THRESHOLD);
  const used = quiet.length > 0 ? quiet : samples;
  const rescale = (value: number, measuredAgainst: number | null | undefined, now: number | null | undefined): number =>
    measuredAgainst && now ? (value * measuredAgainst) / now : value;
  const decode = median(used.flatMap((s) => (s.decode === null ? [] : [rescale(s.decode, s.bandwidth_bytes_per_sec, against?.bandwidthBytesPerSec)])));
  const prefill = median(used.flatMap((s) => (s.prefill === null ? [] : [rescale(s.prefill, s.peak_flops, against?.peakFlops)])));
  if (decode === null && prefill === null) return null;
  const leftOut = samples.length - used.length;
  return {
    decode: decode ?? fallback.decode,
    prefill: prefill ?? fallback.prefill,
    source: 'calibrated',
    note: `${describe(used.length)}: median of the recent samples${leftOut > 0 ? ` (${leftOut} taken on a busy machine left out)` : ''}`,
  };
}

/** The calibrated efficiency for `key` (see `efficiencyFromSamples`), or null when there is no sample. */
export function calibratedEfficiency(file: CalibrationFile, key: CalibrationKey, fallback: Efficiency, against?: Against): Efficiency | null {
  const entry = file.entries.find((e) => sameKey(e, key));
  if (!entry || entry.samples.length === 0) return null;
  return efficiencyFromSamples(entry.samples, fallback, against, (used) => `calibrated from ${used} measurement(s) on ${key.hardware} (${key.device}, ${key.format})`);
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
    const parsed = JSON.parse(text) as { schema_version?: unknown };
    const version = parsed.schema_version === CALIBRATION_SCHEMA_VERSION_1 ? CALIBRATION_SCHEMA_VERSION : parsed.schema_version;
    const checked = calibrationFileSchema.safeParse({ ...parsed, schema_version: version });
    if (!checked.success) throw new Error('unexpected shape');
    return checked.data as CalibrationFile;
  } catch {
    throw new ModelscoutError('E_CONFIG', `calibration file ${path} is not a modelscout calibration file (schema_version "${CALIBRATION_SCHEMA_VERSION}" or 1)`, {
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

/** Environment variable naming the calibration file (`--calibration FILE` wins over it). */
export const CALIBRATION_ENV = 'MODELSCOUT_CALIBRATION';

/**
 * Where the calibration file lives: `--calibration FILE`, else `$MODELSCOUT_CALIBRATION`, else
 * `$XDG_CACHE_HOME/modelscout/calibration.json` (`~/.cache/modelscout/calibration.json`). A cache, not a
 * config: deleting it only brings back the stated default efficiencies.
 */
export function resolveCalibrationPath(env: Readonly<Record<string, string | undefined>>, homeDir: string, flag?: string): string {
  if (flag !== undefined && flag.trim() !== '') return resolve(flag);
  const fromEnv = env[CALIBRATION_ENV]?.trim();
  if (fromEnv) return resolve(fromEnv);
  return join(modelscoutCacheDir(env, homeDir), 'calibration.json');
}


/**
 * The calibration key of a device: a GPU by its name, the CPU by its model and the threads the benchmarks
 * run with (ONNX Runtime's default: one per physical core).
 */
export function calibrationKeyFor(hardware: Pick<Hardware, 'cpu'>, device: Pick<DeviceTarget, 'kind' | 'name'>, format: WeightFormat, threads?: number): CalibrationKey {
  return {
    hardware: hardwareFingerprint({ device: device.kind, cpuModel: hardware.cpu.model, threads: threads ?? hardware.cpu.cores, gpuName: device.kind === 'gpu' ? device.name : null }),
    device: device.kind,
    format,
  };
}

/**
 * The lookup `recommend` and `bench` estimate with: calibrated efficiencies for a device and format when
 * the file holds samples for them, undefined (the stated defaults) otherwise. With `graph`, samples of that
 * graph form come first: this format's, then the other formats' on the same device; only then samples of the
 * other form (a fused graph runs 1.1–2× the standard one, so mixing them skews both).
 */
export function efficiencyLookup(file: CalibrationFile, hardware: Pick<Hardware, 'cpu'>, threads?: number): (device: DeviceTarget, format: WeightFormat, graph?: GraphKind) => Efficiency | undefined {
  return (device, format, graph) => {
    const against = { bandwidthBytesPerSec: device.bandwidthBytesPerSec, peakFlops: device.peakFlops };
    const key = calibrationKeyFor(hardware, device, format, threads);
    const sameDevice = file.entries.filter((e) => e.hardware === key.hardware && e.device === key.device && e.samples.length > 0);
    const own = sameDevice.filter((e) => e.format === format);
    // A format never measured here borrows what the other formats measured on the same device: mixing
    // calibrated figures with the optimistic defaults would make the unmeasured format look fastest.
    const others = sameDevice.filter((e) => e.format !== format);
    const tiers: { entries: CalibrationEntry[]; sameGraph: boolean }[] = graph
      ? [
          { entries: own, sameGraph: true },
          { entries: others, sameGraph: true },
          { entries: own, sameGraph: false },
          { entries: others, sameGraph: false },
        ]
      : [
          { entries: own, sameGraph: false },
          { entries: others, sameGraph: false },
        ];
    for (const tier of tiers) {
      const samples = tier.entries.flatMap((e) => e.samples).filter((s) => !tier.sameGraph || (s.graph ?? 'standard') === graph);
      if (samples.length === 0) continue;
      const form = graph === undefined ? '' : tier.sameGraph ? `, ${graph} graph` : `, no ${graph}-graph measurement yet`;
      const found = efficiencyFromSamples(samples, defaultEfficiency(device), against, (used) =>
        tier.entries === own
          ? `calibrated from ${used} measurement(s) on ${key.hardware} (${key.device}, ${format}${form})`
          : `calibrated from ${used} measurement(s) of ${tier.entries.map((e) => e.format).join(', ')} on ${key.hardware} (no ${format} measurement yet${form})`,
      );
      if (found) return found;
    }
    return undefined;
  };
}

/**
 * One calibration sample from one measurement: the efficiencies that make the estimator reproduce the
 * measured decode rate (per stream, at the depth the test decoded at) and prefill rate, for the model that
 * actually ran (a partial-depth model counts its own layers). Null when the run has no rates.
 */
export function sampleFromMeasurement(input: {
  spec: ModelSpec;
  layers: number;
  format: WeightFormat;
  device: DeviceTarget;
  promptTokens: number;
  batch: number;
  decodeTokPerSecPerStream: number | null;
  prefillTokPerSec: number | null;
  model: string;
  test: string;
  measuredAt: string;
  graph?: GraphKind;
  cpuBusyBefore?: number | null;
}): CalibrationSample | null {
  const spec: ModelSpec = { ...input.spec, numLayers: input.layers };
  const basis = estimateSpeed({ spec, format: input.format, context: input.promptTokens, promptTokens: input.promptTokens, concurrency: input.batch, device: input.device }).basis;
  const eff = efficiencyFromMeasurement(basis, { decodeTokPerSecPerStream: input.decodeTokPerSecPerStream, prefillTokPerSec: input.prefillTokPerSec });
  if (eff.decode === null && eff.prefill === null) return null;
  // The estimate a user gets before any calibration, for the graph form measured.
  const plain = estimateSpeed({ spec, format: input.format, context: input.promptTokens, promptTokens: input.promptTokens, concurrency: input.batch, device: input.device, graph: input.graph ?? 'standard' });
  const pct = (estimate: number | null | undefined, measured: number | null): number | null => (estimate == null || measured === null || measured <= 0 ? null : ((estimate - measured) / measured) * 100);
  const measuredTtftMs = input.prefillTokPerSec !== null && input.prefillTokPerSec > 0 ? (input.promptTokens / input.prefillTokPerSec) * 1000 : null;
  return {
    decode: eff.decode,
    prefill: eff.prefill,
    bandwidth_bytes_per_sec: input.device.bandwidthBytesPerSec,
    peak_flops: input.device.peakFlops,
    ...(input.graph ? { graph: input.graph } : {}),
    ...(input.cpuBusyBefore !== undefined ? { cpu_busy_before: input.cpuBusyBefore } : {}),
    uncalibrated_error_pct: { decode: pct(plain.decodeTokPerSec?.value, input.decodeTokPerSecPerStream), ttft: pct(plain.ttftMs?.value, measuredTtftMs) },
    model: input.model,
    test: input.test,
    measured_at: input.measuredAt,
  };
}

/** Removes every entry, or only those of one hardware description; returns the file and how many samples went. */
export function resetCalibration(file: CalibrationFile, hardware?: string): { file: CalibrationFile; removedSamples: number } {
  const keep = hardware === undefined ? [] : file.entries.filter((e) => e.hardware !== hardware);
  const removed = file.entries.filter((e) => !keep.includes(e)).reduce((n, e) => n + e.samples.length, 0);
  return { file: { schema_version: CALIBRATION_SCHEMA_VERSION, entries: keep }, removedSamples: removed };
}

export interface CalibrationSummary {
  file: string;
  entries: {
    hardware: string;
    device: 'cpu' | 'gpu';
    format: WeightFormat;
    samples: number;
    /** Medians of the samples, as fractions of the bandwidth / peak FLOP/s they were measured against. */
    decode: number | null;
    prefill: number | null;
    lastMeasuredAt: string | null;
    models: string[];
    /** Each sample, newest last: what it was measured on and how far the uncalibrated estimate was off. */
    sampleDetails: { model: string; test: string; graph: GraphKind; measuredAt: string; uncalibratedErrorPct: { decode: number | null; ttft: number | null } | null }[];
  }[];
  samples: number;
}

const calibrationSummarySchema = z.strictObject({
  file: z.string(),
  entries: z.array(
    z.strictObject({
      hardware: z.string(),
      device: z.enum(['cpu', 'gpu']),
      format: z.enum(WEIGHT_FORMATS),
      samples: z.number().int().min(0),
      decode: nullableNumber,
      prefill: nullableNumber,
      lastMeasuredAt: z.string().nullable(),
      models: z.array(z.string()),
      sampleDetails: z.array(
        z.strictObject({
          model: z.string(),
          test: z.string(),
          graph: z.enum(['standard', 'fused']),
          measuredAt: z.string(),
          uncalibratedErrorPct: z.strictObject({ decode: nullableNumber, ttft: nullableNumber }).nullable(),
        }),
      ),
    }),
  ),
  samples: z.number().int().min(0),
});

export const CALIBRATION_SUMMARY_KIND = 'modelscout.calibration-summary';
export const CALIBRATION_SUMMARY_VERSION = '1';

/** `calibration show --json`: the summary with snake_case keys, `schema_version` and `kind`. */
export function calibrationSummaryReport(summary: CalibrationSummary): Record<string, unknown> {
  return toJsonReport(calibrationSummarySchema, summary, CALIBRATION_SUMMARY_KIND, CALIBRATION_SUMMARY_VERSION);
}

export function buildCalibrationSummaryJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(calibrationSummarySchema, CALIBRATION_SUMMARY_KIND, CALIBRATION_SUMMARY_VERSION);
}

const calibrationResetSchema = z.strictObject({ file: z.string(), removedSamples: z.number().int().min(0), remainingEntries: z.number().int().min(0) });
export const CALIBRATION_RESET_KIND = 'modelscout.calibration-reset';

/** `calibration reset --json`: the file, the samples removed and the entries left. */
export function calibrationResetReport(result: z.infer<typeof calibrationResetSchema>): Record<string, unknown> {
  return toJsonReport(calibrationResetSchema, result, CALIBRATION_RESET_KIND, '1');
}

export function buildCalibrationResetJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(calibrationResetSchema, CALIBRATION_RESET_KIND, '1');
}

/** What `modelscout calibration show` prints: one row per key with the medians estimates use. */
export function summarizeCalibration(file: CalibrationFile, path: string): CalibrationSummary {
  const entries = file.entries.map((e) => ({
    hardware: e.hardware,
    device: e.device,
    format: e.format,
    samples: e.samples.length,
    decode: median(e.samples.flatMap((s) => (s.decode === null ? [] : [s.decode]))),
    prefill: median(e.samples.flatMap((s) => (s.prefill === null ? [] : [s.prefill]))),
    lastMeasuredAt: e.samples.map((s) => s.measured_at).sort().at(-1) ?? null,
    models: [...new Set(e.samples.map((s) => s.model))],
    sampleDetails: e.samples.map((s) => ({ model: s.model, test: s.test, graph: s.graph ?? 'standard', measuredAt: s.measured_at, uncalibratedErrorPct: s.uncalibrated_error_pct ?? null })),
  }));
  return { file: path, entries, samples: entries.reduce((n, e) => n + e.samples, 0) };
}

/**
 * The hook `runBench` takes (`efficiencyFor`), so the estimate a benchmark puts beside each measurement uses
 * this machine's calibration: `runBench({ ..., efficiencyFor: calibrationHook(await readCalibration(path)) })`.
 */
export function calibrationHook(file: CalibrationFile): (device: DeviceTarget, format: WeightFormat, hardware: Pick<Hardware, 'cpu'>, graph?: GraphKind) => Efficiency | undefined {
  return (device, format, hardware, graph) => efficiencyLookup(file, hardware)(device, format, graph);
}

// The schemas must describe the interfaces: mutual assignability fails `npm run typecheck` when they drift.
export type CalibrationSchemaChecks = [
  Expect<Assignable<z.infer<typeof calibrationFileSchema>, CalibrationFile>>,
  Expect<Assignable<CalibrationFile, z.infer<typeof calibrationFileSchema>>>,
  Expect<Assignable<z.infer<typeof calibrationSummarySchema>, CalibrationSummary>>,
  Expect<Assignable<CalibrationSummary, z.infer<typeof calibrationSummarySchema>>>,
];
