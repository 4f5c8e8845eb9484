import { describe, expect, it } from 'vitest';
import { parseModelRef } from '../../src/hub/model-ref.js';

const options = {
  pathExists: (p: string) => p === 'existing-dir' || p === 'org/local-copy',
  isCatalogId: (id: string) => id === 'qwen2.5-0.5b',
  endpoint: 'https://huggingface.co',
};

describe('parseModelRef', () => {
  it('reads repo ids with and without a revision', () => {
    expect(parseModelRef('onnx-community/Qwen2.5-0.5B-Instruct', options)).toEqual({ kind: 'hub', repo: 'onnx-community/Qwen2.5-0.5B-Instruct', revision: 'main', revisionGiven: false });
    expect(parseModelRef('org/name@v1.0', options)).toMatchObject({ repo: 'org/name', revision: 'v1.0', revisionGiven: true });
    expect(parseModelRef('org/name@refs/pr/3', options)).toMatchObject({ revision: 'refs/pr/3' });
    expect(parseModelRef('gpt2', options)).toMatchObject({ kind: 'hub', repo: 'gpt2' });
  });

  it('prefers a catalog id, then keeps its revision', () => {
    expect(parseModelRef('qwen2.5-0.5b', options)).toEqual({ kind: 'catalog', id: 'qwen2.5-0.5b', revision: 'main', revisionGiven: false });
    expect(parseModelRef('qwen2.5-0.5b@abc', options)).toMatchObject({ kind: 'catalog', revision: 'abc' });
  });

  it('treats paths (and existing folders spelled like repo ids) as local', () => {
    expect(parseModelRef('./models/x', options)).toEqual({ kind: 'local', path: './models/x' });
    expect(parseModelRef('/abs/model.onnx', options)).toMatchObject({ kind: 'local' });
    expect(parseModelRef('model.onnx', options)).toMatchObject({ kind: 'local' });
    expect(parseModelRef('org/local-copy', options)).toMatchObject({ kind: 'local' });
  });

  it('reads Hub URLs, with the URL host as the endpoint', () => {
    expect(parseModelRef('https://huggingface.co/onnx-community/gpt2', options)).toEqual({ kind: 'hub', repo: 'onnx-community/gpt2', revision: 'main', revisionGiven: false, endpoint: 'https://huggingface.co' });
    expect(parseModelRef('https://huggingface.co/org/name/tree/dev', options)).toMatchObject({ revision: 'dev', revisionGiven: true });
    expect(parseModelRef('https://huggingface.co/org/name/resolve/main/onnx/model.onnx', options)).toMatchObject({ repo: 'org/name', revision: 'main' });
    expect(parseModelRef('https://huggingface.co/org/name/tree/refs%2Fpr%2F2', options)).toMatchObject({ revision: 'refs/pr/2' });
    expect(parseModelRef('https://hf-mirror.com/org/name', options)).toMatchObject({ endpoint: 'https://hf-mirror.com' });
    expect(parseModelRef('https://mirror.example/hf/org/name', { ...options, endpoint: 'https://mirror.example/hf' })).toMatchObject({ repo: 'org/name', endpoint: 'https://mirror.example/hf' });
  });

  it('rejects what is not a model, naming it', () => {
    for (const bad of ['https://huggingface.co/datasets/org/data', 'https://huggingface.co/', 'a/b/c', 'org/na--me', 'org/-name', 'with space/x', 'org/name@', 'org/name@a..b']) {
      expect(() => parseModelRef(bad, options), bad).toThrow(/invalid|not a Hub model URL/);
    }
  });
});
