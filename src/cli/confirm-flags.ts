/**
 * The confirm step's flags (`recommend --confirm` and the wizard) and what they become for the pipeline.
 * Help texts are built from the pipeline's own mode settings, so they cannot drift from what runs.
 */
import { homedir } from 'node:os';
import { Flags } from '@oclif/core';
import { EXIT_CODES, ModelscoutError } from '../errors.js';
import { parseStatedTopology, type StatedTopology } from '../estimate/index.js';
import { parseGpuOverride } from '../hardware/detect.js';
import { parseEndpointBindings, type EndpointBinding } from '../pipeline/confirm-endpoint.js';
import { CALIBRATION_ENV } from '../pipeline/calibration.js';
import { MODE_SETTINGS } from '../pipeline/plan.js';
import type { ConfirmFlags, PipelineEnvironment } from '../pipeline/run.js';
import type { ConfirmMode, ConfirmReport } from '../recommend/confirm-report.js';
import { parsePositiveNumber } from './recommend-flags.js';

/** `2 timed runs, 16 tokens, 90 s budget`: a mode's settings as the help states them. */
function modeSummary(mode: ConfirmMode): string {
  const m = MODE_SETTINGS[mode];
  const budget = m.budgetSec >= 600 && m.budgetSec % 60 === 0 ? `${m.budgetSec / 60} min` : `${m.budgetSec} s`;
  return `${m.repetitions} timed runs, ${m.genTokens} tokens, ${budget} budget`;
}

/** Flags of the confirm step, shared with the wizard. */
export const confirmFlags = {
  candidates: Flags.integer({ description: 'with --confirm: how many of the ranked candidates to measure', default: 3, min: 1, max: 10, helpGroup: 'CONFIRM' }),
  quick: Flags.boolean({ description: `with --confirm: fewer runs and tokens (${modeSummary('quick')})`, exclusive: ['thorough'], helpGroup: 'CONFIRM' }),
  thorough: Flags.boolean({ description: `with --confirm: more runs and tokens (${modeSummary('thorough')}, deeper partial models, fidelity check)`, exclusive: ['quick'], helpGroup: 'CONFIRM' }),
  budget: Flags.integer({ description: `with --confirm: seconds the measurements are planned to fit in (default ${MODE_SETTINGS.standard.budgetSec}; --quick ${MODE_SETTINGS.quick.budgetSec}, --thorough ${MODE_SETTINGS.thorough.budgetSec})`, min: 1, helpValue: 'SECONDS', helpGroup: 'CONFIRM' }),
  'price-per-hour': Flags.string({ description: 'with --confirm: what this machine (with --base-url: the whole deployment) costs per hour (USD), for the cost per million generated tokens', helpValue: 'USD', helpGroup: 'CONFIRM' }),
  graph: Flags.option({
    options: ['auto', 'standard', 'fused'] as const,
    default: 'auto' as const,
    description: "with --confirm: graph form of synthesized models — fused = ONNX Runtime's fused kernels (as onnxruntime-genai builds it), standard = the optimum-style export; auto = fused where the architecture allows it",
    helpGroup: 'CONFIRM',
  })(),
  'work-dir': Flags.string({ description: 'with --confirm: where models are built and kept for the next run (default $XDG_CACHE_HOME/modelscout/confirm)', helpValue: 'DIR', helpGroup: 'CONFIRM' }),
  calibration: Flags.string({ description: `calibration file the estimates use and --confirm updates (default $${CALIBRATION_ENV}, else $XDG_CACHE_HOME/modelscout/calibration.json)`, helpValue: 'FILE', helpGroup: 'CONFIRM' }),
};

/** `recommend --confirm` on deployments: the servers of candidates and the layout they run. */
export const endpointFlags = {
  // `--base-url`, as serve-bench (and vLLM's benchmark) names the server's URL; `--endpoint` was this flag's first name.
  'base-url': Flags.string({
    aliases: ['endpoint'],
    multiple: true,
    helpValue: '[ID=]URL',
    description:
      'with --confirm: measure a candidate on the OpenAI-compatible server that serves it (repeatable): ID=URL binds that candidate, a bare URL the best ranked one not bound yet; prompt = the context, concurrency = the target and a sweep around it, through serve-bench. Candidates without a server are measured here. Key: OPENAI_API_KEY',
    helpGroup: 'CONFIRM',
  }),
  topology: Flags.string({
    helpValue: 'tp=N[,pp=N][,dp=N][,gpu=KEY]',
    description: 'with --base-url: the layout the deployment runs (default: what the server reports, where it does) (e.g. tp=8 or tp=8,pp=2,gpu=H100-80GB; gpu defaults to --gpu); its per-GPU memory, fit and speed estimate are shown beside the measured figures',
    helpGroup: 'CONFIRM',
  }),
};

/** The servers and stated layout of `--base-url` / `--topology`, checked before anything runs. */
export function endpointFlagsFrom(flags: { 'base-url'?: string[] | undefined; topology?: string | undefined; confirm?: boolean | undefined; gpu?: string | undefined }): { endpoints: EndpointBinding[]; statedTopology: StatedTopology | null } {
  const given = flags['base-url'] ?? [];
  if (given.length > 0 && !flags.confirm) throw new ModelscoutError('E_USAGE', '--base-url measures a candidate on its deployment, so it needs --confirm', { suggestions: ['Add --confirm, or leave --base-url out for the estimate alone.'] });
  if (flags.topology !== undefined && given.length === 0) throw new ModelscoutError('E_USAGE', '--topology states the layout of a deployment given with --base-url', { suggestions: ['Add --base-url URL, or use --gpus/--nodes to plan a layout without one.'] });
  const endpoints = parseEndpointBindings(given);
  if (flags.topology === undefined) return { endpoints, statedTopology: null };
  let text = flags.topology;
  const gpuKey = flags.gpu === undefined ? undefined : parseGpuOverride(flags.gpu).key;
  if (!/(^|,)\s*gpu\s*=/i.test(text) && gpuKey) text = `${text},gpu=${gpuKey}`;
  return { endpoints, statedTopology: parseStatedTopology(text) };
}

export interface ConfirmFlagValues {
  candidates: number;
  quick: boolean;
  thorough: boolean;
  budget?: number | undefined;
  'price-per-hour'?: string | undefined;
  graph?: 'auto' | 'standard' | 'fused' | undefined;
  'work-dir'?: string | undefined;
  out?: string | undefined;
}

export function confirmFlagsFrom(flags: ConfirmFlagValues): ConfirmFlags {
  return {
    candidates: flags.candidates,
    mode: flags.quick ? 'quick' : flags.thorough ? 'thorough' : 'standard',
    budgetSec: flags.budget,
    pricePerHourUsd: flags['price-per-hour'] === undefined ? undefined : parsePositiveNumber(flags['price-per-hour'], '--price-per-hour'),
    graph: flags.graph,
    workDir: flags['work-dir'],
    out: flags.out,
  };
}

export function pipelineEnvironment(version: string, argv: string[]): PipelineEnvironment {
  return { env: process.env, homeDir: homedir(), cwd: process.cwd(), tool: { name: 'modelscout', version }, argv };
}

/** Exit code of a confirm run: 0 confirmed, 1 measured and none met the targets, 3 nothing could be measured. */
export function confirmExitCode(report: ConfirmReport): number {
  return report.final.status === 'confirmed' ? EXIT_CODES.ok : report.final.status === 'none-confirmed' ? EXIT_CODES.failed : EXIT_CODES.inconclusive;
}
