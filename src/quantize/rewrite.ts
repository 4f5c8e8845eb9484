import { ModelscoutError } from '../errors.js';
import {
  AttributeType,
  DataType,
  createAttribute,
  createNode,
  createTensor,
  dataTypeName,
  getAttribute,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from '../onnx/proto.js';
import { describeInt4Layout, type Int4WeightDType } from './int4.js';

/**
 * The graph side of int4 quantization, as ONNX Runtime's `MatMulNBitsQuantizer` does it (spec §2.2, §2.4),
 * with two additions: `MatMul(X, Transpose(W))` counts as a MatMul with weight Wᵀ, and the token-embedding
 * `Gather` may become `GatherBlockQuantized` (§2.7).
 *
 * `planQuantization` rewrites a (cloned) model in place and returns the quantization jobs: which float
 * tensor to quantize, in which orientation, and which new initializers hold the results. The bytes are
 * produced later, one job at a time, while the model is written (see `index.ts`).
 */

export const COM_MICROSOFT = 'com.microsoft';

export interface RewriteOptions {
  blockSize: number;
  symmetric: boolean;
  /** MatMulNBits `accuracy_level`; 0 omits the attribute (as ORT's quantizer does). */
  accuracyLevel: number;
  /** Node-name patterns to leave in float. */
  exclude: readonly RegExp[];
  /** Leave the MatMul that produces the logits in float. */
  keepLmHead: boolean;
  /** Also quantize the token-embedding Gather to GatherBlockQuantized. */
  embeddings: boolean;
}

/** Which new initializer holds which part of a job's result. */
export type OutputPart = 'packed' | 'gatherData' | 'scales' | 'zeroPoints';

export interface JobOutput {
  name: string;
  part: OutputPart;
}

/**
 * One float tensor to quantize. `orientation` says how the source is laid out relative to the logical
 * MatMulNBits weight W `[K, N]`: `'kn'`: the tensor is W itself (a MatMul weight, fed by row stripes);
 * `'nk'`: the tensor is Wᵀ `[N, K]` (an embedding table or the input of a Transpose, fed by its rows).
 */
export interface QuantizeJob {
  id: number;
  /** name of the float source initializer */
  source: string;
  tensor: OnnxTensor;
  /** graph that owns the source initializer (and receives the new ones) */
  graph: OnnxGraph;
  orientation: 'kn' | 'nk';
  K: number;
  N: number;
  dtype: Int4WeightDType;
  outputs: JobOutput[];
  /** names of the nodes this job's result feeds (after the rewrite) */
  nodes: string[];
  /** 'matmul', 'gather' or both (a tied embedding / LM head quantized once) */
  uses: Set<'matmul' | 'gather'>;
}

export interface SkippedNode {
  node: string;
  op: string;
  reason: string;
}

export interface QuantizationPlan {
  jobs: QuantizeJob[];
  /** node renames: original name → new name and op */
  replaced: { from: string; to: string; op: 'MatMulNBits' | 'GatherBlockQuantized' }[];
  /** nodes matched by --exclude or --keep-lm-head */
  excluded: string[];
  /** MatMul/Gather nodes that were not eligible, with why */
  skipped: SkippedNode[];
  /** name of the logits MatMul, when one was found */
  lmHead: string | null;
  /** name of the token-embedding Gather, when one was found */
  embedding: string | null;
  /** float initializers removed because nothing uses them any more */
  removedInitializers: string[];
  /** MatMul nodes seen in all graphs */
  matMulCount: number;
}

interface Scope {
  graph: OnnxGraph;
  parent: Scope | null;
  initializers: Map<string, OnnxTensor>;
  /** names defined in this graph by something other than an initializer (node outputs, graph inputs) */
  produced: Set<string>;
  producers: Map<string, OnnxNode>;
}

interface Candidate {
  node: OnnxNode;
  scope: Scope;
  kind: 'matmul' | 'gather';
  tensor: OnnxTensor;
  owner: OnnxGraph;
  orientation: 'kn' | 'nk';
  /**
   * MatMul: the Transpose whose output it reads, for `MatMul(X, Transpose(W))`. Gather: the Transpose that
   * moves the gathered axis last after a Gather on axis 1; the rewritten node takes over its output.
   */
  transpose: OnnxNode | null;
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16]);

