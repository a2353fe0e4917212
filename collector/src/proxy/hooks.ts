/**
 * The proxy's pre-request hook: the point where budget enforcement, rate limits and other
 * policies decide whether a call may go upstream. A hook that allows a call may hand back a
 * reservation, settled with the call's actual cost (or released when it never happened), so
 * concurrent calls cannot all spend the same remaining budget.
 */

export interface ProxyRequestContext {
  /** Route name: "openai", "anthropic", or a named upstream from tokenmeter.yaml. */
  route: string;
  /** Wire format the route speaks. */
  apiFormat: "openai" | "anthropic";
  /** Normalized provider name (GENAI_MAPPING.md), e.g. "openai", "anthropic", "groq". */
  provider: string;
  /** Path after the route prefix, e.g. "/chat/completions". */
  path: string;
  /** Model requested in the body ("" when none). */
  model: string;
  team: string;
  project: string;
  user: string;
  /** Id (not the key) of the virtual key the caller used, "" when none. */
  virtualKeyId: string;
  tags: Readonly<Record<string, string>>;
  /** Estimated cost of the call before it runs (input estimate + max output), null when unpriced. */
  estimatedCostUsd: number | null;
}

export interface Reservation {
  /** The call finished: replace the reserved estimate with what it really cost (null: unknown). */
  settle(actualCostUsd: number | null): void;
  /** The call never reached the provider: give the reserved amount back. */
  release(): void;
}

export type PreRequestDecision =
  | { allow: true; reservation?: Reservation }
  | {
      allow: false;
      /** HTTP status for the client, 429 for budgets and rate limits. */
      status: number;
      /** Stable machine code, e.g. "budget_exceeded", "rate_limited". */
      code: string;
      /** Human-readable reason naming the budget or limit. */
      message: string;
      /** Seconds until a retry may succeed, when known. */
      retryAfter?: number;
    };

export interface PreRequestHook {
  readonly name: string;
  beforeRequest(ctx: ProxyRequestContext): PreRequestDecision | Promise<PreRequestDecision>;
}
