import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runBench } from '../bench/index.js';
import { createProxiedFetch } from '../hub/proxy.js';
import { resolveHubSettings, resolveTokenPath } from '../hub/settings.js';
import type { Env } from '../hub/types.js';
import { rankingInputsOf, type RecommendContext } from '../recommend/context.js';
import { recommend } from '../recommend/recommend.js';
import { mergeInputs, resolveRequirements, type RequirementInputs, type Requirements } from '../recommend/requirements.js';
import type { Recommendation } from '../recommend/types.js';
import { toRecommendationReport } from '../recommend/report-json.js';
import { errorMessage } from '../errors.js';
import { withOutputLock, writeJsonAtomic } from '../util/atomic-write.js';
import { lockWaitMessage, type LockWait } from '../util/file-lock.js';
import { assertWritableDir, assertWritableFile } from '../util/output-path.js';
import { efficiencyLookup, modelscoutCacheDir, readCalibration, resolveCalibrationPath, type CalibrationFile } from './calibration.js';
import { confirmRecommendation, type ConfirmDeps } from './confirm.js';
import type { HubAccess } from './obtain.js';
import { CONFIRM_DEFAULT_CONTEXT } from './plan.js';
import type { ConfirmMode, ConfirmReport } from '../recommend/confirm-report.js';
import type { StatedTopology } from '../estimate/index.js';
import type { EndpointBinding } from './confirm-endpoint.js';

/**
 * The composition `recommend --confirm` and the wizard share: load the calibration, recommend with it,
 * then (when asked) confirm the top candidates and attach the report to `Recommendation.confirm`. The
 * environment (variables, home directory) comes in from the command; nothing here reads `process.env`.
 */

/** Where the JSON report goes when `--confirm` runs without `--out`: the working directory. */
export const DEFAULT_REPORT_FILE = 'modelscout-report.json';

export interface PipelineEnvironment {
  env: Env;
  homeDir: string;
  cwd: string;
  tool: { name: string; version: string };
  argv: string[];
}

export interface ConfirmFlags {
  candidates: number;
  mode: ConfirmMode;
  budgetSec?: number | undefined;
  pricePerHourUsd?: number | undefined;
  /** Graph form of synthesized models (default auto: fused where the architecture allows it). */
  graph?: 'auto' | 'standard' | 'fused' | undefined;
  workDir?: string | undefined;
  out?: string | undefined;
  /** `--base-url [id=]URL`: candidates measured on their deployments. */
  endpoints?: EndpointBinding[] | undefined;
  /** `--topology`: the layout those deployments run. */
  statedTopology?: StatedTopology | null | undefined;
}

export interface CalibratedRecommendation {
  recommendation: Recommendation;
  requirements: Requirements;
  calibrationPath: string;
  /** The calibration file as read for the recommendation: confirm starts from it (read once). */
  calibration: CalibrationFile;
}

/** The recommendation with calibrated estimates where the calibration file has them. */
export async function recommendCalibrated(
  context: RecommendContext,
  layers: RequirementInputs[],
  top: number,
  options: { calibrationFlag?: string | undefined; confirm: boolean; environment: PipelineEnvironment },
): Promise<CalibratedRecommendation> {
  const { env, homeDir } = options.environment;
  const calibrationPath = resolveCalibrationPath(env, homeDir, options.calibrationFlag);
  const calibration = await readCalibration(calibrationPath);
  const inputs = mergeInputs(...layers);
  const requirements = resolveRequirements(context.tree, inputs, options.confirm ? { contextTokens: CONFIRM_DEFAULT_CONTEXT } : {});
  const recommendation = recommend({
    tree: context.tree,
    requirements,
    hardware: context.hardware,
    catalog: context.catalog,
    ...rankingInputsOf(context),
    top,
    efficiencyFor: efficiencyLookup(calibration, context.hardware),
    ...(context.topology ? { topology: context.topology } : {}),
  });
  if (options.confirm && inputs.contextTokens === undefined) {
    recommendation.notes.push(
      `--confirm runs every prompt for real, so without --context it uses ${CONFIRM_DEFAULT_CONTEXT} tokens instead of the tree's ${context.tree.targets.contextTokens}; pass --context to confirm at another length.`,
    );
  }
  return { recommendation, requirements, calibrationPath, calibration };
}

