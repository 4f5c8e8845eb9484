/**
 * The `direct` KV layout's graph: a fused decoder whose GroupQueryAttention nodes become an `If` per layer,
 * so that a decode step deep in a context reads the caller's KV buffers where they are.
 *
 * Why: with its past and present in different buffers, ONNX Runtime's CPU GroupQueryAttention zeroes the
 * whole present and copies the past into it on every run, then computes Q·Kᵀ with a GEMM whose scale
 * (alpha ≠ 1) keeps it off MLAS's one-row kernels, so the cached keys are packed again for every query head.
 * Deep in a context that is most of a decode step (67 % of SmolLM2-135M's at depth 2,048).
 *
 * The pasts come in five-dimensional, [batch, kv_heads, 1, room, head_dim] (the same bytes as the cache's
 * four dimensions), so that the decode branch's one-row products need no Unsqueeze.
 *
 * then (a decode step, one new position per row, at least `minDepth` positions deep) — 16 plain operators:
 *   q, k, v = Split(packed qkv) (or the three inputs);  q, k = RotaryEmbedding(q, k) at position total − 1,
 *             q's with cos and sin times the attention scale (the rotation is linear in them: no Mul)
 *   scores  = [ q · past_keyᵀ  |  q · kᵀ ]           (one row per query head: MLAS's M = 1 kernels)
 *   probs   = Softmax(scores + bias)                 (bias: padding, and the buffer's unused tail)
 *   context = probs[:room] · past_value + probs[room] · v
 * The pasts are read once, in place, and nothing of them is written.
 *
 * else (a prompt pass, or a shallow decode step) — the GroupQueryAttention as it was (its pasts squeezed to
 * four dimensions), its presents cut to the positions this run added. There it is the faster of the two:
 * its copy of a short past costs less than the in-place branch's sixteen small nodes.
 *
 * Either way `present.{i}.key|value` hold only this run's new positions ([batch, kv_heads, 1, S, head_dim],
 * rotated), and `present_new.all` every layer's; the caller writes them into its buffers
 * (src/runtime/kv-direct.ts). Rotary positions are buffer indices and every row attends to buffer
 * positions [0, total − S) where its mask is 1, as in the fused graph's GroupQueryAttention.
 */
import { ModelscoutError } from '../../errors.js';
import { AttributeType, DataType, createAttribute, createGraph, createNode, createTensor, createValueInfo, getAttribute, valueInfoElemType, valueInfoShape, type OnnxAttribute, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxValueInfo } from '../proto.js';
import { DIRECT_MIN_DEPTH } from '../../estimate/speed.js';
import { toFloat16Bits } from '../../util/float16.js';
import { FP16_LOWEST, FP32_LOWEST } from '../synth/build-decoder.js';
import { NEW_KV_ALL_OUTPUT } from './new-kv-outputs.js';

const MS = 'com.microsoft';
const PREFIX = '/modelscout/direct_attn';


const int = (name: string, i: number): OnnxAttribute => createAttribute({ name, type: AttributeType.INT, i });

class Nodes {
  readonly list: OnnxNode[] = [];
  readonly initializers: ReturnType<typeof createTensor>[];
  constructor(initializers: ReturnType<typeof createTensor>[] = []) {
    this.initializers = initializers;
  }
  op(name: string, op: string, inputs: string[], attribute: OnnxAttribute[] = [], outputs = 1, domain?: string): string[] {
    const output = outputs === 1 ? [name] : Array.from({ length: outputs }, (_, k) => `${name}/${k}`);
    this.list.push(createNode({ op_type: op, name, input: inputs, output, attribute, ...(domain ? { domain } : {}) }));
    return output;
  }
  one(name: string, op: string, inputs: string[], attribute: OnnxAttribute[] = [], domain?: string): string {
    return this.op(name, op, inputs, attribute, 1, domain)[0] as string;
  }
  int64(name: string, values: number[]): string {
    this.initializers.push(createTensor({ name, data_type: DataType.INT64, dims: [values.length], int64_data: values }));
    return name;
  }
  int64Scalar(name: string, value: number): string {
    this.initializers.push(createTensor({ name, data_type: DataType.INT64, dims: [], int64_data: [value] }));
    return name;
  }
  /** A scalar of the graph's float type (float32, or float16 as its bits). */
  float(name: string, value: number, type: number): string {
    this.initializers.push(
      type === DataType.FLOAT16
        ? createTensor({ name, data_type: DataType.FLOAT16, dims: [], int32_data: [toFloat16Bits(value)] })
        : createTensor({ name, data_type: DataType.FLOAT, dims: [], float_data: [value] }),
    );
    return name;
  }
}

