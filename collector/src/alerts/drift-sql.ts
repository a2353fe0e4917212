/**
 * SQL for drift detection. Every query compares a reference window with the current window
 * for each group (team, request model, prompt name and version) in one pass over the data:
 * rows carry `w` = 0 (reference) or 1 (current), and the two-sample aggregates take `w` as
 * their sample index, as ClickHouse's statistical tests expect.
 *
 * Values always travel as query parameters; only identifiers and the fixed expressions of the
 * signal catalogue are spliced into the text.
 */

/** Group keys of every drift result, in order. `signal` names the measured quantity. */
export const GROUP_KEYS = ["team", "model", "prompt_name", "prompt_version", "signal"] as const;
const KEYS = GROUP_KEYS.join(", ");

/** Deciles of the reference window: PSI bins are (-inf, q10], (q10, q20], ..., (q90, +inf). */
const DECILES = "0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9";
const BINS = 10;

/** Filters on group keys; each lists the accepted values (empty or absent: no filter). */
export interface DriftFilters {
  team?: readonly string[] | undefined;
  model?: readonly string[] | undefined;
  prompt_name?: readonly string[] | undefined;
  prompt_version?: readonly string[] | undefined;
}

/** Where a signal's values come from. */
export type SignalSource =
  | {
      table: "llm_calls";
      /** A Float64 expression over llm_calls columns. */
      value: string;
      /** Rows without a value are left out (e.g. ttft_ms IS NOT NULL). */
      where?: string;
      /** Category of a row, for categorical signals. */
      category?: string;
    }
  | {
      table: "scores";
      /** A Float64 expression over scores columns (value, label; unqualified). */
      value: string;
      where?: string;
      category?: string;
      /** Score names to read; undefined reads every name. */
      names?: readonly string[] | undefined;
      /** The `signal` of a row: a fixed name, or one per score name under this prefix. */
      signal: { fixed: string } | { prefix: string };
    };

export interface WindowParams {
  /** Reference window start, Unix ms (inclusive). */
  refFrom: number;
  /** Current window start = reference window end, Unix ms. */
  curFrom: number;
  /** Current window end, Unix ms (exclusive). */
  curTo: number;
}

/** How far before the reference window a scored call may start and still be joined. */
const SCORE_CALL_LOOKBACK_MS = 86_400_000;

const ms = (name: string) => `fromUnixTimestamp64Milli({${name}:Int64}, 'UTC')`;

function filterSql(
  filters: DriftFilters | undefined,
  columns: Record<keyof DriftFilters, string>,
  params: Record<string, unknown>,
): string {
  const parts: string[] = [];
  for (const key of ["team", "model", "prompt_name", "prompt_version"] as const) {
    const values = filters?.[key];
    if (!values || values.length === 0) continue;
    params[`f_${key}`] = [...values];
    parts.push(`${columns[key]} IN {f_${key}:Array(String)}`);
  }
  return parts.map((p) => ` AND ${p}`).join("");
}

/**
 * One row per observation: the group keys, `v` (value), `w` (0 reference, 1 current) and
 * `cat` (category, for categorical signals). Scores take their group from the call they score:
 * by (trace_id, span_id), or, for a trace-level score (span_id ''), the trace's first call.
 * Scores no call matches keep empty group keys rather than being dropped.
 */
