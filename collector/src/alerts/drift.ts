import type { ClickHouseClient } from "@clickhouse/client";
import {
  baseSql,
  categoricalDriftSql,
  type DriftFilters,
  MAX_CATEGORIES,
  modelChangeSql,
  numericDriftSql,
  type SignalSource,
  type WindowParams,
} from "./drift-sql.js";

/**
 * Drift: does the current window of a group (team, request model, prompt name/version) look
 * like its reference window? Numeric signals get PSI over reference deciles, a two-sample KS
 * test and Welch's t-test, all in ClickHouse; categorical mixes get Jensen-Shannon divergence
 * from counts ClickHouse returns; a model-version change is a response model the reference
 * window never saw behind the same request model.
 */

export type DriftStatistic = "psi" | "ks" | "js" | "welch" | "model_change";
export type SignalKind = "numeric" | "rate" | "categorical" | "model";

export interface DriftGroup {
  team: string;
  model: string;
  prompt_name: string;
  prompt_version: string;
}

export interface DriftResult {
  group: DriftGroup;
  signal: string;
  statistic: DriftStatistic;
  /**
   * psi: the index; ks: the D statistic; js: the divergence (base 2, 0..1); welch: the mean
   * shift `cur_mean - ref_mean`; model_change: how many response models are new.
   */
  value: number;
  p_value?: number | undefined;
  ref_n: number;
  cur_n: number;
  ref_mean?: number | undefined;
  cur_mean?: number | undefined;
  /** welch: the t statistic. */
  t_statistic?: number | undefined;
  /** model_change: the response models seen now and never in the reference window. */
  new_models?: string[] | undefined;
}

export interface DriftQuery {
  /** A catalogue signal (see SIGNALS), `score:<name>`, `score:*`, `score_label:<name>` or `score_label:*`. */
  signal: string;
  /** Statistics to compute; default: every one the signal supports. */
  statistics?: readonly DriftStatistic[] | undefined;
  /** End of the current window, Unix ms. */
  now: number;
  /** Reference window length; it ends where the current window starts. */
  referenceMs: number;
  currentMs: number;
  /** Fewer observations than this in either window: no result for the group. */
  minSamples?: number | undefined;
  /** PSI floor for an empty bin's share. */
  epsilon?: number | undefined;
  filters?: DriftFilters | undefined;
}

interface CatalogueEntry {
  kind: SignalKind;
  source?: SignalSource;
}

const REFUSAL_VALUE = "if(value IS NULL, lower(label) IN ('true', 'yes', 'refusal', 'refused'), value > 0)";

/** The built-in signals. Score signals are parsed by name (see resolveSignal). */
export const SIGNALS: Readonly<Record<string, CatalogueEntry>> = {
  input_tokens: { kind: "numeric", source: { table: "llm_calls", value: "input_tokens" } },
  output_tokens: { kind: "numeric", source: { table: "llm_calls", value: "output_tokens" } },
  latency_ms: { kind: "numeric", source: { table: "llm_calls", value: "duration_ms" } },
  ttft_ms: {
    kind: "numeric",
    source: { table: "llm_calls", value: "assumeNotNull(ttft_ms)", where: "ttft_ms IS NOT NULL" },
  },
  error_rate: {
    kind: "rate",
    source: { table: "llm_calls", value: "status = 'error'", category: "if(status = 'error', 'error', 'ok')" },
  },
  refusal_rate: {
    kind: "rate",
    source: {
      table: "scores",
      names: ["refusal"],
      signal: { fixed: "refusal_rate" },
      value: REFUSAL_VALUE,
      category: `if(${REFUSAL_VALUE}, 'refusal', 'answer')`,
    },
  },
  finish_reason: {
    kind: "categorical",
    source: { table: "llm_calls", value: "0", category: "if(finish_reason = '', '(none)', finish_reason)" },
  },
  model_version: { kind: "model" },
};

/** Statistics each kind of signal supports. */
export const STATISTICS_BY_KIND: Readonly<Record<SignalKind, readonly DriftStatistic[]>> = {
  numeric: ["psi", "ks", "welch"],
  rate: ["welch", "js"],
  categorical: ["js"],
  model: ["model_change"],
};

const SCORE_NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;

