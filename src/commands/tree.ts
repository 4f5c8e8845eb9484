import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { terminalWidth } from '../ui/layout.js';
import { resolveTree } from '../tree/load.js';
import { TREE_FORMATS, renderTree } from '../tree/render.js';
import { toTreeFile } from '../tree/file-format.js';

export default class Tree extends BaseCommand {
  static override summary = 'Print the decision tree that maps your answers to a size class of LLM.';
  static override description =
    'The default tree asks whether the job needs domain customization (fine-tuning) and how strict the latency requirement is, and carries the targets behind each latency class. --tree validates and prints a custom tree file (JSON or YAML); errors name the path of the offending node.';

  static override examples = [
    '<%= config.bin %> tree',
    '<%= config.bin %> tree --format mermaid',
    '<%= config.bin %> tree --tree my-tree.yaml --format json',
  ];

  static override flags = {
    format: Flags.option({ options: TREE_FORMATS, default: 'text' as const, description: 'text, a mermaid flowchart, or the tree as JSON (a version "2" tree file, snake_case keys: what --tree reads)' })(),
    tree: Flags.string({ description: 'a custom decision tree file (JSON or YAML) instead of the default', helpValue: 'FILE' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { flags } = await this.parse(Tree);
    const tree = await resolveTree(flags.tree);
    // Text is wrapped to the terminal; mermaid and JSON are data, never re-wrapped.
    if (!this.jsonEnabled()) this.log(renderTree(tree, flags.format, terminalWidth(process.stdout)));
    return toTreeFile(tree);
  }
}
