import type { ModelSpec } from '../catalog/model-spec.js';
import type { WeightFormat } from '../estimate/index.js';

/**
 * The commands that deploy a layout on the engines teams run: vLLM (`vllm serve`; Ray across nodes, as its
 * distributed serving guide describes) and SGLang (`sglang.launch_server` with `--nnodes`, `--node-rank`,
 * `--dist-init-addr` per node). modelscout does not run them; it prints them so the deployment the
 * estimate describes is the one that gets measured.
 */
export interface DeploymentSpec {
  model: Pick<ModelSpec, 'id' | 'hfRepo' | 'modelType'>;
  format: WeightFormat;
  tp: number;
  pp: number;
  nodes: number;
  context: number;
  concurrency: number;
  /** Host of the first node, as the other nodes reach it (a placeholder by default). */
  headAddress?: string;
}

export interface ServeCommands {
  vllm: string[];
  sglang: string[];
  notes: string[];
}

/** Models whose published weights are already 8-bit floats (passing a quantization flag would be wrong). */
const NATIVE_FP8_MODEL_TYPES = new Set(['deepseek_v3']);

export function serveCommands(d: DeploymentSpec): ServeCommands {
  const head = d.headAddress ?? '<head-node-ip>';
  const notes: string[] = [];
  let repo = d.model.hfRepo ?? `<Hugging Face repo of ${d.model.id}>`;
  const vllmQuant: string[] = [];
  const sglangQuant: string[] = [];
  if (d.format === 'int8') {
    if (NATIVE_FP8_MODEL_TYPES.has(d.model.modelType)) {
      notes.push('8-bit: the published checkpoint is already FP8, so no quantization flag is passed.');
    } else {
      vllmQuant.push('--quantization fp8');
      sglangQuant.push('--quantization fp8');
      notes.push('8-bit: FP8 weights quantized at load (same bytes per weight as int8); on GPUs before Hopper/Ada both engines run FP8 weight-only kernels.');
    }
  } else if (d.format === 'q4' || d.format === 'q4f16') {
    repo = `<int4 AWQ or GPTQ checkpoint of ${d.model.hfRepo ?? d.model.id}>`;
    notes.push('4-bit: both engines load a pre-quantized AWQ or GPTQ checkpoint (the method is read from its config); substitute its repo.');
  }
  if (NATIVE_FP8_MODEL_TYPES.has(d.model.modelType)) notes.push('DeepSeek-V3 needs --trust-remote-code on both engines.');
  const trust = NATIVE_FP8_MODEL_TYPES.has(d.model.modelType) ? ['--trust-remote-code'] : [];

  const vllmArgs = [
    `vllm serve ${repo}`,
    `--tensor-parallel-size ${d.tp}`,
    ...(d.pp > 1 ? [`--pipeline-parallel-size ${d.pp}`] : []),
    ...(d.nodes > 1 ? ['--distributed-executor-backend ray'] : []),
    `--max-model-len ${d.context}`,
    `--max-num-seqs ${Math.max(1, d.concurrency)}`,
    ...vllmQuant,
    ...trust,
  ];
  const vllm =
    d.nodes > 1
      ? [
          `# every node: pip install vllm ray; on the head node: ray start --head --port 6379`,
          `# on each of the other ${d.nodes - 1} node${d.nodes === 2 ? '' : 's'}: ray start --address ${head}:6379`,
          `# then on the head node:`,
          vllmArgs.join(' '),
        ]
      : [vllmArgs.join(' ')];

  const sglangBase = [
    `python -m sglang.launch_server --model-path ${repo}`,
    `--tp ${d.tp}`,
    ...(d.pp > 1 ? [`--pp-size ${d.pp}`] : []),
    `--context-length ${d.context}`,
    `--max-running-requests ${Math.max(1, d.concurrency)}`,
    ...sglangQuant,
    ...trust,
  ];
  const sglang =
    d.nodes > 1
      ? Array.from({ length: d.nodes }, (_, rank) => [`# node ${rank}${rank === 0 ? ` (${head})` : ''}:`, [...sglangBase, `--nnodes ${d.nodes} --node-rank ${rank} --dist-init-addr ${head}:5000`].join(' ')]).flat()
      : [sglangBase.join(' ')];
  if (d.nodes > 1) notes.push(`${d.nodes} nodes: TP stays inside each node and PP crosses nodes; run the SGLang line with its --node-rank on each node.`);
  return { vllm, sglang, notes };
}
