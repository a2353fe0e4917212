/**
 * Small readers over decoded OTLP attributes. Every adapter calls these for every span, so
 * they read one key, check its type and return: nothing is allocated when the key is absent.
 *
 * GenAI senders disagree on value types (a token count may arrive as an int, a double or a
 * numeric string; an array as an OTLP array or a JSON string), so each reader accepts the
 * spellings seen in the wild and returns `undefined` for anything else.
 */
import type { Attributes, AttrValue } from "../otlp/types.js";

/** A string value; numbers and booleans are stringified; "" counts as absent. */
export function str(attrs: Attributes, key: string): string | undefined {
  const v = attrs[key];
  if (typeof v === "string") return v === "" ? undefined : v;
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === "boolean") return v ? "true" : "false";
  return undefined;
}

/** A finite number; numeric strings ("12", " 3.5 ") are accepted. */
export function num(attrs: Attributes, key: string): number | undefined {
  return toNum(attrs[key]);
}

/** Like `num`, truncated towards zero. */
export function int(attrs: Attributes, key: string): number | undefined {
  const n = toNum(attrs[key]);
  return n === undefined ? undefined : Math.trunc(n);
}

/** A boolean; also "true"/"false" (any case) and 1/0. */
export function bool(attrs: Attributes, key: string): boolean | undefined {
  return toBool(attrs[key]);
}

/**
 * A string array. Accepts an OTLP array (non-strings dropped), a JSON-string array
 * (`'["stop"]'`) and a lone string (`"stop"` -> `["stop"]`).
 */
export function strArray(attrs: Attributes, key: string): string[] | undefined {
  const v = attrs[key];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return stringsOf(v);
  if (typeof v === "string") {
    if (v === "") return undefined;
    if (v.charCodeAt(0) === 91 /* [ */) {
      const parsed = parseJson(v);
      if (Array.isArray(parsed)) return stringsOf(parsed);
    }
    return [v];
  }
  return undefined;
}

/**
 * A JSON-ish value: a string that looks like a JSON object or array is parsed (and returned
 * as is when it does not parse); structured values (maps, arrays, scalars) pass through.
 */
export function json(attrs: Attributes, key: string): unknown {
  const v = attrs[key];
  if (v === undefined || v === null) return undefined;
  return typeof v === "string" ? parseJsonLoose(v) : v;
}

/** The first key present as a string. `keys` should be a module-level constant. */
export function firstStr(attrs: Attributes, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const v = str(attrs, key);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The first key present as a number. */
export function firstNum(attrs: Attributes, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const v = toNum(attrs[key]);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The first key present as an integer. */
export function firstInt(attrs: Attributes, keys: readonly string[]): number | undefined {
  const n = firstNum(attrs, keys);
  return n === undefined ? undefined : Math.trunc(n);
}

/** True when any of `keys` is present with a non-null value. */
export function hasAny(attrs: Attributes, keys: readonly string[]): boolean {
  for (const key of keys) {
    const v = attrs[key];
    if (v !== undefined && v !== null) return true;
  }
  return false;
}

export function toNum(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string" && v !== "") {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export function toBool(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    const s = v.toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
    return undefined;
  }
  if (typeof v === "number") return v === 1 ? true : v === 0 ? false : undefined;
  return undefined;
}

/** JSON.parse that returns undefined instead of throwing. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Parse `text` when it looks like a JSON object or array; otherwise (or when invalid) return it unchanged. */
export function parseJsonLoose(text: string): unknown {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  const c = text.charCodeAt(i);
  if (c !== 123 /* { */ && c !== 91 /* [ */) return text;
  const parsed = parseJson(text);
  return parsed === undefined ? text : parsed;
}

/** Bytes as base64, the way OTLP/JSON encodes bytes values. */
export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** JSON.stringify replacer that writes byte arrays as base64 instead of `{"0":..}` objects. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? bytesToBase64(value) : value;
}

/**
 * One attribute as a string column value: strings as is, numbers and booleans printed,
 * bytes as base64, arrays and maps as JSON. Null gives undefined (nothing to store).
 */
export function attrToString(v: AttrValue): string | undefined {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "boolean":
      return String(v);
    default:
      if (v === null) return undefined;
      if (v instanceof Uint8Array) return bytesToBase64(v);
      return JSON.stringify(v, jsonReplacer);
  }
}

function stringsOf(values: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const x of values) if (typeof x === "string") out.push(x);
  return out;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}
