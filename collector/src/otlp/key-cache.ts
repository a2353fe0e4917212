/*
 * Canonical strings for attribute keys. Keys decoded from a request are fresh strings: V8 must
 * hash and internalize each one before storing a property under it, which costs more than
 * decoding it. The same few hundred keys (gen_ai.*, http.*, service.name...) recur in every
 * request, so both decoders hand out one shared copy per key. Both caches are bounded, so a
 * sender inventing keys cannot grow them; past the bound keys are decoded as usual.
 */

const MAX_STRING_KEYS = 4096;
const stringKeys = new Map<string, string>();

/** The canonical copy of a key that is already a string (JSON). */
export function internKey(key: string): string {
  const known = stringKeys.get(key);
  if (known !== undefined) return known;
  if (stringKeys.size < MAX_STRING_KEYS) stringKeys.set(key, key);
  return key;
}

// Open-addressing table of ASCII keys, looked up by their UTF-8 bytes (protobuf) without
// decoding them first. A slot is filled once and never replaced.
const SLOTS = 8192;
const PROBES = 8;
const MAX_KEY_BYTES = 128;
const slots: Array<string | undefined> = new Array<string | undefined>(SLOTS).fill(undefined);

interface Utf8SliceBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
}

/** Node's own UTF-8 decoder without Buffer#toString's argument handling (protobufjs uses it too). */
export const utf8Slice: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as Partial<Utf8SliceBuffer>).utf8Slice === "function"
    ? (buf, start, end) => (buf as Utf8SliceBuffer).utf8Slice(start, end)
    : (buf, start, end) => buf.toString("utf8", start, end);

/** The key stored in `buf[start, end)`, from the table when it holds it. */
export function keyFromUtf8(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len === 0) return "";
  if (len > MAX_KEY_BYTES) return utf8Slice(buf, start, end);
  // Hash a few bytes only (keys share long prefixes like "gen_ai.", so mostly from the end);
  // the full comparison below decides.
  const last = end - 1;
  let h = Math.imul(len, 0x9e3779b1);
  h = Math.imul(h ^ (buf[last] as number), 0x01000193);
  h = Math.imul(h ^ (buf[last - (len >> 3)] as number), 0x01000193);
  h = Math.imul(h ^ (buf[last - (len >> 2)] as number), 0x01000193);
  h = Math.imul(h ^ (buf[start + (len >> 1)] as number), 0x01000193);
  h = Math.imul(h ^ (buf[start + (len >> 2)] as number), 0x01000193);
  let slot = (h ^ (h >>> 15)) & (SLOTS - 1);
  for (let p = 0; p < PROBES; p++) {
    const known = slots[slot];
    if (known === undefined) return insert(buf, start, end, slot);
    // A cached key is ASCII, so its char codes are its bytes.
    if (known.length === len && sameAscii(known, buf, start)) return known;
    slot = (slot + 1) & (SLOTS - 1);
  }
  return utf8Slice(buf, start, end);
}

function insert(buf: Buffer, start: number, end: number, slot: number): string {
  const key = utf8Slice(buf, start, end);
  for (let i = start; i < end; i++) if ((buf[i] as number) >= 0x80) return key;
  // Keep V8's internalized copy (what a property name becomes): the fresh string would turn
  // into an indirection to it once used as a key, slowing every comparison above.
  const internalized = Object.keys({ [key]: 0 })[0] ?? key;
  slots[slot] = internalized;
  return internalized;
}

function sameAscii(s: string, buf: Buffer, start: number): boolean {
  // From the end: keys that collide mostly share their prefix.
  for (let i = s.length - 1; i >= 0; i--) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}
