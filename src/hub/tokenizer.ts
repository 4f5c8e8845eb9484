/**
 * The text side of a model, offline: `tokenizer.json` (+ `tokenizer_config.json`, and the chat template
 * wherever the model keeps it) read from the model's own folder, never from the network.
 *
 * Tokenization is the Hugging Face JS implementation (`@huggingface/tokenizers`, the one transformers.js
 * uses) and chat templates are rendered by `@huggingface/jinja`; this module only finds the files, turns
 * their failures into one-line errors and offers the few operations the commands need (encode, decode,
 * chat prompts, prompts of an exact token length).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelscoutError, errorMessage, jsonSyntaxReason } from '../errors.js';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
/** Newer models keep the chat template beside the tokenizer instead of inside tokenizer_config.json. */
export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';
const CHAT_TEMPLATE_JSON_FILE = 'chat_template.json';
const GENERATION_CONFIG_FILE = 'generation_config.json';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatTemplateOptions {
  /** End the prompt with the assistant's turn header, so the model answers (default true). */
  addGenerationPrompt?: boolean;
  /** Name of the template when the model ships several (default: "default", else the first). */
  templateName?: string;
}

/** The special tokens a caller may need, as text and id (null when the tokenizer has none). */
export interface SpecialToken {
  text: string;
  id: number | null;
}

export interface LocalTokenizer {
  /** Folder the files came from. */
  folder: string;
  vocabSize: number;
  bos: SpecialToken | null;
  eos: SpecialToken | null;
  /** Ids that end generation: the tokenizer's EOS plus generation_config.json's eos_token_id(s). */
  eosIds: readonly number[];
  hasChatTemplate: boolean;
  /** Text → ids. `addSpecialTokens` (default true) applies the tokenizer's post-processor (BOS etc.). */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /** Ids → text. Special tokens are left out unless `skipSpecialTokens` is false. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** The chat template rendered for these messages (throws E_MODEL when the model has none). */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  /** The rendered chat prompt as ids; the template already holds the special tokens, none are added twice. */
  encodeChat(messages: readonly ChatMessage[], options?: ChatTemplateOptions): number[];
}

/** What `loadTokenizer` reads, already parsed: a seam for tests and for callers that hold the JSON. */
export interface TokenizerFiles {
  tokenizer: unknown;
  config?: unknown;
  /** Chat template text from chat_template.jinja / chat_template.json, when the config has none. */
  chatTemplate?: string | null;
  /** generation_config.json, for its eos_token_id. */
  generationConfig?: unknown;
}

type TemplateSource = string | readonly { name: string; template: string }[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Special tokens in tokenizer_config.json are strings, or AddedToken objects `{ content: "<s>", ... }`. */
function tokenText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (isRecord(value) && typeof value.content === 'string') return value.content;
  return null;
}

function templateSource(value: unknown): TemplateSource | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.filter((t): t is { name: string; template: string } => isRecord(t) && typeof t.name === 'string' && typeof t.template === 'string');
    return named.length > 0 ? named : null;
  }
  // chat_template.json holds { "chat_template": "..." }
  if (isRecord(value)) return templateSource(value.chat_template);
  return null;
}

function pickTemplate(source: TemplateSource, name: string | undefined, folder: string): string {
  if (typeof source === 'string') return source;
  const wanted = name ?? 'default';
  const found = source.find((t) => t.name === wanted) ?? (name === undefined ? source[0] : undefined);
  if (!found) {
    throw new ModelscoutError('E_INPUT', `chat template "${wanted}" not found in ${folder}: it has ${source.map((t) => t.name).join(', ')}`);
  }
  return found.template;
}

function idsOf(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number' && Number.isInteger(v));
  return [];
}

/** Builds the tokenizer from parsed files. Throws E_MODEL (exit 2) for a tokenizer.json the library rejects. */
export function tokenizerFromFiles(files: TokenizerFiles, folder = '.'): LocalTokenizer {
  if (!isRecord(files.tokenizer) || !isRecord(files.tokenizer.model)) {
    throw new ModelscoutError('E_MODEL', `${join(folder, TOKENIZER_FILE)} is not a tokenizer: it has no "model" object`, {
      suggestions: ['Pull the model again, or copy the tokenizer.json of the model this folder was converted from.'],
    });
  }
  const config = isRecord(files.config) ? files.config : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(files.tokenizer, config);
  } catch (error) {
    throw new ModelscoutError('E_MODEL', `cannot read the tokenizer in ${folder}: ${errorMessage(error)}`, {
      suggestions: ['Check that tokenizer.json is the one the model was published with.'],
      cause: error,
    });
  }
  const special = (key: string): SpecialToken | null => {
    const text = tokenText(config[key]);
    if (text === null) return null;
    return { text, id: tokenizer.token_to_id(text) ?? null };
  };
  const bos = special('bos_token');
  const eos = special('eos_token');
  const generation = isRecord(files.generationConfig) ? files.generationConfig : {};
  const eosIds = [...new Set([...(eos?.id === null || eos === null ? [] : [eos.id]), ...idsOf(generation.eos_token_id)])];
  const source = templateSource(config.chat_template) ?? (files.chatTemplate ? files.chatTemplate : null);

  const applyChatTemplate = (messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string => {
    if (source === null) {
      throw new ModelscoutError('E_MODEL', `${folder} has no chat template (neither tokenizer_config.json's chat_template nor ${CHAT_TEMPLATE_FILE})`, {
        suggestions: ['Leave out --chat and pass the prompt as plain text, or use the instruct version of the model.'],
      });
    }
    const text = pickTemplate(source, options.templateName, folder);
    // Values a template may read: the special tokens by their config names (@huggingface/jinja defines raise_exception).
    const context: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
      const t = key.endsWith('_token') ? tokenText(value) : null;
      if (t !== null) context[key] = t;
    }
    try {
      return new Template(text).render({
        ...context,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: options.addGenerationPrompt ?? true,
      });
    } catch (error) {
      throw new ModelscoutError('E_MODEL', `the chat template of ${folder} failed: ${errorMessage(error)}`, {
        suggestions: ['Leave out --chat and pass the prompt as plain text.'],
        cause: error,
      });
    }
  };

  return {
    folder,
    vocabSize: tokenizer.get_vocab(true).size,
    bos,
    eos,
    eosIds,
    hasChatTemplate: source !== null,
    encode: (text, options = {}) => tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids,
    decode: (ids, options = {}) => tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true }),
    applyChatTemplate,
    encodeChat: (messages, options) => tokenizer.encode(applyChatTemplate(messages, options), { add_special_tokens: false }).ids,
  };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The folder holding a model's tokenizer.json: the model folder itself, or — for a path to an .onnx file or
 * to the `onnx/` subfolder — the folder above. Null when there is none.
 */