/** The kind and source of a signal name, or undefined when it is not one. */
export function resolveSignal(signal: string): CatalogueEntry | undefined {
  const builtin = Object.hasOwn(SIGNALS, signal) ? SIGNALS[signal] : undefined;
  if (builtin) return builtin;
  for (const [prefix, kind] of [
    ["score:", "numeric"],
    ["score_label:", "categorical"],
  ] as const) {
    if (!signal.startsWith(prefix)) continue;
    const name = signal.slice(prefix.length);
    if (name !== "*" && !SCORE_NAME.test(name)) return undefined;
    const names = name === "*" ? undefined : [name];
    const source: SignalSource =
      kind === "numeric"
        ? { table: "scores", names, signal: { prefix }, value: "assumeNotNull(value)", where: "value IS NOT NULL" }
        : { table: "scores", names, signal: { prefix }, value: "0", where: "label != ''", category: "label" };
    return { kind, source };
  }
  return undefined;
}

/** Jensen-Shannon divergence (base 2, so 0..1) of two count vectors over the same categories. */
export function jensenShannon(ref: readonly number[], cur: readonly number[]): number {
  const refTotal = ref.reduce((a, b) => a + b, 0);
  const curTotal = cur.reduce((a, b) => a + b, 0);
  if (refTotal <= 0 || curTotal <= 0) return 0;
  let divergence = 0;
  for (let i = 0; i < Math.max(ref.length, cur.length); i++) {
    const p = (ref[i] ?? 0) / refTotal;
    const q = (cur[i] ?? 0) / curTotal;
    const m = (p + q) / 2;
    if (p > 0) divergence += 0.5 * p * Math.log2(p / m);
    if (q > 0) divergence += 0.5 * q * Math.log2(q / m);
  }
  // Rounding can leave a hair below 0 or above 1.
  return Math.min(1, Math.max(0, divergence));
}

/** Population stability index of two count vectors, shares floored at `epsilon`. */
export function populationStabilityIndex(ref: readonly number[], cur: readonly number[], epsilon = 1e-4): number {
  const refTotal = ref.reduce((a, b) => a + b, 0);
  const curTotal = cur.reduce((a, b) => a + b, 0);
  if (refTotal <= 0 || curTotal <= 0) return 0;
  let psi = 0;
  for (let i = 0; i < Math.max(ref.length, cur.length); i++) {
    const r = Math.max((ref[i] ?? 0) / refTotal, epsilon);
    const c = Math.max((cur[i] ?? 0) / curTotal, epsilon);
    psi += (c - r) * Math.log(c / r);
  }
  return psi;
}

export function windowsOf(q: Pick<DriftQuery, "now" | "referenceMs" | "currentMs">): WindowParams {
  const curFrom = q.now - q.currentMs;
  return { refFrom: curFrom - q.referenceMs, curFrom, curTo: q.now };
}

type Row = Record<string, unknown>;