export function baseSql(
  database: string,
  source: SignalSource,
  signal: string,
  windows: WindowParams,
  filters: DriftFilters | undefined,
  params: Record<string, unknown>,
): string {
  params["ref_from"] = windows.refFrom;
  params["cur_from"] = windows.curFrom;
  params["cur_to"] = windows.curTo;
  const category = source.category ? `, ${source.category} AS cat` : "";
  if (source.table === "llm_calls") {
    params["signal"] = signal;
    const where = source.where ? ` AND (${source.where})` : "";
    const filter = filterSql(
      filters,
      { team: "team", model: "request_model", prompt_name: "prompt_name", prompt_version: "prompt_version" },
      params,
    );
    return `SELECT team, request_model AS model, prompt_name, prompt_version, {signal:String} AS signal,
    toFloat64(${source.value}) AS v, toUInt8(timestamp >= ${ms("cur_from")}) AS w${category}
  FROM ${database}.llm_calls
  WHERE timestamp >= ${ms("ref_from")} AND timestamp < ${ms("cur_to")}${where}${filter}`;
  }

  params["calls_from"] = windows.refFrom - SCORE_CALL_LOOKBACK_MS;
  let names = "";
  if (source.names) {
    params["score_names"] = [...source.names];
    names = " AND name IN {score_names:Array(String)}";
  }
  const where = source.where ? ` AND (${source.where})` : "";
  let signalExpr: string;
  if ("fixed" in source.signal) {
    params["signal"] = source.signal.fixed;
    signalExpr = "{signal:String}";
  } else {
    params["signal_prefix"] = source.signal.prefix;
    signalExpr = "concat({signal_prefix:String}, toString(s.name))";
  }
  const scored = `SELECT timestamp, trace_id, span_id, name, value, label
    FROM ${database}.scores FINAL
    WHERE timestamp >= ${ms("ref_from")} AND timestamp < ${ms("cur_to")}${names}${where}`;
  const callsWhere = `timestamp >= ${ms("calls_from")} AND timestamp < ${ms("cur_to")}`;
  const filter = filterSql(
    filters,
    { team: "g.team", model: "g.model", prompt_name: "g.prompt_name", prompt_version: "g.prompt_version" },
    params,
  );
  // The join's build side holds only calls that have a score in the windows.
  return `SELECT g.team AS team, g.model AS model, g.prompt_name AS prompt_name, g.prompt_version AS prompt_version,
    ${signalExpr} AS signal, toFloat64(${source.value}) AS v,
    toUInt8(s.timestamp >= ${ms("cur_from")}) AS w${category}
  FROM (${scored}) AS s
  LEFT ANY JOIN (
    SELECT trace_id, span_id, team, request_model AS model, prompt_name, prompt_version
    FROM ${database}.llm_calls
    WHERE ${callsWhere} AND (trace_id, span_id) IN (SELECT trace_id, span_id FROM (${scored}))
    UNION ALL
    SELECT trace_id, '' AS span_id, argMin(team, timestamp) AS team, argMin(request_model, timestamp) AS model,
      argMin(prompt_name, timestamp) AS prompt_name, argMin(prompt_version, timestamp) AS prompt_version
    FROM ${database}.llm_calls
    WHERE ${callsWhere} AND trace_id IN (SELECT trace_id FROM (${scored}) WHERE span_id = '')
    GROUP BY trace_id
  ) AS g ON s.trace_id = g.trace_id AND s.span_id = g.span_id
  WHERE 1${filter}`;
}

export interface NumericStatistics {
  psi: boolean;
  ks: boolean;
  welch: boolean;
}

/**
 * Per group: sample sizes, means, and the requested statistics.
 * - PSI over the reference deciles: each bin's share floored at `eps`, then
 *   sum((cur - ref) * ln(cur / ref)). Computed entirely here.
 * - two-sample Kolmogorov-Smirnov, two-sided, asymptotic p-value (exact is quadratic).
 * - Welch's t-test for a shift of the mean.
 * Groups with fewer than `min_n` observations in either window are left out.
 */
