/**
 * Sends the planned history to the collector the way an instrumented fleet would: OpenTelemetry
 * spans with the GenAI semantic conventions (gen-ai-spans.md, gen-ai-agent-spans.md,
 * gen-ai-events.md for gen_ai.evaluation.result), exported as OTLP/HTTP protobuf to
 * `/v1/traces`, each span carrying its real start and end time in the past. Human feedback goes
 * to `POST /api/v1/scores` with its own past timestamp.
 *
 * Spans are made with the OpenTelemetry SDK's tracer (one provider per service and environment,
 * so each batch carries the right resource) and collected by a small processor that hands them
 * to the OTLP exporter in bounded chunks, waiting for each answer: memory stays flat and a
 * collector under backpressure slows the demo down instead of losing spans.
 */
import {
  type Attributes,
  type Context,
  type HrTime,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace as traceApi,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  type IdGenerator,
  type ReadableSpan,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { CollectorClient, ScoreBody } from "./collector-client.js";
import type { HistoryPlan, PlannedCall, PlannedTrace } from "./history-plan.js";
import type { Random } from "./random.js";

/** Spans per OTLP request: large enough to be cheap, small enough to stay far below body limits. */
const SPANS_PER_EXPORT = 2000;
const SCORES_PER_REQUEST = 500;
/** Scope of the history's spans: an OTel GenAI instrumentation, so the rows get source "otlp". */
const SCOPE = { name: "acme.genai-instrumentation", version: "1.4.0" };
// ExportResultCode.SUCCESS of @opentelemetry/core.
const EXPORT_SUCCESS = 0;

export type HistoryProgress = (sentTraces: number) => void;

export interface HistoryResult {
  traces: number;
  calls: number;
  spans: number;
  evaluations: number;
  feedback: number;
}

function hrTime(us: number): HrTime {
  const seconds = Math.floor(us / 1_000_000);
  return [seconds, (us - seconds * 1_000_000) * 1000];
}

/** Span ids from the demo's seeded stream, so a seed reproduces the same traces. */
function seededIds(rng: Random): IdGenerator {
  return {
    generateTraceId: () => rng.hex(32),
    generateSpanId: () => rng.hex(16),
  };
}

/** Collects ended spans; `drain` exports them in order and waits for the collector's answer. */
class ChunkingProcessor implements SpanProcessor {
  readonly #exporter: OTLPTraceExporter;
  #buffer: ReadableSpan[] = [];

  constructor(exporter: OTLPTraceExporter) {
    this.#exporter = exporter;
  }

  get pending(): number {
    return this.#buffer.length;
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    this.#buffer.push(span);
  }

  async drain(): Promise<void> {
    while (this.#buffer.length > 0) {
      const chunk = this.#buffer.splice(0, SPANS_PER_EXPORT);
      await new Promise<void>((resolve, reject) => {
        this.#exporter.export(chunk, (result) => {
          if (result.code === EXPORT_SUCCESS) resolve();
          else reject(result.error ?? new Error("OTLP export failed"));
        });
      });
    }
  }

  forceFlush(): Promise<void> {
    return this.drain();
  }

  async shutdown(): Promise<void> {
    await this.drain();
  }
}

function messages(role: string, text: string, finishReason?: string): string {
  const message: Record<string, unknown> = { role, parts: [{ type: "text", content: text }] };
  if (finishReason) message["finish_reason"] = finishReason;
  return JSON.stringify([message]);
}

