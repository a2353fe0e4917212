/**
 * Errors the proxy answers itself (rate limits, budgets, bad keys, unreachable upstreams), in the
 * provider's own error shape, so the official SDKs raise the same exception classes they raise
 * for the provider's errors (RateLimitError for 429, AuthenticationError for 401, ...).
 *
 *   OpenAI:    {"error":{"message","type","param","code"}}
 *   Anthropic: {"type":"error","error":{"type","message"}}
 */
import type { ServerResponse } from "node:http";
import type { ApiFormat } from "./routes.js";

export interface ProxyErrorReply {
  status: number;
  /** Stable machine code: "rate_limited", "budget_exceeded", "invalid_api_key", "timeout", ... */
  code: string;
  message: string;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number | undefined;
}

/** Anthropic's error `type` for each status it documents. */
function anthropicType(status: number): string {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

/** OpenAI's error `type` for a status: OpenAI itself uses "invalid_request_error" for most 4xx. */
function openaiType(status: number, code: string): string {
  if (status === 429) return code === "budget_exceeded" ? "insufficient_quota" : "rate_limit_exceeded";
  return status >= 500 ? "server_error" : "invalid_request_error";
}

export function providerErrorBody(format: ApiFormat, e: ProxyErrorReply): string {
  if (format === "anthropic") {
    return JSON.stringify({ type: "error", error: { type: anthropicType(e.status), message: e.message } });
  }
  return JSON.stringify({
    error: { message: e.message, type: openaiType(e.status, e.code), param: null, code: e.code },
  });
}

/** Writes the error unless the response has already started. */
export function sendProviderError(res: ServerResponse, format: ApiFormat, e: ProxyErrorReply): void {
  if (res.headersSent || res.destroyed) return;
  const body = providerErrorBody(format, e);
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  };
  if (e.retryAfter !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(e.retryAfter)));
  res.writeHead(e.status, headers);
  res.end(body);
}
