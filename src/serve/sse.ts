/**
 * An incremental Server-Sent Events parser fed raw byte chunks as they come off the socket (the WHATWG
 * event-stream rules): lines end in LF, CRLF or CR; a line starting with ':' is a comment (keep-alive);
 * `data:` lines of one event are joined with '\n'; a blank line dispatches the event. An event, a line or
 * even a multi-byte UTF-8 character may be split across reads, so bytes are decoded in streaming mode and
 * the unfinished tail is kept. Pure: no clock, no I/O; the caller stamps times.
 */

export interface SseEvent {
  /** The `event:` field, or 'message'. */
  event: string;
  /** The `data:` lines joined with '\n'. */
  data: string;
  id: string | null;
}

export interface SseFeedResult {
  events: SseEvent[];
  /** Comment lines (': keep-alive') seen in this feed. */
  comments: number;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  /** A CR ended the previous feed: an LF at the start of the next one belongs to it. */
  private pendingCr = false;
  private dataLines: string[] = [];
  private eventName = '';
  private lastId: string | null = null;
  private sawField = false;
  /** Non-empty lines that were neither a field nor a comment, e.g. a JSON body that is not SSE. */
  invalidLines = 0;
  /** Bytes fed so far. */
  bytes = 0;

  feed(chunk: Uint8Array): SseFeedResult {
    this.bytes += chunk.byteLength;
    return this.consume(this.decoder.decode(chunk, { stream: true }));
  }

  /** Ends the stream: an event without its final blank line is not dispatched (the spec's rule). */
  end(): SseFeedResult & { incomplete: boolean } {
    const out = this.consume(this.decoder.decode());
    const incomplete = this.buffer.length > 0 || this.sawField;
    return { ...out, incomplete };
  }

  private consume(text: string): SseFeedResult {
    const result: SseFeedResult = { events: [], comments: 0 };
    let s = this.buffer + text;
    if (this.pendingCr && s.startsWith('\n')) s = s.slice(1);
    this.pendingCr = false;
    let start = 0;
    for (;;) {
      const lf = s.indexOf('\n', start);
      const cr = s.indexOf('\r', start);
      let end: number;
      if (lf === -1 && cr === -1) break;
      if (cr === -1 || (lf !== -1 && lf < cr)) {
        end = lf;
        this.line(s.slice(start, end), result);
        start = end + 1;
      } else {
        end = cr;
        this.line(s.slice(start, end), result);
        if (end + 1 < s.length) {
          start = s[end + 1] === '\n' ? end + 2 : end + 1;
        } else {
          this.pendingCr = true;
          start = end + 1;
        }
      }
    }
    this.buffer = s.slice(start);
    return result;
  }

  private line(line: string, result: SseFeedResult): void {
    if (line === '') {
      if (this.sawField && this.dataLines.length > 0) {
        result.events.push({ event: this.eventName || 'message', data: this.dataLines.join('\n'), id: this.lastId });
      }
      this.dataLines = [];
      this.eventName = '';
      this.sawField = false;
      return;
    }
    if (line.startsWith(':')) {
      result.comments += 1;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.dataLines.push(value);
        this.sawField = true;
        break;
      case 'event':
        this.eventName = value;
        this.sawField = true;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastId = value;
        this.sawField = true;
        break;
      case 'retry':
        this.sawField = true;
        break;
      default:
        this.invalidLines += 1;
    }
  }
}
