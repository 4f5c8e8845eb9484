import { describe, expect, it } from 'vitest';
import { interpretStreamEvent } from '../../src/serve/openai.js';
import { SseParser, type SseEvent } from '../../src/serve/sse.js';

const enc = new TextEncoder();

function feedAll(parts: (string | Uint8Array)[]): { events: SseEvent[]; comments: number; incomplete: boolean } {
  const p = new SseParser();
  const events: SseEvent[] = [];
  let comments = 0;
  for (const part of parts) {
    const r = p.feed(typeof part === 'string' ? enc.encode(part) : part);
    events.push(...r.events);
    comments += r.comments;
  }
  const end = p.end();
  events.push(...end.events);
  return { events, comments: comments + end.comments, incomplete: end.incomplete };
}

const STREAM =
  'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n' +
  ': keep-alive\n\n' +
  'data: {"id":"c1","choices":[{"index":0,"delta":{"content":" héllo wörld"},"finish_reason":null}]}\n\n' +
  'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}]}\n\n' +
  'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}\n\n' +
  'data: [DONE]\n\n';

describe('SseParser', () => {
  it('parses events, comments and [DONE]', () => {
    const r = feedAll([STREAM]);
    expect(r.events.map((e) => e.data.slice(0, 12))).toEqual(['{"id":"c1","', '{"id":"c1","', '{"id":"c1","', '{"id":"c1","', '[DONE]']);
    expect(r.comments).toBe(1);
    expect(r.incomplete).toBe(false);
  });

  it('gives the same events for CRLF, CR and LF line endings', () => {
    const lf = feedAll([STREAM]).events;
    expect(feedAll([STREAM.replace(/\n/g, '\r\n')]).events).toEqual(lf);
    expect(feedAll([STREAM.replace(/\n/g, '\r')]).events).toEqual(lf);
  });

  it('gives the same events however the bytes are split across reads (even inside a UTF-8 character or a CRLF)', () => {
    const bytes = enc.encode(STREAM.replace(/\n/g, '\r\n'));
    const whole = feedAll([bytes]).events;
    // Every single split point, and byte-by-byte.
    for (let cut = 1; cut < bytes.length; cut += 7) expect(feedAll([bytes.subarray(0, cut), bytes.subarray(cut)]).events).toEqual(whole);
    const single: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 1) single.push(bytes.subarray(i, i + 1));
    expect(feedAll(single).events).toEqual(whole);
  });

  it('joins multi-line data and keeps event names', () => {
    const r = feedAll(['event: message\ndata: a\ndata: b\n\nevent: error\ndata: {"error":{"message":"x"}}\n\n']);
    expect(r.events).toEqual([
      { event: 'message', data: 'a\nb', id: null },
      { event: 'error', data: '{"error":{"message":"x"}}', id: null },
    ]);
  });

  it('does not dispatch an event cut off before its blank line, and says the stream was incomplete', () => {
    const r = feedAll(['data: {"choices":[{"text":"a"}]}\n\ndata: {"choices":[{"te']);
    expect(r.events).toHaveLength(1);
    expect(r.incomplete).toBe(true);
  });

  it('counts lines that are not SSE (a JSON body)', () => {
    const p = new SseParser();
    expect(p.feed(enc.encode('{"id":"x","choices":[]}\n')).events).toEqual([]);
    expect(p.invalidLines).toBe(1);
  });
});

describe('interpretStreamEvent', () => {
  it('treats a role-only first chunk as carrying no content', () => {
    const e = interpretStreamEvent('{"id":"a","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}');
    expect(e.content).toBe('');
    expect(e.id).toBe('a');
  });

  it('reads completions text, chat content, reasoning content, finish_reason and usage with empty choices', () => {
    expect(interpretStreamEvent('{"choices":[{"text":" one two three","finish_reason":null}]}').content).toBe(' one two three');
    expect(interpretStreamEvent('{"choices":[{"delta":{"content":"x"},"finish_reason":"length"}]}')).toMatchObject({ content: 'x', finishReason: 'length' });
    expect(interpretStreamEvent('{"choices":[{"delta":{"reasoning_content":"think"}}]}').content).toBe('think');
    expect(interpretStreamEvent('{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":9}}')).toMatchObject({ content: '', usage: { prompt_tokens: 4, completion_tokens: 9 } });
  });

  it('recognizes [DONE], malformed JSON and in-stream errors', () => {
    expect(interpretStreamEvent('[DONE]').done).toBe(true);
    expect(interpretStreamEvent('{"choices": [{"text": oops}]}').malformed).toBe(true);
    expect(interpretStreamEvent('{"error":{"message":"out of memory"}}').error).toBe('out of memory');
  });
});