/**
 * Rewrites `model` in place. Throws E_MODEL when a GroupQueryAttention is not the fused graphs' form (rotary
 * inside, no sliding window or softcap; q/k/v packed or not), or the graph lacks `input_ids` / `attention_mask`.
 */
export function splitAttention(model: OnnxModel, minDepth = DIRECT_MIN_DEPTH): void {
  const graph = model.graph as OnnxGraph | undefined;
  if (!graph) throw new ModelscoutError('E_MODEL', 'the model has no graph');
  const fail = (why: string): never => {
    throw new ModelscoutError('E_MODEL', `the direct KV layout cannot rewrite this graph's attention: ${why}`, { suggestions: ['Use --kv-layout appended or growing.'] });
  };
  const inputs = new Set(graph.input.map((i) => i.name ?? ''));
  if (!inputs.has('input_ids') || !inputs.has('attention_mask')) fail('it needs input_ids and attention_mask inputs');
  const attention = graph.node.filter((n) => n.op_type === 'GroupQueryAttention' && n.domain === MS);
  if (attention.length === 0) fail('it has no GroupQueryAttention');
  const outputs = new Map(graph.output.map((o) => [o.name ?? '', o]));

  const b = new Nodes();
  const P = PREFIX;
  // ---- shared by every layer: the pass's length, its first position, the buffer's room, the decode bias
  const maskShape = b.one(`${P}/mask_shape`, 'Shape', ['attention_mask']);
  const total = b.one(`${P}/total`, 'Slice', [maskShape, b.int64(`${P}/c1`, [1]), b.int64(`${P}/c2`, [2])]);
  const seq = b.one(`${P}/seq`, 'Slice', [b.one(`${P}/ids_shape`, 'Shape', ['input_ids']), `${P}/c1`, `${P}/c2`]);
  const start = b.one(`${P}/start`, 'Sub', [total, seq]);
  // The in-place branch runs for a decode step at least `minDepth` positions deep; everything else (prompt
  // passes, shallow decode steps) goes through GroupQueryAttention, whose copy of the past costs less there
  // than the in-place branch's extra nodes.
  const deep = b.one(`${P}/deep`, 'GreaterOrEqual', [start, b.int64(`${P}/min_depth`, [minDepth])]);
  const decoding = b.one(`${P}/decoding`, 'Squeeze', [b.one(`${P}/in_place`, 'And', [b.one(`${P}/is_one`, 'Equal', [seq, b.int64(`${P}/one`, [1])]), deep])]);
  const firstPast = attention[0]!.input[3] as string;
  // The graph's float type (the KV cache's): float32, or float16 for fp16 models.
  const pastInfo0 = graph.input.find((x) => x.name === firstPast);
  const T = (pastInfo0 ? valueInfoElemType(pastInfo0) : undefined) ?? DataType.FLOAT;
  if (T !== DataType.FLOAT && T !== DataType.FLOAT16) fail('its KV cache is neither float32 nor float16');
  // The pasts come in as [batch, kv_heads, 1, room, head_dim] (see below): the room is axis 3.
  const room = b.one(`${P}/room`, 'Slice', [b.one(`${P}/past_shape`, 'Shape', [firstPast]), b.int64(`${P}/c3`, [3]), b.int64(`${P}/c4`, [4])]);
  // Decode bias [batch, 1, 1, 1, room + 1]: the mask over [0, start), the unused tail [start, room) masked,
  // the new position as its mask says. (Computed for every run; only a decode step's branch reads it.)
  const maskF = b.one(`${P}/mask_f`, 'Cast', ['attention_mask'], [int('to', T)]);
  const pastMask = b.one(`${P}/past_mask`, 'Slice', [maskF, b.int64(`${P}/c0`, [0]), start, `${P}/c1`]);
  const pads = b.one(`${P}/pads`, 'Concat', [`${P}/c0`, `${P}/c0`, `${P}/c0`, b.one(`${P}/tail`, 'Sub', [room, start])], [int('axis', 0)]);
  const allowed = b.one(`${P}/allowed`, 'Concat', [b.one(`${P}/past_allowed`, 'Pad', [pastMask, pads]), b.one(`${P}/new_mask`, 'Slice', [maskF, start, total, `${P}/c1`])], [int('axis', 1)]);
  const bias2 = b.one(`${P}/bias2`, 'Where', [b.one(`${P}/allowed_b`, 'Cast', [allowed], [int('to', DataType.BOOL)]), b.float(`${P}/zero`, 0, T), b.float(`${P}/lowest`, T === DataType.FLOAT16 ? FP16_LOWEST : FP32_LOWEST, T)]);
  const bias = b.one(`${P}/bias`, 'Unsqueeze', [bias2, b.int64(`${P}/c123`, [1, 2, 3])]);
  const splitProbs = b.one(`${P}/split_probs`, 'Concat', [room, `${P}/one`], [int('axis', 0)]);
  const axis2 = `${P}/c2`;
  // cos and sin times the attention scale, one pair per table and scale (ONNX Runtime folds them at load).
  const scaledPairs = new Map<string, [string, string]>();
  const scaledTables = (cos: string, sin: string, scale: number): [string, string] => {
    const key = `${cos}|${sin}|${scale}`;
    let pair = scaledPairs.get(key);
    if (!pair) {
      const k = scaledPairs.size;
      const factor = b.float(`${P}/rotary_scale${k}`, scale, T);
      pair = [b.one(`${P}/cos_scaled${k}`, 'Mul', [cos, factor]), b.one(`${P}/sin_scaled${k}`, 'Mul', [sin, factor])];
      scaledPairs.set(key, pair);
    }
    return pair;
  };

  const replaced = new Map<OnnxNode, OnnxNode>();
  const presents: string[] = [];
  for (const [i, gqa] of attention.entries()) {
    const [query = '', key = '', value = '', pastKey = '', pastValue = '', , , cos = '', sin = ''] = gqa.input;
    const packed = key === '' && value === '';
    if (!packed && (key === '' || value === '')) fail('it has a key input without a value input, or the reverse');
    if (!cos || !sin || getAttribute(gqa, 'do_rotary') !== 1) fail('the rotary embedding is not inside GroupQueryAttention');
    const window = getAttribute(gqa, 'local_window_size');
    if (window !== undefined && window !== -1) fail('it uses a sliding window');
    const softcap = getAttribute(gqa, 'softcap');
    if (softcap !== undefined && softcap !== 0) fail('it uses a softcap');
    const H = getAttribute(gqa, 'num_heads') as number;
    const KV = getAttribute(gqa, 'kv_num_heads') as number;
    const pastInfo = graph.input.find((x) => x.name === pastKey);
    const D = pastInfo ? valueInfoShape(pastInfo)?.[3] : undefined;
    if (typeof D !== 'number') fail(`${pastKey} does not state head_dim`);
    const headDim = D as number;
    const G = H / KV;
    const scaleAttr = getAttribute(gqa, 'scale');
    const scale = typeof scaleAttr === 'number' && scaleAttr !== 0 ? scaleAttr : 1 / Math.sqrt(headDim);
    const interleaved = (getAttribute(gqa, 'rotary_interleaved') as number | undefined) ?? 0;
    const [context = '', presentKey = '', presentValue = ''] = gqa.output;
    const s = `${P}/${i}`;

    // ---- then: a decode step (one new position per row), reading the buffers in place
    const d = new Nodes(b.initializers);
    const [q0, k0, v0] = packed
      ? (d.op(`${s}/split_qkv`, 'Split', [query, b.int64(`${s}/qkv_sizes`, [H * headDim, KV * headDim, KV * headDim])], [int('axis', 2)], 3) as [string, string, string])
      : [query, key, value];
    // q is scaled through its rotary tables (the rotation is linear in cos and sin): one node fewer per layer.
    const [cosScaled, sinScaled] = scaledTables(cos, sin, scale);
    const q = d.one(`${s}/q_rot`, 'RotaryEmbedding', [q0, start, cosScaled, sinScaled], [int('num_heads', H), int('interleaved', interleaved)], MS);
    const k = d.one(`${s}/k_rot`, 'RotaryEmbedding', [k0, start, cos, sin], [int('num_heads', KV), int('interleaved', interleaved)], MS);
    // Five dimensions, one row per query head: [batch, kv_heads, group, 1, head_dim] against the pasts'
    // [batch, kv_heads, 1, room, head_dim], so every product is one of MLAS's M = 1 kernels and the pasts
    // need no Unsqueeze. The new positions stay five-dimensional too ([batch, kv_heads, 1, 1, head_dim], the
    // same values as the prompt branch's [batch, kv_heads, 1, head_dim]).
    const q5 = d.one(`${s}/q5`, 'Reshape', [q, b.int64(`${s}/q5_shape`, [0, KV, G, 1, headDim])]);
    const new5 = b.int64(`${s}/new5_shape`, [0, KV, 1, 1, headDim]);
    const k5 = d.one(`${s}/k5`, 'Reshape', [k, new5]);
    const v5 = d.one(`${s}/v5`, 'Reshape', [v0, new5]);
    const scores = d.one(`${s}/scores`, 'Concat', [
      d.one(`${s}/score_past`, 'FusedMatMul', [q5, pastKey], [int('transB', 1)], MS),
      d.one(`${s}/score_new`, 'FusedMatMul', [q5, k5], [int('transB', 1)], MS),
    ], [int('axis', -1)]);
    const probs = d.one(`${s}/probs`, 'Softmax', [d.one(`${s}/biased`, 'Add', [scores, bias])], [int('axis', -1)]);
    const [pPast, pNew] = d.op(`${s}/split_probs`, 'Split', [probs, splitProbs], [int('axis', -1)], 2) as [string, string];
    const ctx = d.one(`${s}/ctx`, 'Add', [d.one(`${s}/ctx_past`, 'MatMul', [pPast, pastValue]), d.one(`${s}/ctx_new`, 'Mul', [pNew, v5])]);
    const ctxFlat = d.one(`${s}/ctx_flat`, 'Reshape', [ctx, b.int64(`${s}/ctx_shape`, [0, 1, H * headDim])]);
    const thenBranch = createGraph({
      name: `${s}/decode`,
      node: d.list,
      output: [createValueInfo(ctxFlat, T, [null, null, null]), createValueInfo(k5, T, [null, null, 1, null, null]), createValueInfo(v5, T, [null, null, 1, null, null])],
    });

    // ---- else: a prompt pass, through the GroupQueryAttention as it was; its presents cut to the new positions
    const p = new Nodes(b.initializers);
    const squeezed = [pastKey, pastValue].map((x, j) => p.one(`${s}/prompt/past${j}`, 'Squeeze', [x, axis2]));
    const gqaInputs = gqa.input.map((x, j) => (j === 3 || j === 4 ? (squeezed[j - 3] as string) : x));
    const [pctx, fullK, fullV] = p.op(`${s}/prompt/GroupQueryAttention`, 'GroupQueryAttention', gqaInputs, gqa.attribute, 3, MS) as [string, string, string];
    // Five dimensions like the decode branch's (an Unsqueeze: the same bytes).
    const cutK = p.one(`${s}/prompt/k_new`, 'Unsqueeze', [p.one(`${s}/prompt/k_cut`, 'Slice', [fullK, start, total, axis2]), axis2]);
    const cutV = p.one(`${s}/prompt/v_new`, 'Unsqueeze', [p.one(`${s}/prompt/v_cut`, 'Slice', [fullV, start, total, axis2]), axis2]);
    const elseBranch = createGraph({
      name: `${s}/prompt`,
      node: p.list,
      output: [createValueInfo(pctx, T, [null, null, null]), createValueInfo(cutK, T, [null, null, 1, null, null]), createValueInfo(cutV, T, [null, null, 1, null, null])],
    });
    replaced.set(
      gqa,
      createNode({
        op_type: 'If',
        name: `${s}/If`,
        input: [decoding],
        output: [context, presentKey, presentValue],
        attribute: [createAttribute({ name: 'then_branch', type: AttributeType.GRAPH, g: thenBranch }), createAttribute({ name: 'else_branch', type: AttributeType.GRAPH, g: elseBranch })],
      }),
    );
    presents.push(presentKey, presentValue);
  }

  // The concatenated new positions (what a decode step fetches), as the appended layout's.
  if (!outputs.has(NEW_KV_ALL_OUTPUT)) {
    b.list.push(createNode({ op_type: 'Concat', name: `${P}/all`, input: presents, output: [NEW_KV_ALL_OUTPUT], attribute: [int('axis', 1)] }));
    graph.output.push(createValueInfo(NEW_KV_ALL_OUTPUT, T, ['batch_size', null, 1, 'sequence_length', null]));
  }
  graph.initializer.push(...b.initializers);
  // ONNX wants the nodes in topological order: sort the kept, the replaced and the new ones together.
  graph.node = topoSort([...graph.node.map((n) => replaced.get(n) ?? n), ...b.list], graph);
  if (!model.opset_import.some((o) => o.domain === MS)) model.opset_import.push({ domain: MS, version: 1 });
  // The presents now hold this run's new positions only, and pasts and presents have five dimensions:
  // [batch, kv_heads, 1, positions, head_dim] (the same bytes as the four-dimensional cache).
  const fiveD = (info: OnnxValueInfo | undefined, positions: string): void => {
    const shape = info ? valueInfoShape(info) : null;
    if (info && shape) Object.assign(info, createValueInfo(info.name ?? '', T, [shape[0] ?? 'batch_size', shape[1] ?? null, 1, positions, shape[3] ?? null]));
  };
  for (const name of presents) fiveD(outputs.get(name), 'sequence_length');
  for (const gqa of attention) for (const name of gqa.input.slice(3, 5)) fiveD(graph.input.find((x) => x.name === name), 'past_sequence_length');
}

