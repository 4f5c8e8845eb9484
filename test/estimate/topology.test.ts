import { describe, expect, it } from 'vitest';
import { findModel } from '../../src/catalog/index.js';
import type { ModelSpec } from '../../src/catalog/model-spec.js';
import {
  LINKS,
  allReduceSec,
  candidateLayouts,
  parseInterconnect,
  planLayout,
  planTopology,
  proposeTopology,
  resolveInterconnect,
  tpShardsAttention,
} from '../../src/estimate/topology.js';
import type { Cluster, ClusterGpu } from '../../src/estimate/device.js';
import { defaultKvDtype, fitMemory, gpuActivationBytes, servingBatchLimits } from '../../src/estimate/fit.js';
import type { WeightFormat } from '../../src/estimate/weights.js';
import { findAccelerator } from '../../src/hardware/accelerators.js';
import { GPU_RUNTIME_OVERHEAD_BYTES } from '../../src/hardware/device.js';
import { serveCommands } from '../../src/recommend/serve-commands.js';

const GIB = 1024 ** 3;

function gpu(key: string): ClusterGpu {
  const a = findAccelerator(key);
  if (!a || a.memoryBytes === null) throw new Error(`no accelerator ${key}`);
  return {
    name: a.name,
    memoryTotalBytes: a.memoryBytes,
    memoryAvailableBytes: a.memoryBytes,
    bandwidthBytesPerSec: a.memoryBandwidthBytesPerSec,
    bandwidthSource: 'known',
    peakFlops: a.fp16Flops,
    peakFlopsSource: 'known',
    runtimeOverheadBytes: GPU_RUNTIME_OVERHEAD_BYTES,
  };
}

function cluster(key: string, gpusPerNode: number, nodes = 1, interconnect = ''): Cluster {
  const g = gpu(key);
  return { gpu: g, gpusPerNode, nodes, interconnect: resolveInterconnect(g.name, nodes, interconnect === '' ? {} : parseInterconnect(interconnect)) };
}

const WORKLOAD = { context: 2048, concurrency: 1 };
const fitsOn = (spec: ModelSpec, format: WeightFormat, c: Cluster): boolean => planTopology(spec, format, c, WORKLOAD).best !== null;

const deepseek = findModel('deepseek-v3');
const llama405 = findModel('llama-3.1-405b');

// Golden cases: which GPU counts the engines' own documentation deploys these models on.
describe('golden: published GPU counts', () => {
  // SGLang, "DeepSeek V3/V3.1/R1 Usage" (docs.sglang.io/basic_usage/deepseek_v3), recommended settings table:
  // FP8 on 8× H200 or 2 × 8× H100; BF16 on 2 × 8× H200 or 4 × 8× H100 / A100; INT8 on 16× A100 or 32× L40S;
  // AWQ (int4) on 8× H100 or 8× A100. modelscout's int8 has FP8's bytes per weight; q4f16 is AWQ-sized.
  it('DeepSeek-V3 8-bit: 8× H200 on one node, not 8× H100; 2 nodes × 8 H100', () => {
    expect(fitsOn(deepseek, 'int8', cluster('H200', 8))).toBe(true);
    expect(fitsOn(deepseek, 'int8', cluster('H100-80GB', 8))).toBe(false);
    expect(fitsOn(deepseek, 'int8', cluster('H100-80GB', 8, 2))).toBe(true);
  });
  it('DeepSeek-V3 BF16: 2 × 8 H200 (not one node), 4 × 8 H100 (not 2), 4 × 8 A100 80GB', () => {
    expect(fitsOn(deepseek, 'fp16', cluster('H200', 8, 1))).toBe(false);
    expect(fitsOn(deepseek, 'fp16', cluster('H200', 8, 2))).toBe(true);
    expect(fitsOn(deepseek, 'fp16', cluster('H100-80GB', 8, 2))).toBe(false);
    expect(fitsOn(deepseek, 'fp16', cluster('H100-80GB', 8, 4))).toBe(true);
    expect(fitsOn(deepseek, 'fp16', cluster('A100-80GB', 8, 4))).toBe(true);
  });
  it('DeepSeek-V3 INT8: 16 A100 80GB (not 8), 32 L40S (not 16)', () => {
    expect(fitsOn(deepseek, 'int8', cluster('A100-80GB', 8, 1))).toBe(false);
    expect(fitsOn(deepseek, 'int8', cluster('A100-80GB', 8, 2))).toBe(true);
    expect(fitsOn(deepseek, 'int8', cluster('L40S', 8, 2))).toBe(false);
    expect(fitsOn(deepseek, 'int8', cluster('L40S', 8, 4))).toBe(true);
  });
  it('DeepSeek-V3 int4 (AWQ): 8× H100 and 8× A100 80GB, not 4', () => {
    expect(fitsOn(deepseek, 'q4f16', cluster('H100-80GB', 8))).toBe(true);
    expect(fitsOn(deepseek, 'q4f16', cluster('A100-80GB', 8))).toBe(true);
    expect(fitsOn(deepseek, 'q4f16', cluster('H100-80GB', 4))).toBe(false);
  });
  // vLLM, "Distributed Inference and Serving" (docs.vllm.ai, v0.8): a model too large for one node runs with
  // TP = GPUs per node and PP = nodes, "16 GPUs in 2 nodes: tensor parallel size 8, pipeline parallel size 2";
  // Meta's Llama 3.1 release: the 405B in BF16 needs more than one 8× H100 node; FP8 runs on a single node.
  it('Llama-3.1-405B: BF16 needs 2 nodes of 8× H100 as TP 8 × PP 2; 8-bit fits one node with TP 8', () => {
    expect(fitsOn(llama405, 'fp16', cluster('H100-80GB', 8, 1))).toBe(false);
    const proposal = proposeTopology(llama405, 'fp16', gpu('H100-80GB'), { ...WORKLOAD }, { decodeTokensPerSec: 5, maxTtftMs: 10_000 });
    expect(proposal).toMatchObject({ gpusPerNode: 8, nodes: 2, plan: { layout: { tp: 8, pp: 2, dp: 1 } } });
    const fp8 = proposeTopology(llama405, 'int8', gpu('H100-80GB'), { ...WORKLOAD }, { decodeTokensPerSec: 5, maxTtftMs: 10_000 });
    expect(fp8).toMatchObject({ gpusPerNode: 8, nodes: 1, plan: { layout: { tp: 8, pp: 1 } } });
  });
});

