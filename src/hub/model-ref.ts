import { ModelscoutError } from '../errors.js';

/**
 * What the user asked `pull` for, before any I/O: a Hub repo (from `org/name[@revision]` or a Hub URL),
 * a catalog id, or a local folder/file. Pure: existence checks and catalog look-ups are passed in.
 */
export type ModelRef =
  | { kind: 'hub'; repo: string; revision: string; revisionGiven: boolean; endpoint?: string }
  | { kind: 'catalog'; id: string; revision: string; revisionGiven: boolean }
  | { kind: 'local'; path: string };

export const DEFAULT_REVISION = 'main';

export interface ParseModelRefOptions {
  /** Whether a local path exists (a local folder wins over a repo id of the same spelling, as in transformers). */
  pathExists: (path: string) => boolean;
  /** Whether a string is a catalog id. */
  isCatalogId: (id: string) => boolean;
  /** The configured endpoint: a URL under it keeps its path prefix (mirrors served below a path). */
  endpoint: string;
}

const COMMIT_RE = /^[0-9a-f]{40}$/;
/** Hub URL path segments that are not model namespaces. */
const NON_MODEL_PREFIXES = new Set(['datasets', 'spaces', 'api', 'docs', 'models', 'collections', 'organizations', 'buckets', 'kernels']);

export function isCommitHash(revision: string): boolean {
  return COMMIT_RE.test(revision);
}

export function parseModelRef(input: string, options: ParseModelRefOptions): ModelRef {
  const text = input.trim();
  if (!text) throw new ModelscoutError('E_INPUT', 'no model given: expected a Hub repo id (org/name[@revision]), a catalog id, a Hub URL or a local path');
  if (/^https?:\/\//i.test(text)) return parseHubUrl(text, options.endpoint);
  if (looksLikePath(text) || options.pathExists(text)) return { kind: 'local', path: text };

  const at = text.indexOf('@');
  const name = at === -1 ? text : text.slice(0, at);
  const revision = at === -1 ? DEFAULT_REVISION : text.slice(at + 1);
  const revisionGiven = at !== -1;
  if (revisionGiven) validateRevision(revision, text);
  if (options.isCatalogId(name)) return { kind: 'catalog', id: name, revision, revisionGiven };
  validateRepoId(name, text);
  return { kind: 'hub', repo: name, revision, revisionGiven };
}

/**
 * Hub URLs as a browser shows them: `…/org/name`, `…/org/name/tree/<rev>`, `…/org/name/resolve/<rev>/<file>`
 * and `…/org/name/blob/<rev>/<file>`. The URL's own host becomes the endpoint (a mirror URL pulls from the mirror).
 */
export function parseHubUrl(text: string, configuredEndpoint: string): ModelRef {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ModelscoutError('E_INPUT', `invalid URL ${JSON.stringify(text)}`, { suggestions: ['Give a Hub model URL such as https://huggingface.co/onnx-community/Qwen2.5-0.5B-Instruct.'] });
  }
  const configured = new URL(configuredEndpoint);
  const configuredPath = configured.pathname.replace(/\/+$/, '');
  let endpoint = url.origin;
  let path = url.pathname;
  if (url.origin === configured.origin && configuredPath && (path === configuredPath || path.startsWith(`${configuredPath}/`))) {
    endpoint = `${configured.origin}${configuredPath}`;
    path = path.slice(configuredPath.length);
  }
  const segments = path.split('/').filter(Boolean).map((s) => safeDecode(s));
  const first = segments[0];
  if (first === undefined) throw notAModelUrl(text);
  if (NON_MODEL_PREFIXES.has(first)) throw notAModelUrl(text);
  // A model is `name` (legacy, no namespace) or `org/name`; the next segment, if any, is tree/resolve/blob.
  const markerAt = segments.findIndex((s, i) => i > 0 && i <= 2 && (s === 'tree' || s === 'resolve' || s === 'blob'));
  const repoSegments = markerAt === -1 ? segments.slice(0, 2) : segments.slice(0, markerAt);
  if (markerAt === -1 && segments.length > 2) throw notAModelUrl(text);
  const repo = repoSegments.join('/');
  validateRepoId(repo, text);
  const revisionSegment = markerAt === -1 ? undefined : segments[markerAt + 1];
  const revision = revisionSegment ?? DEFAULT_REVISION;
  if (revisionSegment !== undefined) validateRevision(revision, text);
  return { kind: 'hub', repo, revision, revisionGiven: revisionSegment !== undefined, endpoint };
}

/** huggingface_hub's `validate_repo_id`: `[namespace/]name`, word characters, `-` and `.`, no `--` or `..`. */
export function validateRepoId(repo: string, input: string = repo): void {
  const segment = /^(?![-.])[\w.-]{1,96}(?<![-.])$/;
  const parts = repo.split('/');
  const ok = parts.length >= 1 && parts.length <= 2 && parts.every((p) => segment.test(p)) && !repo.includes('--') && !repo.includes('..');
  if (!ok) {
    throw new ModelscoutError('E_INPUT', `invalid model ${JSON.stringify(input)}: expected a Hub repo id (org/name[@revision]), a catalog id, a Hub URL or a local path`, {
      suggestions: ['List catalog ids with `modelscout models`.', 'A Hub repo id looks like onnx-community/Qwen2.5-0.5B-Instruct.'],
    });
  }
}

function validateRevision(revision: string, input: string): void {
  if (!revision || /\s/.test(revision) || revision.includes('..') || revision.startsWith('/') || revision.endsWith('/')) {
    throw new ModelscoutError('E_INPUT', `invalid revision in ${JSON.stringify(input)}: expected a branch, tag or commit after @ (e.g. @main)`);
  }
}

function looksLikePath(text: string): boolean {
  return text === '.' || text === '..' || text.startsWith('/') || text.startsWith('./') || text.startsWith('../') || text.startsWith('~') || /\.onnx$/i.test(text);
}

function notAModelUrl(text: string): ModelscoutError {
  return new ModelscoutError('E_INPUT', `not a Hub model URL: ${text}`, {
    suggestions: ['Give a model page URL such as https://huggingface.co/onnx-community/Qwen2.5-0.5B-Instruct (datasets and spaces are not models).'],
  });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
