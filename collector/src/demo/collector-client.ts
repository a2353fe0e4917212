/**
 * The few collector endpoints the demo talks to besides OTLP: health, scores and budgets. Tokens
 * come from the configuration (TOKENMETER_INGEST_TOKEN / TOKENMETER_API_TOKEN), so a demo
 * against a server that requires them works unchanged.
 */
import { ERR_UNAVAILABLE } from "../errors.js";

/** One score as POST /api/v1/scores takes it (collector/src/api/scores-routes.ts). */
export interface ScoreBody {
  id?: string;
  trace_id: string;
  span_id?: string;
  name: string;
  value?: number;
  label?: string;
  comment?: string | undefined;
  source?: string;
  /** Epoch milliseconds. */
  timestamp?: number;
}

/** The fields of GET /api/v1/budgets the demo reads. */
export interface BudgetInfo {
  name: string;
  labels: Record<string, string>;
  enforcement: string;
  window: string;
  windowStartMs: number;
  limitUsd: number;
  spentUsd: number;
}

export interface CollectorClientOptions {
  baseUrl: string;
  ingestToken?: string | undefined;
  apiToken?: string | undefined;
}

export class CollectorClient {
  readonly baseUrl: string;
  readonly #ingestToken: string | undefined;
  readonly #apiToken: string | undefined;

  constructor(options: CollectorClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#ingestToken = options.ingestToken;
    this.#apiToken = options.apiToken;
  }

  ingestHeaders(): Record<string, string> {
    return this.#ingestToken ? { authorization: `Bearer ${this.#ingestToken}` } : {};
  }

  apiHeaders(): Record<string, string> {
    return this.#apiToken ? { authorization: `Bearer ${this.#apiToken}` } : {};
  }

  /** Resolves when /healthz answers 200; rejects with a message saying what to start otherwise. */
  async checkHealth(): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
    } catch (err) {
      throw ERR_UNAVAILABLE(
        `no collector answers at ${this.baseUrl} (${(err as Error).message}); start one with \`tokenmeter start\` or pass --collector`,
        { cause: err },
      );
    }
    await res.body?.cancel();
    if (!res.ok) throw ERR_UNAVAILABLE(`${this.baseUrl}/healthz answered ${res.status}`);
  }

  async postScores(scores: readonly ScoreBody[]): Promise<void> {
    const res = await fetch(`${this.baseUrl}/api/v1/scores`, {
      method: "POST",
      headers: { "content-type": "application/json", ...this.apiHeaders() },
      body: JSON.stringify({ scores }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      throw ERR_UNAVAILABLE(`POST /api/v1/scores answered ${res.status}: ${text.slice(0, 300)}`);
    }
    await res.body?.cancel();
  }

  /** The server's budgets; empty when it has none or does not serve the budgets API. */
  async budgets(): Promise<BudgetInfo[]> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/v1/budgets`, {
        headers: this.apiHeaders(),
        signal: AbortSignal.timeout(10_000),
      });
    } catch {
      return [];
    }
    if (!res.ok) {
      await res.body?.cancel();
      return [];
    }
    const body = (await res.json().catch(() => undefined)) as { budgets?: unknown } | undefined;
    const list = Array.isArray(body?.budgets) ? (body.budgets as unknown[]) : [];
    const out: BudgetInfo[] = [];
    for (const raw of list) {
      if (raw === null || typeof raw !== "object") continue;
      const b = raw as Record<string, unknown>;
      const windowStartMs = Date.parse(String(b["window_start"] ?? ""));
      const limitUsd = Number(b["limit_usd"]);
      if (typeof b["name"] !== "string" || !Number.isFinite(windowStartMs) || !(limitUsd > 0)) continue;
      const labels: Record<string, string> = {};
      const rawLabels = b["labels"];
      if (rawLabels !== null && typeof rawLabels === "object") {
        for (const [k, v] of Object.entries(rawLabels)) if (typeof v === "string") labels[k] = v;
      }
      out.push({
        name: b["name"],
        labels,
        enforcement: String(b["enforcement"] ?? "soft"),
        window: String(b["window"] ?? ""),
        windowStartMs,
        limitUsd,
        spentUsd: Number(b["spent_usd"]) || 0,
      });
    }
    return out;
  }
}
