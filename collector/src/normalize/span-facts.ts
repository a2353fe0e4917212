/**
 * Readers the third-party convention adapters share: facts those conventions encode the same
 * way even though their keys differ (a first-chunk event, an ISO completion-start time, a tag
 * list, a JSON object of parameters). Only called from `extract`, never from `detect`, so they
 * may allocate.
 */
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { firstNum, parseJson, parseJsonLoose, toBool, toNum } from "./attr.js";
import type { CallFacts } from "./types.js";
import { correctUsage } from "./usage.js";

/** A CallFacts with nothing known yet; adapters fill in what their convention carries. */
export function emptyFacts(): CallFacts {
  return {
    provider: "",
    operation: "",
    request_model: "",
    response_model: "",
    response_id: "",
    prompt_name: "",
    prompt_version: "",
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    ttft_ms: null,
    streamed: 0,
    status: "ok",
    error_type: "",
    finish_reason: "",
    http_status: 0,
    request_params: "{}",
    input: "",
    output: "",
    usageMissing: true,
    reportedCostUsd: null,
    userId: "",
    sessionId: "",
    tags: {},
  };
}

/** Milliseconds from span start to `timeUs`, rounded to the microsecond; null when before the start. */
function offsetMs(span: DecodedSpan, timeUs: number): number | null {
  const delta = timeUs - span.startTimeUs;
  return delta < 0 ? null : Math.round(delta) / 1000;
}

/**
 * Time to first token from the first span event named in `names` (a "first chunk" marker or
 * the first of a per-chunk series). Null when there is none.
 */
export function firstEventOffsetMs(span: DecodedSpan, names: ReadonlySet<string>): number | null {
  let first = Number.POSITIVE_INFINITY;
  for (const ev of span.events) {
    if (names.has(ev.name) && ev.timeUs < first) first = ev.timeUs;
  }
  return first === Number.POSITIVE_INFINITY ? null : offsetMs(span, first);
}

/**
 * Offset of an ISO-8601 timestamp from span start, in ms. Accepts the JSON-quoted form some
 * SDKs write (`"\"2026-01-01T00:00:00.123Z\""`) and epoch milliseconds.
 */
export function isoOffsetMs(span: DecodedSpan, value: unknown): number | null {
  let v = value;
  if (typeof v === "string" && v.startsWith('"')) {
    const unquoted = parseJson(v);
    v = typeof unquoted === "string" ? unquoted : undefined;
  }
  let ms: number;
  if (typeof v === "number") ms = v;
  else if (typeof v === "string" && v !== "") ms = Date.parse(v);
  else return null;
  if (!Number.isFinite(ms)) return null;
  return offsetMs(span, ms * 1000);
}

/** A JSON object attribute (JSON string or OTLP map); undefined for anything else. */
export function objectAttr(attrs: Attributes, key: string): Record<string, unknown> | undefined {
  const v = attrs[key];
  if (v === undefined || v === null) return undefined;
  const parsed = typeof v === "string" ? parseJsonLoose(v) : v;
  return isRecord(parsed) ? parsed : undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** A tag value as the `tags` column holds it: strings as is, scalars printed, the rest as JSON. */
function tagValue(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v instanceof Uint8Array) return undefined;
  return JSON.stringify(v);
}

/**
 * A list of plain tags (`["beta","eu"]`, OTLP array or JSON string) into `tags`. The column is
 * a key/value Map, so a bare tag becomes `name: "true"` (an empty value could not be told
 * from a missing key in ClickHouse's Map lookups).
 */
export function addListTags(tags: Record<string, string>, value: unknown): void {
  const parsed = typeof value === "string" ? parseJsonLoose(value) : value;
  const list = Array.isArray(parsed) ? parsed : typeof parsed === "string" ? parsed.split(",") : [];
  for (const item of list) {
    if (typeof item !== "string") continue;
    const name = item.trim();
    if (name !== "") tags[name] = "true";
  }
}

/** Every entry of a JSON object (string or map) into `tags`, values printed by `tagValue`. */
export function addObjectTags(tags: Record<string, string>, value: unknown): void {
  const parsed = typeof value === "string" ? parseJsonLoose(value) : value;
  if (!isRecord(parsed)) return;
  for (const k in parsed) {
    const s = tagValue(parsed[k]);
    if (s !== undefined && k !== "") tags[k] = s;
  }
}

/**
 * Keys `<prefix><name>` into `tags[name]`, skipping `skip` names. Walks every attribute, so
 * adapters call it once per extracted span, never in `detect`.
 */