describe('layout planner', () => {
  it('TP must divide the attention heads and split the KV heads evenly', () => {
    const phi4 = findModel('phi-4'); // 40 heads, 10 KV heads
    expect(tpShardsAttention(phi4, 2)).toBeNull();
    expect(tpShardsAttention(phi4, 4)).toMatch(/does not split the 10 KV heads/);
    expect(tpShardsAttention(phi4, 8)).toMatch(/KV heads/);
    expect(tpShardsAttention(phi4, 3)).toMatch(/does not divide the 40 attention heads/);
    const qwen = findModel('qwen2.5-0.5b'); // 14 heads, 2 KV heads
    expect(tpShardsAttention(qwen, 2)).toBeNull();
    expect(tpShardsAttention(qwen, 4)).toMatch(/attention heads/);
    const llama70 = findModel('llama-3.1-70b'); // 64 heads, 8 KV heads: TP 16 replicates each KV head twice
    expect(tpShardsAttention(llama70, 16)).toBeNull();
    // MLA caches a latent, not heads: only the query heads count.
    expect(tpShardsAttention(deepseek, 8)).toBeNull();
    const phiLayouts = candidateLayouts(phi4, { gpusPerNode: 8, nodes: 1 });
    expect(phiLayouts.filter((l) => l.invalid === null).map((l) => l.layout.tp).sort()).toEqual([1, 1, 1, 1, 2, 2, 2]);
  });

  it('never proposes a layout that does not fit, over many models, formats and clusters', () => {
    const models = ['llama-3.1-8b', 'qwen2.5-72b', 'llama-3.1-405b', 'deepseek-v3', 'qwen3-235b-a22b', 'phi-4', 'gemma-2-27b', 'mixtral-8x7b-v0.1'].map((id) => findModel(id));
    let checked = 0;
    for (const spec of models) {
      for (const format of ['fp16', 'int8', 'q4f16'] as const) {
        for (const [key, per, nodes] of [['L4', 4, 1], ['A100-40GB', 8, 1], ['H100-80GB', 8, 2], ['L40S', 8, 4], ['H200', 2, 1]] as const) {
          for (const workload of [WORKLOAD, { context: 32_768, concurrency: 16 }]) {
            const choice = planTopology(spec, format, cluster(key, per, nodes), workload, { decodeTokensPerSec: 20, maxTtftMs: 500 });
            for (const plan of choice.plans) {
              expect(tpShardsAttention(spec, plan.layout.tp)).toBeNull();
              expect(plan.layout.tp * plan.layout.pp * plan.layout.dp).toBe(per * nodes);
              expect(plan.fits).toBe(plan.perGpu.totalBytes <= plan.perGpu.usableBytes);
            }
            if (choice.best) {
              expect(choice.best.fits).toBe(true);
              expect(choice.best.perGpu.totalBytes).toBeLessThanOrEqual(choice.best.perGpu.usableBytes);
              checked += 1;
            } else {
              expect(choice.plans.every((p) => !p.fits)).toBe(true);
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('shards weights by TP × PP and KV by TP (at most one head per GPU); MLA keeps the latent whole', () => {
    const llama70 = findModel('llama-3.1-70b');
    const c = cluster('H100-80GB', 8, 2);
    const tp8 = planLayout(llama70, 'fp16', { tp: 8, pp: 1, dp: 2 }, c, WORKLOAD);
    const tp4 = planLayout(llama70, 'fp16', { tp: 4, pp: 1, dp: 4 }, c, WORKLOAD);
    expect(tp4.perGpu.weightBytes / tp8.perGpu.weightBytes).toBeCloseTo(2, 5);
    expect(tp4.perGpu.kvBytes / tp8.perGpu.kvBytes).toBeCloseTo(2, 5);
    const tp8pp2 = planLayout(llama70, 'fp16', { tp: 8, pp: 2, dp: 1 }, c, WORKLOAD);
    expect(tp8pp2.perGpu.weightBytes).toBeLessThan(tp8.perGpu.weightBytes * 0.6);
    // 8 KV heads: TP 16 would hold one head per GPU, the same as TP 8.
    const ds8 = planLayout(deepseek, 'q4f16', { tp: 8, pp: 1, dp: 1 }, cluster('H100-80GB', 8), WORKLOAD);
    const ds4 = planLayout(deepseek, 'q4f16', { tp: 4, pp: 2, dp: 1 }, cluster('H100-80GB', 8), WORKLOAD);
    // MLA: TP does not split the cache; PP 2 halves it.
    expect(ds4.perGpu.kvBytes / ds8.perGpu.kvBytes).toBeCloseTo(31 / 61, 2);
  });

  it('decode pays 2 all-reduces per layer for TP and one send per stage boundary for PP; TP 1 pays none', () => {
    const c = cluster('H100-80GB', 8, 2);
    const one = planLayout(llama405, 'int8', { tp: 8, pp: 2, dp: 1 }, c, WORKLOAD);
    const comm = one.decode.communication;
    expect(comm.allReduces).toBe(2 * llama405.numLayers);
    expect(comm.allReduceBytes).toBe(llama405.hiddenSize * 2);
    expect(comm.tpSec).toBeCloseTo(comm.allReduces * allReduceSec(comm.allReduceBytes, 8, c.interconnect.intraNode), 12);
    expect(comm.stageHops).toBe(1);
    expect(comm.interNodeHops).toBe(1);
    expect(one.decode.stepSec).toBeCloseTo(Math.max(one.decode.computeSec!, one.decode.kernelFloorSec) + comm.tpSec + comm.ppSec, 12);
    // The per-stream rate is below the same GPUs treated as one device.
    expect(one.decode.tokPerSecPerStream!.value).toBeLessThan(one.deviceEstimate.decodeTokPerSec!.value);
    const single = planLayout(findModel('llama-3.1-8b'), 'fp16', { tp: 1, pp: 1, dp: 16 }, c, WORKLOAD);
    expect(single.decode.communication.tpSec + single.decode.communication.ppSec).toBe(0);
    // Prefill sends the whole prompt's activations.
    expect(one.prefill.communication.allReduceBytes).toBe(2048 * llama405.hiddenSize * 2);
  });

  it('a slower link costs more: PCIe TP is slower than NVLink, Ethernet PP slower than InfiniBand', () => {
    const nv = planLayout(llama405, 'int8', { tp: 8, pp: 1, dp: 1 }, cluster('H100-80GB', 8, 1, 'nvlink'), WORKLOAD);
    const pcie = planLayout(llama405, 'int8', { tp: 8, pp: 1, dp: 1 }, cluster('H100-80GB', 8, 1, 'pcie'), WORKLOAD);
    expect(pcie.decode.tokPerSecPerStream!.value).toBeLessThan(nv.decode.tokPerSecPerStream!.value);
    expect(pcie.prefill.ttftMs!.value).toBeGreaterThan(nv.prefill.ttftMs!.value);
    const ib = planLayout(llama405, 'fp16', { tp: 8, pp: 2, dp: 1 }, cluster('H100-80GB', 8, 2, 'ib'), WORKLOAD);
    const eth = planLayout(llama405, 'fp16', { tp: 8, pp: 2, dp: 1 }, cluster('H100-80GB', 8, 2, 'ethernet'), WORKLOAD);
    expect(eth.prefill.communication.ppSec).toBeGreaterThan(ib.prefill.communication.ppSec);
  });

  it('DP splits the streams over replicas', () => {
    const plan = planLayout(findModel('llama-3.1-8b'), 'fp16', { tp: 2, pp: 1, dp: 4 }, cluster('H100-80GB', 8), { context: 2048, concurrency: 10 });
    expect(plan.concurrencyPerReplica).toBe(3);
    expect(plan.gpusUsed).toBe(8);
    expect(plan.decode.tokPerSecTotal!.value).toBeCloseTo(10 * plan.decode.tokPerSecPerStream!.value, 6);
  });
});

describe('--interconnect', () => {
  it('parses kinds, bandwidths and pairs', () => {
    expect(parseInterconnect('nvlink')).toEqual({ intraNode: LINKS.nvlink });
    expect(parseInterconnect('ethernet')).toEqual({ interNode: LINKS.ethernet });
    expect(parseInterconnect('pcie,ib')).toEqual({ intraNode: LINKS.pcie, interNode: LINKS.ib });
    expect(parseInterconnect('200GB/s').either?.bytesPerSec).toBe(200e9);
    expect(parseInterconnect('400Gbps').either?.bytesPerSec).toBe(50e9);
    expect(() => parseInterconnect('carrier-pigeon')).toThrow(/--interconnect/);
    expect(() => parseInterconnect('nvlink,ib,pcie')).toThrow(/--interconnect/);
  });
  it('defaults: NVLink for SXM GPUs, PCIe for others, InfiniBand between nodes; a bare bandwidth goes between nodes when there are several', () => {
    expect(resolveInterconnect('NVIDIA H100 SXM 80GB', 1)).toMatchObject({ intraNode: { kind: 'nvlink', bytesPerSec: 450e9 }, interNode: null });
    expect(resolveInterconnect('NVIDIA A100 80GB SXM', 2)).toMatchObject({ intraNode: { kind: 'nvlink', bytesPerSec: 300e9 }, interNode: { kind: 'ib' } });
    expect(resolveInterconnect('NVIDIA L40S', 1).intraNode.kind).toBe('pcie');
    expect(resolveInterconnect('NVIDIA L40S', 2, parseInterconnect('25GB/s')).interNode?.bytesPerSec).toBe(25e9);
    expect(resolveInterconnect('NVIDIA L40S', 1, parseInterconnect('25GB/s')).intraNode.bytesPerSec).toBe(25e9);
  });
});

describe('serve commands', () => {
  it('one node: vllm serve with --tensor-parallel-size; SGLang --tp', () => {
    const c = serveCommands({ model: llama405, format: 'int8', tp: 8, pp: 1, nodes: 1, context: 4096, concurrency: 8 });
    expect(c.vllm).toEqual(['vllm serve meta-llama/Llama-3.1-405B --tensor-parallel-size 8 --max-model-len 4096 --max-num-seqs 8 --quantization fp8']);
    expect(c.sglang).toEqual(['python -m sglang.launch_server --model-path meta-llama/Llama-3.1-405B --tp 8 --context-length 4096 --max-running-requests 8 --quantization fp8']);
  });
  it('two nodes: vLLM over Ray with PP; SGLang one line per node rank', () => {
    const c = serveCommands({ model: llama405, format: 'fp16', tp: 8, pp: 2, nodes: 2, context: 2048, concurrency: 1, headAddress: '10.0.0.1' });
    expect(c.vllm.at(-1)).toBe('vllm serve meta-llama/Llama-3.1-405B --tensor-parallel-size 8 --pipeline-parallel-size 2 --distributed-executor-backend ray --max-model-len 2048 --max-num-seqs 1');
    expect(c.vllm.some((l) => l.includes('ray start --address 10.0.0.1:6379'))).toBe(true);
    const lines = c.sglang.filter((l) => !l.startsWith('#'));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('--tp 8 --pp-size 2');
    expect(lines[1]).toContain('--nnodes 2 --node-rank 1 --dist-init-addr 10.0.0.1:5000');
  });
  it('DeepSeek-V3 is FP8 already: no quantization flag, remote code trusted', () => {
    const c = serveCommands({ model: deepseek, format: 'int8', tp: 8, pp: 1, nodes: 1, context: 2048, concurrency: 1 });
    expect(c.vllm[0]).not.toContain('--quantization');
    expect(c.vllm[0]).toContain('--trust-remote-code');
  });
});

describe('GPU serving memory: the engine caps the tokens of one forward pass', () => {
  const qwen3b = findModel('qwen2.5-3b')!;
  it('follows vLLM serve defaults: 2,048 tokens under 70 GiB or on an A100, 8,192 on larger GPUs', () => {
    expect(servingBatchLimits(gpu('L4'))).toMatchObject({ maxTokensPerPass: 2048, maxSequences: 256 });
    expect(servingBatchLimits(gpu('A100-80GB'))).toMatchObject({ maxTokensPerPass: 2048, maxSequences: 256 });
    expect(servingBatchLimits(gpu('H100-80GB'))).toMatchObject({ maxTokensPerPass: 8192, maxSequences: 1024 });
  });

  it('activations grow with the tokens of one pass up to the cap, then stay flat whatever concurrency × context', () => {
    const limits = servingBatchLimits(gpu('L4'));
    const small = gpuActivationBytes(qwen3b, 'fp16', 512, 1, limits);
    const atCap = gpuActivationBytes(qwen3b, 'fp16', 2048, 1, limits);
    expect(atCap).toBeGreaterThan(3 * small);
    // 32 × 4,096 tokens is one 2,048-token pass plus the logits of 32 sequences.
    const served = gpuActivationBytes(qwen3b, 'fp16', 4096, 32, limits);
    expect(served - atCap).toBe(31 * qwen3b.vocabSize * 4);
    expect(served).toBeLessThan(0.25 * GIB);
    expect(gpuActivationBytes(qwen3b, 'fp32', 4096, 32, limits)).toBeGreaterThan(served);
  });

  it('Qwen2.5-3B at 32 × 4,096 on an L4: fp16 and int8 fit, activations under 0.25 GiB, int8 needs less than fp16', () => {
    const one = cluster('L4', 1);
    const fp16 = planLayout(qwen3b, 'fp16', { tp: 1, pp: 1, dp: 1 }, one, { context: 4096, concurrency: 32 });
    const int8 = planLayout(qwen3b, 'int8', { tp: 1, pp: 1, dp: 1 }, one, { context: 4096, concurrency: 32 });
    expect(fp16.perGpu.activationBytes).toBeLessThan(0.25 * GIB);
    expect(fp16.fits).toBe(true);
    expect(int8.fits).toBe(true);
    // Same fp16 KV cache (W8A16 keeps 16-bit activations); int8 saves only weight bytes.
    expect(int8.perGpu.kvBytes).toBe(fp16.perGpu.kvBytes);
    expect(fp16.perGpu.totalBytes - int8.perGpu.totalBytes).toBeCloseTo(fp16.perGpu.weightBytes - int8.perGpu.weightBytes, -3);
  });

  it('keeps the KV cache in the compute dtype on a GPU and in the runtime dtype on a CPU', () => {
    expect(defaultKvDtype('int8', 'gpu')).toBe('fp16');
    expect(defaultKvDtype('q4', 'gpu')).toBe('fp16');
    expect(defaultKvDtype('bf16', 'gpu')).toBe('bf16');
    expect(defaultKvDtype('fp32', 'gpu')).toBe('fp32');
    expect(defaultKvDtype('int8')).toBe('fp32');
    expect(defaultKvDtype('q4f16')).toBe('fp16');
  });

  it('fitMemory on one GPU uses the same capped activations', () => {
    const l4 = gpu('L4');
    const device = { kind: 'gpu' as const, name: l4.name, count: 1, memoryTotalBytes: l4.memoryTotalBytes, memoryAvailableBytes: l4.memoryAvailableBytes, runtimeOverheadBytes: l4.runtimeOverheadBytes };
    const fit = fitMemory({ spec: qwen3b, format: 'int8', context: 4096, concurrency: 32, device });
    expect(fit.activationBytes).toBe(gpuActivationBytes(qwen3b, 'int8', 4096, 32, servingBatchLimits(l4)));
    expect(fit.kvDtype).toBe('fp16');
    expect(fit.fits).toBe(true);
    expect(fit.basis.activationAssumption).toContain('2048 tokens');
  });
});
