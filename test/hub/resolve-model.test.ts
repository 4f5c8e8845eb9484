import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/index.js';
import { modelSpecFromHfConfig } from '../../src/catalog/hf-config.js';
import { resolveModel, type ResolveModelDeps } from '../../src/hub/resolve-model.js';
import type { HubSettings } from '../../src/hub/settings.js';
import { HubServer } from './hub-server.js';
import { caught, makeTempDir, removeDir, settingsFor } from './helpers.js';
import { TINY_CONFIGS, safetensorsRepoFiles } from './safetensors-repo.js';

/** Hub references resolved against a local Hub: config.json and the safetensors headers, by range requests. */
let server: HubServer;
let dir: string;
const params: Record<string, number> = {};
const TOKEN = 'hf_resolve_test';

beforeAll(async () => {
  server = await new HubServer({ validTokens: [TOKEN] }).start();
  for (const [arch, config] of Object.entries(TINY_CONFIGS)) {
    // An extra tensor the architecture does not count (1% or so): the count must come from the headers.
    const { files, params: p } = safetensorsRepoFiles(config, { extra: { 'mtp.proj.weight': [8, 8] }, shards: arch === 'mixtral' ? 3 : 1 });
    params[arch] = p;
    await server.addRepo(`tiny/${arch}`, files);
  }
  await server.addRepo('tiny/gated-llama', safetensorsRepoFiles(TINY_CONFIGS.llama!).files, { gated: true });
});

afterAll(async () => {
  await server.stop();
});

beforeEach(async () => {
  dir = await makeTempDir('resolve');
  server.log.length = 0;
});

afterEach(async () => {
  await removeDir(dir);
});

function deps(overrides: Partial<HubSettings> = {}): ResolveModelDeps {
  return {
    settings: settingsFor(server.endpoint, join(dir, 'hf'), overrides),
    fetch: globalThis.fetch,
    userAgent: 'modelscout-test',
    catalog: loadCatalog(),
    metaCacheDir: join(dir, 'meta'),
    retry: { maxRetries: 0 },
  };
}

describe('Hub references', () => {
  it.each(Object.keys(TINY_CONFIGS))('%s: parameters are the safetensors headers\' sum, exactly', async (arch) => {
    const resolved = await resolveModel(`tiny/${arch}`, deps());
    expect(resolved.kind).toBe('hub');
    expect(resolved.stored?.params).toBe(params[arch]);
    expect(resolved.spec.paramsTotal).toBe(params[arch]);
    // …which differs from what the config alone gives (the extra tensor).
    const computed = modelSpecFromHfConfig(TINY_CONFIGS[arch], { source: 'x' }).paramsTotal;
    expect(resolved.spec.paramsTotal - computed).toBe(64);
    expect(resolved.stored?.dtypes.map((d) => d.dtype)).toEqual(['BF16']);
    expect(resolved.stored?.bytes).toBe(2 * params[arch]!);
    expect(resolved.source.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('reads only the headers: two range requests per shard, no weights', async () => {
    await resolveModel('tiny/mixtral', deps());
    const shardRequests = server.contentRequests().filter((r) => r.file?.endsWith('.safetensors'));
    expect(shardRequests).toHaveLength(6);
    expect(shardRequests.every((r) => r.range !== null && r.status === 206)).toBe(true);
    const sent = shardRequests.reduce((s, r) => s + r.bytesSent, 0);
    const headers = shardRequests.filter((r) => r.range === 'bytes=0-7');
    expect(headers).toHaveLength(3);
    expect(sent).toBeLessThan(20_000);
  });

  it('the second look-up works offline, from the cache', async () => {
    const online = await resolveModel('tiny/qwen3', deps());
    server.log.length = 0;
    const offline = await resolveModel('tiny/qwen3', deps({ offline: true }));
    expect(server.log).toHaveLength(0);
    expect(offline.source.fromCache).toBe(true);
    expect(offline.spec.paramsTotal).toBe(online.spec.paramsTotal);
    expect(offline.source.commit).toBe(online.source.commit);
  });

  it('offline and never looked up: one line saying so', async () => {
    const error = await caught(() => resolveModel('tiny/llama', deps({ offline: true })));
    expect(error.code).toBe('E_OFFLINE');
    expect(error.message).not.toContain('\n');
  });

  it('a gated repo without a token is one line naming HF_TOKEN; with one it resolves', async () => {
    const error = await caught(() => resolveModel('tiny/gated-llama', deps()));
    expect(error.code).toBe('E_AUTH');
    expect(error.message).toMatch(/tiny\/gated-llama is gated \(HTTP 401\): set HF_TOKEN/);
    expect(error.message).not.toContain('\n');
    const resolved = await resolveModel('tiny/gated-llama', deps({ token: TOKEN, tokenSource: 'HF_TOKEN' }));
    expect(resolved.stored?.params).toBe(resolved.spec.paramsTotal);
  });

  it('Gemma 3: text_config, qk-norm and five sliding layers to one global', async () => {
    const { spec } = await resolveModel('tiny/gemma3', deps());
    expect(spec.modelType).toBe('gemma3_text');
    expect(spec.slidingWindowPattern).toBe('interleaved');
    expect(spec.slidingLayers).toBe(5);
    expect(spec.tieWordEmbeddings).toBe(true);
  });

  it('a catalog model named by its Hub repo keeps its curated facts', async () => {
    const resolved = await resolveModel('Qwen/Qwen2.5-0.5B', deps());
    expect(resolved.kind).toBe('catalog');
    expect(resolved.spec.id).toBe('qwen2.5-0.5b');
    expect(server.log).toHaveLength(0);
  });
});

describe('local references', () => {
  it('a folder with config.json and sharded safetensors', async () => {
    const folder = join(dir, 'my-finetune');
    await mkdir(folder);
    const { files, params: p } = safetensorsRepoFiles(TINY_CONFIGS.llama!, { shards: 2, dtype: 'F32' });
    for (const f of files) await writeFile(join(folder, f.path), f.data!);
    const resolved = await resolveModel(folder, deps());
    expect(resolved.kind).toBe('local-folder');
    expect(resolved.stored).toMatchObject({ files: 2, params: p, bytes: 4 * p, basis: 'safetensors' });
    expect(resolved.spec.id).toBe('my-finetune');
  });

  it('a config.json path, and an unknown model_type with and without the generic fields', async () => {
    const known = join(dir, 'config.json');
    await writeFile(known, JSON.stringify(TINY_CONFIGS.qwen3));
    expect((await resolveModel(known, deps())).spec.modelType).toBe('qwen3');

    const generic = join(dir, 'olmo.json');
    await writeFile(generic, JSON.stringify({ ...TINY_CONFIGS.llama, model_type: 'olmo2' }));
    const spec = (await resolveModel(generic, deps())).spec;
    expect(spec.modelType).toBe('olmo2');
    expect(spec.notes?.join(' ')).toMatch(/model_type "olmo2" is not one modelscout knows: estimated as a Llama-style decoder/);

    const missing = join(dir, 'odd.json');
    await writeFile(missing, JSON.stringify({ model_type: 'odd', hidden_size: 64 }));
    const error = await caught(() => resolveModel(missing, deps()));
    expect(error.message).toMatch(/unknown model_type "odd" and no generic estimate: missing num_hidden_layers, num_attention_heads, intermediate_size, vocab_size, max_position_embeddings/);
  });
});