function num(v: unknown): number | undefined {
  if (v === null || v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function groupOf(row: Row): DriftGroup {
  return {
    team: String(row["team"] ?? ""),
    model: String(row["model"] ?? ""),
    prompt_name: String(row["prompt_name"] ?? ""),
    prompt_version: String(row["prompt_version"] ?? ""),
  };
}

async function rows(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<Row[]> {
  const rs = await client.query({ query, query_params: params, format: "JSONEachRow" });
  return rs.json<Row>();
}

/** Computes drift for every group of one signal. Results come sorted by group. */
export async function computeDrift(client: ClickHouseClient, database: string, q: DriftQuery): Promise<DriftResult[]> {
  const entry = resolveSignal(q.signal);
  if (!entry) throw new Error(`unknown drift signal "${q.signal}"`);
  const supported = STATISTICS_BY_KIND[entry.kind];
  const wanted = (q.statistics ?? supported).filter((s) => supported.includes(s));
  if (wanted.length === 0) return [];
  const minSamples = q.minSamples ?? 100;
  const windows = windowsOf(q);
  const params: Record<string, unknown> = { min_n: minSamples, eps: q.epsilon ?? 1e-4 };

  if (entry.kind === "model") return modelChange(client, database, q, windows, minSamples);
  const source = entry.source;
  if (!source) return [];
  const base = baseSql(database, source, q.signal, windows, q.filters, params);
  const results: DriftResult[] = [];

  const numericWanted = wanted.filter((s) => s === "psi" || s === "ks" || s === "welch");
  if (numericWanted.length > 0) {
    const stats = {
      psi: numericWanted.includes("psi"),
      ks: numericWanted.includes("ks"),
      welch: numericWanted.includes("welch"),
    };
    for (const row of await rows(client, numericDriftSql(base, stats, params), params)) {
      const common = {
        group: groupOf(row),
        signal: String(row["signal"]),
        ref_n: num(row["ref_n"]) ?? 0,
        cur_n: num(row["cur_n"]) ?? 0,
        ref_mean: num(row["ref_mean"]),
        cur_mean: num(row["cur_mean"]),
      };
      if (stats.psi) results.push({ ...common, statistic: "psi", value: num(row["psi"]) ?? 0 });
      if (stats.ks) {
        results.push({ ...common, statistic: "ks", value: num(row["ks_d"]) ?? 0, p_value: num(row["ks_p"]) ?? 1 });
      }
      if (stats.welch) {
        const shift = (common.cur_mean ?? 0) - (common.ref_mean ?? 0);
        // Zero variance in both windows gives no t statistic: equal constants are no shift,
        // different constants are a certain one.
        const t = num(row["welch_t"]);
        const p = num(row["welch_p"]) ?? (shift === 0 ? 1 : 0);
        results.push({ ...common, statistic: "welch", value: shift, p_value: p, t_statistic: t });
      }
    }
  }

  if (wanted.includes("js")) {
    const catParams = { ...params };
    const catBase = baseSql(database, source, q.signal, windows, q.filters, catParams);
    results.push(...categorical(await rows(client, categoricalDriftSql(catBase), catParams)));
  }
  return results;
}

function categorical(data: Row[]): DriftResult[] {
  const groups = new Map<string, { row: Row; ref: number[]; cur: number[]; ref_n: number; cur_n: number }>();
  for (const row of data) {
    const key = JSON.stringify([row["team"], row["model"], row["prompt_name"], row["prompt_version"], row["signal"]]);
    let g = groups.get(key);
    if (!g) {
      g = { row, ref: [], cur: [], ref_n: num(row["ref_n"]) ?? 0, cur_n: num(row["cur_n"]) ?? 0 };
      groups.set(key, g);
    }
    g.ref.push(num(row["ref_c"]) ?? 0);
    g.cur.push(num(row["cur_c"]) ?? 0);
  }
  const out: DriftResult[] = [];
  for (const g of groups.values()) {
    // Categories past the per-group limit are folded into one bucket so the shares stay exact.
    if (g.ref.length >= MAX_CATEGORIES) {
      g.ref.push(Math.max(0, g.ref_n - g.ref.reduce((a, b) => a + b, 0)));
      g.cur.push(Math.max(0, g.cur_n - g.cur.reduce((a, b) => a + b, 0)));
    }
    out.push({
      group: groupOf(g.row),
      signal: String(g.row["signal"]),
      statistic: "js",
      value: jensenShannon(g.ref, g.cur),
      ref_n: g.ref_n,
      cur_n: g.cur_n,
    });
  }
  return out;
}

async function modelChange(
  client: ClickHouseClient,
  database: string,
  q: DriftQuery,
  windows: WindowParams,
  minSamples: number,
): Promise<DriftResult[]> {
  const params: Record<string, unknown> = {};
  const data = await rows(client, modelChangeSql(database, windows, q.filters, params), params);
  const groups = new Map<string, { team: string; model: string; ref_n: number; cur_n: number; fresh: string[] }>();
  for (const row of data) {
    const team = String(row["team"] ?? "");
    const model = String(row["model"] ?? "");
    const key = JSON.stringify([team, model]);
    let g = groups.get(key);
    if (!g) {
      g = { team, model, ref_n: 0, cur_n: 0, fresh: [] };
      groups.set(key, g);
    }
    const refC = num(row["ref_c"]) ?? 0;
    const curC = num(row["cur_c"]) ?? 0;
    g.ref_n += refC;
    g.cur_n += curC;
    if (refC === 0 && curC > 0) g.fresh.push(String(row["response_model"]));
  }
  const out: DriftResult[] = [];
  for (const g of groups.values()) {
    // The reference must be big enough to trust that a model was absent from it; one call
    // now is enough to see a new one.
    if (g.ref_n < minSamples || g.cur_n < 1) continue;
    out.push({
      group: { team: g.team, model: g.model, prompt_name: "", prompt_version: "" },
      signal: "model_version",
      statistic: "model_change",
      value: g.fresh.length,
      ref_n: g.ref_n,
      cur_n: g.cur_n,
      new_models: g.fresh.sort(),
    });
  }
  return out;
}
