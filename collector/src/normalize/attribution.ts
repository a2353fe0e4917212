/**
 * Who a call is charged to. Each field takes the first value found, in this order
 * (ARCHITECTURE.md, "Normalized attribution"):
 *
 *   1. span attributes `tokenmeter.*` (the SDK and the proxy write these; the proxy maps its
 *      x-tokenmeter-* headers and virtual keys onto them, so they rank first);
 *   2. W3C baggage `tokenmeter.*` entries: copied onto the span as `baggage.tokenmeter.*`
 *      attributes, or a raw `baggage` attribute holding the header value;
 *   3. the convention's own user/session keys (CallFacts.userId / sessionId);
 *   4. resource attributes: `tokenmeter.*`, then service.name and deployment.environment(.name);
 *   5. config defaults.
 *
 * Tags merge across the same layers, higher layers overwriting lower ones key by key.
 */
import type { Attributes, DecodedSpan, Resource } from "../otlp/types.js";
import { attrToString, str } from "./attr.js";
import type { CallFacts } from "./types.js";

export interface Attribution {
  service: string;
  environment: string;
  team: string;
  project: string;
  user_id: string;
  session_id: string;
  feature: string;
  tags: Record<string, string>;
}

export interface AttributionDefaults {
  team?: string;
  project?: string;
  environment?: string;
}

/** Bounds on tags: the column is a Map that every dashboard query may touch. */
export const MAX_TAGS = 64;
export const MAX_TAG_KEY_CHARS = 128;
export const MAX_TAG_VALUE_CHARS = 256;

type Field = "team" | "project" | "user_id" | "session_id" | "feature" | "environment";

/** Attribute suffixes after `tokenmeter.` for each field, first wins. */
const FIELD_SUFFIXES: Readonly<Record<Field, readonly string[]>> = {
  team: ["team"],
  project: ["project"],
  user_id: ["user", "user_id"],
  session_id: ["session", "session_id"],
  feature: ["feature"],
  environment: ["environment"],
};

const FIELDS = Object.keys(FIELD_SUFFIXES) as Field[];

/** Precomputed keys so lookups build no strings. */
const SPAN_KEYS: Readonly<Record<Field, readonly string[]>> = mapKeys("tokenmeter.");
const BAGGAGE_ATTR_KEYS: Readonly<Record<Field, readonly string[]>> = mapKeys("baggage.tokenmeter.");

function mapKeys(prefix: string): Record<Field, readonly string[]> {
  const out = {} as Record<Field, readonly string[]>;
  for (const f of FIELDS) out[f] = FIELD_SUFFIXES[f].map((s) => `${prefix}${s}`);
  return out;
}

const TAG_PREFIX = "tokenmeter.tag.";
const TAGS_KEY = "tokenmeter.tags";
const BAGGAGE_TAG_PREFIX = "baggage.tokenmeter.tag.";
const BAGGAGE_TAGS_KEY = "baggage.tokenmeter.tags";

/** What one layer contributes. Fields absent from the layer are undefined. */
type Layer = Partial<Record<Field, string>> & { tags?: Record<string, string> };

/** Resource attributes are shared by every span of a batch: read them once per resource object. */
interface ResourceFacts {
  service: string;
  environment: string | undefined;
  layer: Layer;
}
const resourceCache = new WeakMap<Resource, ResourceFacts>();

function resourceFacts(resource: Resource): ResourceFacts {
  let facts = resourceCache.get(resource);
  if (facts === undefined) {
    const a = resource.attributes;
    facts = {
      service: str(a, "service.name") ?? "",
      environment: str(a, "deployment.environment.name") ?? str(a, "deployment.environment"),
      layer: tokenmeterLayer(a),
    };
    resourceCache.set(resource, facts);
  }
  return facts;
}

/** The span's service (resource service.name), for spans that get no call row. */
export function serviceOf(span: DecodedSpan): string {
  return resourceFacts(span.resource).service;
}

/**
 * Resolve attribution for one call. `facts` supplies the convention's user/session/tags
 * (null for spans without a call).
 */