function callAttributes(t: PlannedTrace, c: PlannedCall): Attributes {
  const p = c.profile;
  const a: Attributes = {
    "gen_ai.operation.name": p.operation,
    "gen_ai.provider.name": p.provider,
    "gen_ai.request.model": p.model,
    "server.address": p.serverAddress,
    "server.port": 443,
    "tokenmeter.team": t.team.team,
    "tokenmeter.project": t.workload.project,
    "tokenmeter.feature": t.workload.feature,
    "user.id": t.user,
    "gen_ai.conversation.id": t.session,
  };
  for (const [k, v] of Object.entries(t.tags)) a[`tokenmeter.tag.${k}`] = v;
  if (p.operation === "chat") {
    a["gen_ai.request.max_tokens"] = t.workload.maxTokens;
    a["gen_ai.request.temperature"] = t.workload.temperature;
    a["gen_ai.request.stream"] = c.streamed;
    a["gen_ai.prompt.name"] = t.workload.promptName;
    a["gen_ai.prompt.version"] = t.workload.promptVersion;
    a["gen_ai.system_instructions"] = JSON.stringify([{ type: "text", content: t.workload.system }]);
    a["gen_ai.input.messages"] = messages("user", c.question);
  } else {
    a["gen_ai.request.encoding_formats"] = ["float"];
  }
  if (c.failure !== undefined) {
    a["error.type"] = c.failure.errorType;
    if (c.failure.httpStatus > 0) a["http.response.status_code"] = c.failure.httpStatus;
    return a;
  }
  a["http.response.status_code"] = 200;
  a["gen_ai.response.model"] = c.responseModel;
  if (c.responseId) a["gen_ai.response.id"] = c.responseId;
  if (c.usage !== undefined) {
    a["gen_ai.usage.input_tokens"] = c.usage.input;
    a["gen_ai.usage.output_tokens"] = c.usage.output;
    if (c.usage.cacheRead > 0) a["gen_ai.usage.cache_read.input_tokens"] = c.usage.cacheRead;
    if (c.usage.cacheWrite > 0) a["gen_ai.usage.cache_write.input_tokens"] = c.usage.cacheWrite;
    if (c.usage.reasoning > 0) a["gen_ai.usage.reasoning.output_tokens"] = c.usage.reasoning;
  }
  if (c.ttftMs !== undefined) a["gen_ai.response.time_to_first_chunk"] = c.ttftMs / 1000;
  if (p.operation === "chat") {
    a["gen_ai.response.finish_reasons"] = [c.finishReason];
    if (c.toolCall !== undefined) {
      a["gen_ai.output.messages"] = JSON.stringify([
        {
          role: "assistant",
          parts: [
            {
              type: "tool_call",
              id: c.toolCall.id,
              name: c.toolCall.name,
              arguments: JSON.parse(c.toolCall.arguments),
            },
          ],
          finish_reason: c.finishReason,
        },
      ]);
    } else {
      a["gen_ai.output.messages"] = messages("assistant", c.answer, c.finishReason);
    }
  }
  return a;
}

