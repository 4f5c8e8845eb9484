import { homedir } from 'node:os';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { topologyFlags, topologyFromFlags } from '../cli/topology-flags.js';
import { autoProbeLine, hardwareOverridesFromFlags, PROBE_NOTE } from '../cli/hardware-flags.js';
import { resolveProbeMode } from '../hardware/detect.js';
import { recommendSourceFlags, requirementFlags, requirementInputsFromFlags } from '../cli/recommend-flags.js';
import { confirmExitCode, confirmFlags, confirmFlagsFrom, endpointFlags, endpointFlagsFrom, pipelineEnvironment } from '../cli/confirm-flags.js';
import { ggufWeightsOf, resolveModelRefs, userCatalogPath } from '../cli/model-source.js';
import type { ResolvedModel } from '../hub/resolve-model.js';
import { confirmAndReport, recommendCalibrated } from '../pipeline/run.js';
import type { ConfirmReport } from '../recommend/confirm-report.js';
import { bandwidthCachePath } from '../hardware/bandwidth-cache.js';
import { loadAnswersFile, loadRecommendContext, type RecommendContext } from '../recommend/context.js';
import { CANDIDATES_FROM, type GivenModel } from '../recommend/recommend.js';
import type { RequirementInputs } from '../recommend/requirements.js';
import { toRecommendationReport, type RecommendationReport } from '../recommend/report-json.js';
import { writeReportHtml } from '../pipeline/report-html.js';
import { withInterrupts } from '../cli/interrupt.js';
import { writeReportOrSay } from '../cli/write-report.js';
import { assertWritableFile } from '../util/output-path.js';
import { terminalWidth } from '../ui/layout.js';
import { renderConfirmReport, renderRecommendation } from '../ui/render-recommendation.js';
import { Progress } from '../ui/progress.js';
import { confirmStepsTo } from '../ui/confirm-progress.js';

export default class Recommend extends BaseCommand {
  static override summary = 'Walk the decision tree to a size class, rank real models against this hardware, and (--confirm) measure the top ones here.';
  static override description = [
    "Non-interactive: answers come from flags or an --answers file, and anything not given takes the tree's default (no customization, real-time latency, 2048 tokens, 1 stream). Prints the decision path, the size class and why, the targets in force, and the ranked candidates with the weight format each needs, weight / KV / total bytes, whether it fits the available memory, and estimated decode tok/s and time to first token. --json prints the Recommendation object. Estimates use the efficiencies calibrated on this machine by earlier --confirm runs when there are any (see `modelscout calibration show`).",
    '--confirm then measures the top --candidates on this machine: pulls each ONNX export when the Hub is reachable (HF_ENDPOINT, HF_HUB_OFFLINE are honoured), else synthesizes the exact architecture with random weights; quantizes it to int4; benchmarks the int4 variant (and the float one when it fits and time allows) with a test derived from the targets — prompt = the context (512 tokens unless --context is given), batch = the concurrency; gives each candidate a verdict (confirmed, rejected with the target missed and by how much, or estimate only with the reason) beside its estimate; updates the calibration; and writes the whole report as JSON to --out (default ./modelscout-report.json). A candidate too large to benchmark within --budget is measured at partial depth (two shallow models of its architecture, extrapolated to the full depth) or marked estimate only. Built models are kept in --work-dir and reused by the next run.',
    '--confirm --base-url [ID=]URL measures a candidate on the deployment that serves it instead (vLLM, SGLang, TGI or any OpenAI-compatible server, one or many GPUs and nodes): serve-bench with prompts of the target context at the target concurrency and half and twice it, the targets as SLOs, the server\'s /metrics (KV-cache usage, running and waiting requests) sampled at the target level; the verdict sits in the same table and report, beside the estimate for --topology (per-GPU memory and fit), with tokens/s per GPU and, with --price-per-hour, the cost per million output tokens of the deployment.',
    'Exit codes with --confirm: 0 a candidate is confirmed, 1 none met the targets, 3 nothing could be measured, 2 bad input.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> recommend',
    '<%= config.bin %> recommend --confirm',
    '<%= config.bin %> recommend --customization no --latency realtime --json',
    '<%= config.bin %> recommend --customization yes --confirm --price-per-hour 0.10',
    '<%= config.bin %> recommend --context 2048 --concurrency 2 --confirm --thorough --out report.json',
    '<%= config.bin %> recommend --customization yes --gpu "A100-80GB"',
    '<%= config.bin %> recommend --latency relaxed --gpu H100-80GB --gpus 8 --nodes 2 --interconnect nvlink,ib',
    '<%= config.bin %> recommend --latency relaxed --gpu H100-80GB --context 8192 --concurrency 32 --confirm --base-url http://10.0.0.5:8000/v1 --topology tp=8 --price-per-hour 98.32',
    '<%= config.bin %> recommend --answers answers.yaml --context 8192 --concurrency 4',
    '<%= config.bin %> recommend --model HuggingFaceTB/SmolLM3-3B --model ./qwen2.5-3b-instruct-q4_k_m.gguf',
    '<%= config.bin %> recommend --model Qwen/Qwen3-4B --candidates-from both',
  ];