export function isDefaultDomain(node: OnnxNode): boolean {
  return node.domain === undefined || node.domain === '' || node.domain === 'ai.onnx';
}

/** Nodes that show a model is already int4-quantized. */
export function findQuantizedNodes(model: OnnxModel): OnnxNode[] {
  const found: OnnxNode[] = [];
  walkGraphs(model, (graph) => {
    for (const node of graph.node) {
      if (node.domain === COM_MICROSOFT && (node.op_type === 'MatMulNBits' || node.op_type === 'GatherBlockQuantized')) found.push(node);
    }
  });
  return found;
}

function walkGraphs(model: OnnxModel, visit: (graph: OnnxGraph, scope: Scope) => void): void {
  const walk = (graph: OnnxGraph, parent: Scope | null): void => {
    const scope = makeScope(graph, parent);
    visit(graph, scope);
    for (const node of graph.node) {
      for (const attribute of node.attribute) {
        if (attribute.g) walk(attribute.g, scope);
        for (const sub of attribute.graphs) walk(sub, scope);
      }
    }
  };
  if (model.graph) walk(model.graph, null);
}

function makeScope(graph: OnnxGraph, parent: Scope | null): Scope {
  const initializers = new Map<string, OnnxTensor>();
  for (const t of graph.initializer) if (t.name) initializers.set(t.name, t);
  const produced = new Set<string>();
  const producers = new Map<string, OnnxNode>();
  // An initializer that is also listed as a graph input is overridable; ORT's quantizer still treats it as
  // the weight (and removes the input), so only real inputs count as produced.
  for (const v of graph.input) if (v.name && !initializers.has(v.name)) produced.add(v.name);
  for (const node of graph.node) {
    for (const o of node.output) {
      if (!o) continue;
      produced.add(o);
      producers.set(o, node);
    }
  }
  return { graph, parent, initializers, produced, producers };
}

/** The initializer a name refers to, searched from the innermost graph outwards (an inner definition shadows). */
function resolveInitializer(scope: Scope, name: string): { tensor: OnnxTensor; owner: OnnxGraph } | null {
  for (let s: Scope | null = scope; s; s = s.parent) {
    const tensor = s.initializers.get(name);
    if (tensor) return { tensor, owner: s.graph };
    if (s.produced.has(name)) return null;
  }
  return null;
}

function resolveProducer(scope: Scope, name: string): OnnxNode | null {
  for (let s: Scope | null = scope; s; s = s.parent) {
    if (s.initializers.has(name)) return null;
    const node = s.producers.get(name);
    if (node) return node;
    if (s.produced.has(name)) return null;
  }
  return null;
}

function isGraphInput(scope: Scope, name: string): boolean {
  for (let s: Scope | null = scope; s; s = s.parent) {
    if (s.graph.input.some((v) => v.name === name) && !s.initializers.has(name)) return true;
    if (s.produced.has(name) || s.initializers.has(name)) return false;
  }
  return false;
}

function weightProblem(tensor: OnnxTensor): string | null {
  if (tensor.dims.length !== 2) return `weight ${tensor.name ?? '?'} is ${tensor.dims.length}-D, not 2-D`;
  if (!FLOAT_TYPES.has(tensor.data_type ?? 0)) {
    return `weight ${tensor.name ?? '?'} is ${dataTypeName(tensor.data_type)} (supported: float32, float16)`;
  }
  if (tensor.dims.some((d) => d < 1)) return `weight ${tensor.name ?? '?'} has an empty dimension`;
  return null;
}

function isPlainTranspose(node: OnnxNode): boolean {
  if (node.op_type !== 'Transpose' || !isDefaultDomain(node)) return false;
  const perm = getAttribute(node, 'perm');
  return perm === undefined || (Array.isArray(perm) && perm.length === 2 && perm[0] === 1 && perm[1] === 0);
}

/**
 * Follows the logits output back to the MatMul that produces it, through ops that keep the values' role
 * (casts, a bias add, reshapes, soft-capping).
 */
