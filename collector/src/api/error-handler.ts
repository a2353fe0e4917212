import type { FastifyError, FastifyInstance } from "fastify";
import { isTokenmeterError } from "../errors.js";

/** The one place errors become HTTP answers: `{ "error": { "code", "message" } }`. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isTokenmeterError(err)) {
      if (err.retryAfter !== undefined) void reply.header("retry-after", String(err.retryAfter));
      if (err.statusCode >= 500) request.log.error({ code: err.code, err: { message: err.message } }, "request failed");
      return reply.status(err.statusCode).send({ error: { code: err.code, message: err.message } });
    }
    // Fastify's own errors (body too large, bad JSON, unsupported media type) keep their
    // status; their FST_ERR_* code is mapped onto ours so clients see one catalog.
    const status = typeof err.statusCode === "number" && err.statusCode >= 400 ? err.statusCode : 500;
    const code =
      status === 413
        ? "TM_ERR_BODY_TOO_LARGE"
        : status === 415
          ? "TM_ERR_UNSUPPORTED_MEDIA_TYPE"
          : status < 500
            ? "TM_ERR_BAD_REQUEST"
            : "TM_ERR_INTERNAL";
    if (status >= 500) request.log.error({ err }, "unhandled error");
    return reply
      .status(status)
      .send({ error: { code, message: status >= 500 ? "internal error" : err.message, cause: err.code } });
  });
  app.setNotFoundHandler((request, reply) => {
    return reply.status(404).send({
      error: { code: "TM_ERR_NOT_FOUND", message: `no route ${request.method} ${request.url.split("?")[0]}` },
    });
  });
}