  static override flags = {
    ...requirementFlags,
    ...recommendSourceFlags,
    ...topologyFlags,
    model: Flags.string({
      multiple: true,
      helpValue: 'REF',
      description: 'rank this model (repeatable): a catalog id, a Hub repo id (org/name[@revision]), a local folder, a config.json or a .gguf file (ranked as that file, in llama.cpp)',
    }),
    'candidates-from': Flags.option({
      options: CANDIDATES_FROM,
      description: 'which models are ranked: the size class of the catalog, the --model ones, or both [default: models with --model, else class]',
    })(),
    confirm: Flags.boolean({ description: 'measure the top candidates on this machine: pull or synthesize, quantize to int4, benchmark, verdict', helpGroup: 'CONFIRM' }),
    ...confirmFlags,
    ...endpointFlags,
    out: Flags.string({ description: 'write the JSON report (the Recommendation, with the confirm report) to this file, atomically (with --confirm: default ./modelscout-report.json)', helpValue: 'FILE' }),
    html: Flags.string({ description: 'also write the report as one self-contained HTML page: candidates on decode tok/s × memory with the targets; with --confirm, estimate vs measured per figure', helpValue: 'FILE' }),
  };

  async run(): Promise<RecommendationReport> {
    const { flags } = await this.parse(Recommend);
    // Validate every flag and file before the (slower) hardware detection.
    const flagInputs = requirementInputsFromFlags(flags);
    if (flags.out !== undefined && !flags.confirm) await assertWritableFile(flags.out, '--out');
    if (flags.html !== undefined) await assertWritableFile(flags.html, '--html');
    const overrides = hardwareOverridesFromFlags(flags);
    const confirm = { ...confirmFlagsFrom(flags), ...endpointFlagsFrom(flags) };
    const topology = topologyFromFlags(flags);
    const layers: RequirementInputs[] = flags.answers === undefined ? [flagInputs] : [await loadAnswersFile(flags.answers), flagInputs];
    // --confirm measures anyway: a probe of bandwidth and CPU kernels first (`PROBE_TAKES`; cached for later plain
    // estimates). Otherwise the first CPU estimate on this machine probes it once (--no-probe, $MODELSCOUT_NO_PROBE: never).
    const probe = resolveProbeMode(flags.probe, process.env, flags.confirm === true ? true : 'auto');
    if (probe === true && !this.jsonEnabled()) this.note(PROBE_NOTE);
    const loaded = await loadRecommendContext({
      treeFile: flags.tree,
      catalogFile: flags.catalog,
      userCatalogFile: userCatalogPath(),
      overrides,
      probe,
      onAutoProbe: (event) => {
        if (!this.jsonEnabled()) this.note(autoProbeLine(event));
      },
      bandwidthCachePath: bandwidthCachePath(process.env, homedir()),
      ...(topology ? { topology } : {}),
    });
    const context = withGivenModels(loaded, await resolveModelRefs(flags.model ?? [], loaded.catalog, this.config.version), flags['candidates-from']);
    const environment = pipelineEnvironment(this.config.version, ['recommend', ...this.argv]);
    const calibrated = await recommendCalibrated(context, layers, flags.top, { calibrationFlag: flags.calibration, confirm: flags.confirm, environment });
    const recommendation = calibrated.recommendation;
    const width = terminalWidth(process.stdout);
    if (flags.confirm) {
      if (!this.jsonEnabled()) {
        this.log(renderRecommendation(recommendation, width));
        this.log('');
      }
      // Ctrl-C / SIGTERM stop the running step (its child is killed, its temporary files removed); the
      // models built so far stay in the work dir for the next run.
      // Progress on stderr: the steps with their predictions (a bar with the ETA on a terminal); nothing with --json.
      const progress = new Progress({ json: this.jsonEnabled() });
      const report: ConfirmReport = await withInterrupts((signal) =>
        confirmAndReport(calibrated, context, confirm, environment, { onProgress: (line) => progress.note(line), onStep: confirmStepsTo(progress), onWarning: (line) => progress.warn(line), signal }),
      ).finally(() => progress.done());
      if (!this.jsonEnabled()) {
        this.log('');
        this.log(renderConfirmReport(report, recommendation.targets, width));
      }
      if (flags.html) await writeReportHtml(flags.html, recommendation, report.reportPath ?? 'recommendation');
      process.exitCode = confirmExitCode(report);
      return toRecommendationReport(recommendation);
    }
    if (!this.jsonEnabled()) this.log(renderRecommendation(recommendation, width));
    if (flags.out !== undefined) await writeReportOrSay(flags.out, `${JSON.stringify(toRecommendationReport(recommendation), null, 2)}\n`, (line) => this.note(line));
    if (flags.html !== undefined) await writeReportHtml(flags.html, recommendation, flags.out ?? 'recommendation');
    return toRecommendationReport(recommendation);
  }
}

/**
 * The context with the models named by --model: each ranked (a GGUF as its own file, in llama.cpp), and the
 * architectures added to the catalog in use so --confirm can build them.
 */
function withGivenModels(context: RecommendContext, resolved: ResolvedModel[], candidatesFrom: (typeof CANDIDATES_FROM)[number] | undefined): RecommendContext {
  if (resolved.length === 0) return candidatesFrom ? { ...context, candidatesFrom } : context;
  const models: GivenModel[] = resolved.map((r) => ({
    reference: r.reference,
    spec: r.spec,
    ...(r.gguf ? { fixed: { engine: r.gguf.engine, variant: r.gguf.fileType ?? 'mixed', gguf: ggufWeightsOf(r.gguf, r.spec) } } : {}),
    ...(r.config ? { config: r.config } : {}),
  }));
  const catalog = [...context.catalog];
  // A GGUF's spec too: --confirm measures its architecture (synthesized, as ONNX int4).
  for (const m of models) if (!catalog.some((c) => c.id === m.spec.id)) catalog.push(m.spec);
  return { ...context, catalog, models, ...(candidatesFrom ? { candidatesFrom } : {}) };
}
