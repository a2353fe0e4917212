/**
 * Attribution (team, project, user, session, feature, tags) travels two ways at once:
 *
 * - in the OpenTelemetry context under our own key, holding the merged value and the span
 *   attributes precomputed, so an instrumented call in the same process pays one lookup;
 * - as W3C baggage entries `tokenmeter.*`, so the registered propagator carries it to other
 *   services. A service that receives it (and has no `withAttributes` of its own) reads the
 *   baggage and copies it onto its spans as `tokenmeter.*` attributes.
 *
 * Span attribute keys are the ones the collector reads (collector/src/normalize/attribution.ts):
 * `tokenmeter.team|project|user|session|feature` and `tokenmeter.tag.<key>`.
 */
import {
  type Attributes,
  type Baggage,
  type Context,
  context,
  createContextKey,
  propagation,
} from "@opentelemetry/api";
import { reportFailure } from "./diag.js";
import type { Attribution } from "./types.js";

type Field = "team" | "project" | "user" | "session" | "feature";
const FIELDS: readonly Field[] = ["team", "project", "user", "session", "feature"];

/** Same bounds as the collector's tags map (collector/src/normalize/attribution.ts). */
const MAX_TAGS = 64;
const MAX_TAG_KEY_CHARS = 128;
const MAX_VALUE_CHARS = 256;

const PREFIX = "tokenmeter.";
const TAG_PREFIX = "tokenmeter.tag.";
const TAGS_KEY = "tokenmeter.tags";
const SPAN_KEYS: Readonly<Record<Field, string>> = {
  team: "tokenmeter.team",
  project: "tokenmeter.project",
  user: "tokenmeter.user",
  session: "tokenmeter.session",
  feature: "tokenmeter.feature",
};
/** Spellings accepted when reading baggage written by other tools. */
const BAGGAGE_ALIASES: Readonly<Record<string, Field>> = {
  "tokenmeter.user_id": "user",
  "tokenmeter.session_id": "session",
};

/** An attribution with its span attributes computed once. */
export interface ResolvedAttribution {
  readonly value: Readonly<Attribution>;
  readonly spanAttributes: Readonly<Attributes>;
}

const ATTRIBUTION_KEY = createContextKey("tokenmeter.attribution");

const EMPTY: ResolvedAttribution = Object.freeze({ value: Object.freeze({}), spanAttributes: Object.freeze({}) });

export function isEmptyAttribution(resolved: ResolvedAttribution): boolean {
  return resolved === EMPTY;
}

function clip(value: string, max: number): string {
  return value.length > max ? value.slice(0, max) : value;
}

/** Cleans user input: trims, drops empty fields, bounds sizes. Never throws on odd input. */
export function normalizeAttribution(input: Attribution | undefined): Attribution {
  const out: Attribution = {};
  if (input === undefined || input === null || typeof input !== "object") return out;
  for (const f of FIELDS) {
    const v = input[f];
    if (typeof v === "string" && v.trim() !== "") out[f] = clip(v.trim(), MAX_VALUE_CHARS);
  }
  const tags = input.tags;
  if (tags !== undefined && tags !== null && typeof tags === "object") {
    let n = 0;
    for (const [k, v] of Object.entries(tags)) {
      if (n >= MAX_TAGS) break;
      const key = k.trim();
      if (key === "" || typeof v !== "string") continue;
      out.tags ??= {};
      out.tags[clip(key, MAX_TAG_KEY_CHARS)] = clip(v, MAX_VALUE_CHARS);
      n++;
    }
  }
  return out;
}

/** `over` wins field by field; tags merge key by key. */
export function mergeAttribution(base: Attribution, over: Attribution): Attribution {
  const out: Attribution = { ...base, ...over };
  if (base.tags !== undefined && over.tags !== undefined) out.tags = { ...base.tags, ...over.tags };
  for (const f of FIELDS) if (out[f] === undefined) delete out[f];
  if (out.tags === undefined) delete out.tags;
  return out;
}

export function resolveAttribution(value: Attribution): ResolvedAttribution {
  const attrs: Attributes = {};
  let any = false;
  for (const f of FIELDS) {
    const v = value[f];
    if (v !== undefined) {
      attrs[SPAN_KEYS[f]] = v;
      any = true;
    }
  }
  if (value.tags !== undefined) {
    for (const [k, v] of Object.entries(value.tags)) {
      attrs[TAG_PREFIX + k] = v;
      any = true;
    }
  }
  if (!any) return EMPTY;
  return Object.freeze({ value: Object.freeze(value), spanAttributes: Object.freeze(attrs) });
}

/** Baggage keys are W3C tokens; anything else in a tag name would corrupt the header. */
function baggageKeySafe(key: string): string {
  return key.replace(/[^A-Za-z0-9_.-]/g, "_");
}

/** `k=v,k=v` as written by the proxy header and `tokenmeter.tags` baggage. */
export function parseTagList(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    if (key !== "") out[key] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** The `tokenmeter.*` entries of a baggage, as an attribution. */
export function attributionFromBaggage(bag: Baggage): Attribution | undefined {
  let found: Attribution | undefined;
  for (const [key, entry] of bag.getAllEntries()) {
    if (!key.startsWith(PREFIX)) continue;
    found ??= {};
    if (key.startsWith(TAG_PREFIX)) {
      found.tags ??= {};
      found.tags[key.slice(TAG_PREFIX.length)] = entry.value;
    } else if (key === TAGS_KEY) {
      found.tags = { ...parseTagList(entry.value), ...found.tags };
    } else {
      const field = BAGGAGE_ALIASES[key] ?? (key.slice(PREFIX.length) as Field);
      if (FIELDS.includes(field) && found[field] === undefined) found[field] = entry.value;
    }
  }
  return found === undefined ? undefined : normalizeAttribution(found);
}

/** The attribution in effect in `ctx`: ours when `withAttributes` set it, else what baggage carries. */
export function contextAttribution(ctx: Context): ResolvedAttribution {
  const own = ctx.getValue(ATTRIBUTION_KEY) as ResolvedAttribution | undefined;
  if (own !== undefined) return own;
  const bag = propagation.getBaggage(ctx);
  if (bag === undefined) return EMPTY;
  const fromBaggage = attributionFromBaggage(bag);
  return fromBaggage === undefined ? EMPTY : resolveAttribution(fromBaggage);
}

function withBaggage(ctx: Context, value: Attribution): Context {
  let bag = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  for (const f of FIELDS) {
    const v = value[f];
    if (v !== undefined) bag = bag.setEntry(SPAN_KEYS[f], { value: v });
  }
  if (value.tags !== undefined) {
    for (const [k, v] of Object.entries(value.tags)) bag = bag.setEntry(TAG_PREFIX + baggageKeySafe(k), { value: v });
  }
  return propagation.setBaggage(ctx, bag);
}

/**
 * Runs `fn` with `attrs` attributed to every instrumented call it makes, including calls made
 * after `await`s, in callbacks, and (through the W3C baggage propagator) in services it calls.
 * Nested calls merge: inner fields win, tags merge. Returns what `fn` returns.
 */
export function withAttributes<T>(attrs: Attribution, fn: () => T): T {
  let ctx: Context | undefined;
  try {
    const active = context.active();
    const merged = mergeAttribution(contextAttribution(active).value, normalizeAttribution(attrs));
    ctx = withBaggage(active.setValue(ATTRIBUTION_KEY, resolveAttribution(merged)), merged);
  } catch (err) {
    reportFailure("withAttributes", err);
  }
  return ctx === undefined ? fn() : context.with(ctx, fn);
}