/** Names a node's subgraphs read from the enclosing graph (an If branch's implicit inputs). */
function outerReferences(node: OnnxNode): string[] {
  const names: string[] = [];
  for (const a of node.attribute) {
    if (!a.g) continue;
    const local = new Set<string>();
    for (const n of a.g.node) for (const o of n.output) local.add(o);
    for (const n of a.g.node) for (const i of [...n.input, ...outerReferences(n)]) if (i && !local.has(i)) names.push(i);
  }
  return names;
}

/** Depth-first topological order over tensor names (graph inputs and initializers are available from the start). */
function topoSort(nodes: OnnxNode[], graph: OnnxGraph): OnnxNode[] {
  const available = new Set<string>(['']);
  for (const i of graph.input) available.add(i.name ?? '');
  for (const t of graph.initializer) available.add(t.name ?? '');
  const producers = new Map<string, OnnxNode>();
  for (const n of nodes) for (const o of n.output) producers.set(o, n);
  const done = new Set<OnnxNode>();
  const out: OnnxNode[] = [];
  const visit = (n: OnnxNode, stack: Set<OnnxNode>): void => {
    if (done.has(n)) return;
    if (stack.has(n)) throw new ModelscoutError('E_MODEL', 'the rewritten graph has a cycle');
    stack.add(n);
    for (const input of [...n.input, ...outerReferences(n)]) {
      if (available.has(input)) continue;
      const p = producers.get(input);
      if (p) visit(p, stack);
    }
    stack.delete(n);
    done.add(n);
    out.push(n);
  };
  for (const n of nodes) visit(n, new Set());
  return out;
}
