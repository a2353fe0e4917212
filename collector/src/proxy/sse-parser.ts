/**
 * Incremental server-sent-events parser for the proxy's tap. It reads the same chunks that are
 * forwarded to the client, never holds more than one event (capped), and never delays the
 * forwarding: the caller writes each chunk first and parses it after.
 *
 * Framing per the WHATWG HTML spec, "Interpreting an event stream": lines end with LF or CRLF,
 * `field: value` (one leading space dropped), `data` lines join with "\n", a blank line
 * dispatches, lines starting with ":" are comments. A line cannot split a UTF-8 sequence (LF is
 * ASCII), so each line is decoded on its own.
 */

export type SseEventHandler = (event: string, data: string) => void;

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

export class SseParser {
  readonly #onEvent: SseEventHandler;
  readonly #maxEventBytes: number;
  /** Bytes of an unfinished line carried over from the previous chunk. */
  #partial: Buffer | undefined;
  #event = "";
  #data: string | undefined;
  #eventBytes = 0;
  /** The current event outgrew the cap: skip it up to the next blank line. */
  #skipping = false;
  /** Events skipped for size. */
  oversized = 0;

  constructor(onEvent: SseEventHandler, maxEventBytes = 1024 * 1024) {
    this.#onEvent = onEvent;
    this.#maxEventBytes = maxEventBytes;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.#partial !== undefined) {
      buf = Buffer.concat([this.#partial, chunk]);
      this.#partial = undefined;
    }
    let start = 0;
    const end = buf.length;
    while (start < end) {
      const lf = buf.indexOf(LF, start);
      if (lf < 0) break;
      let lineEnd = lf;
      if (lineEnd > start && buf[lineEnd - 1] === CR) lineEnd--;
      this.#line(buf, start, lineEnd);
      start = lf + 1;
    }
    if (start < end) {
      const rest = end - start;
      if (this.#eventBytes + rest > this.#maxEventBytes) {
        // A line longer than the cap: drop what we have, skip to the end of the event.
        this.#skip();
      } else {
        // Copy: the caller's chunk may be reused once it has been written out.
        this.#partial = Buffer.from(buf.subarray(start, end));
      }
    }
  }

  /** End of stream: an event without its closing blank line is still delivered. */
  end(): void {
    if (this.#partial !== undefined) {
      const p = this.#partial;
      this.#partial = undefined;
      let lineEnd = p.length;
      if (lineEnd > 0 && p[lineEnd - 1] === CR) lineEnd--;
      this.#line(p, 0, lineEnd);
    }
    this.#dispatch();
  }

  #skip(): void {
    this.#skipping = true;
    this.#data = undefined;
    this.#event = "";
    this.#eventBytes = 0;
    this.#partial = undefined;
    this.oversized++;
  }

  #line(buf: Buffer, start: number, end: number): void {
    if (start === end) {
      this.#dispatch();
      return;
    }
    if (this.#skipping) return;
    this.#eventBytes += end - start;
    if (this.#eventBytes > this.#maxEventBytes) {
      this.#skip();
      return;
    }
    if (buf[start] === COLON) return; // comment
    let colon = -1;
    for (let i = start; i < end; i++) {
      if (buf[i] === COLON) {
        colon = i;
        break;
      }
    }
    const nameEnd = colon < 0 ? end : colon;
    let valueStart = colon < 0 ? end : colon + 1;
    if (valueStart < end && buf[valueStart] === SPACE) valueStart++;
    const nameLen = nameEnd - start;
    // data / event are the only fields the tap needs (id and retry are for reconnects).
    if (
      nameLen === 4 &&
      buf[start] === 100 &&
      buf[start + 1] === 97 &&
      buf[start + 2] === 116 &&
      buf[start + 3] === 97
    ) {
      const value = buf.toString("utf8", valueStart, end);
      this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
    } else if (nameLen === 5 && buf.toString("latin1", start, nameEnd) === "event") {
      this.#event = buf.toString("utf8", valueStart, end);
    }
  }

  #dispatch(): void {
    const data = this.#data;
    const event = this.#event;
    this.#data = undefined;
    this.#event = "";
    this.#eventBytes = 0;
    if (this.#skipping) {
      this.#skipping = false;
      return;
    }
    if (data !== undefined) this.#onEvent(event, data);
  }
}