function findLmHead(model: OnnxModel): OnnxNode | null {
  const graph = model.graph;
  if (!graph) return null;
  const output = graph.output.find((o) => o.name === 'logits') ?? graph.output[0];
  if (!output?.name) return null;
  const producers = new Map<string, OnnxNode>();
  for (const node of graph.node) for (const o of node.output) producers.set(o, node);
  const passThrough = new Set(['Cast', 'Identity', 'Add', 'Reshape', 'Tanh', 'Mul', 'Div', 'Squeeze', 'Unsqueeze']);
  let name: string | undefined = output.name;
  for (let depth = 0; depth < 8 && name; depth++) {
    const node = producers.get(name);
    if (!node) return null;
    if (node.op_type === 'MatMul' && isDefaultDomain(node)) return node;
    if (!passThrough.has(node.op_type ?? '') || !isDefaultDomain(node)) return null;
    name = node.input[0];
  }
  return null;
}

/**
 * Plans and applies the rewrite on `model` (mutated: pass a clone). Throws nothing for an ineligible model:
 * the caller decides what an empty plan means.
 */
export function planQuantization(model: OnnxModel, options: RewriteOptions): QuantizationPlan {
  describeInt4Layout(1, 1, options.blockSize); // validates the block size with the allowed-values message
  if (!Number.isInteger(options.accuracyLevel) || options.accuracyLevel < 0 || options.accuracyLevel > 4) {
    throw new ModelscoutError('E_INPUT', `invalid accuracy level ${JSON.stringify(options.accuracyLevel)}: expected 0, 1, 2, 3 or 4`);
  }
  const skipped: SkippedNode[] = [];
  const excluded: string[] = [];
  const candidates: Candidate[] = [];
  let matMulCount = 0;
  const lmHeadNode = findLmHead(model);
  let embeddingNode: OnnxNode | null = null;
  // In a decoder the token embedding is the Gather indexed by input_ids (not e.g. learned positions).
  const hasInputIds = model.graph?.input.some((v) => v.name === 'input_ids') ?? false;

  walkGraphs(model, (graph, scope) => {
    for (const node of graph.node) {
      const name = node.name ?? '';
      if (node.op_type === 'MatMul' && isDefaultDomain(node)) {
        matMulCount++;
        const weightName = node.input[1] ?? '';
        let resolved = resolveInitializer(scope, weightName);
        let transpose: OnnxNode | null = null;
        let orientation: 'kn' | 'nk' = 'kn';
        if (!resolved) {
          const producer = resolveProducer(scope, weightName);
          if (producer && isPlainTranspose(producer)) {
            const inner = resolveInitializer(scope, producer.input[0] ?? '');
            if (inner) {
              resolved = inner;
              transpose = producer;
              orientation = 'nk';
            }
          }
        }
        if (!resolved) {
          skipped.push({ node: name, op: 'MatMul', reason: 'weight is not a constant initializer' });
          continue;
        }
        const problem = weightProblem(resolved.tensor);
        if (problem) {
          skipped.push({ node: name, op: 'MatMul', reason: problem });
          continue;
        }
        if (options.exclude.some((re) => re.test(name)) || (options.keepLmHead && node === lmHeadNode)) {
          excluded.push(name);
          continue;
        }
        candidates.push({ node, scope, kind: 'matmul', tensor: resolved.tensor, owner: resolved.owner, orientation, transpose });
      } else if (options.embeddings && node.op_type === 'Gather' && isDefaultDomain(node)) {
        const axis = getAttribute(node, 'axis') ?? 0;
        const resolved = resolveInitializer(scope, node.input[0] ?? '');
        const indices = node.input[1] ?? '';
        if (!resolved || !isGraphInput(scope, indices) || (hasInputIds && indices !== 'input_ids')) continue;
        // A Gather of a 2-D float table by a graph input is a token embedding: either rows of a [vocab, hidden]
        // table (axis 0), or columns of a [hidden, vocab] table (axis 1) transposed back to [..., hidden] —
        // the form a tied LM head takes when one [hidden, vocab] initializer also feeds the logits MatMul.
        let orientation: 'kn' | 'nk' = 'nk';
        let gatherTranspose: OnnxNode | null = null;
        if (axis === 1) {
          const consumer = singleConsumer(model, node.output[0] ?? '');
          if (!consumer || !isMoveFirstAxisLast(consumer)) continue;
          orientation = 'kn';
          gatherTranspose = consumer;
        } else if (axis !== 0) {
          continue;
        }
        const problem = weightProblem(resolved.tensor);
        if (problem) {
          skipped.push({ node: name, op: 'Gather', reason: problem });
          continue;
        }
        const width = resolved.tensor.dims[orientation === 'nk' ? 1 : 0]!;
        if (width % 2 !== 0) {
          skipped.push({ node: name, op: 'Gather', reason: `embedding width ${width} is odd (GatherBlockQuantized packs two codes per byte)` });
          continue;
        }
        if (options.exclude.some((re) => re.test(name))) {
          excluded.push(name);
          continue;
        }
        embeddingNode ??= node;
        candidates.push({ node, scope, kind: 'gather', tensor: resolved.tensor, owner: resolved.owner, orientation, transpose: gatherTranspose });
        continue;
      }
    }
  });

  const plan: QuantizationPlan = {
    jobs: [],
    replaced: [],
    excluded,
    skipped,
    lmHead: lmHeadNode?.name ?? null,
    embedding: (embeddingNode as OnnxNode | null)?.name ?? null,
    removedInitializers: [],
    matMulCount,
  };
  if (candidates.length === 0) return plan;

  // One job per (owner graph, source tensor, orientation): a weight shared by several nodes is quantized once.
  const jobKeys = new Map<string, QuantizeJob>();
  const graphIds = new Map<OnnxGraph, number>();
  const takenNames = collectNames(model);
  for (const c of candidates) {
    if (!graphIds.has(c.owner)) graphIds.set(c.owner, graphIds.size);
    const key = `${graphIds.get(c.owner)}|${c.tensor.name}|${c.orientation}`;
    let job = jobKeys.get(key);
    if (!job) {
      const [d0, d1] = c.tensor.dims as [number, number];
      job = {
        id: plan.jobs.length,
        source: c.tensor.name ?? '',
        tensor: c.tensor,
        graph: c.owner,
        orientation: c.orientation,
        K: c.orientation === 'kn' ? d0 : d1,
        N: c.orientation === 'kn' ? d1 : d0,
        dtype: c.tensor.data_type === DataType.FLOAT16 ? 'float16' : 'float32',
        outputs: [],
        nodes: [],
        uses: new Set(),
      };
      jobKeys.set(key, job);
      plan.jobs.push(job);
    }
    job.uses.add(c.kind);
  }
  // Output names per job, now that every use is known.
  for (const job of plan.jobs) {
    const base = job.orientation === 'nk' && job.uses.has('matmul') && !job.uses.has('gather') ? `${job.source}_T` : job.source;
    const layout = describeInt4Layout(job.K, job.N, options.blockSize);
    const gatherNeedsOwnData = job.uses.has('gather') && (!job.uses.has('matmul') || layout.columnBytes !== job.K / 2);
    if (job.uses.has('matmul')) job.outputs.push({ name: uniqueName(takenNames, `${base}_Q4`), part: 'packed' });
    if (gatherNeedsOwnData) job.outputs.push({ name: uniqueName(takenNames, job.uses.has('matmul') ? `${base}_Q4_gather` : `${base}_Q4`), part: 'gatherData' });
    job.outputs.push({ name: uniqueName(takenNames, `${base}_scales`), part: 'scales' });
    if (!options.symmetric) job.outputs.push({ name: uniqueName(takenNames, `${base}_zp`), part: 'zeroPoints' });
  }

  // Rewrite the nodes in place (node order, and so topological order, is kept).
  for (const c of candidates) {
    const job = jobKeys.get(`${graphIds.get(c.owner)}|${c.tensor.name}|${c.orientation}`)!;
    const outputName = (part: OutputPart): string | undefined => job.outputs.find((o) => o.part === part)?.name;
    const layout = describeInt4Layout(job.K, job.N, options.blockSize);
    const from = c.node.name ?? '';
    if (c.kind === 'matmul') {
      const to = renameNode(from, 'MatMul', 'MatMulNBits', job.source);
      const inputs = [c.node.input[0] ?? '', outputName('packed')!, outputName('scales')!];
      const zp = outputName('zeroPoints');
      if (zp) inputs.push(zp);
      const attributes = [
        intAttribute('K', job.K),
        intAttribute('N', job.N),
        ...(options.accuracyLevel !== 0 ? [intAttribute('accuracy_level', options.accuracyLevel)] : []),
        intAttribute('bits', 4),
        intAttribute('block_size', options.blockSize),
      ];
      replaceNode(c.node, { name: to, op_type: 'MatMulNBits', domain: COM_MICROSOFT, input: inputs, attribute: attributes });
      plan.replaced.push({ from, to, op: 'MatMulNBits' });
      job.nodes.push(to);
    } else {
      const to = renameNode(from, 'Gather', 'GatherBlockQuantized', job.source);
      let data = outputName('gatherData');
      if (!data) {
        // Tied embedding and LM head with K a multiple of the block size: the MatMulNBits bytes `[N, kb, blob]`
        // are exactly the gather data `[N, K/2]`; a Reshape shares them instead of storing them twice.
        data = addSharedGatherData(c.scope.graph, c.node, outputName('packed')!, job.N, layout.columnBytes, takenNames);
      }
      const inputs = [data, c.node.input[1] ?? '', outputName('scales')!];
      const zp = outputName('zeroPoints');
      if (zp) inputs.push(zp);
      const attributes = [
        intAttribute('bits', 4),
        intAttribute('block_size', options.blockSize),
        intAttribute('gather_axis', 0),
        intAttribute('quantize_axis', 1),
      ];
      replaceNode(c.node, { name: to, op_type: 'GatherBlockQuantized', domain: COM_MICROSOFT, input: inputs, attribute: attributes });
      if (c.transpose) {
        // GatherBlockQuantized yields [..., hidden] directly, which is what the Transpose produced.
        c.node.output = [...c.transpose.output];
        removeNode(model, c.transpose);
      }
      plan.replaced.push({ from, to, op: 'GatherBlockQuantized' });
      job.nodes.push(to);
    }
  }

  // Transposes that fed a rewritten MatMul and have no other user go away.
  const transposes = new Set(candidates.filter((c) => c.kind === 'matmul').map((c) => c.transpose).filter((t): t is OnnxNode => t !== null));
  for (const transpose of transposes) {
    if (countUses(model, transpose.output[0] ?? '') === 0) removeNode(model, transpose);
  }

  // New initializers go where the source weight was (or right after it), so the writer meets a job's
  // outputs one after another and its result can be dropped as soon as they are written.
  for (const job of plan.jobs) {
    const layout = describeInt4Layout(job.K, job.N, options.blockSize);
    const scaleType = job.dtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
    const tensors = job.outputs.map((o) => {
      switch (o.part) {
        case 'packed':
          return createTensor({ name: o.name, data_type: DataType.UINT8, dims: [job.N, layout.kBlocks, layout.blobSize] });
        case 'gatherData':
          return createTensor({ name: o.name, data_type: DataType.UINT8, dims: [job.N, Math.ceil(job.K / 2)] });
        case 'scales':
          return createTensor({ name: o.name, data_type: scaleType, dims: [job.N, layout.kBlocks] });
        case 'zeroPoints':
          return createTensor({ name: o.name, data_type: DataType.UINT8, dims: [job.N, layout.zeroPointBytesPerColumn] });
      }
    });
    const index = job.graph.initializer.indexOf(job.tensor);
    job.graph.initializer.splice(index + 1, 0, ...tensors);
  }
  const uses = countAllUses(model);
  for (const job of plan.jobs) {
    if ((uses.get(job.source) ?? 0) > 0) continue;
    const index = job.graph.initializer.indexOf(job.tensor);
    if (index >= 0) job.graph.initializer.splice(index, 1);
    job.graph.input = job.graph.input.filter((v) => v.name !== job.source);
    job.graph.value_info = job.graph.value_info.filter((v) => v.name !== job.source);
    plan.removedInitializers.push(job.source);
  }

  if (!model.opset_import.some((o) => o.domain === COM_MICROSOFT)) model.opset_import.push({ domain: COM_MICROSOFT, version: 1 });
  return plan;
}

