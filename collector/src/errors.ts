/**
 * The catalog of coded errors. Handlers throw these; one error handler at the HTTP edge turns
 * them into responses. Tests assert `.code`, never message text.
 */

export class TokenmeterError extends Error {
  readonly code: string;
  readonly statusCode: number;
  /** Seconds, for 429/503 answers. */
  readonly retryAfter: number | undefined;

  constructor(code: string, statusCode: number, message: string, opts?: { cause?: unknown; retryAfter?: number }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "TokenmeterError";
    this.code = code;
    this.statusCode = statusCode;
    this.retryAfter = opts?.retryAfter;
  }
}

type ErrorFactory = (message: string, opts?: { cause?: unknown; retryAfter?: number }) => TokenmeterError;

function defineError(code: string, statusCode: number): ErrorFactory & { code: string } {
  const make = (message: string, opts?: { cause?: unknown; retryAfter?: number }) =>
    new TokenmeterError(code, statusCode, message, opts);
  return Object.assign(make, { code });
}

/** Body could not be decoded as OTLP (protobuf or JSON), or gzip was corrupt. */
export const ERR_BAD_OTLP = defineError("TM_ERR_BAD_OTLP", 400);
/** Body larger than the limit, measured after decompression. */
export const ERR_BODY_TOO_LARGE = defineError("TM_ERR_BODY_TOO_LARGE", 413);
/** Content-Type is neither application/x-protobuf nor application/json. */
export const ERR_UNSUPPORTED_MEDIA_TYPE = defineError("TM_ERR_UNSUPPORTED_MEDIA_TYPE", 415);
/** Content-Encoding other than gzip/identity. */
export const ERR_UNSUPPORTED_ENCODING = defineError("TM_ERR_UNSUPPORTED_ENCODING", 415);
/** The write queue is full: the sender should retry after Retry-After. */
export const ERR_BACKPRESSURE = defineError("TM_ERR_BACKPRESSURE", 429);
/** Storage unreachable and the spool cannot take more. */
export const ERR_UNAVAILABLE = defineError("TM_ERR_UNAVAILABLE", 503);
/** Missing or wrong bearer token. */
export const ERR_UNAUTHORIZED = defineError("TM_ERR_UNAUTHORIZED", 401);
/** Query string or JSON body failed validation. */
export const ERR_BAD_REQUEST = defineError("TM_ERR_BAD_REQUEST", 400);
/** Resource not found. */
export const ERR_NOT_FOUND = defineError("TM_ERR_NOT_FOUND", 404);
/** A method the path does not take (GET on an OTLP endpoint, which takes POST only). */
export const ERR_METHOD_NOT_ALLOWED = defineError("TM_ERR_METHOD_NOT_ALLOWED", 405);
/** tokenmeter.yaml or an environment variable is invalid. */
export const ERR_BAD_CONFIG = defineError("TM_ERR_BAD_CONFIG", 500);
/** The embedded data directory is held by another process (ClickHouse error 76). */
export const ERR_DATA_DIR_LOCKED = defineError("TM_ERR_DATA_DIR_LOCKED", 500);
/** A port tokenmeter is to listen on is taken, or not allowed. */
export const ERR_PORT_IN_USE = defineError("TM_ERR_PORT_IN_USE", 500);
/** Storage failed for a read. */
export const ERR_STORAGE = defineError("TM_ERR_STORAGE", 500);

export function isTokenmeterError(err: unknown): err is TokenmeterError {
  return err instanceof TokenmeterError;
}

/**
 * A failed `listen` as a coded error naming the setting to change, for the two causes a user
 * can act on (the port is taken; it needs privileges); anything else unchanged.
 */
export function listenError(err: unknown, what: string, host: string, port: number, setting: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "EADDRINUSE") {
    return ERR_PORT_IN_USE(
      `the ${what} port ${host}:${port} is already in use (another tokenmeter, or another server); stop it or set ${setting}`,
      { cause: err },
    );
  }
  if (code === "EACCES") {
    return ERR_PORT_IN_USE(`the ${what} port ${host}:${port} needs privileges this process lacks; set ${setting}`, {
      cause: err,
    });
  }
  return err;
}
