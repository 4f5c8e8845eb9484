import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findTokenizerFolder, loadTokenizer, promptIdsOfLength, textOfTokenLength, tokenizerFromFiles } from '../../src/hub/tokenizer.js';
import { ModelscoutError } from '../../src/errors.js';
import { BOS_TEMPLATE, CHATML_TEMPLATE, bpeTokenizer, tokenizerConfig, wordLevelTokenizer, writeTokenizer } from './tokenizer-fixtures.js';
import { makeTempDir, removeDir } from './helpers.js';

let dir: string;

/** The error a synchronous call throws (undefined when it does not throw). */
function caught(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

beforeEach(async () => {
  dir = await makeTempDir('tokenizer');
});

afterEach(async () => {
  await removeDir(dir);
});

describe('WordLevel tokenizer', () => {
  const tok = tokenizerFromFiles({ tokenizer: wordLevelTokenizer(), config: tokenizerConfig() });

  it('encodes words to their vocabulary ids, BOS first, and decodes back', () => {
    // vocab: <unk>=0 <s>=1 </s>=2 the=3 cat=4 sat=5 on=6 mat=7 a=8 dog=9 ran=10 .=11
    expect(tok.encode('The cat sat on the mat.')).toEqual([1, 3, 4, 5, 6, 3, 7, 11]);
    expect(tok.encode('The cat sat', { addSpecialTokens: false })).toEqual([3, 4, 5]);
    expect(tok.decode([1, 9, 10])).toBe('dog ran');
    expect(tok.decode([1, 9, 10], { skipSpecialTokens: false })).toBe('<s> dog ran');
  });

  it('maps unknown words to <unk>', () => {
    expect(tok.encode('the zebra', { addSpecialTokens: false })).toEqual([3, 0]);
  });

  it('reads special tokens given as strings or as AddedToken objects', () => {
    expect(tok.bos).toEqual({ text: '<s>', id: 1 });
    expect(tok.eos).toEqual({ text: '</s>', id: 2 });
    expect(tok.eosIds).toEqual([2]);
    expect(tok.vocabSize).toBe(17);
  });
});

describe('byte-level BPE tokenizer', () => {
  const tok = tokenizerFromFiles({ tokenizer: bpeTokenizer(), config: tokenizerConfig() });

  it('applies the merges in order and round-trips the text', () => {
    const ids = tok.encode('hello world cat');
    // "hello", "Ġworld", "Ġcat" are merged tokens: three ids, not fifteen symbols.
    expect(ids).toHaveLength(3);
    expect(ids.map((id) => tok.decode([id]))).toEqual(['hello', ' world', ' cat']);
    expect(tok.decode(ids)).toBe('hello world cat');
  });

  it('falls back to shorter pieces where no merge applies', () => {
    const ids = tok.encode('hello worlds');
    expect(ids.map((id) => tok.decode([id]))).toEqual(['hello', ' world', 's']);
  });
});

describe('chat templates', () => {
  const messages = [{ role: 'user', content: 'hello world' }];

  it('renders a template from tokenizer_config.json with the special tokens it names', () => {
    const tok = tokenizerFromFiles({ tokenizer: wordLevelTokenizer(), config: tokenizerConfig({ chat_template: BOS_TEMPLATE }) });
    expect(tok.hasChatTemplate).toBe(true);
    expect(tok.applyChatTemplate(messages)).toBe('<s>user : hello world assistant :');
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: false })).toBe('<s>user : hello world ');
    // The template already holds <s>: encoding it must not add a second one.
    expect(tok.encodeChat(messages)).toEqual([1, 14, 16, 12, 13, 15, 16]);
  });

  it('picks the named template of a list, "default" first', () => {
    const tok = tokenizerFromFiles({
      tokenizer: wordLevelTokenizer(),
      config: tokenizerConfig({ chat_template: [{ name: 'tool_use', template: 'TOOLS' }, { name: 'default', template: CHATML_TEMPLATE }] }),
    });
    expect(tok.applyChatTemplate(messages)).toBe('<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n');
    expect(tok.applyChatTemplate(messages, { templateName: 'tool_use' })).toBe('TOOLS');
    expect(caught(() => tok.applyChatTemplate(messages, { templateName: 'rag' }))?.message).toBe(
      'chat template "rag" not found in .: it has tool_use, default',
    );
  });

  it('without a template, names the fix in one line', () => {
    const tok = tokenizerFromFiles({ tokenizer: wordLevelTokenizer(), config: tokenizerConfig() });
    expect(tok.hasChatTemplate).toBe(false);
    const error = caught(() => tok.applyChatTemplate(messages));
    expect(error).toBeInstanceOf(ModelscoutError);
    expect((error as ModelscoutError).exitCode).toBe(2);
    expect(error?.message).toMatch(/has no chat template/);
  });

  it("turns a template's raise_exception into a one-line error", () => {
    const tok = tokenizerFromFiles({ tokenizer: wordLevelTokenizer(), config: tokenizerConfig({ chat_template: "{{ raise_exception('roles must alternate') }}" }) });
    expect(caught(() => tok.applyChatTemplate(messages))?.message).toMatch(/chat template of \. failed: .*roles must alternate/);
  });
});

