import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/cli/base-command.js';
import { ModelscoutError, jsonSyntaxReason } from '../../src/errors.js';

function parseError(text: string): unknown {
  try {
    JSON.parse(text);
  } catch (error) {
    return error;
  }
  throw new Error(`${text} parsed`);
}

describe('jsonSyntaxReason', () => {
  it.each([
    ['vm\n', "Unexpected token 'v'"],
    ['root:x:0:0:root:/root:/bin/bash\nsecond', "Unexpected token 'r'"],
    ['{"a":x}', "Unexpected token 'x'"],
    ['{"a": 1', ''],
    ['', 'Unexpected end of JSON input'],
  ])('gives V8 reason for %j without quoting the text', (text, start) => {
    const reason = jsonSyntaxReason(parseError(text));
    expect(reason.startsWith(start)).toBe(true);
    expect(reason).not.toContain('\n');
    expect(reason).not.toContain('is not valid JSON');
    if (text.length > 3) expect(reason).not.toContain(text.slice(0, 4));
    expect(reason.length).toBeGreaterThan(0);
  });
});

describe('describeError', () => {
  it('puts a message that spans lines on one line, in the JSON form too', () => {
    const d = describeError(new ModelscoutError('E_INPUT', 'server said:\n  {"detail": "bad"}\n', { suggestions: ['Fix it.'] }));
    expect(d.message).toBe('server said: {"detail": "bad"}');
    expect(d.json).toMatchObject({ code: 'E_INPUT', message: 'server said: {"detail": "bad"}', suggestions: ['Fix it.'], exit_code: 2 });
  });
});