/** `/model/layers.0/mlp/down_proj/MatMul` → `/model/layers.0/mlp/down_proj/MatMulNBits`; other names get a suffix. */
function renameNode(name: string, op: string, newOp: string, weight: string): string {
  if (name === '') return `${weight}/${newOp}`;
  if (name.endsWith(op)) return `${name.slice(0, -op.length)}${newOp}`;
  return `${name}_${newOp}`;
}

function intAttribute(name: string, value: number) {
  return createAttribute({ name, type: AttributeType.INT, i: value });
}

function replaceNode(node: OnnxNode, fields: { name: string; op_type: string; domain: string; input: string[]; attribute: OnnxNode['attribute'] }): void {
  node.name = fields.name;
  node.op_type = fields.op_type;
  node.domain = fields.domain;
  node.input = fields.input;
  node.attribute = fields.attribute;
}

function addSharedGatherData(graph: OnnxGraph, gather: OnnxNode, packed: string, rows: number, rowBytes: number, taken: Set<string>): string {
  const base = (gather.name ?? 'embedding').replace(/\/?Gather$/, '');
  const shapeName = uniqueName(taken, `${packed}_gather_shape`);
  const shape = new BigInt64Array([BigInt(rows), BigInt(rowBytes)]);
  graph.initializer.push(createTensor({ name: shapeName, data_type: DataType.INT64, dims: [2], raw_data: new Uint8Array(shape.buffer) }));
  const output = uniqueName(taken, `${packed}_gather`);
  const reshape = createNode({ name: uniqueName(taken, `${base}/Reshape_Q4`), op_type: 'Reshape', input: [packed, shapeName], output: [output] });
  graph.node.splice(graph.node.indexOf(gather), 0, reshape);
  return output;
}

