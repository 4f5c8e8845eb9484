import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { DecoderIo } from '../../src/runtime/decoder-io.js';
import { GrowingKvCache } from '../../src/runtime/kv-growing.js';
import type { Feeds } from '../../src/runtime/kv-types.js';
import { keepsKvOnDevice, sessionOptions } from '../../src/runtime/session.js';

const io: DecoderIo = {
  inputIds: 'input_ids',
  inputIdsType: 'int64',
  attentionMask: 'attention_mask',
  attentionMaskType: 'int64',
  positionIds: null,
  positionIdsType: 'int64',
  logitsToKeep: null,
  useCacheBranch: null,
  logits: 'logits',
  logitsType: 'float32',
  vocabSize: 32,
  layers: [{ pastKey: 'past_key_values.0.key', pastValue: 'past_key_values.0.value', presentKey: 'present.0.key', presentValue: 'present.0.value' }],
  kvType: 'float32',
  kvHeads: 2,
  headDim: 4,
  kvSeqAxis: 2,
  newKvAll: null,
};

/** A tensor that claims to live in a GPU buffer; counts its disposals. */
function deviceTensor(seq: number, disposed: string[], label: string): ort.Tensor {
  // The buffer is never touched on this path: only dims, location and dispose are used.
  const fakeBuffer = {} as unknown as ort.Tensor.GpuBufferType;
  return ort.Tensor.fromGpuBuffer(fakeBuffer, { dataType: 'float32', dims: [1, 2, seq, 4], dispose: () => disposed.push(label) });
}

describe('the growing KV cache kept on the GPU (WebGPU)', () => {
  it('asks for the presents as GPU buffers and the logits on the CPU, on WebGPU only', () => {
    const outputs = ['logits', 'present.0.key', 'present.0.value'];
    const webgpu = sessionOptions({ device: 'webgpu', threads: 0, graphOptLevel: 'all' }, outputs);
    expect(webgpu.preferredOutputLocation).toEqual({ logits: 'cpu', 'present.0.key': 'gpu-buffer', 'present.0.value': 'gpu-buffer' });
    expect(sessionOptions({ device: 'cpu', threads: 2, graphOptLevel: 'all' }, outputs).preferredOutputLocation).toBeUndefined();
    expect(keepsKvOnDevice('webgpu')).toBe(true);
    expect(keepsKvOnDevice('cpu')).toBe(false);
    expect(keepsKvOnDevice('cuda')).toBe(false);
  });

  it('frees each replaced past on the device, and everything on reset, but never a CPU tensor', () => {
    const feeds: Feeds = {};
    const cache = new GrowingKvCache(io, feeds);
    const disposed: string[] = [];
    cache.reset(1);
    const step = (seq: number): void => {
      cache.update({ logits: new ort.Tensor('float32', new Float32Array(32), [1, 1, 32]), 'present.0.key': deviceTensor(seq, disposed, `k${seq}`), 'present.0.value': deviceTensor(seq, disposed, `v${seq}`) });
    };
    step(3); // replaces the empty CPU pasts: nothing to free
    expect(disposed).toEqual([]);
    expect(cache.length).toBe(3);
    step(4);
    expect(disposed).toEqual(['k3', 'v3']);
    expect(feeds['past_key_values.0.key']!.location).toBe('gpu-buffer');
    expect(cache.measuredBytes()).toBe(2 * 2 * 4 * 4 * 4);
    cache.reset(1);
    expect(disposed).toEqual(['k3', 'v3', 'k4', 'v4']);
    expect(feeds['past_key_values.0.key']!.location).toBe('cpu');
  });
});

describe('WebGPU without an adapter', () => {
  it('fails in one line that says what to install, or loads where a GPU is present', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { buildTinyModel } = await import('../helpers/tiny-model.js');
    const { createSession } = await import('../../src/runtime/session.js');
    const dir = await mkdtemp(join(tmpdir(), 'modelscout-webgpu-'));
    try {
      const model = await buildTinyModel({ arch: 'llama', dtype: 'fp32', layers: 1, dir });
      const { detectDecoderIo } = await import('../../src/runtime/decoder-io.js');
      let session: ort.InferenceSession | null = null;
      try {
        ({ session } = await createSession(model.modelFile, { device: 'webgpu', threads: 0, graphOptLevel: 'all' }, { kvLayout: 'growing' }));
      } catch (error) {
        const message = (error as Error).message;
        expect(message).toMatch(/^no WebGPU adapter on this machine/);
        expect(message).not.toContain('\n');
        expect((error as { suggestions?: string[] }).suggestions?.[0]).toMatch(/libvulkan1/);
      }
      if (session) {
        // Loaded: it must really run on the GPU, not fall back to the CPU unnoticed. One step with an empty
        // cache; the presents come back as GPU buffers only when WebGPU ran the graph.
        const io = detectDecoderIo(session.inputMetadata, session.outputMetadata);
        const feeds: Record<string, ort.Tensor> = {
          [io.inputIds]: new ort.Tensor('int64', BigInt64Array.from([1n]), [1, 1]),
        };
        if (io.attentionMask) feeds[io.attentionMask] = new ort.Tensor('int64', BigInt64Array.from([1n]), [1, 1]);
        if (io.positionIds) feeds[io.positionIds] = new ort.Tensor('int64', BigInt64Array.from([0n]), [1, 1]);
        for (const layer of io.layers) {
          for (const name of [layer.pastKey, layer.pastValue]) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, io.kvHeads, 0, io.headDim]);
        }
        const out = await session.run(feeds);
        expect(out[io.layers[0]!.presentKey]!.location).toBe('gpu-buffer');
        expect(out[io.logits]!.location).toBe('cpu');
        for (const t of Object.values(out)) t.dispose();
        await session.release();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
