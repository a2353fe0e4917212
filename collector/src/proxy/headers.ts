/**
 * Request and response headers across the proxy. What is removed, and why:
 * - hop-by-hop headers (RFC 9110 section 7.6.1) and any header the Connection header names:
 *   they describe one connection, not the message;
 * - `host`, `content-length`, `expect`: the upstream connection sets its own;
 * - `x-tokenmeter-*`: tokenmeter's attribution, never the provider's business;
 * - a virtual key (`tm_...`) in `authorization`, `x-api-key` or `api-key`: replaced upstream by
 *   the real key it maps to.
 * Everything else goes through unchanged, names and order included.
 */

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Request headers the upstream connection sets itself. */
const REQUEST_ONLY = new Set(["host", "content-length", "expect"]);

const TM_PREFIX = "x-tokenmeter-";
export const VIRTUAL_KEY_PREFIX = "tm_";

/** What the proxy reads from a request's headers. */
export interface RequestMeta {
  team: string;
  project: string;
  user: string;
  session: string;
  feature: string;
  /** Raw `x-tokenmeter-tags` value (`k=v,k=v`). */
  tags: string;
  /** A `tm_...` key the client presented (hashed at once, never stored or logged). */
  virtualKey: string;
  /** Lowercase name of the header that carried it. */
  virtualKeyHeader: string;
  traceparent: string;
  baggage: string;
  /** The client asked to bypass the response cache (`cache-control: no-cache` / `no-store`). */
  noCache: boolean;
}

function emptyMeta(): RequestMeta {
  return {
    team: "",
    project: "",
    user: "",
    session: "",
    feature: "",
    tags: "",
    virtualKey: "",
    virtualKeyHeader: "",
    traceparent: "",
    baggage: "",
    noCache: false,
  };
}

function readAttribution(meta: RequestMeta, lower: string, value: string): void {
  switch (lower) {
    case "x-tokenmeter-team":
      meta.team = value.trim();
      break;
    case "x-tokenmeter-project":
      meta.project = value.trim();
      break;
    case "x-tokenmeter-user":
      meta.user = value.trim();
      break;
    case "x-tokenmeter-session":
      meta.session = value.trim();
      break;
    case "x-tokenmeter-feature":
      meta.feature = value.trim();
      break;
    case "x-tokenmeter-tags":
      meta.tags = meta.tags === "" ? value : `${meta.tags},${value}`;
      break;
  }
}

/** The `tm_` key in a credential header value, or "" when it holds none. */
function virtualKeyIn(lower: string, value: string): string {
  if (lower === "authorization") {
    const v = value.trim();
    if (v.length > 7 && v.slice(0, 7).toLowerCase() === "bearer ") {
      const token = v.slice(7).trim();
      return token.startsWith(VIRTUAL_KEY_PREFIX) ? token : "";
    }
    return "";
  }
  if (lower === "x-api-key" || lower === "api-key") {
    const v = value.trim();
    return v.startsWith(VIRTUAL_KEY_PREFIX) ? v : "";
  }
  return "";
}

/**
 * One pass over `rawHeaders` (Node's flat [name, value, ...] list): the headers to send upstream
 * (same flat form) and what tokenmeter reads from them.
 */
export function splitRequestHeaders(rawHeaders: readonly string[]): { forward: string[]; meta: RequestMeta } {
  const meta = emptyMeta();
  const forward: string[] = [];
  let connectionTokens: string[] | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === "connection") {
        for (const t of value.split(",")) {
          const token = t.trim().toLowerCase();
          if (token === "" || token === "close" || token === "keep-alive") continue;
          connectionTokens ??= [];
          connectionTokens.push(token);
        }
      }
      continue;
    }
    if (REQUEST_ONLY.has(lower)) continue;
    if (lower.startsWith(TM_PREFIX)) {
      readAttribution(meta, lower, value);
      continue;
    }
    const vk = virtualKeyIn(lower, value);
    if (vk !== "") {
      meta.virtualKey = vk;
      meta.virtualKeyHeader = lower;
      continue;
    }
    if (lower === "traceparent") meta.traceparent = value;
    else if (lower === "baggage") meta.baggage = meta.baggage === "" ? value : `${meta.baggage},${value}`;
    else if (lower === "cache-control" && /no-cache|no-store/i.test(value)) meta.noCache = true;
    forward.push(name, value);
  }
  return { forward: connectionTokens === undefined ? forward : without(forward, connectionTokens), meta };
}

/** The flat [name, value, ...] list without the headers named (lowercase) in `names`. */
export function without(flat: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i] as string;
    if (!names.includes(name.toLowerCase())) out.push(name, flat[i + 1] as string);
  }
  return out;
}

/** Removes every credential header (the real key is injected in its place). */
export function withoutCredentials(flat: string[]): string[] {
  return without(flat, CREDENTIAL_HEADERS);
}

const CREDENTIAL_HEADERS = ["authorization", "x-api-key", "api-key"] as const;

/**
 * Upstream response headers (undici's raw [name, value, ...] Buffers) as the flat string list
 * `res.writeHead` takes, minus hop-by-hop headers. Names keep their case and order; repeated
 * headers (set-cookie) stay repeated.
 */
export function responseHeaders(raw: readonly (Buffer | string)[]): string[] {
  const out: string[] = [];
  let connectionTokens: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i] as Buffer | string;
    const v = raw[i + 1] as Buffer | string;
    const name = typeof n === "string" ? n : n.toString("latin1");
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === "connection") {
        const value = typeof v === "string" ? v : v.toString("latin1");
        for (const t of value.split(",")) {
          const token = t.trim().toLowerCase();
          if (token === "" || token === "close" || token === "keep-alive") continue;
          connectionTokens ??= [];
          connectionTokens.push(token);
        }
      }
      continue;
    }
    out.push(name, typeof v === "string" ? v : v.toString("latin1"));
  }
  return connectionTokens === undefined ? out : without(out, connectionTokens);
}

/** W3C traceparent -> trace and parent span ids (lowercase hex), or undefined when malformed. */
export function parseTraceparent(value: string): { traceId: string; spanId: string } | undefined {
  // version "-" trace-id(32) "-" parent-id(16) "-" flags(2)
  const m = /^\s*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/.exec(value.toLowerCase());
  if (m === null || m[1] === "ff") return undefined;
  const traceId = m[2] as string;
  const spanId = m[3] as string;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId };
}
