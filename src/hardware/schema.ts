/**
 * `modelscout hardware --json` as a zod schema: the detected (or what-if) hardware and the device the
 * estimates run on. The interfaces in `./detect.ts` and `../estimate/device.ts` stay the source the code is
 * written against; the checks at the end fail `npm run typecheck` when this schema drifts from them. The
 * report is written with snake_case keys (`toJsonReport`), `schemas/hardware.schema.json` is generated from it.
 */
import { z } from 'zod';
import type { DeviceTarget } from '../estimate/device.js';
import { INTERCONNECT_KINDS } from '../estimate/device.js';
import { jsonReportSchema, toJsonReport } from '../util/json-keys.js';
import type { Hardware } from './detect.js';
import type { Assignable, Expect } from '../util/type-checks.js';

export const HARDWARE_REPORT_KIND = 'modelscout.hardware';
export const HARDWARE_REPORT_VERSION = '1';

const bytes = z.number().min(0);
const count = z.number().int().min(0);

const cpuFeaturesSchema = z.strictObject({
  avx2: z.boolean(),
  avx512: z.boolean(),
  vnni: z.boolean(),
  amx: z.boolean(),
  neon: z.boolean(),
  dotprod: z.boolean().exactOptional(),
});

const acceleratorInfoSchema = z.strictObject({
  key: z.string(),
  aliases: z.array(z.string()),
  name: z.string(),
  vendor: z.enum(['nvidia', 'amd', 'intel', 'apple']),
  memoryBytes: bytes.nullable(),
  memoryBandwidthBytesPerSec: z.number(),
  fp16Flops: z.number().nullable(),
  source: z.string(),
});

const layerShapeSchema = z.strictObject({ hidden: count, intermediate: count, heads: count, kvHeads: count });

/** The decoder-layer probe's timings (seconds), with the shapes they were measured at. */
const layerProbeSchema = z.strictObject({
  shape: layerShapeSchema,
  tiny: layerShapeSchema,
  blockSize: count,
  tinyDecodeSecPerLayer: z.number(),
  int4DecodeSecPerLayer: z.number(),
  fp32DecodeSecPerLayer: z.number(),
  int4PromptSecPerTokenLayer: z.number(),
  fp32PromptSecPerTokenLayer: z.number(),
});

/** The rates the CPU model divides by (from the layer probe or from the peaks). */
const cpuRatesSchema = z.strictObject({
  int4OpsPerSec: z.number(),
  readBytesPerSec: z.number(),
  gemmFlopsPerSec: z.strictObject({ fp32: z.number(), int4: z.number() }),
  dispatchSecPerLayer: z.number(),
  source: z.enum(['layer probe', 'peaks']),
  basis: z.string(),
});

const gpuInfoSchema = z.strictObject({
  index: count,
  name: z.string(),
  vramTotalBytes: bytes,
  vramFreeBytes: bytes,
  driver: z.string().nullable(),
  known: acceleratorInfoSchema.nullable(),
  source: z.enum(['nvidia-smi', 'rocm-smi', 'sysfs', 'override']),
  bandwidthOverrideBytesPerSec: z.number().exactOptional(),
});

export const hardwareSchema = z
  .strictObject({
    os: z.strictObject({ platform: z.string(), release: z.string(), arch: z.string() }),
    cpu: z.strictObject({ model: z.string(), cores: count, threads: count, features: cpuFeaturesSchema, frequencyGHz: z.number().nullable() }),
    memory: z.strictObject({ totalBytes: bytes, availableBytes: bytes, source: z.enum(['detected', 'override']) }),
    gpus: z.array(gpuInfoSchema),
    bandwidth: z.strictObject({ bytesPerSec: z.number(), source: z.enum(['probe', 'known', 'default', 'override']), note: z.string() }),
    peakFlops: z.strictObject({
      flopsPerSec: z.number(),
      source: z.enum(['default', 'known', 'probe']),
      basis: z.string(),
      int8OpsPerSec: z.number().exactOptional(),
      int8Basis: z.string().exactOptional(),
    }),
    layerProbe: layerProbeSchema.extend({ note: z.string() }).exactOptional(),
    notes: z.array(z.string()),
    limits: z
      .strictObject({
        host: z.strictObject({ memoryTotalBytes: bytes, memoryAvailableBytes: bytes, cores: count, threads: count }),
        memoryLimitBytes: bytes.nullable(),
        cpuLimit: z.number().nullable(),
        cgroupVersion: z.enum(['1', '2', 'hybrid']).nullable(),
        sources: z.array(z.string()),
      })
      .exactOptional(),
  })
  .meta({ title: 'Hardware', description: 'What was detected (or overridden with --gpu/--vram/--ram/--bandwidth): OS, CPU and ISA features, RAM, GPUs, memory bandwidth, peak FLOP/s, container limits.' });

const linkSchema = z.strictObject({ kind: z.enum([...INTERCONNECT_KINDS, 'custom']), bytesPerSec: z.number(), latencySec: z.number(), source: z.string() });

const bandwidthSourceSchema = z.enum(['probe', 'known', 'default', 'override', 'unknown']);
const flopsSourceSchema = z.enum(['known', 'default', 'override', 'unknown', 'probe']);

/** The figures a device and one GPU of a cluster share. */
const deviceFigures = {
  memoryTotalBytes: bytes,
  memoryAvailableBytes: bytes,
  bandwidthBytesPerSec: z.number().nullable(),
  bandwidthSource: bandwidthSourceSchema,
  peakFlops: z.number().nullable(),
  peakFlopsSource: flopsSourceSchema,
  runtimeOverheadBytes: bytes,
};

export const deviceTargetSchema = z
  .strictObject({
    kind: z.enum(['cpu', 'gpu']),
    name: z.string(),
    count: z.number().int().min(1),
    ...deviceFigures,
    peakInt8Ops: z.number().nullable().exactOptional(),
    cpuRates: cpuRatesSchema.nullable().exactOptional(),
    cluster: z
      .strictObject({
        gpu: z.strictObject({ name: z.string(), ...deviceFigures }),
        gpusPerNode: z.number().int().min(1),
        nodes: z.number().int().min(1),
        interconnect: z.strictObject({ intraNode: linkSchema, interNode: linkSchema.nullable() }),
      })
      .exactOptional(),
  })
  .meta({ title: 'Device', description: 'The device the estimates run on (--device): memory, bandwidth and peak rates, each with where the figure came from.' });

export const hardwareResultSchema = z.strictObject({ hardware: hardwareSchema, device: deviceTargetSchema });

export interface HardwareResult {
  hardware: Hardware;
  /** The device estimates run on with `--device` (default auto: the GPUs when present). */
  device: DeviceTarget;
}

/** `hardware --json` as written: snake_case keys, `schema_version` and `kind`. */
export function hardwareReport(result: HardwareResult): Record<string, unknown> {
  return toJsonReport(hardwareResultSchema, result, HARDWARE_REPORT_KIND, HARDWARE_REPORT_VERSION);
}

export function buildHardwareJsonSchema(): Record<string, unknown> {
  return jsonReportSchema(hardwareResultSchema, HARDWARE_REPORT_KIND, HARDWARE_REPORT_VERSION);
}

// The schema must describe the interfaces: mutual assignability fails `npm run typecheck` when they drift.
type SchemaResult = z.infer<typeof hardwareResultSchema>;
export type HardwareSchemaChecks = [Expect<Assignable<SchemaResult, HardwareResult>>, Expect<Assignable<HardwareResult, SchemaResult>>];