export function numericDriftSql(base: string, stats: NumericStatistics, params: Record<string, unknown>): string {
  const aggregates = [
    "countIf(w = 0) AS ref_n",
    "countIf(w = 1) AS cur_n",
    "avgIf(v, w = 0) AS ref_mean",
    "avgIf(v, w = 1) AS cur_mean",
  ];
  const outer = ["ref_n", "cur_n", "ref_mean", "cur_mean"];
  if (stats.ks) {
    aggregates.push("kolmogorovSmirnovTest('two-sided', 'asymp')(v, w) AS ks");
    outer.push("tupleElement(ks, 1) AS ks_d", "tupleElement(ks, 2) AS ks_p");
  }
  if (stats.welch) {
    aggregates.push("welchTTest(v, w) AS welch");
    outer.push("tupleElement(welch, 1) AS welch_t", "tupleElement(welch, 2) AS welch_p");
  }
  let from = "base";
  let cte = `WITH base AS (${base})`;
  if (stats.psi) {
    cte += `,
edges AS (
  SELECT ${KEYS}, arraySort(arrayDistinct(quantilesTDigest(${DECILES})(v))) AS edges
  FROM base WHERE w = 0 GROUP BY ${KEYS}
)`;
    from = `(SELECT ${KEYS}, v, w, arrayCount(e -> v > e, edges) AS bin FROM base INNER JOIN edges USING (${KEYS}))`;
    const onehot = `arrayMap(i -> toUInt64(bin = i), range(${BINS}))`;
    aggregates.push(`sumForEachIf(${onehot}, w = 0) AS ref_hist`, `sumForEachIf(${onehot}, w = 1) AS cur_hist`);
    params["eps"] = params["eps"] ?? 1e-4;
    const share = (count: string, n: string) => `greatest(${count} / ${n}, {eps:Float64})`;
    outer.push(
      `arraySum(arrayMap((r, c) -> (${share("c", "cur_n")} - ${share("r", "ref_n")}) * ln(${share("c", "cur_n")} / ${share("r", "ref_n")}), ref_hist, cur_hist)) AS psi`,
    );
  }
  return `${cte}
SELECT ${KEYS}, ${outer.join(", ")}
FROM (
  SELECT ${KEYS}, ${aggregates.join(", ")}
  FROM ${from}
  GROUP BY ${KEYS}
  HAVING ref_n >= {min_n:UInt64} AND cur_n >= {min_n:UInt64}
)
ORDER BY ${KEYS}`;
}

/** Per group and category: counts in each window, plus the group's totals (for the guard). */
export function categoricalDriftSql(base: string): string {
  return `SELECT ${KEYS}, cat AS category, ref_c, cur_c, ref_n, cur_n
FROM (
  SELECT ${KEYS}, cat, countIf(w = 0) AS ref_c, countIf(w = 1) AS cur_c,
    sum(ref_c) OVER (PARTITION BY ${KEYS}) AS ref_n, sum(cur_c) OVER (PARTITION BY ${KEYS}) AS cur_n
  FROM (${base})
  GROUP BY ${KEYS}, cat
)
WHERE ref_n >= {min_n:UInt64} AND cur_n >= {min_n:UInt64}
ORDER BY ${KEYS}, ref_c + cur_c DESC
LIMIT ${MAX_CATEGORIES} BY ${KEYS}`;
}

/** Categories kept per group; the rest are folded into one "(other)" bucket. */
export const MAX_CATEGORIES = 100;

/** Per (team, request model, response model): calls in each window. */
export function modelChangeSql(
  database: string,
  windows: WindowParams,
  filters: DriftFilters | undefined,
  params: Record<string, unknown>,
): string {
  params["ref_from"] = windows.refFrom;
  params["cur_from"] = windows.curFrom;
  params["cur_to"] = windows.curTo;
  const filter = filterSql(
    filters,
    { team: "team", model: "request_model", prompt_name: "prompt_name", prompt_version: "prompt_version" },
    params,
  );
  return `SELECT team, request_model AS model, response_model,
    countIf(timestamp < ${ms("cur_from")}) AS ref_c, countIf(timestamp >= ${ms("cur_from")}) AS cur_c
  FROM ${database}.llm_calls
  WHERE timestamp >= ${ms("ref_from")} AND timestamp < ${ms("cur_to")} AND response_model != ''${filter}
  GROUP BY team, model, response_model
  ORDER BY team, model, response_model`;
}