/** Hub access from the same variables huggingface_hub reads (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, …). */
export function hubAccessFrom(environment: PipelineEnvironment): HubAccess {
  const { env, homeDir } = environment;
  let storedToken: string | undefined;
  try {
    storedToken = readFileSync(resolveTokenPath(env, homeDir), 'utf8');
  } catch {
    storedToken = undefined;
  }
  const settings = resolveHubSettings(env, { homeDir, storedToken });
  return {
    settings,
    // The reachability probe calls this fetch directly: through the proxy when the variables say so.
    fetch: settings.proxy ? createProxiedFetch(settings.proxy, globalThis.fetch).fetch : globalThis.fetch,
    userAgent: `${environment.tool.name}/${environment.tool.version}; node/${process.versions.node}`,
  };
}

/** Default work dir for built models: `$XDG_CACHE_HOME/modelscout/confirm` (`~/.cache/modelscout/confirm`). */
export function defaultWorkDir(env: Env, homeDir: string): string {
  return join(modelscoutCacheDir(env, homeDir), 'confirm');
}

/**
 * Confirms the recommendation's top candidates, attaches the report, writes the whole Recommendation as
 * JSON (atomically) to `--out` or `./modelscout-report.json`, and returns the report.
 */
export async function confirmAndReport(
  calibrated: CalibratedRecommendation,
  context: RecommendContext,
  flags: ConfirmFlags,
  environment: PipelineEnvironment,
  hooks: {
    onProgress?: (line: string) => void;
    /** Each step as it starts and ends, with its predicted seconds (see `ConfirmStepEvent`). */
    onStep?: ConfirmDeps['onStep'];
    /** What the user must hear even when progress is silent (--json): a wait on another run, a report not written. Default: onProgress. */
    onWarning?: (line: string) => void;
    signal?: AbortSignal;
    deps?: Partial<ConfirmDeps>;
  } = {},
): Promise<ConfirmReport> {
  const { recommendation, requirements, calibrationPath, calibration } = calibrated;
  const workDir = flags.workDir !== undefined ? resolve(environment.cwd, flags.workDir) : defaultWorkDir(environment.env, environment.homeDir);
  const deps: ConfirmDeps = {
    now: () => performance.now(),
    timestamp: () => new Date().toISOString(),
    hub: hubAccessFrom(environment),
    runBench,
    ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
    ...(hooks.onStep ? { onStep: hooks.onStep } : {}),
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    ...hooks.deps,
  };
  const warn = hooks.onWarning ?? hooks.onProgress;
  const reportPath = resolve(environment.cwd, flags.out ?? DEFAULT_REPORT_FILE);
  // Output locations are checked before the (long) confirmation, and one confirm at a time uses a work dir.
  await assertWritableFile(reportPath, '--out');
  await assertWritableDir(workDir, 'the work dir');
  const lockOptions = {
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    onWait: (wait: LockWait) => warn?.(lockWaitMessage(wait, `is confirming in the work dir ${workDir}`)),
  };
  const report = await withOutputLock(workDir, () => confirmRecommendation(
    {
      recommendation,
      requirements,
      catalog: context.catalog,
      configs: new Map((context.models ?? []).flatMap((m) => (m.config ? [[m.spec.id, m.config] as const] : []))),
      hardware: context.hardware,
      mode: flags.mode,
      candidates: flags.candidates,
      ...(flags.budgetSec !== undefined ? { budgetSec: flags.budgetSec } : {}),
      pricePerHourUsd: flags.pricePerHourUsd ?? null,
      ...(flags.graph !== undefined ? { graph: flags.graph } : {}),
      workDir,
      calibrationPath,
      calibration,
      tool: environment.tool,
      argv: environment.argv,
      ...(flags.endpoints && flags.endpoints.length > 0 ? { endpoints: flags.endpoints, statedTopology: flags.statedTopology ?? null, apiKey: environment.env.OPENAI_API_KEY ?? null } : {}),
    },
    deps,
  ), lockOptions);
  report.reportPath = reportPath;
  recommendation.confirm = report;
  try {
    await writeJsonAtomic(reportPath, toRecommendationReport(recommendation));
  } catch (error) {
    // A late failure keeps the results: the caller still renders them; the report says it has no file.
    report.reportPath = null;
    recommendation.confirm = report;
    warn?.(`Error: the report could not be written to ${reportPath} (${errorMessage(error).split('\n')[0] ?? ''}); the results below are complete.`);
  }
  return report;
}
