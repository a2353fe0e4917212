import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CallSummary } from "../ingest/process-batch.js";
import { WRITTEN_TABLES } from "../storage/row-format.js";
import { type CounterSlot, FastCounter, FastHistogram, type HistogramSlot } from "./fast-metrics.js";
import { LabelLimiter } from "./label-limiter.js";

// Bucket boundaries advised by the OTel GenAI metrics conventions, in seconds.
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

const CALL_LABELS = ["provider", "model", "team", "status", "source"] as const;

/**
 * Every metric tokenmeter exposes on /metrics, in its own registry (no global state, so tests
 * can build several collectors in one process). Labels are low-cardinality by construction:
 * provider, model and team pass through LabelLimiter; never user ids, prompts or trace ids.
 */
/**
 * Which build is running (set once at start by the collector and the standalone proxy), for
 * dashboards and alerts across a rollout.
 */
export function buildInfoGauge(registry: Registry): Gauge<"version" | "price_book" | "nodejs"> {
  return new Gauge({
    name: "tokenmeter_build_info",
    help: "Always 1; the labels name the running version, its price book and Node.js.",
    labelNames: ["version", "price_book", "nodejs"],
    registers: [registry],
  });
}

export function createCollectorMetrics(opts: { maxLabelValues: number; defaultMetrics?: boolean }) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "tokenmeter_" });
  const models = new LabelLimiter(opts.maxLabelValues);
  const teams = new LabelLimiter(opts.maxLabelValues);
  const providers = new LabelLimiter(opts.maxLabelValues);
  const errorTypes = new LabelLimiter(opts.maxLabelValues);

  const calls = new FastCounter(registry, "tokenmeter_llm_calls_total", "Model calls recorded.", CALL_LABELS);
  const tokens = new FastCounter(
    registry,
    "tokenmeter_llm_tokens_total",
    "Tokens used, by kind (input includes cached; output includes reasoning); proxy cache hits use none.",
    ["provider", "model", "team", "kind"],
  );
  const cost = new FastCounter(
    registry,
    "tokenmeter_llm_cost_usd_total",
    "Computed cost of priced calls in USD (proxy cache hits cost nothing and are left out).",
    ["provider", "model", "team"],
  );
  const unpriced = new FastCounter(
    registry,
    "tokenmeter_llm_unpriced_calls_total",
    "Calls that used tokens of a model with no price in the catalog (cost unknown, never counted as $0).",
    ["provider", "model", "team"],
  );
  const errors = new FastCounter(
    registry,
    "tokenmeter_llm_errors_total",
    "Model calls that ended in error, by error type.",
    ["provider", "model", "team", "error_type"],
  );
  const duration = new FastHistogram(
    registry,
    "tokenmeter_llm_call_duration_seconds",
    "Model call duration (gen_ai.client.operation.duration).",
    CALL_LABELS,
    DURATION_BUCKETS,
  );
  const ttft = new FastHistogram(
    registry,
    "tokenmeter_llm_time_to_first_token_seconds",
    "Time to first token of streamed calls.",
    ["provider", "model", "team", "source"],
    TTFT_BUCKETS,
  );
  const tokenUsage = new FastHistogram(
    registry,
    "tokenmeter_llm_token_usage",
    "Tokens per call (gen_ai.client.token.usage), by type input/output.",
    ["provider", "model", "type"],
    TOKEN_BUCKETS,
  );

  const pipeline = {
    spansReceived: new Counter({
      name: "tokenmeter_spans_received_total",
      help: "Spans received on /v1/traces (and log records on /v1/logs), by signal.",
      labelNames: ["signal"],
      registers: [registry],
    }),
    spansRejected: new Counter({
      name: "tokenmeter_spans_rejected_total",
      help: "Spans or requests rejected, by reason.",
      labelNames: ["signal", "reason"],
      registers: [registry],
    }),
    callsDeduplicated: new Counter({
      name: "tokenmeter_calls_deduplicated_across_batches_total",
      help: "Model-call spans not stored as calls because a call stored from an earlier batch already counts them (a wrapper span, a sibling instrumentation, a re-sent export).",
      registers: [registry],
    }),
    requests: new Counter({
      name: "tokenmeter_ingest_requests_total",
      help: "Ingest requests, by signal and HTTP status.",
      labelNames: ["signal", "code"],
      registers: [registry],
    }),
    batchRows: new Histogram({
      name: "tokenmeter_batch_rows",
      help: "Rows per ClickHouse insert.",
      labelNames: ["table"],
      buckets: [1, 10, 100, 1000, 5000, 10000, 20000, 50000],
      registers: [registry],
    }),
    insertSeconds: new Histogram({
      name: "tokenmeter_insert_duration_seconds",
      help: "ClickHouse insert latency.",
      labelNames: ["table"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    insertErrors: new Counter({
      name: "tokenmeter_insert_errors_total",
      help: "ClickHouse inserts that failed (their batch went to the spool).",
      labelNames: ["table"],
      registers: [registry],
    }),
    rowsRejected: new Counter({
      name: "tokenmeter_rows_rejected_total",
      help: "Rows of batches ClickHouse refused as invalid data, set aside in <spool dir>/rejected instead of retried.",
      labelNames: ["table"],
      registers: [registry],
    }),
    queueRows: new Gauge({
      name: "tokenmeter_queue_rows",
      help: "Rows waiting in memory for a ClickHouse insert.",
      registers: [registry],
    }),
    queueBytes: new Gauge({
      name: "tokenmeter_queue_bytes",
      help: "Bytes of row text waiting in memory for a ClickHouse insert (UTF-16 code units).",
      registers: [registry],
    }),
    spoolBytes: new Gauge({
      name: "tokenmeter_spool_bytes",
      help: "Bytes in the disk spool waiting for replay.",
      registers: [registry],
    }),
    spoolBatches: new Gauge({
      name: "tokenmeter_spool_batches",
      help: "Batches in the disk spool waiting for replay.",
      registers: [registry],
    }),
    rowsWritten: new Counter({
      name: "tokenmeter_rows_written_total",
      help: "Rows written to ClickHouse, by table.",
      labelNames: ["table"],
      registers: [registry],
    }),
    telemetryDropped: new Counter({
      name: "tokenmeter_telemetry_dropped_total",
      help: "Telemetry lost before reaching storage (bounded buffers full), by component.",
      labelNames: ["component"],
      registers: [registry],
    }),
  };

  // A labelled counter has no series until its first increment, so a one-off loss would be born
  // at N and increase() over it reads 0: TokenmeterTelemetryDropped and TokenmeterRowsRejected
  // would never fire. Where the label values are known up front, their series start at 0.
  pipeline.telemetryDropped.inc({ component: "batch_writer" }, 0);
  for (const table of WRITTEN_TABLES) {
    pipeline.insertErrors.inc({ table }, 0);
    pipeline.rowsRejected.inc({ table }, 0);
  }

  type TokenKind = "input" | "output" | "cache_read" | "cache_write" | "reasoning";
  /**
   * The series one (provider, model, team, status, source) tuple writes to, found with one
   * lookup per call instead of a key built and hashed per metric. Series are made on first use,
   * so /metrics lists exactly the ones a call has touched. Bounded like the labels themselves.
   */
  interface Series {
    provider: string;
    model: string;
    team: string;
    pmt: string;
    calls: CounterSlot;
    duration: HistogramSlot;
    ttft: HistogramSlot | undefined;
    tokens: Partial<Record<TokenKind, CounterSlot>>;
    usage: Partial<Record<"input" | "output", HistogramSlot>>;
    cost: CounterSlot | undefined;
    unpriced: CounterSlot | undefined;
  }
  const seriesByTuple = new Map<string, Series>();

  function seriesOf(row: CallSummary): Series {
    const provider = providers.value(row.provider);
    // The requested model names a call's series, as in llm_calls_hourly, the dashboards and the
    // alert engine: a failed call has no response model, so labelling successes with the dated
    // response model (gpt-4o-mini-2024-07-18) split one model's calls in two series and an
    // error ratio by model read 100% on the failures' series.
    const model = models.value(row.request_model || row.response_model);
    const team = teams.value(row.team);
    const pmt = `${provider}\u0000${model}\u0000${team}`;
    const callKey = `${pmt}\u0000${row.status}\u0000${row.source}`;
    let s = seriesByTuple.get(callKey);
    if (s === undefined) {
      const callLabels = [provider, model, team, row.status, row.source];
      s = {
        provider,
        model,
        team,
        pmt,
        calls: calls.slot(callKey, callLabels),
        duration: duration.slot(callKey, callLabels),
        ttft: undefined,
        tokens: {},
        usage: {},
        cost: undefined,
        unpriced: undefined,
      };
      seriesByTuple.set(callKey, s);
    }
    return s;
  }

  function addTokens(s: Series, kind: TokenKind, n: number): void {
    let slot = s.tokens[kind];
    if (slot === undefined) {
      slot = tokens.slot(`${s.pmt}\u0000${kind}`, [s.provider, s.model, s.team, kind]);
      s.tokens[kind] = slot;
    }
    slot.value += n;
  }

  function observeUsage(s: Series, type: "input" | "output", n: number): void {
    let slot = s.usage[type];
    if (slot === undefined) {
      slot = tokenUsage.slot(`${s.provider}\u0000${s.model}\u0000${type}`, [s.provider, s.model, type]);
      s.usage[type] = slot;
    }
    tokenUsage.observeSlot(slot, n);
  }

  /** Updates the call metrics for one stored call row. */
  function recordCall(row: CallSummary): void {
    const s = seriesOf(row);
    s.calls.value += 1;
    duration.observeSlot(s.duration, row.duration_ms / 1000);
    if (row.status === "error") {
      const errorType = errorTypes.value(row.error_type || "_OTHER");
      errors.inc(`${s.pmt}\u0000${errorType}`, [s.provider, s.model, s.team, errorType]);
    }
    if (row.ttft_ms !== null) {
      s.ttft ??= ttft.slot(`${s.pmt}\u0000${row.source}`, [s.provider, s.model, s.team, row.source]);
      ttft.observeSlot(s.ttft, row.ttft_ms / 1000);
    }
    // A proxy response-cache hit reached no provider: it used no tokens and cost nothing, as spend
    // and budgets count it. Its would-be cost is tokenmeter_proxy_cache_savings_usd_total.
    if (row.cache_hit === 1) return;
    if (row.input_tokens) {
      addTokens(s, "input", row.input_tokens);
      observeUsage(s, "input", row.input_tokens);
    }
    if (row.output_tokens) {
      addTokens(s, "output", row.output_tokens);
      observeUsage(s, "output", row.output_tokens);
    }
    if (row.cache_read_tokens) addTokens(s, "cache_read", row.cache_read_tokens);
    if (row.cache_write_tokens) addTokens(s, "cache_write", row.cache_write_tokens);
    if (row.reasoning_tokens) addTokens(s, "reasoning", row.reasoning_tokens);
    if (row.priced && row.cost_usd !== null) {
      s.cost ??= cost.slot(s.pmt, [s.provider, s.model, s.team]);
      s.cost.value += Number(row.cost_usd);
    } else if (row.input_tokens + row.output_tokens > 0) {
      // Only a call that used tokens has an unknown cost, as the engine's unpriced_spend rules
      // count them: a request the upstream refused (a 400, no model, no tokens) cost nothing.
      s.unpriced ??= unpriced.slot(s.pmt, [s.provider, s.model, s.team]);
      s.unpriced.value += 1;
    }
  }

  return { registry, recordCall, pipeline, buildInfo: buildInfoGauge(registry) };
}

export type CollectorMetrics = ReturnType<typeof createCollectorMetrics>;
