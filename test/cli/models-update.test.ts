import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRecommendation } from '../helpers/recommendation.js';

/** `models update --json` as written (snake_case). */
interface CatalogUpdateJson {
  kind: string;
  file: string;
  endpoint: string | null;
  updated_at: string | null;
  lists: { name: string; query: string; repos: number }[];
  models: { id: string; hf_repo: string | null; model_type: string; params_total: number; onnx_repo: string | null; builtin: boolean }[];
  skipped: { repo: string; reason: string }[];
}
import { HubServer } from '../hub/hub-server.js';
import { runAgainstHub } from '../helpers/hub-cli.js';
import { makeTempDir, removeDir } from '../hub/helpers.js';
import { TINY_CONFIGS, safetensorsRepoFiles } from '../hub/safetensors-repo.js';

/** `models update` against a local Hub listing, and the catalog `recommend` and `models` then rank. */
const GPT2 = { model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 1024, vocab_size: 500 };
let server: HubServer;
let home: string;
let llamaParams: number;

beforeAll(async () => {
  server = await new HubServer().start();
  const llama = safetensorsRepoFiles(TINY_CONFIGS.llama!);
  llamaParams = llama.params;
  await server.addRepo('acme/chat-llama', llama.files, { pipelineTag: 'text-generation', downloads: 5000 });
  await server.addRepo('Qwen/Qwen2.5-0.5B', safetensorsRepoFiles(TINY_CONFIGS.llama!).files, { pipelineTag: 'text-generation', downloads: 9000 });
  await server.addRepo('acme/chat-qwen3', safetensorsRepoFiles(TINY_CONFIGS.qwen3!).files, { pipelineTag: 'text-generation', downloads: 3000 });
  await server.addRepo('acme/gated-chat', safetensorsRepoFiles(TINY_CONFIGS.llama!).files, { pipelineTag: 'text-generation', downloads: 2000, gated: true });
  await server.addRepo('acme/no-config', [{ path: 'README.md', data: Buffer.from('# weights elsewhere\n') }], { pipelineTag: 'text-generation', downloads: 1000 });
  await server.addRepo('acme/embedder', safetensorsRepoFiles(TINY_CONFIGS.llama!).files, { pipelineTag: 'feature-extraction', downloads: 99_999 });
  const onnxFiles = [{ path: 'config.json', data: Buffer.from(JSON.stringify(TINY_CONFIGS.llama)) }, { path: 'onnx/model_q4.onnx', data: Buffer.alloc(64) }];
  await server.addRepo('onnx-community/chat-llama-ONNX', onnxFiles, { pipelineTag: 'text-generation', downloads: 400 });
  await server.addRepo('onnx-community/solo-gpt2', [{ path: 'config.json', data: Buffer.from(JSON.stringify(GPT2)) }], { pipelineTag: 'text-generation', downloads: 300 });
  home = await makeTempDir('models-update');
});

afterAll(async () => {
  await server.stop();
  await removeDir(home);
});

function run(args: string[], extra: Record<string, string> = {}) {
  return runAgainstHub(server.endpoint, home, args, extra);
}

const catalogFile = (): string => join(home, 'cache', 'modelscout', 'catalog.json');

