/**
 * Whether the collector has been taking the SDK's exports. A failed export marks it failing for
 * a while; a successful one clears that at once. `forceFlush` uses it to stop waiting on a
 * collector it already knows to fail: a serverless function flushes at the end of every
 * invocation, and each one would otherwise wait out the exporter's timeout and retries while
 * the collector is down. The SDK's exporter (deferred-content.ts) records every outcome.
 */

/** How long one failed export counts, unless an export succeeds first. */
export const FAILING_FOR_MS = 30_000;

export class ExportHealth {
  readonly #now: () => number;
  #failedAt: number | undefined;
  #told = false;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  record(ok: boolean): void {
    if (ok) {
      this.#failedAt = undefined;
      this.#told = false;
    } else {
      this.#failedAt = this.#now();
    }
  }

  /** The last export failed, less than FAILING_FOR_MS ago. */
  get failing(): boolean {
    return this.#failedAt !== undefined && this.#now() - this.#failedAt < FAILING_FOR_MS;
  }

  /** True the first time it is asked in a failing period: one warning per outage, not per flush. */
  firstNotice(): boolean {
    if (this.#told) return false;
    this.#told = true;
    return true;
  }
}
