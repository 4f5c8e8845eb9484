import { BaseCommand } from '../cli/base-command.js';
import { hardwareOverridesFromFlags } from '../cli/hardware-flags.js';
import { recommendSourceFlags, requirementFlags, requirementInputsFromFlags } from '../cli/recommend-flags.js';
import { loadAnswersFile, loadRecommendContext, recommendWith } from '../recommend/context.js';
import type { RequirementInputs } from '../recommend/requirements.js';
import type { Recommendation } from '../recommend/types.js';
import { renderRecommendation } from '../ui/render-recommendation.js';

export default class Recommend extends BaseCommand {
  static override summary = 'Walk the decision tree to a size class and rank real models against this hardware.';
  static override description =
    'Non-interactive: answers come from flags or an --answers file, and anything not given takes the tree\'s default (no customization, real-time latency, 2048 tokens, 1 stream). Prints the decision path, the size class and why, the targets in force, and the ranked candidates with the weight format each needs, weight / KV / total bytes, whether it fits the available memory, and estimated decode tok/s and time to first token. --json prints the Recommendation object.';

  static override examples = [
    '<%= config.bin %> recommend',
    '<%= config.bin %> recommend --customization no --latency realtime --json',
    '<%= config.bin %> recommend --customization no --latency relaxed',
    '<%= config.bin %> recommend --customization yes --gpu "A100-80GB"',
    '<%= config.bin %> recommend --answers answers.yaml --context 8192 --concurrency 4',
  ];

  static override flags = { ...requirementFlags, ...recommendSourceFlags };

  async run(): Promise<Recommendation> {
    const { flags } = await this.parse(Recommend);
    // Validate every flag and file before the (slower) hardware detection.
    const flagInputs = requirementInputsFromFlags(flags);
    const overrides = hardwareOverridesFromFlags(flags);
    const layers: RequirementInputs[] = flags.answers === undefined ? [flagInputs] : [await loadAnswersFile(flags.answers), flagInputs];
    if (flags.probe && !this.jsonEnabled()) this.note('Measuring memory bandwidth (about 2 s)...');
    const context = await loadRecommendContext({ treeFile: flags.tree, catalogFile: flags.catalog, overrides, probe: flags.probe });
    const recommendation = recommendWith(context, layers, flags.top);
    if (!this.jsonEnabled()) this.log(renderRecommendation(recommendation));
    return recommendation;
  }
}