describe('models update', () => {
  it('offline: one line, exit 2, and no catalog written', async () => {
    const result = await run(['models', 'update'], { HF_HUB_OFFLINE: '1' });
    expect(result.exitCode).toBe(2);
    expect(String(result.stderr).split('\n')[0]).toBe('Error: models update reads the Hub listing, and HF_HUB_OFFLINE is set');
    expect(existsSync(catalogFile())).toBe(false);
  });

  it('before any update, recommend and models say the built-in catalog ranked', async () => {
    const rec = await run(['recommend', '--device', 'cpu', '--json']);
    expect(rec.exitCode, String(rec.stderr)).toBe(0);
    expect(parseRecommendation(String(rec.stdout)).catalog).toEqual({ kind: 'built-in', file: null, updatedAt: null, endpoint: null, userModels: 0, builtinModels: 31 });
    const text = await run(['recommend', '--device', 'cpu']);
    expect(String(text.stdout)).toMatch(/^Catalog: built-in \(31 models; `modelscout models update` refreshes a user catalog from the Hub\)$/m);
  });

  it('lists the most downloaded text-generation repos and onnx-community exports, resolves them, writes the user catalog atomically', async () => {
    const result = await run(['models', 'update', '--limit', '5', '--onnx-limit', '5', '--json']);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const data = JSON.parse(String(result.stdout)) as CatalogUpdateJson;
    expect(data.kind).toBe('modelscout.catalog-update');
    expect(data.file).toBe(catalogFile());
    expect(data.endpoint).toBe(server.endpoint);
    // Most downloaded first; the feature-extraction repo is not listed; the paired export is no model of its own.
    expect(data.models.map((m) => m.hf_repo)).toEqual(['Qwen/Qwen2.5-0.5B', 'acme/chat-llama', 'acme/chat-qwen3', 'onnx-community/solo-gpt2']);
    expect(data.models[3]).toMatchObject({ id: 'onnx-community/solo-gpt2', model_type: 'gpt2', onnx_repo: 'onnx-community/solo-gpt2' });
    expect(data.models[0]!.builtin).toBe(true);
    expect(data.models[1]).toMatchObject({ onnx_repo: 'onnx-community/chat-llama-ONNX', params_total: llamaParams, builtin: false });
    expect(data.skipped.map((s) => s.repo)).toEqual(['acme/gated-chat', 'acme/no-config']);
    expect(data.skipped[0]!.reason).toMatch(/acme\/gated-chat is gated \(HTTP 401\)/);
    expect(data.skipped[1]!.reason).toBe('acme/no-config has no config.json');
    expect(data.lists).toEqual([
      { name: 'text-generation, most downloaded', query: 'pipeline_tag=text-generation&sort=downloads&limit=5', repos: 5 },
      { name: 'onnx-community exports, most downloaded', query: 'pipeline_tag=text-generation&author=onnx-community&sort=downloads&limit=5', repos: 2 },
    ]);
    // The listing went through @huggingface/hub's listModels (GET /api/models?…&sort=downloads).
    const listings = server.log.filter((r) => r.path.startsWith('/api/models?'));
    expect(listings).toHaveLength(2);
    expect(listings.every((r) => r.path.includes('pipeline_tag=text-generation') && r.path.includes('sort=downloads'))).toBe(true);
    // With a limit wide enough to list the exports among the text-generation repos too, an export still pairs once.
    const wide = JSON.parse(String((await run(['models', 'update', '--limit', '20', '--onnx-limit', '5', '--json'])).stdout)) as CatalogUpdateJson;
    expect(wide.models.map((m) => m.id)).toEqual(data.models.map((m) => m.id));
    expect(wide.models[1]!.onnx_repo).toBe('onnx-community/chat-llama-ONNX');
    const file = JSON.parse(await readFile(catalogFile(), 'utf8')) as { kind: string; updatedAt: string; models: unknown[] };
    expect(file.kind).toBe('modelscout.user-catalog');
    expect(file.updatedAt).toBe(wide.updated_at);
    expect(file.models).toHaveLength(4);
  });

  it('models and recommend then use the user catalog and say so, with its date; offline', async () => {
    const { updatedAt } = JSON.parse(await readFile(catalogFile(), 'utf8')) as { updatedAt: string };
    const offline = { HF_HUB_OFFLINE: '1' };
    const listed = await run(['models', '--json'], offline);
    expect(listed.exitCode, String(listed.stderr)).toBe(0);
    const models = JSON.parse(String(listed.stdout)) as { catalog: unknown; count: number; models: { id: string; hf_repo: string | null }[] };
    expect(models.catalog).toMatchObject({ kind: 'user', updated_at: updatedAt, user_models: 3, builtin_models: 31 });
    expect(models.count).toBe(34);
    expect(models.models.find((m) => m.id === 'acme/chat-llama')).toMatchObject({ catalog: 'user', onnx_repo: 'onnx-community/chat-llama-ONNX' });
    // A built-in model the listing also held keeps its curated entry.
    expect(models.models.find((m) => m.hf_repo === 'Qwen/Qwen2.5-0.5B')).toMatchObject({ id: 'qwen2.5-0.5b', catalog: 'built-in' });

    const rec = await run(['recommend', '--device', 'cpu', '--ram', '16GiB', '--json'], offline);
    expect(rec.exitCode, String(rec.stderr)).toBe(0);
    const recommendation = parseRecommendation(String(rec.stdout));
    expect(recommendation.catalog).toEqual({ kind: 'user', file: catalogFile(), updatedAt, endpoint: server.endpoint, userModels: 3, builtinModels: 31 });
    const text = await run(['recommend', '--device', 'cpu', '--ram', '16GiB'], offline);
    expect(String(text.stdout).replace(/\n(?=\S)/g, ' ')).toContain(`Catalog: user catalog refreshed ${updatedAt.slice(0, 16).replace('T', ' ')} UTC from ${server.endpoint} (3 models) with the 31 built-in ones`);

    const shown = await run(['models', 'show', 'acme/chat-llama', '--json'], offline);
    expect(shown.exitCode, String(shown.stderr)).toBe(0);
    const description = JSON.parse(String(shown.stdout)) as { kind: string; params: { total: number }; source: { kind: string } };
    expect(description).toMatchObject({ kind: 'modelscout.model-description', params: { total: llamaParams } });
  });

  it('a damaged user catalog is one line naming --reset; --reset drops it and the built-in catalog ranks again', async () => {
    const good = await readFile(catalogFile(), 'utf8');
    await writeFile(catalogFile(), '{"kind": "modelscout.user-catalog"');
    const broken = await run(['models']);
    expect(broken.exitCode).toBe(2);
    expect(String(broken.stderr).split('\n')[0]).toMatch(/^Error: the user catalog .*catalog\.json is damaged: not valid JSON/);
    expect(String(broken.stderr)).toContain('modelscout models update --reset');
    await writeFile(catalogFile(), good);

    const reset = await run(['models', 'update', '--reset']);
    expect(reset.exitCode, String(reset.stderr)).toBe(0);
    expect(String(reset.stdout)).toBe(`Dropped the user catalog ${catalogFile()}: the built-in catalog (31 models) is used again.`);
    expect(existsSync(catalogFile())).toBe(false);
    const rec = await run(['recommend', '--device', 'cpu', '--json']);
    expect(parseRecommendation(String(rec.stdout)).catalog?.kind).toBe('built-in');
    const again = await run(['models', 'update', '--reset', '--json']);
    expect(JSON.parse(String(again.stdout))).toMatchObject({ action: 'reset', removed: false });
  });
});