function collectNames(model: OnnxModel): Set<string> {
  const names = new Set<string>();
  walkGraphs(model, (graph) => {
    for (const t of graph.initializer) if (t.name) names.add(t.name);
    for (const v of graph.input) if (v.name) names.add(v.name);
    for (const node of graph.node) {
      for (const o of node.output) names.add(o);
      if (node.name) names.add(node.name);
    }
  });
  return names;
}

function uniqueName(taken: Set<string>, wanted: string): string {
  let name = wanted;
  for (let i = 1; taken.has(name); i++) name = `${wanted}_${i}`;
  taken.add(name);
  return name;
}

/** Uses of every value name as a node input or a graph output, over all graphs. */
function countAllUses(model: OnnxModel): Map<string, number> {
  const uses = new Map<string, number>();
  const add = (name: string): void => {
    uses.set(name, (uses.get(name) ?? 0) + 1);
  };
  walkGraphs(model, (graph) => {
    for (const node of graph.node) for (const input of node.input) add(input);
    for (const output of graph.output) add(output.name ?? '');
  });
  return uses;
}

/** Uses of a value name as a node input or a graph output, in every graph. */
function countUses(model: OnnxModel, name: string): number {
  let uses = 0;
  walkGraphs(model, (graph) => {
    for (const node of graph.node) for (const input of node.input) if (input === name) uses++;
    for (const output of graph.output) if (output.name === name) uses++;
  });
  return uses;
}

