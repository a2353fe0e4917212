/**
 * One proxied call -> one OTel GenAI client span (GENAI_MAPPING.md), in the collector's decoded
 * form, so the in-process path skips encoding altogether. The attributes written are exactly
 * the keys the otel_genai normalizer and attribution read, plus tokenmeter.* for attribution,
 * the call's source ("proxy"), cache hits and cancellation.
 */
import { randomFillSync } from "node:crypto";
import type { Attributes, AttrValue, DecodedSpan, Resource, Scope, StatusCode } from "../otlp/types.js";
import type { Usage } from "./call-capture.js";
import type { Endpoint } from "./routes.js";

export const PROXY_SCOPE: Scope = Object.freeze({ name: "@tokenmeter/proxy", version: "0.1.0" });

/** One resource object shared by every span: attribution caches per resource identity. */
export function proxyResource(serviceName: string): Resource {
  return Object.freeze({ attributes: Object.freeze({ "service.name": serviceName }) as Attributes });
}

export function operationOf(endpoint: Endpoint): string {
  switch (endpoint) {
    case "completions":
      return "text_completion";
    case "embeddings":
      return "embeddings";
    default:
      return "chat";
  }
}

// Ids: random bytes drawn from a pooled buffer, refilled in one syscall per 256 spans.
const POOL_BYTES = 24 * 256;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolAt = POOL_BYTES;

function randomHex(bytes: number): string {
  if (poolAt + bytes > POOL_BYTES) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString("hex", poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

export function newTraceId(): string {
  return randomHex(16);
}

export function newSpanId(): string {
  return randomHex(8);
}

/** Wall clock in Unix microseconds with sub-millisecond resolution. */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** How much the span may say about tokens. */
export type UsageReport =
  /** The provider's final usage. */
  | { kind: "exact"; usage: Usage }
  /** Nothing was billed: the call was refused, or the provider answered with an HTTP error. */
  | { kind: "none" }
  /** No usage seen: the collector estimates it from the content (tokens_estimated = 1). */
  | { kind: "unknown" };

export interface SpanInput {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  startUs: number;
  endUs: number;
  provider: string;
  operation: string;
  requestModel: string;
  /** Attributes already gathered (request params, attribution, content); completed here. */
  attributes: Attributes;
  responseModel: string;
  responseId: string;
  finishReasons: readonly string[];
  usage: UsageReport;
  /** Seconds, streams only. */
  ttftSeconds: number | undefined;
  httpStatus: number;
  outcome: "ok" | "error" | "cancelled";
  /** error.type for errors: the HTTP status ("429"), "timeout", the provider's in-stream type... */
  errorType: string;
  statusMessage: string;
  output: AttrValue | undefined;
  resource: Resource;
}

export function buildSpan(s: SpanInput): DecodedSpan {
  const a = s.attributes;
  a["gen_ai.operation.name"] = s.operation;
  a["gen_ai.provider.name"] = s.provider;
  if (s.requestModel !== "") a["gen_ai.request.model"] = s.requestModel;
  if (s.responseModel !== "") a["gen_ai.response.model"] = s.responseModel;
  if (s.responseId !== "") a["gen_ai.response.id"] = s.responseId;
  if (s.finishReasons.length > 0) a["gen_ai.response.finish_reasons"] = s.finishReasons as AttrValue[];
  if (s.usage.kind === "exact") {
    const u = s.usage.usage;
    a["gen_ai.usage.input_tokens"] = u.input;
    a["gen_ai.usage.output_tokens"] = u.output;
    if (u.cacheRead > 0) a["gen_ai.usage.cache_read.input_tokens"] = u.cacheRead;
    if (u.cacheWrite > 0) a["gen_ai.usage.cache_write.input_tokens"] = u.cacheWrite;
    if (u.reasoning > 0) a["gen_ai.usage.reasoning.output_tokens"] = u.reasoning;
  } else if (s.usage.kind === "none") {
    a["gen_ai.usage.input_tokens"] = 0;
    a["gen_ai.usage.output_tokens"] = 0;
  }
  if (s.ttftSeconds !== undefined) a["gen_ai.response.time_to_first_chunk"] = s.ttftSeconds;
  if (s.httpStatus > 0) a["http.response.status_code"] = s.httpStatus;
  if (s.output !== undefined) a["gen_ai.output.messages"] = s.output;
  let code: StatusCode = 0;
  if (s.outcome === "cancelled") {
    a["tokenmeter.status"] = "cancelled";
  } else if (s.outcome === "error") {
    code = 2;
    a["error.type"] = s.errorType || "_OTHER";
  }
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId,
    name: s.requestModel === "" ? s.operation : `${s.operation} ${s.requestModel}`,
    kind: 3,
    startTimeUs: s.startUs,
    endTimeUs: Math.max(s.endUs, s.startUs),
    attributes: a,
    events: [],
    status: { code, message: code === 2 ? s.statusMessage : "" },
    resource: s.resource,
    scope: PROXY_SCOPE,
  };
}
