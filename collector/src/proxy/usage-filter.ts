/**
 * With `injectStreamUsage`, an OpenAI streaming request the client sent without
 * stream_options.include_usage goes upstream with it, so the proxy learns exact usage. The
 * upstream then answers differently from what the client asked for in two ways, and this filter
 * undoes both so the client receives the stream it would have received directly:
 *   - one extra chunk at the end, `"choices":[]` with the usage object: removed (clients written
 *     for streams without it may index choices[0]);
 *   - `"usage":null` on every other chunk: removed.
 * To edit whole events the filter holds back an unfinished event until its blank line arrives;
 * streams the client asked usage for, and every other stream, are piped chunk by chunk untouched.
 *
 * The edit is textual: inside a JSON string a quote is always escaped, so `"usage":null` as
 * written here can only be the member itself, never content.
 */

const USAGE_NULL_AFTER = ',"usage":null';
const USAGE_NULL_BEFORE = '"usage":null,';

function isUsageOnlyChunk(event: string): boolean {
  return event.includes('"choices":[]') && event.includes('"usage":{');
}

function editEvent(event: string): string | undefined {
  if (isUsageOnlyChunk(event)) return undefined;
  if (event.includes(USAGE_NULL_AFTER)) return event.replace(USAGE_NULL_AFTER, "");
  if (event.includes(USAGE_NULL_BEFORE)) return event.replace(USAGE_NULL_BEFORE, "");
  return event;
}

/** Index just past the last blank line ("\n\n" or "\n\r\n") in `buf`, or -1. */
function lastEventEnd(buf: Buffer): number {
  for (let i = buf.length - 1; i > 0; i--) {
    if (buf[i] !== 10) continue;
    if (buf[i - 1] === 10) return i + 1;
    if (buf[i - 1] === 13 && i > 1 && buf[i - 2] === 10) return i + 1;
  }
  return -1;
}

export class UsageChunkFilter {
  #pending: Buffer | undefined;

  /** Bytes to forward now (possibly empty). */
  push(chunk: Buffer): Buffer {
    const buf = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    const end = lastEventEnd(buf);
    if (end < 0) {
      this.#pending = buf;
      return EMPTY;
    }
    this.#pending = end < buf.length ? Buffer.from(buf.subarray(end)) : undefined;
    return filterEvents(buf.subarray(0, end));
  }

  /** End of stream: whatever is held back, edited if it is a whole event. */
  end(): Buffer {
    const rest = this.#pending;
    this.#pending = undefined;
    if (rest === undefined) return EMPTY;
    const edited = editEvent(rest.toString("utf8"));
    return edited === undefined ? EMPTY : Buffer.from(edited, "utf8");
  }
}

const EMPTY = Buffer.alloc(0);

/** Complete events in, edited events out; the same bytes when nothing needed editing. */
function filterEvents(region: Buffer): Buffer {
  const text = region.toString("utf8");
  if (!text.includes('"usage"')) return region;
  // Split after each blank line, keeping the separators with their event.
  const parts = text.split(/(?<=\n\r?\n)/);
  let out = "";
  for (const part of parts) {
    const edited = editEvent(part);
    if (edited !== undefined) out += edited;
  }
  return Buffer.from(out, "utf8");
}
