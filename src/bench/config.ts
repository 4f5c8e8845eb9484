/**
 * The benchmark plan: a CI config file (`modelscout.bench.json`) merged with command-line flags (flags
 * win), validated into one resolved object. Unknown keys and bad values are usage errors naming the key.
 * Pure apart from reading the config file; it never probes hardware.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ModelscoutError, errorMessage, jsonSyntaxReason, invalidValue } from '../errors.js';
import { parseByteSize } from '../estimate/units.js';
import { DEFAULT_UBATCH_SIZE } from '../estimate/fit.js';
import { DEVICES, GRAPH_OPT_LEVELS, type Device, type GraphOptLevel } from '../runtime/session.js';
import { VARIANT_FILES, VARIANT_NAMES, type VariantName } from '../estimate/weights.js';
import { selectTests, type TestSpec } from './scenarios.js';

const positiveInts = z.array(z.number().int().min(1)).min(1);

export const benchConfigFileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    models: z.array(z.string().min(1)).min(1).optional(),
    variants: z.union([z.literal('all'), z.array(z.enum(VARIANT_NAMES)).min(1)]).optional(),
    devices: z.array(z.enum(DEVICES)).min(1).optional(),
    threads: z.array(z.number().int().min(0)).min(1).optional(),
    graph_optimization_level: z.enum(GRAPH_OPT_LEVELS).optional(),
    ubatch_size: z.number().int().min(0).optional(),
    tests: z.array(z.string()).min(1).optional(),
    prompt_lengths: positiveInts.optional(),
    gen_tokens: positiveInts.optional(),
    depths: z.array(z.number().int().min(0)).min(1).optional(),
    batch_sizes: positiveInts.optional(),
    repetitions: z.number().int().min(1).optional(),
    warmup: z.number().int().min(0).optional(),
    seed: z.number().int().optional(),
    thresholds: z
      .strictObject({
        min_decode_tps: z.number().positive().optional(),
        max_ttft_ms: z.number().positive().optional(),
        max_peak_rss: z.union([z.number().positive(), z.string()]).optional(),
        max_regression_pct: z.number().positive().optional(),
        inconclusive_pass: z.boolean().optional(),
        allow_missing: z.boolean().optional(),
      })
      .optional(),
    baseline: z.string().optional(),
  })
  .meta({ title: 'modelscout bench config', description: 'modelscout.bench.json: what `modelscout bench --config` runs and gates on.' });

export type BenchConfigFile = z.infer<typeof benchConfigFileSchema>;

/** Values from flags; undefined = not given. */
export interface BenchFlagValues {
  models?: string[] | undefined;
  variants?: VariantName[] | 'all' | undefined;
  devices?: Device[] | undefined;
  threads?: number[] | undefined;
  graphOptLevel?: GraphOptLevel | undefined;
  ubatchSize?: number | undefined;
  tests?: string[] | undefined;
  promptLengths?: number[] | undefined;
  genTokens?: number[] | undefined;
  depths?: number[] | undefined;
  batchSizes?: number[] | undefined;
  repetitions?: number | undefined;
  warmup?: number | undefined;
  seed?: number | undefined;
  minDecodeTps?: number | undefined;
  maxTtftMs?: number | undefined;
  maxPeakRss?: string | undefined;
  maxRegressionPct?: number | undefined;
  inconclusivePass?: boolean | undefined;
  allowMissing?: boolean | undefined;
  baseline?: string | undefined;
}

export interface BenchPlan {
  models: string[];
  /** undefined = each model's default variant. */
  variants: VariantName[] | 'all' | undefined;
  devices: Device[];
  threads: number[];
  graphOptLevel: GraphOptLevel;
  /** Most prompt positions per forward pass (see `DecoderLoopOptions.ubatchSize`); unset: the loop's default. */
  ubatchSize?: number;
  tests: TestSpec[];
  repetitions: number;
  warmup: number;
  seed: number;
  thresholds: {
    min_decode_tps: number | null;
    max_ttft_ms: number | null;
    max_peak_rss_bytes: number | null;
    max_regression_pct: number;
    inconclusive_pass: boolean;
    /** Optional so plans built elsewhere (confirm's) need not name it; false when absent. */
    allow_missing?: boolean;
  };
  baseline: string | null;
}

export const DEFAULTS = { repetitions: 5, warmup: 1, seed: 42, maxRegressionPct: 10 } as const;