export function resolveAttribution(
  span: DecodedSpan,
  facts: Pick<CallFacts, "userId" | "sessionId" | "tags"> | null,
  defaults: AttributionDefaults,
): Attribution {
  const spanLayer = tokenmeterLayer(span.attributes);
  const baggage = baggageLayer(span.attributes);
  const res = resourceFacts(span.resource);
  const resLayer = res.layer;

  const pick = (f: Field): string | undefined => spanLayer[f] ?? baggage?.[f] ?? resLayer[f];

  const tags = mergeTags(facts?.tags, resLayer.tags, baggage?.tags, spanLayer.tags);

  return {
    service: res.service,
    environment: pick("environment") ?? res.environment ?? defaults.environment ?? "",
    team: pick("team") ?? defaults.team ?? "",
    project: pick("project") ?? defaults.project ?? "",
    // The convention's own user/session outrank the resource but not tokenmeter.* or baggage.
    user_id: spanLayer.user_id ?? baggage?.user_id ?? nonEmpty(facts?.userId) ?? resLayer.user_id ?? "",
    session_id: spanLayer.session_id ?? baggage?.session_id ?? nonEmpty(facts?.sessionId) ?? resLayer.session_id ?? "",
    feature: pick("feature") ?? "",
    tags,
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

/** `tokenmeter.*` keys of one attribute set (span or resource). */
function tokenmeterLayer(a: Attributes): Layer {
  const layer: Layer = {};
  for (const f of FIELDS) {
    for (const key of SPAN_KEYS[f]) {
      const v = str(a, key);
      if (v !== undefined) {
        layer[f] = v;
        break;
      }
    }
  }
  const tags = collectTags(a, TAGS_KEY, TAG_PREFIX);
  if (tags !== undefined) layer.tags = tags;
  return layer;
}

/** Baggage copied onto span attributes (`baggage.tokenmeter.*`), else a raw `baggage` attribute. */
function baggageLayer(a: Attributes): Layer | undefined {
  let layer: Layer | undefined;
  for (const f of FIELDS) {
    for (const key of BAGGAGE_ATTR_KEYS[f]) {
      const v = str(a, key);
      if (v !== undefined) {
        layer ??= {};
        layer[f] = v;
        break;
      }
    }
  }
  const tags = collectTags(a, BAGGAGE_TAGS_KEY, BAGGAGE_TAG_PREFIX);
  if (tags !== undefined) {
    layer ??= {};
    layer.tags = tags;
  }

  const raw = str(a, "baggage");
  if (raw !== undefined) {
    const parsed = parseBaggageHeader(raw);
    if (parsed !== undefined) {
      layer ??= {};
      for (const f of FIELDS) {
        if (layer[f] !== undefined) continue;
        for (const suffix of FIELD_SUFFIXES[f]) {
          const v = parsed.get(`tokenmeter.${suffix}`);
          if (v !== undefined && v !== "") {
            layer[f] = v;
            break;
          }
        }
      }
      let rawTags: Record<string, string> | undefined;
      const list = parsed.get(TAGS_KEY);
      if (list !== undefined) rawTags = parseTagValue(list);
      for (const [k, v] of parsed) {
        if (!k.startsWith(TAG_PREFIX)) continue;
        rawTags ??= {};
        rawTags[k.slice(TAG_PREFIX.length)] = v;
      }
      if (rawTags !== undefined) layer.tags = { ...rawTags, ...layer.tags };
    }
  }
  return layer;
}

/**
 * Parse a W3C baggage header value (`k=v;prop=x,k2=v2`) into a map of the `tokenmeter.*`
 * entries only (other entries are the application's business). Values are percent-decoded.
 */
export function parseBaggageHeader(header: string): Map<string, string> | undefined {
  let out: Map<string, string> | undefined;
  for (const member of header.split(",")) {
    const semi = member.indexOf(";");
    const kv = semi >= 0 ? member.slice(0, semi) : member;
    const eq = kv.indexOf("=");
    if (eq <= 0) continue;
    const key = kv.slice(0, eq).trim();
    if (!key.startsWith("tokenmeter.")) continue;
    out ??= new Map();
    out.set(key, percentDecode(kv.slice(eq + 1).trim()));
  }
  return out;
}

function percentDecode(v: string): string {
  if (!v.includes("%")) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** `tokenmeter.tags` (k=v,k=v string, JSON object string, string array or kv map) plus `tokenmeter.tag.<k>` keys. */
function collectTags(a: Attributes, listKey: string, prefix: string): Record<string, string> | undefined {
  const list = a[listKey];
  let tags = list === undefined || list === null ? undefined : parseTagValue(list);
  for (const key in a) {
    // Cheap first-character test before the prefix compare: this loop sees every attribute.
    if (key.charCodeAt(0) !== prefix.charCodeAt(0) || !key.startsWith(prefix)) continue;
    const v = a[key];
    if (v === undefined || v === null) continue;
    const s = attrToString(v);
    if (s === undefined) continue;
    tags ??= {};
    tags[key.slice(prefix.length)] = s;
  }
  return tags;
}

/** Tag list value: `k=v,k=v`, a JSON object string, an array of `k=v`, or a map. */
export function parseTagValue(v: unknown): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  const add = (k: string, val: string) => {
    const key = k.trim();
    if (key === "") return;
    out ??= {};
    out[key] = val.trim();
  };
  const addPair = (pair: string) => {
    const eq = pair.indexOf("=");
    if (eq > 0) add(pair.slice(0, eq), pair.slice(eq + 1));
  };
  if (typeof v === "string") {
    const t = v.trim();
    if (t.startsWith("{")) {
      try {
        const obj: unknown = JSON.parse(t);
        if (typeof obj === "object" && obj !== null && !Array.isArray(obj)) return parseTagValue(obj);
      } catch {
        // not JSON: fall through to k=v parsing
      }
    }
    for (const pair of t.split(",")) addPair(pair);
  } else if (Array.isArray(v)) {
    for (const item of v) if (typeof item === "string") addPair(item);
  } else if (typeof v === "object" && v !== null && !(v instanceof Uint8Array)) {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined || val === null) continue;
      add(k, typeof val === "string" ? val : JSON.stringify(val));
    }
  }
  return out;
}

/** Merge tag layers, lowest precedence first; bounded in count and size. */
function mergeTags(...layers: (Record<string, string> | undefined)[]): Record<string, string> {
  let present = 0;
  let only: Record<string, string> | undefined;
  for (const l of layers) {
    if (l !== undefined) {
      present++;
      only = l;
    }
  }
  if (present === 0 || only === undefined) return {};
  const merged = present === 1 ? only : Object.assign({}, ...layers.filter((l) => l !== undefined));
  return boundTags(merged);
}

function boundTags(tags: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const key in tags) {
    if (n >= MAX_TAGS) break;
    const v = tags[key];
    if (v === undefined) continue;
    out[key.length > MAX_TAG_KEY_CHARS ? key.slice(0, MAX_TAG_KEY_CHARS) : key] =
      v.length > MAX_TAG_VALUE_CHARS ? v.slice(0, MAX_TAG_VALUE_CHARS) : v;
    n++;
  }
  return out;
}
