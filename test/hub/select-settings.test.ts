import { describe, expect, it } from 'vitest';
import { globToRegExp, isExternalDataOf, onnxDtype, parseOnnxFileName, selectFiles, type RepoFile } from '../../src/hub/select-files.js';
import { resolveHubSettings } from '../../src/hub/settings.js';
import { parseRetryAfter } from '../../src/hub/http.js';

const file = (path: string): RepoFile => ({ path, size: 1, gitOid: 'x' });

describe('selectFiles', () => {
  const repo = [
    'README.md', 'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'merges.txt', 'vocab.json',
    'onnx/model.onnx', 'onnx/model.onnx_data', 'onnx/model.onnx_data_1', 'onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data',
    'onnx/model_q4.onnx', 'onnx/model_q4f16.onnx', 'onnx/model_quantized.onnx', 'onnx/model_q4.onnx_database.json',
  ].map(file);

  it('names dtypes the transformers.js way', () => {
    expect(['onnx/model.onnx', 'onnx/model_fp16.onnx', 'onnx/model_q4.onnx', 'onnx/model_q4f16.onnx', 'onnx/model_quantized.onnx', 'x.json'].map(onnxDtype))
      .toEqual(['fp32', 'fp16', 'q4', 'q4f16', 'q8', null]);
    expect(parseOnnxFileName('onnx/decoder_model_merged_int4.onnx')).toEqual({ stem: 'decoder_model_merged', dtype: 'int4' });
    expect(parseOnnxFileName('onnx/encoder_model.onnx')).toEqual({ stem: 'encoder_model', dtype: 'fp32' });
    expect(isExternalDataOf('onnx/model.onnx', 'onnx/model.onnx_data_12')).toBe(true);
    expect(isExternalDataOf('onnx/model.onnx', 'onnx/model.onnx.data')).toBe(true);
    expect(isExternalDataOf('onnx/model.onnx', 'onnx/model.onnx_database.json')).toBe(false);
  });

  it('picks q4 by default, with configs and tokenizer', () => {
    const chosen = selectFiles(repo, { variant: 'auto', include: [], label: 'r' });
    expect(chosen.variants).toEqual(['q4']);
    expect(chosen.files.map((f) => f.path)).toEqual(['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'merges.txt', 'vocab.json', 'onnx/model_q4.onnx']);
  });

  it('takes every external data shard of the chosen graph', () => {
    const fp32 = selectFiles(repo, { variant: 'fp32', include: [], label: 'r' });
    expect(fp32.onnx).toEqual(['onnx/model.onnx']);
    expect(fp32.files.map((f) => f.path)).toEqual(expect.arrayContaining(['onnx/model.onnx_data', 'onnx/model.onnx_data_1']));
    expect(fp32.files.map((f) => f.path)).not.toContain('onnx/model_fp16.onnx_data');
  });

  it('all, includes and a missing variant', () => {
    expect(selectFiles(repo, { variant: 'all', include: [], label: 'r' }).variants).toEqual(['q4', 'q4f16', 'fp16', 'fp32', 'q8']);
    expect(selectFiles(repo, { variant: 'q4', include: ['*.md'], label: 'r' }).files.map((f) => f.path)).toContain('README.md');
    expect(() => selectFiles([file('config.json')], { variant: 'auto', include: [], label: 'org/x@main' })).toThrow('org/x@main has no ONNX files');
    expect(() => selectFiles([file('onnx/model.onnx')], { variant: 'q4', include: [], label: 'org/x@main' })).toThrow(/expected fp32/);
  });

  it('globs behave like fnmatch', () => {
    expect(globToRegExp('*.json').test('onnx/x.json')).toBe(true);
    expect(globToRegExp('onnx/model_?4.onnx').test('onnx/model_q4.onnx')).toBe(true);
    expect(globToRegExp('[!o]*').test('onnx/a')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});

describe('resolveHubSettings', () => {
  const home = '/home/u';
  it('defaults like huggingface_hub', () => {
    expect(resolveHubSettings({}, { homeDir: home })).toEqual({
      endpoint: 'https://huggingface.co', token: undefined, tokenSource: null, cacheDir: '/home/u/.cache/huggingface/hub', offline: false, downloadTimeoutSec: 10,
    });
  });

  it('honours HF_HOME, HF_HUB_CACHE, XDG_CACHE_HOME, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE and --cache-dir in that order', () => {
    expect(resolveHubSettings({ XDG_CACHE_HOME: '/x' }, { homeDir: home }).cacheDir).toBe('/x/huggingface/hub');
    expect(resolveHubSettings({ HF_HOME: '/hf', XDG_CACHE_HOME: '/x' }, { homeDir: home }).cacheDir).toBe('/hf/hub');
    expect(resolveHubSettings({ HF_HOME: '/hf', HF_HUB_CACHE: '~/c' }, { homeDir: home }).cacheDir).toBe('/home/u/c');
    expect(resolveHubSettings({ HF_HUB_CACHE: '/c' }, { homeDir: home, cacheDir: '/flag' }).cacheDir).toBe('/flag');
    expect(resolveHubSettings({ HF_ENDPOINT: 'https://hf-mirror.com/' }, { homeDir: home }).endpoint).toBe('https://hf-mirror.com');
    expect(resolveHubSettings({ HF_TOKEN: 'hf_a' }, { homeDir: home, storedToken: 'hf_b\n' })).toMatchObject({ token: 'hf_a', tokenSource: 'HF_TOKEN' });
    expect(resolveHubSettings({}, { homeDir: home, storedToken: 'hf_b\n' })).toMatchObject({ token: 'hf_b', tokenSource: 'token file' });
    for (const value of ['1', 'true', 'YES', 'on']) expect(resolveHubSettings({ HF_HUB_OFFLINE: value }, { homeDir: home }).offline).toBe(true);
    expect(resolveHubSettings({ HF_HUB_OFFLINE: '0' }, { homeDir: home }).offline).toBe(false);
    expect(resolveHubSettings({ TRANSFORMERS_OFFLINE: '1' }, { homeDir: home }).offline).toBe(true);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('7', 0)).toBe(7000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4000)).toBe(6000);
    expect(parseRetryAfter(null, 0)).toBeNull();
    expect(parseRetryAfter('soon', 0)).toBeNull();
  });
});