/** Reads and validates a config file; paths in it are relative to the file. */
export async function readBenchConfig(path: string): Promise<BenchConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ModelscoutError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_FILE', `config file ${path} cannot be read: ${code === 'ENOENT' ? 'no such file' : errorMessage(error)}`, {
      suggestions: ['Pass the path of a modelscout.bench.json (see docs/bench.md).'],
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelscoutError('E_CONFIG', `config file ${path} is not valid JSON: ${jsonSyntaxReason(error)}`, { suggestions: ['Fix the JSON syntax.'] });
  }
  const parsed = benchConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(top level)';
    throw new ModelscoutError('E_CONFIG', `config file ${path}: ${where}: ${issue?.message ?? 'invalid'}`, {
      suggestions: ['Allowed keys: models, variants, devices, threads, graph_optimization_level, ubatch_size, tests, prompt_lengths, gen_tokens, depths, batch_sizes, repetitions, warmup, seed, thresholds, baseline.'],
    });
  }
  const base = dirname(resolve(path));
  const rel = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const config = parsed.data;
  return {
    ...config,
    ...(config.models ? { models: config.models.map(rel) } : {}),
    ...(config.baseline ? { baseline: rel(config.baseline) } : {}),
  };
}

function peakRss(value: number | string | undefined, what: string): number | null {
  if (value === undefined) return null;
  if (typeof value === 'number') return value;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  return parseByteSize(value, what);
}

/** Merges a config file (may be empty) and flags into the plan. */
export function resolveBenchPlan(file: BenchConfigFile, flags: BenchFlagValues): BenchPlan {
  const models = flags.models && flags.models.length > 0 ? flags.models : (file.models ?? []);
  if (models.length === 0) {
    throw new ModelscoutError('E_USAGE', 'no model given', { suggestions: ['Pass a model folder or .onnx file, or --config modelscout.bench.json with "models".'] });
  }
  const fileTests = file.tests;
  const tests = selectTests({
    tests: flags.tests ?? fileTests,
    promptLengths: flags.promptLengths ?? file.prompt_lengths,
    genTokens: flags.genTokens ?? file.gen_tokens,
    depths: flags.depths ?? file.depths,
    batchSizes: flags.batchSizes ?? file.batch_sizes,
  });
  const t = file.thresholds ?? {};
  const maxRegression = flags.maxRegressionPct ?? t.max_regression_pct ?? DEFAULTS.maxRegressionPct;
  if (!(maxRegression > 0)) throw invalidValue('--max-regression-pct', maxRegression, 'a percentage greater than 0');
  return {
    models,
    variants: flags.variants ?? file.variants,
    devices: flags.devices ?? file.devices ?? ['cpu'],
    threads: flags.threads ?? file.threads ?? [0],
    graphOptLevel: flags.graphOptLevel ?? file.graph_optimization_level ?? 'all',
    ubatchSize: flags.ubatchSize ?? file.ubatch_size ?? DEFAULT_UBATCH_SIZE,
    tests,
    repetitions: flags.repetitions ?? file.repetitions ?? DEFAULTS.repetitions,
    warmup: flags.warmup ?? file.warmup ?? DEFAULTS.warmup,
    seed: flags.seed ?? file.seed ?? DEFAULTS.seed,
    thresholds: {
      min_decode_tps: flags.minDecodeTps ?? t.min_decode_tps ?? null,
      max_ttft_ms: flags.maxTtftMs ?? t.max_ttft_ms ?? null,
      max_peak_rss_bytes: flags.maxPeakRss !== undefined ? peakRss(flags.maxPeakRss, '--max-peak-rss') : peakRss(t.max_peak_rss, 'thresholds.max_peak_rss'),
      max_regression_pct: maxRegression,
      inconclusive_pass: flags.inconclusivePass ?? t.inconclusive_pass ?? false,
      allow_missing: flags.allowMissing ?? t.allow_missing ?? false,
    },
    baseline: flags.baseline ?? file.baseline ?? null,
  };
}

/** Parses `--variant fp32,q4` / `all`. */
export function parseVariantList(text: string): VariantName[] | 'all' {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 1 && parts[0] === 'all') return 'all';
  if (parts.length === 0) throw invalidValue('variant', text, [...VARIANT_NAMES, 'all']);
  return parts.map((p) => {
    if (!(VARIANT_NAMES as readonly string[]).includes(p)) {
      throw invalidValue('variant', p, [...VARIANT_NAMES, 'all'], [`The transformers.js file names: ${VARIANT_NAMES.map((v) => `${v} = ${VARIANT_FILES[v]}`).join(', ')}.`]);
    }
    return p as VariantName;
  });
}