function callSpan(tracer: Tracer, parent: Context, t: PlannedTrace, c: PlannedCall): Span {
  const name = `${c.profile.operation} ${c.profile.model}`;
  const span = tracer.startSpan(
    name,
    { kind: SpanKind.CLIENT, startTime: hrTime(c.startUs), attributes: callAttributes(t, c) },
    parent,
  );
  const endUs = c.startUs + c.durationUs;
  for (const e of c.evaluations) {
    // Evaluator results arrive after the answer; the span holds them (gen_ai.evaluation.result).
    span.addEvent(
      "gen_ai.evaluation.result",
      {
        "gen_ai.evaluation.name": e.name,
        "gen_ai.evaluation.score.value": e.value,
        "gen_ai.evaluation.score.label": e.name === "toxicity" ? (e.value > 0.5 ? "toxic" : "ok") : "",
      },
      hrTime(Math.max(endUs, e.atUs)),
    );
  }
  if (c.failure !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${c.failure.errorType}` });
  }
  span.end(hrTime(endUs));
  return span;
}

/** One trace: the app's request span, an agent span for agent runs, then its steps. */
function emitTrace(tracer: Tracer, t: PlannedTrace, onScore: (score: ScoreBody) => void): void {
  const interactive = !t.workload.route.startsWith("job ");
  const failed = t.steps.some((s) => s.kind === "call" && s.failure !== undefined);
  const root = tracer.startSpan(
    t.workload.route,
    {
      kind: interactive ? SpanKind.SERVER : SpanKind.INTERNAL,
      startTime: hrTime(t.startUs),
      attributes: {
        "tokenmeter.team": t.team.team,
        "tokenmeter.project": t.workload.project,
        "user.id": t.user,
        ...(interactive ? { "http.request.method": t.workload.route.split(" ")[0] ?? "POST" } : {}),
      },
    },
    ROOT_CONTEXT,
  );
  let parent = traceApi.setSpan(ROOT_CONTEXT, root);
  let agent: Span | undefined;
  if (t.agent !== undefined) {
    agent = tracer.startSpan(
      `invoke_agent ${t.agent}`,
      {
        kind: SpanKind.INTERNAL,
        startTime: hrTime(t.startUs + 1000),
        attributes: {
          "gen_ai.operation.name": "invoke_agent",
          "gen_ai.agent.name": t.agent,
          "gen_ai.provider.name": t.steps.find((s) => s.kind === "call")?.profile.provider ?? "",
          "gen_ai.conversation.id": t.session,
        },
      },
      parent,
    );
    parent = traceApi.setSpan(ROOT_CONTEXT, agent);
  }
  const callSpans = new Map<number, Span>();
  t.steps.forEach((step, i) => {
    switch (step.kind) {
      case "call":
        callSpans.set(i, callSpan(tracer, parent, t, step));
        break;
      case "tool": {
        const span = tracer.startSpan(
          `execute_tool ${step.name}`,
          {
            kind: SpanKind.INTERNAL,
            startTime: hrTime(step.startUs),
            attributes: {
              "gen_ai.operation.name": "execute_tool",
              "gen_ai.tool.name": step.name,
              "gen_ai.tool.type": "function",
              "gen_ai.tool.call.id": step.callId,
            },
          },
          parent,
        );
        span.end(hrTime(step.startUs + step.durationUs));
        break;
      }
      case "retrieval": {
        const span = tracer.startSpan(
          "retrieval support-kb",
          {
            kind: SpanKind.CLIENT,
            startTime: hrTime(step.startUs),
            attributes: {
              "gen_ai.operation.name": "retrieval",
              "gen_ai.data_source.id": "kb-articles",
              "db.system.name": "qdrant",
              "db.operation.name": "search",
              "db.response.returned_rows": step.documents,
            },
          },
          parent,
        );
        span.end(hrTime(step.startUs + step.durationUs));
        break;
      }
    }
  });
  for (const f of t.feedback) {
    const span = callSpans.get(f.step);
    if (span === undefined) continue;
    const ids = span.spanContext();
    onScore({
      id: f.id,
      trace_id: ids.traceId,
      span_id: ids.spanId,
      name: f.name,
      value: f.value,
      label: f.label,
      comment: f.comment || undefined,
      source: f.source,
      timestamp: Math.floor(f.atUs / 1000),
    });
  }
  if (failed) {
    agent?.setStatus({ code: SpanStatusCode.ERROR });
    root.setStatus({ code: SpanStatusCode.ERROR });
  }
  agent?.end(hrTime(t.endUs - 1000));
  root.end(hrTime(t.endUs));
}

export interface SendHistoryOptions {
  plan: HistoryPlan;
  client: CollectorClient;
  /** Seeded stream for trace and span ids. */
  ids: Random;
  onProgress?: HistoryProgress;
  signal?: AbortSignal;
}

/** Sends the plan's spans and feedback; resolves once the collector has accepted all of it. */
export async function sendHistory(options: SendHistoryOptions): Promise<HistoryResult> {
  const { plan, client } = options;
  const exporter = new OTLPTraceExporter({
    url: `${client.baseUrl}/v1/traces`,
    headers: client.ingestHeaders(),
    timeoutMillis: 60_000,
  });
  const processor = new ChunkingProcessor(exporter);
  const idGenerator = seededIds(options.ids);
  const tracers = new Map<string, Tracer>();
  const tracerFor = (t: PlannedTrace): Tracer => {
    const key = `${t.team.service}\u0000${t.environment}`;
    let tracer = tracers.get(key);
    if (tracer === undefined) {
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({
          "service.name": t.team.service,
          "service.namespace": "acme",
          "deployment.environment.name": t.environment,
        }),
        idGenerator,
        spanProcessors: [processor],
      });
      tracer = provider.getTracer(SCOPE.name, SCOPE.version);
      tracers.set(key, tracer);
    }
    return tracer;
  };

  let scores: ScoreBody[] = [];
  let calls = 0;
  let spans = 0;
  let evaluations = 0;
  let feedback = 0;
  const flushScores = async (all: boolean) => {
    while (scores.length >= (all ? 1 : SCORES_PER_REQUEST)) {
      const batch = scores.slice(0, SCORES_PER_REQUEST);
      scores = scores.slice(batch.length);
      await client.postScores(batch);
      feedback += batch.length;
    }
  };

  try {
    let sent = 0;
    for (const t of plan.traces) {
      if (options.signal?.aborted) break;
      emitTrace(tracerFor(t), t, (s) => scores.push(s));
      for (const s of t.steps) {
        if (s.kind !== "call") continue;
        calls++;
        evaluations += s.evaluations.length;
      }
      spans += 1 + (t.agent === undefined ? 0 : 1) + t.steps.length;
      sent++;
      if (processor.pending >= SPANS_PER_EXPORT) {
        await processor.drain();
        await flushScores(false);
        options.onProgress?.(sent);
      }
    }
    await processor.drain();
    await flushScores(true);
    options.onProgress?.(sent);
    return { traces: sent, calls, spans, evaluations, feedback };
  } finally {
    await exporter.shutdown().catch(() => undefined);
  }
}
