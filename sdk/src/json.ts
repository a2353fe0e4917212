/**
 * Readers for provider payloads. Request and response bodies are typed `unknown` here on purpose:
 * the SDK must keep working when a client library adds, renames or drops a field, so every read
 * narrows instead of trusting a declared type.
 */

export type JsonObject = { readonly [key: string]: unknown };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asObject(value: unknown): JsonObject | undefined {
  return isObject(value) ? value : undefined;
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : EMPTY;
}

const EMPTY: readonly unknown[] = Object.freeze([]);

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** A finite number, or undefined. */
export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** A whole, non-negative token count, or undefined. */
export function count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
}

/** Strings of a `string | string[]` field (e.g. OpenAI `stop`). */
export function strings(value: unknown): string[] | undefined {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) return undefined;
  const out: string[] = [];
  for (const v of value) if (typeof v === "string") out.push(v);
  return out.length > 0 ? out : undefined;
}

/** Tool arguments arrive as JSON text; keep the parsed value when it parses, the text otherwise. */
export function parseArguments(text: string): unknown {
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A deep copy of a JSON value (its own JSON, parsed: the form content is serialized in anyway),
 * so that what the app changes in its request or response objects after the call does not reach
 * captured content serialized later. Primitives are returned as they are.
 */
export function snapshot(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  return JSON.parse(JSON.stringify(value));
}
