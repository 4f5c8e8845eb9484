import { homedir } from 'node:os';
import { Flags } from '@oclif/core';
import { userCatalogPath } from '../cli/model-source.js';
import { BaseCommand } from '../cli/base-command.js';
import { autoProbeLine, hardwareOverridesFromFlags, PROBE_NOTE } from '../cli/hardware-flags.js';
import { resolveProbeMode } from '../hardware/detect.js';
import { recommendSourceFlags } from '../cli/recommend-flags.js';
import { ModelscoutError } from '../errors.js';
import { hardwareSummaryLines } from '../hardware/summary.js';
import { MODE_SETTINGS } from '../pipeline/plan.js';
import { confirmAndReport, recommendCalibrated } from '../pipeline/run.js';
import { bandwidthCachePath } from '../hardware/bandwidth-cache.js';
import { loadRecommendContext } from '../recommend/context.js';
import { toRecommendationReport, type RecommendationReport } from '../recommend/report-json.js';
import { createTerminalPrompter, isInteractive } from '../ui/prompts.js';
import { terminalWidth } from '../ui/layout.js';
import { Progress } from '../ui/progress.js';
import { confirmStepsTo } from '../ui/confirm-progress.js';
import { renderConfirmReport, renderRecommendation } from '../ui/render-recommendation.js';
import { askConfirm, askRequirements, recommendCommandFor } from '../ui/wizard.js';
import { confirmExitCode, confirmFlags, confirmFlagsFrom, pipelineEnvironment } from '../cli/confirm-flags.js';

export default class Wizard extends BaseCommand {
  static override summary = 'Answer a few questions and get the same ranked recommendation as `recommend`.';
  static override description =
    'Shows the detected hardware, then asks the decision tree\'s questions (each explained in one line), the context length, the concurrency and whether to keep the latency class\'s targets, and ends with the same view as `recommend`. Questions are drawn on stderr, so `--json` output on stdout stays clean. Needs an interactive terminal; in scripts use `recommend`. Ctrl-C exits with code 130.';

  static override examples = ['<%= config.bin %> wizard', '<%= config.bin %> wizard --gpu "RTX-4090"', '<%= config.bin %> wizard --json > recommendation.json'];

  static override flags = {
    ...recommendSourceFlags,
    ...confirmFlags,
    out: Flags.string({ description: 'when confirming: write the JSON report to this file, atomically (default ./modelscout-report.json)', helpValue: 'FILE' }),
  };

  async run(): Promise<RecommendationReport> {
    const { flags } = await this.parse(Wizard);
    const streams = { input: process.stdin, output: process.stderr };
    if (!isInteractive(streams)) {
      throw new ModelscoutError('E_USAGE', 'the wizard needs an interactive terminal, and this one is not a TTY', {
        suggestions: ['Use `modelscout recommend` with flags instead, e.g. modelscout recommend --customization no --latency realtime'],
      });
    }
    const overrides = hardwareOverridesFromFlags(flags);
    const prompter = createTerminalPrompter(streams);
    // The first CPU estimate on this machine probes it once (--probe: now; --no-probe, $MODELSCOUT_NO_PROBE: never).
    const probe = resolveProbeMode(flags.probe, process.env);
    if (probe === true) prompter.say(PROBE_NOTE);
    const context = await loadRecommendContext({
      treeFile: flags.tree,
      catalogFile: flags.catalog,
      userCatalogFile: userCatalogPath(),
      overrides,
      probe,
      onAutoProbe: (event) => prompter.say(autoProbeLine(event)),
      bandwidthCachePath: bandwidthCachePath(process.env, homedir()),
    });

    prompter.say(`Hardware${Object.keys(overrides).length > 0 ? ' (with what-if overrides)' : ''}:`);
    for (const line of hardwareSummaryLines(context.hardware)) prompter.say(`  ${line}`);
    prompter.say('');
    prompter.say(context.tree.title);
    const { inputs } = await askRequirements(context.tree, prompter);
    const environment = pipelineEnvironment(this.config.version, ['wizard', ...this.argv]);
    const calibrated = await recommendCalibrated(context, [inputs], flags.top, { calibrationFlag: flags.calibration, confirm: false, environment });
    const recommendation = calibrated.recommendation;

    prompter.say('');
    if (!this.jsonEnabled()) this.log(renderRecommendation(recommendation, terminalWidth(process.stdout)));
    prompter.say(`\nThe same, non-interactive: ${recommendCommandFor(inputs, flags.tree)}`);
    const confirm = confirmFlagsFrom(flags);
    const measurable = recommendation.candidates.length > 0 || (recommendation.nothingFits?.alternatives.length ?? 0) > 0;
    if (measurable && (await askConfirm(prompter, confirm.candidates, confirm.budgetSec ?? MODE_SETTINGS[confirm.mode].budgetSec))) {
      // The steps with their predictions, and a bar with the ETA, on the terminal the wizard draws on.
      const progress = new Progress({ stream: streams.output, json: this.jsonEnabled() });
      const report = await confirmAndReport(calibrated, context, confirm, environment, { onProgress: (line) => progress.note(line), onStep: confirmStepsTo(progress), onWarning: (line) => prompter.say(line) }).finally(() => progress.done());
      if (!this.jsonEnabled()) this.log(`\n${renderConfirmReport(report, recommendation.targets, terminalWidth(process.stdout))}`);
      prompter.say(`The same, non-interactive: ${recommendCommandFor(inputs, flags.tree)} --confirm`);
      process.exitCode = confirmExitCode(report);
    }
    return toRecommendationReport(recommendation);
  }
}