/** The one node that reads `name` (as an input, anywhere), or null when there are none, several, or it is a graph output. */
function singleConsumer(model: OnnxModel, name: string): OnnxNode | null {
  let found: OnnxNode | null = null;
  let uses = 0;
  walkGraphs(model, (graph) => {
    for (const node of graph.node) {
      for (const input of node.input) {
        if (input !== name) continue;
        uses++;
        found = node;
      }
    }
    for (const output of graph.output) if (output.name === name) uses += 2;
  });
  return uses === 1 ? found : null;
}

/** A Transpose with perm [1, 2, ..., r, 0]: moves the first axis last. */
function isMoveFirstAxisLast(node: OnnxNode): boolean {
  if (node.op_type !== 'Transpose' || !isDefaultDomain(node)) return false;
  const perm = getAttribute(node, 'perm');
  if (!Array.isArray(perm) || perm.length < 2) return false;
  return perm.every((p, i) => p === (i === perm.length - 1 ? 0 : i + 1));
}

function removeNode(model: OnnxModel, target: OnnxNode): void {
  walkGraphs(model, (graph) => {
    const index = graph.node.indexOf(target);
    if (index >= 0) {
      graph.node.splice(index, 1);
      graph.value_info = graph.value_info.filter((v) => !target.output.includes(v.name ?? ''));
    }
  });
}
