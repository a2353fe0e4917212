import { setTimeout as delay } from "node:timers/promises";
import { type Dispatcher, request } from "undici";

/**
 * POST with bounded retries: network errors, timeouts, 408, 429 and 5xx are retried with
 * exponential backoff and full jitter; other answers are final. A per-attempt timeout and an
 * overall deadline keep one slow receiver from holding an evaluation.
 */

export interface RetryPolicy {
  /** Attempts, the first included. */
  maxAttempts: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  attemptTimeoutMs: number;
  /** Deadline for the whole delivery. */
  timeoutMs: number;
}

export interface HttpDeps {
  /** Waits between attempts; rejects when the signal aborts. Tests pass a recorder. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** In [0, 1); drives the jitter. */
  random?: () => number;
  dispatcher?: Dispatcher;
}

export class DeliveryError extends Error {
  readonly status: number | undefined;
  readonly attempts: number;
  constructor(message: string, status: number | undefined, attempts: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DeliveryError";
    this.status = status;
    this.attempts = attempts;
  }
}

const defaultSleep = (ms: number, signal: AbortSignal) => delay(ms, undefined, { signal });

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Retry-After in seconds or as an HTTP date, in ms. */
function retryAfterMs(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** The delay before retry `attempt` (1-based): random in [0, min(max, min * 2^(attempt-1))]. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.minBackoffMs * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}

export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  policy: RetryPolicy,
  deps: HttpDeps = {},
): Promise<{ status: number; attempts: number }> {
  const sleep = deps.sleep ?? defaultSleep;
  const random = deps.random ?? Math.random;
  const deadline = AbortSignal.timeout(policy.timeoutMs);
  let last: DeliveryError | undefined;
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    let wait: number | undefined;
    try {
      const res = await request(url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "tokenmeter-alerts", ...headers },
        body,
        signal: AbortSignal.any([deadline, AbortSignal.timeout(policy.attemptTimeoutMs)]),
        ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
      });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) return { status: res.statusCode, attempts: attempt };
      // Receivers echo the request in some errors; keep the message short and free of it.
      last = new DeliveryError(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`, res.statusCode, attempt);
      if (!retryable(res.statusCode)) throw last;
      wait = retryAfterMs(res.headers["retry-after"], Date.now());
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      const reason = deadline.aborted ? `deadline of ${policy.timeoutMs} ms passed` : (err as Error).message;
      last = new DeliveryError(reason, undefined, attempt, { cause: err });
      if (deadline.aborted) throw last;
    }
    if (attempt === policy.maxAttempts) break;
    const jitter = backoffMs(policy, attempt, random);
    try {
      await sleep(Math.min(policy.maxBackoffMs, Math.max(wait ?? 0, jitter)), deadline);
    } catch {
      throw new DeliveryError(`deadline of ${policy.timeoutMs} ms passed`, last?.status, attempt, { cause: last });
    }
  }
  throw new DeliveryError(
    `gave up after ${policy.maxAttempts} attempt(s): ${last?.message ?? "unknown error"}`,
    last?.status,
    policy.maxAttempts,
    { cause: last },
  );
}
