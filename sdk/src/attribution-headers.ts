/**
 * Per-call attribution through request options, with the header names the tokenmeter proxy
 * already understands (ARCHITECTURE.md, "Proxy endpoints"):
 *
 *   client.chat.completions.create(body, { headers: { "x-tokenmeter-feature": "search" } })
 *
 * The SDK takes these headers out of the request before the client sends it, so they never
 * reach the provider, and records them on the call's span. Same names in SDK and proxy means
 * one way to attribute a call whichever path it takes.
 */
import { parseTagList } from "./attribution.js";
import { isObject } from "./json.js";
import type { Attribution } from "./types.js";

const PREFIX = "x-tokenmeter-";

const HEADER_FIELDS: Readonly<Record<string, keyof Omit<Attribution, "tags">>> = {
  "x-tokenmeter-team": "team",
  "x-tokenmeter-project": "project",
  "x-tokenmeter-user": "user",
  "x-tokenmeter-session": "session",
  "x-tokenmeter-feature": "feature",
};

export interface TakenHeaders {
  attribution: Attribution;
  /** The request options without the x-tokenmeter-* headers. */
  options: unknown;
}

function isOurs(name: string): boolean {
  return name.length > PREFIX.length && name.toLowerCase().startsWith(PREFIX);
}

function apply(out: Attribution, name: string, value: unknown): void {
  if (typeof value !== "string") return;
  const lower = name.toLowerCase();
  if (lower === "x-tokenmeter-tags") out.tags = { ...out.tags, ...parseTagList(value) };
  else {
    const field = HEADER_FIELDS[lower];
    if (field !== undefined) out[field] = value;
  }
}

/**
 * Splits x-tokenmeter-* headers off request options. Returns undefined (and allocates nothing)
 * when there are none, which is the common case. Handles the header shapes the official
 * clients accept: a plain object, a `Headers` instance, or an array of `[name, value]` pairs.
 */
export function takeAttributionHeaders(options: unknown): TakenHeaders | undefined {
  if (!isObject(options)) return undefined;
  const headers = options["headers"];
  if (headers === undefined || headers === null) return undefined;

  if (headers instanceof Headers) {
    let found: Attribution | undefined;
    headers.forEach((value, name) => {
      if (!isOurs(name)) return;
      found ??= {};
      apply(found, name, value);
    });
    if (found === undefined) return undefined;
    const kept = new Headers();
    headers.forEach((value, name) => {
      if (!isOurs(name)) kept.append(name, value);
    });
    return { attribution: found, options: { ...options, headers: kept } };
  }

  if (Array.isArray(headers)) {
    let found: Attribution | undefined;
    for (const pair of headers) {
      if (Array.isArray(pair) && typeof pair[0] === "string" && isOurs(pair[0])) {
        found ??= {};
        apply(found, pair[0], pair[1]);
      }
    }
    if (found === undefined) return undefined;
    const kept = headers.filter((pair) => !(Array.isArray(pair) && typeof pair[0] === "string" && isOurs(pair[0])));
    return { attribution: found, options: { ...options, headers: kept } };
  }

  if (isObject(headers)) {
    let found: Attribution | undefined;
    for (const name in headers) {
      if (isOurs(name)) {
        found ??= {};
        apply(found, name, headers[name]);
      }
    }
    if (found === undefined) return undefined;
    const kept: Record<string, unknown> = {};
    for (const name in headers) if (!isOurs(name)) kept[name] = headers[name];
    return { attribution: found, options: { ...options, headers: kept } };
  }
  return undefined;
}