export async function findTokenizerFolder(modelPath: string): Promise<string | null> {
  const path = resolve(modelPath);
  const start = (await isFile(path)) ? dirname(path) : path;
  const candidates = [start];
  if (basename(start) === 'onnx') candidates.push(dirname(start));
  for (const folder of candidates) if (await isFile(join(folder, TOKENIZER_FILE))) return folder;
  return null;
}

async function readJson(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelscoutError('E_FILE', `cannot read ${path}: ${errorMessage(error)}`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ModelscoutError('E_MODEL', `${path} is not valid JSON: ${jsonSyntaxReason(error)}`, {
      suggestions: ['Pull the model again; the file may be truncated.'],
      cause: error,
    });
  }
}

async function readOptionalText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Loads the tokenizer of a model folder (or of the folder of an .onnx file). Throws E_NOT_FOUND (exit 2)
 * naming the folder when there is no tokenizer.json — synthetic models have none; pass token ids to them.
 */
export async function loadTokenizer(modelPath: string): Promise<LocalTokenizer> {
  const folder = await findTokenizerFolder(modelPath);
  if (folder === null) {
    throw new ModelscoutError('E_NOT_FOUND', `no ${TOKENIZER_FILE} beside ${modelPath}, so text cannot be tokenized`, {
      suggestions: ['Pass token ids instead (--prompt-ids), or pull the model from the Hub so its tokenizer comes with it.'],
    });
  }
  const [tokenizer, config, generationConfig, jinja, templateJson] = await Promise.all([
    readJson(join(folder, TOKENIZER_FILE), true),
    readJson(join(folder, TOKENIZER_CONFIG_FILE), false),
    readJson(join(folder, GENERATION_CONFIG_FILE), false),
    readOptionalText(join(folder, CHAT_TEMPLATE_FILE)),
    readJson(join(folder, CHAT_TEMPLATE_JSON_FILE), false),
  ]);
  const fromJson = templateSource(templateJson);
  const chatTemplate = jinja ?? (typeof fromJson === 'string' ? fromJson : null);
  return tokenizerFromFiles({ tokenizer, config, generationConfig, chatTemplate }, folder);
}

/**
 * Exactly `length` prompt ids cut from `text`'s tokens (no special tokens), repeating the text when it is
 * shorter. For prompts fed to a model as ids.
 */
export function promptIdsOfLength(tokenizer: LocalTokenizer, text: string, length: number): number[] {
  if (!Number.isInteger(length) || length < 1) throw new ModelscoutError('E_INPUT', `prompt length must be a positive integer, got ${length}`);
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  if (ids.length === 0) throw new ModelscoutError('E_INPUT', 'the prompt text gives no tokens', { suggestions: ['Use a text with words in it.'] });
  const out: number[] = [];
  while (out.length < length) out.push(...ids.slice(0, length - out.length));
  return out;
}

/**
 * A text that this tokenizer encodes (without special tokens) to exactly `length` tokens, cut from `text`
 * (repeated when shorter). For engines that take text: decoding a cut of ids and encoding it again can merge
 * or split tokens at the seams, so the cut is adjusted until the round trip holds. Throws when no cut near
 * `length` round-trips exactly.
 */
export function textOfTokenLength(tokenizer: LocalTokenizer, text: string, length: number): string {
  const source = promptIdsOfLength(tokenizer, text, length + 64);
  const count = (t: string) => tokenizer.encode(t, { addSpecialTokens: false }).length;
  let cut = length;
  const tried = new Set<number>();
  for (let attempt = 0; attempt < 64 && cut >= 1 && cut <= source.length && !tried.has(cut); attempt++) {
    tried.add(cut);
    const candidate = tokenizer.decode(source.slice(0, cut));
    const n = count(candidate);
    if (n === length) return candidate;
    cut += length - n;
  }
  // The seams moved in a cycle: walk one token at a time around the target.
  for (let delta = 1; delta <= 32; delta++) {
    for (const c of [length - delta, length + delta]) {
      if (c < 1 || c > source.length) continue;
      const candidate = tokenizer.decode(source.slice(0, c));
      if (count(candidate) === length) return candidate;
    }
  }
  throw new ModelscoutError('E_INPUT', `no cut of the prompt text encodes to exactly ${length} tokens`, {
    suggestions: ['Use a longer or plainer prompt text.'],
  });
}
