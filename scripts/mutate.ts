/**
 * A small mutation pass: apply one realistic bug at a time to the source, run the tests that should catch
 * it, restore the file, and report which bugs no test caught. The tests run without the global build
 * (these are unit tests of pure modules), one file set per mutation.
 *
 *   npx tsx scripts/mutate.ts            # every mutation below
 *   npx tsx scripts/mutate.ts compare    # only those whose name contains "compare"
 *
 * Exit code 1 when a mutation survives (no test failed).
 */
import { execa } from 'execa';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Mutation {
  name: string;
  file: string;
  /** Exact text to replace (must occur exactly once). */
  from: string;
  to: string;
  tests: string[];
}

const MUTATIONS: Mutation[] = [
  { name: 'compare: missing results do not make the verdict inconclusive', file: 'src/report/compare.ts', from: "unmatched.length > 0 && !allowMissing ? ['inconclusive'] : []", to: '[]', tests: ['test/report/compare.test.ts'] },
  { name: 'compare: --allow-missing ignored by the exit code', file: 'src/report/compare.ts', from: 'comparison.missing.length > 0 && comparison.missing_allowed !== true', to: 'comparison.missing.length > 0', tests: ['test/report/compare.test.ts'] },
  { name: 'compare: --across matches on every dimension', file: 'src/report/compare.ts', from: "DIMENSIONS.filter((d) => d.name !== across).map((d) => d.value(r)).join('|')", to: "DIMENSIONS.map((d) => d.value(r)).join('|')", tests: ['test/report/compare.test.ts'] },
  { name: 'verdict: TTFT excess measured the wrong way round', file: 'src/pipeline/verdict.ts', from: '(+${fmt(got - limit)} ms', to: '(+${fmt(limit - got)} ms', tests: ['test/pipeline/verdict.test.ts'] },
  { name: 'verdict: ratio inverted', file: 'src/pipeline/verdict.ts', from: 'const ratio = measured / target;', to: 'const ratio = target / measured;', tests: ['test/pipeline/verdict.test.ts'] },
  { name: 'verdict: one unmeasured figure hides a real miss', file: 'src/pipeline/verdict.ts', from: 'if (unknown.length > 0 && reasons.length === 0)', to: 'if (unknown.length > 0)', tests: ['test/pipeline/verdict.test.ts'] },
  { name: 'tokenizer: chat prompt gets special tokens twice', file: 'src/hub/tokenizer.ts', from: 'encodeChat: (messages, options) => tokenizer.encode(applyChatTemplate(messages, options), { add_special_tokens: false }).ids', to: 'encodeChat: (messages, options) => tokenizer.encode(applyChatTemplate(messages, options), { add_special_tokens: true }).ids', tests: ['test/hub/tokenizer.test.ts'] },
  { name: "tokenizer: generation_config's EOS ids ignored", file: 'src/hub/tokenizer.ts', from: '...idsOf(generation.eos_token_id)', to: '', tests: ['test/hub/tokenizer.test.ts'] },
  { name: 'tree: cycles not detected', file: 'src/tree/validate.ts', from: 'ancestors.findIndex((a) => a.raw === raw)', to: '-1', tests: ['test/tree/tree.test.ts'] },
  { name: 'tree: wrong type reported as missing', file: 'src/tree/validate.ts', from: "if (!('input' in issue) || issue.input === undefined)", to: 'if (true)', tests: ['test/tree/tree.test.ts'] },
  { name: 'config.json: a stand-in value after an invalid one', file: 'src/catalog/hf-config.ts', from: '        return Number.NaN;\n      }\n      return value;', to: '        return 1;\n      }\n      return value;', tests: ['test/catalog/hf-config.test.ts'] },
  { name: 'recommend: fine-tuning fit ignored by the ranking', file: 'src/recommend/rank.ts', from: 'if (!f.qlora.fits && !f.lora.fits) return 2;', to: 'if (!f.qlora.fits && !f.lora.fits) return 0;', tests: ['test/recommend/finetune-ranking.test.ts'] },
  { name: 'finetune time: no recomputation pass', file: 'src/estimate/finetune.ts', from: '(input.gradientCheckpointing ?? true) ? 3 : 2', to: '2', tests: ['test/recommend/finetune-ranking.test.ts'] },
  { name: 'estimate: sliding layers rounded down', file: 'src/estimate/kv-cache.ts', from: 'Math.ceil(spec.numLayers / 2)', to: 'Math.floor(spec.numLayers / 2)', tests: ['test/estimate/mutation-gaps.test.ts', 'test/estimate/kv-cache.test.ts'] },
  { name: "estimate: prefill without the weight-read floor", file: 'src/estimate/speed.ts', from: 'prefillSec = Math.max(computeSec, weightSec);', to: 'prefillSec = computeSec;', tests: ['test/estimate/mutation-gaps.test.ts', 'test/estimate/fit-speed.test.ts'] },
  { name: 'estimate: activations count q/k/v once too few', file: 'src/estimate/fit.ts', from: '2 * spec.numKvHeads * spec.headDim', to: 'spec.numKvHeads * spec.headDim', tests: ['test/estimate/mutation-gaps.test.ts', 'test/estimate/fit-speed.test.ts'] },
  { name: 'fidelity: KL direction swapped', file: 'src/quantize/fidelity-metrics.ts', from: 'kl += Math.exp(logP) * (logP - logQ);', to: 'kl += Math.exp(logQ) * (logQ - logP);', tests: ['test/quantize/fidelity-metrics.test.ts'] },
  { name: 'bench: pulled models labelled by the commit', file: 'src/bench/model-files.ts', from: 'id: describeSnapshotPath(path)?.repo ?? basename(path)', to: 'id: basename(path)', tests: ['test/bench/model-files.test.ts'] },
];

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// A config without the global build step: the mutated modules are tested in-process.
const CONFIG = join(ROOT, 'vitest.mutate.tmp.config.ts');

async function main(): Promise<void> {
  const filter = process.argv[2];
  const selected = MUTATIONS.filter((m) => filter === undefined || m.name.includes(filter));
  await writeFile(CONFIG, "import { defineConfig } from 'vitest/config';\nexport default defineConfig({ test: { testTimeout: 60_000, pool: 'forks', maxWorkers: 1 } });\n");
  const survived: string[] = [];
  try {
    for (const m of selected) {
      const path = join(ROOT, m.file);
      const original = await readFile(path, 'utf8');
      const count = original.split(m.from).length - 1;
      if (count !== 1) throw new Error(`${m.name}: "${m.from}" occurs ${count} times in ${m.file} (expected once)`);
      await writeFile(path, original.replace(m.from, m.to));
      try {
        const r = await execa('npx', ['vitest', 'run', '--config', CONFIG, ...m.tests], { cwd: ROOT, reject: false, all: true, env: { NO_COLOR: '1' } });
        const caught = r.exitCode !== 0;
        if (!caught) survived.push(m.name);
        process.stdout.write(`${caught ? 'caught  ' : 'SURVIVED'} ${m.name}\n`);
      } finally {
        await writeFile(path, original);
      }
    }
  } finally {
    await rm(CONFIG, { force: true });
  }
  process.stdout.write(`${selected.length - survived.length} of ${selected.length} mutations caught\n`);
  if (survived.length > 0) process.exitCode = 1;
}

await main();