describe('loadTokenizer (files on disk)', () => {
  it('loads a model folder, and finds it from the .onnx file or the onnx/ folder', async () => {
    await writeTokenizer(dir, bpeTokenizer(), tokenizerConfig(), { 'chat_template.jinja': CHATML_TEMPLATE, 'generation_config.json': JSON.stringify({ eos_token_id: [2, 7] }) });
    await mkdir(join(dir, 'onnx'));
    await writeFile(join(dir, 'onnx', 'model.onnx'), '');
    expect(await findTokenizerFolder(join(dir, 'onnx', 'model.onnx'))).toBe(dir);
    expect(await findTokenizerFolder(join(dir, 'onnx'))).toBe(dir);
    const tok = await loadTokenizer(join(dir, 'onnx', 'model.onnx'));
    expect(tok.folder).toBe(dir);
    expect(tok.decode(tok.encode('hello world'))).toBe('hello world');
    // chat_template.jinja beside the tokenizer counts when the config has none.
    expect(tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    // generation_config.json's eos ids join the tokenizer's.
    expect(tok.eosIds).toEqual([2, 7]);
  });

  it('works without tokenizer_config.json', async () => {
    await writeTokenizer(dir, wordLevelTokenizer(), null);
    const tok = await loadTokenizer(dir);
    expect(tok.encode('dog', { addSpecialTokens: false })).toEqual([9]);
    expect(tok.eos).toBeNull();
    expect(tok.hasChatTemplate).toBe(false);
  });

  it('a folder without tokenizer.json is one usage error that says to pass ids', async () => {
    const error = await loadTokenizer(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelscoutError);
    expect((error as ModelscoutError).exitCode).toBe(2);
    expect((error as ModelscoutError).message).toBe(`no tokenizer.json beside ${dir}, so text cannot be tokenized`);
    expect((error as ModelscoutError).suggestions.join(' ')).toMatch(/--prompt-ids/);
  });

  it('a truncated or foreign tokenizer.json is one line naming the file', async () => {
    await writeFile(join(dir, 'tokenizer.json'), '{"model": {"type": "BPE"');
    expect(((await loadTokenizer(dir).catch((e: unknown) => e)) as Error).message).toMatch(/tokenizer\.json is not valid JSON/);
    await writeFile(join(dir, 'tokenizer.json'), '{"vocab": {}}');
    expect(((await loadTokenizer(dir).catch((e: unknown) => e)) as Error).message).toMatch(/tokenizer\.json is not a tokenizer: it has no "model" object/);
  });
});

describe('prompts of an exact length', () => {
  const bpe = tokenizerFromFiles({ tokenizer: bpeTokenizer(), config: tokenizerConfig() });
  const word = tokenizerFromFiles({ tokenizer: wordLevelTokenizer(), config: tokenizerConfig() });

  it('ids: cut from the text, repeating it when short, without special tokens', () => {
    expect(promptIdsOfLength(word, 'the cat sat', 7)).toEqual([3, 4, 5, 3, 4, 5, 3]);
    expect(promptIdsOfLength(word, 'the cat sat on the mat', 2)).toEqual([3, 4]);
    expect(caught(() => promptIdsOfLength(word, '   ', 4))?.message).toBe('the prompt text gives no tokens');
    expect(caught(() => promptIdsOfLength(word, 'the', 0))?.message).toMatch(/positive integer/);
  });

  it('text: re-encodes to exactly the asked number of tokens', () => {
    for (const n of [1, 2, 5, 16, 33]) {
      const text = textOfTokenLength(bpe, 'hello world cat sat', n);
      expect(bpe.encode(text, { addSpecialTokens: false })).toHaveLength(n);
    }
    // Seams merge here: "cat" + "cat" cut between tokens re-encodes differently; the length still holds.
    for (const n of [3, 4, 9]) expect(bpe.encode(textOfTokenLength(bpe, 'catcat hello', n), { addSpecialTokens: false })).toHaveLength(n);
  });
});
