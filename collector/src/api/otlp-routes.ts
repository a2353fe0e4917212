import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { ERR_METHOD_NOT_ALLOWED, isTokenmeterError, type TokenmeterError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import { encodeLogsResponse, encodeTracesResponse } from "../otlp/decode.js";
import { encodeStatus } from "../otlp/encode-status.js";
import type { IngestPipeline } from "../pipeline.js";
import { createRejectionLog, type Rejection } from "./rejection-log.js";

export interface OtlpRouteDeps {
  pipeline: IngestPipeline;
  metrics: CollectorMetrics;
  maxBodyBytes: number;
  auth: preHandlerAsyncHookHandler | undefined;
  /** Where refused requests and partial successes are logged (rate-limited). */
  logger: Logger;
}

interface RouteState extends OtlpRouteDeps {
  logRejection: (r: Rejection) => void;
}

function rejection(request: FastifyRequest, signal: string, reason: string, status: number, items?: number) {
  const userAgent = request.headers["user-agent"];
  return {
    signal,
    reason,
    status,
    ...(items === undefined ? {} : { items }),
    remoteAddress: request.ip,
    userAgent: typeof userAgent === "string" ? userAgent.slice(0, 200) : undefined,
  };
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? "").toLowerCase().startsWith("application/json");
}

/**
 * POST /v1/traces and /v1/logs per the OTLP/HTTP spec. Bodies arrive as raw buffers (any
 * content type, so the decoder can answer 415 in the OTLP way); answers use the request's
 * encoding: ExportTraceServiceResponse with partial_success, or a google.rpc.Status on error.
 */
export async function registerOtlpRoutes(app: FastifyInstance, routeDeps: OtlpRouteDeps): Promise<void> {
  const deps: RouteState = { ...routeDeps, logRejection: createRejectionLog(routeDeps.logger) };
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // The compressed body may not exceed the limit either; the decoder enforces it again after
    // inflating, so a gzip bomb never grows past it.
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: deps.maxBodyBytes }, (_req, body, done) => {
      done(null, body);
    });
    scope.setErrorHandler((err: Error, request, reply) => sendOtlpError(err, request, reply, deps));
    const preHandler = deps.auth ? [deps.auth] : [];

    const traces = async (request: FastifyRequest, reply: FastifyReply) => {
      const json = isJson(request.headers["content-type"]);
      const result = await deps.pipeline.ingestTraces(
        bodyOf(request),
        request.headers["content-type"] ?? "",
        request.headers["content-encoding"],
      );
      deps.metrics.pipeline.requests.inc({ signal: "traces", code: "200" });
      if (result.rejected > 0) deps.logRejection(rejection(request, "traces", "invalid_span", 200, result.rejected));
      return answer(reply, 200, json, encodeTracesResponse(result, json));
    };
    scope.post("/v1/traces", { preHandler }, traces);
    // The path Langfuse's OTLP exporter appends to its base URL, so a Langfuse-instrumented app
    // can point its baseUrl at tokenmeter unchanged.
    scope.post("/api/public/otel/v1/traces", { preHandler }, traces);

    // An app pointed at tokenmeter with OTEL_EXPORTER_OTLP_ENDPOINT exports every signal there,
    // metrics included (the default of several SDKs' auto-instrumentation). tokenmeter keeps
    // no metrics: they are taken and dropped, counted, so the app does not log an export error
    // every interval. The answer is an empty ExportMetricsServiceResponse.
    scope.post("/v1/metrics", { preHandler }, async (request, reply) => {
      const json = isJson(request.headers["content-type"]);
      deps.metrics.pipeline.requests.inc({ signal: "metrics", code: "200" });
      return answer(reply, 200, json, json ? "{}" : Buffer.alloc(0));
    });

    // Opening an OTLP URL in a browser, or a sender set to GET or PUT, learns what the path takes.
    for (const url of ["/v1/traces", "/v1/logs", "/v1/metrics", "/api/public/otel/v1/traces"]) {
      scope.route({
        method: ["GET", "PUT", "PATCH", "DELETE"],
        url,
        handler: async (request, reply) => {
          const e = ERR_METHOD_NOT_ALLOWED(
            `${request.method} is not accepted here: ${url} takes OTLP/HTTP exports by POST (protobuf or JSON)`,
          );
          return reply
            .status(405)
            .header("allow", "POST")
            .send({ error: { code: e.code, message: e.message } });
        },
      });
    }

    scope.post("/v1/logs", { preHandler }, async (request, reply) => {
      const json = isJson(request.headers["content-type"]);
      const result = await deps.pipeline.ingestLogs(
        bodyOf(request),
        request.headers["content-type"] ?? "",
        request.headers["content-encoding"],
      );
      deps.metrics.pipeline.requests.inc({ signal: "logs", code: "200" });
      if (result.rejected > 0) deps.logRejection(rejection(request, "logs", "invalid_span", 200, result.rejected));
      return answer(reply, 200, json, encodeLogsResponse(result, json));
    });
  });
}

function bodyOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

function sendOtlpError(err: Error, request: FastifyRequest, reply: FastifyReply, deps: RouteState) {
  const signal = request.url.startsWith("/v1/logs")
    ? "logs"
    : request.url.startsWith("/v1/metrics")
      ? "metrics"
      : "traces";
  let e: Pick<TokenmeterError, "code" | "statusCode" | "message" | "retryAfter">;
  if (isTokenmeterError(err)) e = err;
  else {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 413)
      e = { code: "TM_ERR_BODY_TOO_LARGE", statusCode: 413, message: err.message, retryAfter: undefined };
    else if (status === 401)
      e = { code: "TM_ERR_UNAUTHORIZED", statusCode: 401, message: err.message, retryAfter: undefined };
    else if (status !== undefined && status >= 400 && status < 500)
      e = { code: "TM_ERR_BAD_OTLP", statusCode: 400, message: err.message, retryAfter: undefined };
    else {
      request.log.error({ err }, "OTLP ingest failed");
      e = { code: "TM_ERR_UNAVAILABLE", statusCode: 503, message: "ingest failed; retry later", retryAfter: 5 };
    }
  }
  deps.metrics.pipeline.requests.inc({ signal, code: String(e.statusCode) });
  deps.metrics.pipeline.spansRejected.inc({ signal, reason: e.code });
  // A sender's mistake (400, 401, 413, 415) is logged so it can be found; load (429, 503) has
  // its own metrics and alert, and a failure of ours is logged as an error above.
  if (e.statusCode >= 400 && e.statusCode < 500 && e.statusCode !== 429) {
    deps.logRejection(rejection(request, signal, e.code, e.statusCode));
  }
  if (e.retryAfter !== undefined) void reply.header("retry-after", String(e.retryAfter));
  const json = isJson(request.headers["content-type"]) || e.statusCode === 415;
  void reply.header("x-tokenmeter-error-code", e.code);
  return answer(reply, e.statusCode, json, encodeStatus(e.statusCode, `${e.code}: ${e.message}`, json));
}

/** An OTLP answer, in the request's encoding (OTLP/HTTP: the response uses the request's content type). */
function answer(reply: FastifyReply, statusCode: number, json: boolean, body: string | Uint8Array) {
  return reply
    .status(statusCode)
    .header("content-type", json ? "application/json" : "application/x-protobuf")
    .send(body);
}
