/**
 * Small tokenizer files written by the tests: a WordLevel tokenizer (whitespace split, a dozen words) and a
 * byte-level BPE (GPT-2 style, a few merges), each with the tokenizer_config.json a Hub model ships.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SPECIAL = ['<unk>', '<s>', '</s>'];

function addedTokens(): object[] {
  return SPECIAL.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
}

/** BOS prepended by the post-processor, as Llama-style tokenizers do. */
function bosProcessor(): object {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
  };
}

export const WORDS = ['the', 'cat', 'sat', 'on', 'mat', 'a', 'dog', 'ran', '.', 'hello', 'world', 'user', 'assistant', ':'];

/** `vocabSize` pads the vocabulary with words w17, w18, … so every id of a model that size decodes. */
export function wordLevelTokenizer(vocabSize = 0): object {
  const vocab: Record<string, number> = {};
  SPECIAL.forEach((t, i) => (vocab[t] = i));
  WORDS.forEach((w, i) => (vocab[w] = SPECIAL.length + i));
  for (let id = SPECIAL.length + WORDS.length; id < vocabSize; id++) vocab[`w${id}`] = id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: bosProcessor(),
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

/** Byte-level alphabet symbols used below: "Ġ" is the space byte. */
const BPE_SYMBOLS = ['h', 'e', 'l', 'o', 'w', 'r', 'd', 'Ġ', 'a', 't', 'c', 's', '.'];
const BPE_MERGES: [string, string][] = [
  ['h', 'e'],
  ['l', 'l'],
  ['he', 'll'],
  ['hell', 'o'],
  ['Ġ', 'w'],
  ['o', 'r'],
  ['Ġw', 'or'],
  ['Ġwor', 'l'],
  ['Ġworl', 'd'],
  ['a', 't'],
  ['c', 'at'],
  ['Ġ', 'cat'],
];

export function bpeTokenizer(): object {
  const vocab: Record<string, number> = {};
  SPECIAL.forEach((t, i) => (vocab[t] = i));
  for (const s of BPE_SYMBOLS) vocab[s] = Object.keys(vocab).length;
  for (const [a, b] of BPE_MERGES) vocab[a + b] = Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: BPE_MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** A ChatML-style template, the shape Qwen and SmolLM2 ship. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** A template that reads the special tokens from the config, as Llama 2 / Mistral templates do. */
export const BOS_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m.role + ' : ' + m.content + ' ' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant :' }}{% endif %}";

export function tokenizerConfig(extra: Record<string, unknown> = {}): object {
  return {
    bos_token: '<s>',
    eos_token: { content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false, __type: 'AddedToken' },
    unk_token: '<unk>',
    clean_up_tokenization_spaces: false,
    model_max_length: 2048,
    ...extra,
  };
}

/** Writes tokenizer.json (+ tokenizer_config.json unless `config` is null) into `dir`. */
export async function writeTokenizer(dir: string, tokenizer: object, config: object | null = tokenizerConfig(), extraFiles: Record<string, string> = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  if (config !== null) await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  for (const [name, text] of Object.entries(extraFiles)) await writeFile(join(dir, name), text);
}