export function addPrefixedTags(
  tags: Record<string, string>,
  attrs: Attributes,
  prefix: string,
  skip?: ReadonlySet<string>,
): void {
  for (const key in attrs) {
    if (key.length <= prefix.length || !key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    if (skip?.has(name)) continue;
    const s = tagValue(attrs[key]);
    if (s !== undefined) tags[name] = s;
  }
}

type ParamKind = "num" | "int" | "bool" | "strs";

/**
 * Request parameter spellings (OpenAI snake_case, AI SDK camelCase) -> the names the
 * request_params column uses (the same as otel-genai.ts writes for gen_ai.request.*).
 */
const PARAM_NAMES: readonly (readonly [string, string, ParamKind])[] = [
  ["max_tokens", "max_tokens", "int"],
  ["max_completion_tokens", "max_tokens", "int"],
  ["max_output_tokens", "max_tokens", "int"],
  ["maxOutputTokens", "max_tokens", "int"],
  ["maxTokens", "max_tokens", "int"],
  ["temperature", "temperature", "num"],
  ["top_p", "top_p", "num"],
  ["topP", "top_p", "num"],
  ["top_k", "top_k", "num"],
  ["topK", "top_k", "num"],
  ["frequency_penalty", "frequency_penalty", "num"],
  ["frequencyPenalty", "frequency_penalty", "num"],
  ["presence_penalty", "presence_penalty", "num"],
  ["presencePenalty", "presence_penalty", "num"],
  ["stop", "stop_sequences", "strs"],
  ["stop_sequences", "stop_sequences", "strs"],
  ["stopSequences", "stop_sequences", "strs"],
  ["seed", "seed", "int"],
  ["stream", "stream", "bool"],
  ["n", "choice_count", "int"],
];

/** The known request parameters of an object, as the request_params JSON ("{}" when none). */
export function paramsJson(params: Record<string, unknown> | undefined): string {
  if (params === undefined) return "{}";
  let out: Record<string, unknown> | undefined;
  for (const [key, name, kind] of PARAM_NAMES) {
    const raw = params[key];
    if (raw === undefined || raw === null || (out !== undefined && name in out)) continue;
    let v: unknown;
    switch (kind) {
      case "num":
        v = toNum(raw);
        break;
      case "int": {
        const n = toNum(raw);
        v = n === undefined ? undefined : Math.trunc(n);
        break;
      }
      case "bool":
        v = toBool(raw);
        break;
      case "strs":
        v = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw.filter((s) => typeof s === "string") : undefined;
        break;
    }
    if (v === undefined) continue;
    out ??= {};
    out[name] = v;
  }
  return out === undefined ? "{}" : JSON.stringify(out);
}

/** A token count rounded to an integer (senders sometimes send doubles). */
export function tokens(n: number): number {
  return Math.round(n);
}

/** Token counts as a span reports them; undefined where it carries none. */
export interface ReportedUsage {
  input: number | undefined;
  output: number | undefined;
  cacheRead: number | undefined;
  cacheWrite: number | undefined;
  reasoning: number | undefined;
}

/** Where a convention puts each token count: the first key a span carries wins. */
export interface UsageKeys {
  input: readonly string[];
  output: readonly string[];
  cacheRead: readonly string[];
  cacheWrite: readonly string[];
  reasoning: readonly string[];
}

/**
 * The largest token count one call can report: far above any model's context window (a few
 * million tokens), far below what breaks sums. A count above it, or a negative one, is a
 * sender's bug (or a hostile span), and the sender's other counts are then no more trustworthy:
 * the call's usage counts as not reported, so it is estimated from its content or left unpriced,
 * never priced, metered and budgeted on an absurd number.
 */
export const MAX_REPORTED_TOKENS = 1_000_000_000;

const NOT_REPORTED: ReportedUsage = Object.freeze({
  input: undefined,
  output: undefined,
  cacheRead: undefined,
  cacheWrite: undefined,
  reasoning: undefined,
});

/** The token counts a span reports under `keys`; none at all when one of them is implausible. */
export function reportedUsage(a: Attributes, keys: UsageKeys): ReportedUsage {
  const usage: ReportedUsage = {
    input: firstNum(a, keys.input),
    output: firstNum(a, keys.output),
    cacheRead: firstNum(a, keys.cacheRead),
    cacheWrite: firstNum(a, keys.cacheWrite),
    reasoning: firstNum(a, keys.reasoning),
  };
  const { input, output, cacheRead, cacheWrite, reasoning } = usage;
  const bad = implausibleTokens(input) || implausibleTokens(output) || implausibleTokens(cacheRead);
  return bad || implausibleTokens(cacheWrite) || implausibleTokens(reasoning) ? NOT_REPORTED : usage;
}

/** A count that is reported but no call can have (negative, or above MAX_REPORTED_TOKENS). */
export function implausibleTokens(n: number | undefined): boolean {
  return n !== undefined && !(n >= 0 && n <= MAX_REPORTED_TOKENS);
}

/**
 * What an emitter is known to leave out of its totals. Where the emitter is known, this decides;
 * the size test of correctUsage only covers senders whose style cannot be told, and it misses
 * every call whose cache is smaller than its uncached input.
 */
export interface UsageStyle {
  /** Input is the provider's uncached count (Anthropic's `input_tokens`): add cache reads and writes. */
  inputExcludesCache?: boolean;
  /** Output excludes reasoning (Gemini's `candidatesTokenCount`): add reasoning. */
  outputExcludesReasoning?: boolean;
}

/**
 * Sets the token counts of `facts` from what the span reports, corrected (see correctUsage) and
 * rounded. Usage is missing when the span reports neither input nor output tokens.
 */
export function applyUsage(facts: CallFacts, reported: ReportedUsage, style: UsageStyle = {}): void {
  const cacheRead = reported.cacheRead ?? 0;
  const cacheWrite = reported.cacheWrite ?? 0;
  const reasoning = reported.reasoning ?? 0;
  let input = reported.input ?? 0;
  let output = reported.output ?? 0;
  if (style.inputExcludesCache === true) input += cacheRead + cacheWrite;
  if (style.outputExcludesReasoning === true) output += reasoning;
  const usage = correctUsage({ input, output, cacheRead, cacheWrite, reasoning });
  facts.input_tokens = tokens(usage.input);
  facts.output_tokens = tokens(usage.output);
  facts.cache_read_tokens = tokens(usage.cacheRead);
  facts.cache_write_tokens = tokens(usage.cacheWrite);
  facts.reasoning_tokens = tokens(usage.reasoning);
  facts.usageMissing = reported.input === undefined && reported.output === undefined;
}
