import type { Attributes, DecodedSpan } from "../otlp/types.js";

/**
 * Attribution carried by an ancestor span. Frameworks often set the user, session or team on
 * the outer span (an agent run, a workflow, the AI SDK's invoke_agent) and not on the model
 * call itself; a call missing them inherits the nearest ancestor's values within the batch.
 */

const USER_KEYS = [
  "tokenmeter.user",
  "tokenmeter.user_id",
  "user.id",
  "enduser.id",
  "ai.telemetry.metadata.userId",
  "langfuse.user.id",
  "traceloop.association.properties.user_id",
] as const;
const SESSION_KEYS = [
  "tokenmeter.session",
  "tokenmeter.session_id",
  "session.id",
  "gen_ai.conversation.id",
  "ai.telemetry.metadata.sessionId",
  "langfuse.session.id",
  "traceloop.association.properties.session_id",
] as const;
const TEAM_KEYS = ["tokenmeter.team"] as const;
const PROJECT_KEYS = ["tokenmeter.project"] as const;
const FEATURE_KEYS = ["tokenmeter.feature"] as const;

/** How far up the parent chain to look. */
const MAX_HOPS = 32;

function first(attrs: Attributes, keys: readonly string[]): string {
  for (const k of keys) {
    const v = attrs[k];
    if (typeof v === "string" && v !== "") return v;
  }
  return "";
}

export interface InheritableCall {
  trace_id: string;
  parent_span_id: string;
  user_id: string;
  session_id: string;
  team: string;
  project: string;
  feature: string;
}

/** Fills a call's empty attribution fields from its ancestors among `byId` (trace/span -> span). */
export function inheritAttribution(call: InheritableCall, byId: ReadonlyMap<string, DecodedSpan>): void {
  let parentId = call.parent_span_id;
  for (let hop = 0; hop < MAX_HOPS && parentId !== ""; hop++) {
    if (
      call.user_id !== "" &&
      call.session_id !== "" &&
      call.team !== "" &&
      call.project !== "" &&
      call.feature !== ""
    ) {
      return;
    }
    const parent = byId.get(`${call.trace_id}/${parentId}`);
    if (!parent) return;
    const a = parent.attributes;
    if (call.user_id === "") call.user_id = first(a, USER_KEYS);
    if (call.session_id === "") call.session_id = first(a, SESSION_KEYS);
    if (call.team === "") call.team = first(a, TEAM_KEYS);
    if (call.project === "") call.project = first(a, PROJECT_KEYS);
    if (call.feature === "") call.feature = first(a, FEATURE_KEYS);
    parentId = parent.parentSpanId;
  }
}
