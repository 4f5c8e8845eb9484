/**
 * The `appended` KV layout's graph: a fused decoder with, beside each GroupQueryAttention `present.*`
 * output, one more output holding only the positions this run added.
 *
 * Why: onnxruntime-node copies every fetched output into a new JavaScript buffer after `session.run`. With
 * the preallocated layout the presents are fetched (that is how GroupQueryAttention is made to write into
 * the shared buffer), so each decode step copies the whole cache out again, and the garbage collector then
 * has to reclaim it: at depth 512 that was a fifth of a step on SmolLM2-135M. Here the caller keeps the
 * cache in its own buffers and feeds them as `past_key_values.*` (at full capacity; the attention mask's
 * width says how much is valid), fetches only the logits and these new-position outputs, and writes the
 * new positions into its buffers itself. The presents are still computed inside ONNX Runtime (from its own
 * arena) but never cross into JavaScript.
 *
 * The new positions are `present[:, :, total − n : total, :]` with `total` the GroupQueryAttention's
 * `total_sequence_length` input and `n` the number of input ids: right for every row when the graph gives
 * all rows the same `seqlens_k` (total − 1), as modelscout's fused graphs do (padding is masked by the
 * attention bias). A graph that sets `seqlens_k` per row from the mask (onnxruntime-genai's, which assumes
 * right padding) writes padded rows elsewhere, so the benchmark uses this layout for modelscout's fused
 * graphs only.
 */
import { ModelscoutError } from '../../errors.js';
import { AttributeType, DataType, createAttribute, createNode, createTensor, createValueInfo, valueInfoElemType, valueInfoShape, type OnnxModel, type OnnxNode } from '../proto.js';

/** Name of the new-positions output for a present output (`present.3.key` → `present_new.3.key`). */
export function newKvOutputName(present: string): string {
  return present.startsWith('present.') ? `present_new.${present.slice('present.'.length)}` : `${present}_new`;
}

const PREFIX = '/modelscout/new_kv';

/**
 * One output with every layer's new positions, concatenated along the head axis in layer order, key before
 * value: `[batch, 2 · layers · kv_heads, n, head_dim]`. Fetching it instead of one output per present spares
 * onnxruntime-node turning 2 · layers tensors into JavaScript values every step.
 */
export const NEW_KV_ALL_OUTPUT = 'present_new.all';

/** Layer index and key/value of a `present.{i}.key|value` name (null for other names). */
function presentSlot(name: string): { layer: number; value: boolean } | null {
  const m = /^present\.(\d+)\.(key|value)$/.exec(name);
  return m ? { layer: Number(m[1]), value: m[2] === 'value' } : null;
}

function int64Constant(name: string, values: number[]): OnnxNode {
  const value = createTensor({ name: `${name}/value`, data_type: DataType.INT64, dims: [values.length], int64_data: values });
  return createNode({ op_type: 'Constant', name, input: [], output: [name], attribute: [createAttribute({ name: 'value', type: AttributeType.TENSOR, t: value })] });
}

/**
 * Adds the new-position outputs to `model` (in place) and returns their names by present output. Throws
 * E_MODEL when the graph has no GroupQueryAttention whose presents are graph outputs, or no `input_ids`.
 */
