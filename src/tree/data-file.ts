import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ModelscoutError, errorMessage, jsonSyntaxReason, type ErrorCode } from '../errors.js';

/**
 * Reads a user-supplied JSON or YAML file (a custom tree, an answers file) into plain data. `.json` files
 * are parsed as JSON (its error messages name the position); anything else as YAML, which also accepts JSON.
 * Every failure is a one-line ModelscoutError naming the file and what went wrong.
 */
export async function readDataFile(path: string, what: string, code: ErrorCode): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(error);
    throw new ModelscoutError('E_FILE', `cannot read ${what} ${path}: ${reason}`, { suggestions: [`Check the path of the ${what}.`] });
  }
  return parseDataText(text, path, what, code);
}

export function parseDataText(text: string, path: string, what: string, code: ErrorCode): unknown {
  const isJson = extname(path).toLowerCase() === '.json';
  try {
    // `yaml` keeps YAML 1.2 core semantics: `no` stays a string, only `true`/`false` are booleans.
    const data: unknown = isJson ? JSON.parse(text) : parseYaml(text);
    if (data === null || data === undefined) throw new Error('the file is empty');
    return data;
  } catch (error) {
    const reason = error instanceof YAMLParseError ? yamlReason(error) : isJson ? jsonSyntaxReason(error) : errorMessage(error).split('\n')[0];
    throw new ModelscoutError(code, `${what} ${path} is not valid ${isJson ? 'JSON' : 'YAML'}: ${reason}`, {
      suggestions: [`Fix the ${what} (JSON or YAML) and run again.`],
    });
  }
}

function yamlReason(error: YAMLParseError): string {
  const first = error.message.split('\n')[0] ?? error.message;
  return first.replace(/:$/, '');
}