export function addNewKvOutputs(model: OnnxModel, inputIds = 'input_ids'): Map<string, string> {
  const graph = model.graph;
  if (!graph) throw new ModelscoutError('E_MODEL', 'the model has no graph');
  const outputs = new Map(graph.output.map((o) => [o.name ?? '', o]));
  const attention = graph.node.filter((n) => n.op_type === 'GroupQueryAttention' && n.domain === 'com.microsoft');
  const presents: { node: OnnxNode; index: 1 | 2 }[] = [];
  for (const node of attention) for (const index of [1, 2] as const) if (outputs.has(node.output[index] ?? '')) presents.push({ node, index });
  if (presents.length === 0) {
    throw new ModelscoutError('E_MODEL', 'the appended KV layout needs a fused graph whose GroupQueryAttention presents are graph outputs', {
      suggestions: ['Use --kv-layout growing, or build the model with `modelscout synth --graph fused`.'],
    });
  }
  if (!graph.input.some((i) => i.name === inputIds)) throw new ModelscoutError('E_MODEL', `the appended KV layout needs an ${inputIds} input`);
  const totals = new Set(attention.map((n) => n.input[6] ?? ''));
  if (totals.size !== 1 || totals.has('')) {
    throw new ModelscoutError('E_MODEL', 'the appended KV layout needs every GroupQueryAttention to share one total_sequence_length input');
  }
  const total = [...totals][0] as string;

  // end = total_sequence_length (as a 1-element int64), start = end − n (n = input_ids' sequence length).
  const added: OnnxNode[] = [
    int64Constant(`${PREFIX}/one`, [1]),
    int64Constant(`${PREFIX}/axis`, [2]),
    createNode({ op_type: 'Shape', name: `${PREFIX}/ids_shape`, input: [inputIds], output: [`${PREFIX}/ids_shape`] }),
    createNode({ op_type: 'Gather', name: `${PREFIX}/n`, input: [`${PREFIX}/ids_shape`, `${PREFIX}/one`], output: [`${PREFIX}/n`] }),
    createNode({ op_type: 'Cast', name: `${PREFIX}/total`, input: [total], output: [`${PREFIX}/total`], attribute: [createAttribute({ name: 'to', type: AttributeType.INT, i: DataType.INT64 })] }),
    createNode({ op_type: 'Reshape', name: `${PREFIX}/end`, input: [`${PREFIX}/total`, `${PREFIX}/one`], output: [`${PREFIX}/end`] }),
    createNode({ op_type: 'Sub', name: `${PREFIX}/start`, input: [`${PREFIX}/end`, `${PREFIX}/n`], output: [`${PREFIX}/start`] }),
  ];
  const names = new Map<string, string>();
  for (const { node, index } of presents) {
    const present = node.output[index] as string;
    const name = newKvOutputName(present);
    if (outputs.has(name)) throw new ModelscoutError('E_MODEL', `the graph already has an output named ${name}`);
    added.push(createNode({ op_type: 'Slice', name: `${PREFIX}/${name}`, input: [present, `${PREFIX}/start`, `${PREFIX}/end`, `${PREFIX}/axis`], output: [name] }));
    const info = outputs.get(present);
    const shape = info ? valueInfoShape(info) : null;
    const elemType = (info ? valueInfoElemType(info) : undefined) ?? DataType.FLOAT;
    graph.output.push(createValueInfo(name, elemType, shape ? [shape[0] ?? 'batch', shape[1] ?? null, 'new_positions', shape[3] ?? null] : ['batch', null, 'new_positions', null]));
    names.set(present, name);
  }
  // The concatenated output, when every present follows the present.{i}.key|value naming (its row order is
  // the decoder recogniser's: layer by layer, key then value).
  const slots = [...names.keys()].map((present) => ({ present, slot: presentSlot(present) }));
  if (slots.every((s) => s.slot !== null) && !outputs.has(NEW_KV_ALL_OUTPUT)) {
    slots.sort((a, b) => a.slot!.layer - b.slot!.layer || Number(a.slot!.value) - Number(b.slot!.value));
    added.push(createNode({ op_type: 'Concat', name: `${PREFIX}/all`, input: slots.map((s) => names.get(s.present) as string), output: [NEW_KV_ALL_OUTPUT], attribute: [createAttribute({ name: 'axis', type: AttributeType.INT, i: 1 })] }));
    const first = outputs.get(slots[0]!.present);
    const elemType = (first ? valueInfoElemType(first) : undefined) ?? DataType.FLOAT;
    const shape = first ? valueInfoShape(first) : null;
    graph.output.push(createValueInfo(NEW_KV_ALL_OUTPUT, elemType, [shape?.[0] ?? 'batch', null, 'new_positions', shape?.[3] ?? null]));
  }
  graph.node.push(...added);
  return names;
}
