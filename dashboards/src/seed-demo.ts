import type { LlmCallRow, ScoreRow, SpanRow } from "../../collector/src/storage/rows.js";

/**
 * Deterministic demo data written straight into ClickHouse: a few thousand model calls of four
 * teams over several days, their spans and their eval scores, shaped so every dashboard panel has
 * something to show —
 *
 * - several providers and models, one self-hosted model with no catalog price (unpriced spend);
 * - streamed and non-streamed calls, SDK, proxy and plain-OTLP sources, proxy cache hits;
 * - prompt-cache reads (and Anthropic cache writes), reasoning tokens, estimated token counts;
 * - errors of several types and HTTP statuses, a rate-limit burst, cancelled streams;
 * - a heavy-spending team (a budget nearing its limit) and a quality drift episode: in the last
 *   three days the support chatbot's answers get longer, more often truncated, and score lower.
 *
 * The same seed and end time always produce the same rows. Costs come from the injected pricer
 * (the collector's price book in tests), so spend and prompt-cache savings match real pricing.
 */

export interface RowInserter {
  insert(params: { table: string; values: readonly object[]; format: "JSONEachRow" }): Promise<unknown>;
}

export interface PricedCall {
  provider: string;
  request_model: string;
  response_model: string;
  timestampUs: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
}

export type DemoPricer = (call: PricedCall) => { cost_usd: string | null; priced: number; price_id: string };

export interface SeedOptions {
  /** Database holding the tokenmeter tables (created by the collector's migrate()). */
  database: string;
  /** Newest call time; data covers the `days` before it. */
  end: Date;
  days?: number;
  /** Mean number of user requests (traces) per day; each makes 1-3 model calls. */
  tracesPerDay?: number;
  seed?: number;
  price: DemoPricer;
}

export interface SeedResult {
  from: Date;
  to: Date;
  calls: number;
  spans: number;
  scores: number;
}

interface ModelProfile {
  provider: string;
  model: string;
  response: string;
  latencyMs: number;
  ttftMs: number;
  outputMean: number;
  /** Share of input tokens read from the provider's prompt cache, when caching kicks in. */
  cacheRead: number;
  /** Anthropic-style explicit cache writes. */
  cacheWrites: boolean;
  reasoning: boolean;
  errorRate: number;
}

const MODELS: Readonly<Record<string, ModelProfile>> = {
  "gpt-5.4": {
    provider: "openai",
    model: "gpt-5.4",
    response: "gpt-5.4",
    latencyMs: 2600,
    ttftMs: 480,
    outputMean: 650,
    cacheRead: 0.45,
    cacheWrites: false,
    reasoning: true,
    errorRate: 0.02,
  },
  "gpt-5.4-mini": {
    provider: "openai",
    model: "gpt-5.4-mini",
    response: "gpt-5.4-mini",
    latencyMs: 950,
    ttftMs: 230,
    outputMean: 300,
    cacheRead: 0.3,
    cacheWrites: false,
    reasoning: false,
    errorRate: 0.015,
  },
  "claude-sonnet-4-6": {
    provider: "anthropic",
    model: "claude-sonnet-4-6",
    response: "claude-sonnet-4-6",
    latencyMs: 3100,
    ttftMs: 620,
    outputMean: 700,
    cacheRead: 0.55,
    cacheWrites: true,
    reasoning: false,
    errorRate: 0.025,
  },
  "claude-haiku-4-5": {
    provider: "anthropic",
    model: "claude-haiku-4-5",
    response: "claude-haiku-4-5",
    latencyMs: 1100,
    ttftMs: 300,
    outputMean: 320,
    cacheRead: 0.4,
    cacheWrites: true,
    reasoning: false,
    errorRate: 0.02,
  },
  "gemini-2.5-flash": {
    provider: "gcp.gemini",
    model: "gemini-2.5-flash",
    response: "gemini-2.5-flash",
    latencyMs: 820,
    ttftMs: 260,
    outputMean: 280,
    cacheRead: 0.2,
    cacheWrites: false,
    reasoning: false,
    errorRate: 0.015,
  },
  // Self-hosted behind an OpenAI-compatible server: no catalog price, so its spend is unknown.
  "acme-support-llama-8b": {
    provider: "vllm",
    model: "acme-support-llama-8b",
    response: "acme-support-llama-8b",
    latencyMs: 700,
    ttftMs: 110,
    outputMean: 260,
    cacheRead: 0,
    cacheWrites: false,
    reasoning: false,
    errorRate: 0.04,
  },
};

interface TeamProfile {
  team: string;
  service: string;
  projects: string[];
  /** Relative share of traffic. */
  weight: number;
  /** Model name -> relative share within the team. */
  models: Record<string, number>;
  /** Model calls per trace (agent steps), inclusive range. */
  steps: [number, number];
  inputMean: number;
}

const TEAMS: readonly TeamProfile[] = [
  {
    team: "search",
    service: "search-api",
    projects: ["ranking", "query-rewrite"],
    weight: 3,
    models: { "gpt-5.4-mini": 6, "gemini-2.5-flash": 4 },
    steps: [1, 1],
    inputMean: 1200,
  },
  {
    team: "support",
    service: "support-bot",
    projects: ["chatbot", "ticket-triage"],
    weight: 4,
    models: { "claude-haiku-4-5": 5, "claude-sonnet-4-6": 2, "acme-support-llama-8b": 3 },
    steps: [1, 3],
    inputMean: 2600,
  },
  {
    // The heavy spender: long prompts to the largest models, close to its monthly budget.
    team: "growth",
    service: "growth-jobs",
    projects: ["email-writer"],
    weight: 2,
    models: { "gpt-5.4": 7, "claude-sonnet-4-6": 3 },
    steps: [1, 2],
    inputMean: 5200,
  },
  {
    team: "platform",
    service: "platform-evals",
    projects: ["eval-harness"],
    weight: 1,
    models: { "gpt-5.4": 1, "gpt-5.4-mini": 1, "claude-haiku-4-5": 1, "gemini-2.5-flash": 1 },
    steps: [1, 2],
    inputMean: 1800,
  },
];

const ERRORS = [
  { error_type: "RateLimitError", http_status: 429, weight: 4 },
  { error_type: "InternalServerError", http_status: 500, weight: 2 },
  { error_type: "APITimeoutError", http_status: 0, weight: 2 },
  { error_type: "BadRequestError", http_status: 400, weight: 1 },
  { error_type: "ServiceUnavailableError", http_status: 503, weight: 1 },
] as const;

/** Relative traffic by UTC hour: a working-day curve. */
const HOURLY = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 9, 10, 10, 9, 7, 5, 4, 3, 2, 2, 1];

const DAY_MS = 86_400_000;

/** mulberry32: small, fast, and the same sequence on every platform. */
function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  const chance = (p: number): boolean => next() < p;
  /** Log-normal around `median`: latency and token counts have long right tails. */
  const around = (median: number, spread = 0.5): number => {
    const u = Math.max(next(), 1e-9);
    const v = next();
    const gaussian = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return median * Math.exp(spread * gaussian);
  };
  const weighted = <T>(items: readonly T[], weight: (item: T) => number): T => {
    const total = items.reduce((sum, item) => sum + weight(item), 0);
    let pick = next() * total;
    for (const item of items) {
      pick -= weight(item);
      if (pick <= 0) return item;
    }
    return items[items.length - 1] as T;
  };
  const hex = (chars: number): string => {
    let out = "";
    while (out.length < chars)
      out += Math.floor(next() * 0x1_0000_0000)
        .toString(16)
        .padStart(8, "0");
    return out.slice(0, chars);
  };
  return { next, int, chance, around, weighted, hex };
}

type Random = ReturnType<typeof createRandom>;

const QUESTIONS = [
  "How do I reset my password?",
  "Summarize this support ticket for the on-call engineer.",
  "Rewrite the search query for better recall.",
  "Draft a follow-up email to a trial user.",
  "Which plan includes SSO?",
  "Classify the sentiment of this review.",
];

function messages(role: "user" | "assistant", text: string): string {
  return JSON.stringify([{ role, parts: [{ type: "text", content: text }] }]);
}

interface CallPlan {
  start: number;
  team: TeamProfile;
  project: string;
  environment: string;
  userId: string;
  sessionId: string;
  traceId: string;
  parentSpanId: string;
  profile: ModelProfile;
  source: LlmCallRow["source"];
  drifting: boolean;
  rateLimitBurst: boolean;
}

function buildCall(rng: Random, plan: CallPlan, price: DemoPricer): { call: LlmCallRow; span: SpanRow } {
  const { profile, team } = plan;
  const spanId = rng.hex(16);
  const streamed = plan.source !== "otlp" && rng.chance(0.55);
  const cacheHit = plan.source === "proxy" && rng.chance(0.06);
  const errorChance = plan.rateLimitBurst ? 0.25 : profile.errorRate;
  const failure = !cacheHit && rng.chance(errorChance) ? rng.weighted(ERRORS, (e) => e.weight) : undefined;
  const error = plan.rateLimitBurst && failure ? ERRORS[0] : failure;
  const cancelled = !error && streamed && rng.chance(0.012);
  const status: LlmCallRow["status"] = error ? "error" : cancelled ? "cancelled" : "ok";

  let input = Math.round(rng.around(team.inputMean, 0.6)) + 20;
  let output = error ? 0 : Math.round(rng.around(profile.outputMean * (plan.drifting ? 1.6 : 1), 0.55)) + 5;
  if (cancelled) output = Math.round(output * rng.next());
  const cached = !error && profile.cacheRead > 0 && rng.chance(0.6);
  const cacheRead = cached ? Math.round(input * profile.cacheRead * rng.around(1, 0.2)) : 0;
  const cacheWrite = !error && profile.cacheWrites && rng.chance(0.15) ? Math.round(input * 0.3) : 0;
  input = Math.max(input, cacheRead + cacheWrite);
  const reasoning = profile.reasoning && output > 0 ? Math.round(output * rng.next() * 0.4) : 0;
  // Usage missing (some providers omit it on errors and cancelled streams): counts were estimated.
  const estimated = error !== undefined || cancelled || rng.chance(0.02);

  let durationMs = cacheHit ? rng.around(35, 0.3) : rng.around(profile.latencyMs * (1 + output / 2000), 0.45);
  if (plan.source === "proxy" && !cacheHit) durationMs += rng.around(4, 0.3);
  if (error?.error_type === "APITimeoutError") durationMs = 30_000 + rng.around(200, 0.5);
  else if (error) durationMs = rng.around(250, 0.6);
  const ttftMs = streamed && !error ? Math.min(durationMs, rng.around(profile.ttftMs, 0.4)) : null;

  const timestampUs = plan.start * 1000 + rng.int(0, 999);
  const priced = price({
    provider: profile.provider,
    request_model: profile.model,
    response_model: profile.response,
    timestampUs,
    input_tokens: input,
    output_tokens: output,
    cache_read_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
    reasoning_tokens: reasoning,
  });
  const finish = error
    ? ""
    : cancelled
      ? ""
      : rng.chance(plan.drifting ? 0.25 : 0.06)
        ? "length"
        : rng.chance(0.08)
          ? "tool_calls"
          : "stop";
  const question = QUESTIONS[rng.int(0, QUESTIONS.length - 1)] ?? "";
  const reportedCost = profile.provider === "vllm" && rng.chance(0.5) ? (input * 0.0000002).toFixed(9) : null;

  const call: LlmCallRow = {
    timestamp: timestampUs,
    trace_id: plan.traceId,
    span_id: spanId,
    parent_span_id: plan.parentSpanId,
    service: team.service,
    environment: plan.environment,
    team: team.team,
    project: plan.project,
    user_id: plan.userId,
    session_id: plan.sessionId,
    feature: plan.project,
    source: plan.source,
    convention: plan.source === "otlp" ? "openllmetry" : "otel_genai",
    provider: profile.provider,
    operation: "chat",
    request_model: profile.model,
    response_model: error ? "" : profile.response,
    response_id: error ? "" : `resp_${rng.hex(12)}`,
    prompt_name: plan.project,
    prompt_version: plan.drifting ? "v8" : "v7",
    input_tokens: input,
    output_tokens: output,
    cache_read_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
    reasoning_tokens: reasoning,
    tokens_estimated: estimated ? 1 : 0,
    cost_usd: priced.cost_usd,
    list_cost_usd: priced.cost_usd,
    reported_cost_usd: reportedCost,
    priced: priced.priced,
    price_id: priced.price_id,
    duration_ms: Math.round(durationMs * 1000) / 1000,
    ttft_ms: ttftMs === null ? null : Math.round(ttftMs * 1000) / 1000,
    streamed: streamed ? 1 : 0,
    status,
    error_type: error?.error_type ?? (cancelled ? "AbortError" : ""),
    finish_reason: finish,
    http_status: error ? error.http_status : 200,
    request_params: JSON.stringify({ temperature: 0.2, max_tokens: 1024, stream: streamed }),
    input: messages("user", question),
    output: error ? "[]" : messages("assistant", `Here is what I found about: ${question.toLowerCase()}`),
    redacted: 0,
    cache_hit: cacheHit ? 1 : 0,
    tags: { experiment: rng.chance(0.5) ? "a" : "b" },
  };
  const endUs = timestampUs + Math.round(durationMs * 1000);
  const span: SpanRow = {
    timestamp: timestampUs,
    end_timestamp: endUs,
    trace_id: plan.traceId,
    span_id: spanId,
    parent_span_id: plan.parentSpanId,
    name: `chat ${profile.model}`,
    kind: 3,
    service: team.service,
    scope_name: plan.source === "proxy" ? "tokenmeter-proxy" : "@tokenmeter/sdk",
    status_code: error ? 2 : 0,
    status_message: error?.error_type ?? "",
    duration_ms: call.duration_ms,
    convention: call.convention,
    operation: "chat",
    is_llm_call: 1,
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": profile.provider,
      "gen_ai.request.model": profile.model,
      "gen_ai.usage.input_tokens": String(input),
      "gen_ai.usage.output_tokens": String(output),
    },
    content_attributes: {},
    resource_attributes: { "service.name": team.service, "deployment.environment.name": plan.environment },
    events: "[]",
  };
  return { call, span };
}

function scoresFor(rng: Random, call: LlmCallRow, drifting: boolean): ScoreRow[] {
  const out: ScoreRow[] = [];
  const at = call.timestamp + Math.round(rng.around(30, 1.5) * 1_000_000);
  const score = (name: string, value: number | null, label: string, source: string, dataType: ScoreRow["data_type"]) =>
    out.push({
      timestamp: at + out.length,
      score_id: rng.hex(16),
      trace_id: call.trace_id,
      span_id: call.span_id,
      name,
      value,
      label,
      source,
      comment: "",
      data_type: dataType,
    });
  if (call.status !== "ok") return out;
  const clamp = (x: number) => Math.min(1, Math.max(0, x));
  const base = drifting ? 0.56 : 0.83;
  if (rng.chance(0.6)) score("helpfulness", clamp(base + (rng.next() - 0.5) * 0.3), "", "evaluator", "numeric");
  if (rng.chance(0.35)) score("faithfulness", clamp(0.9 + (rng.next() - 0.6) * 0.2), "", "evaluator", "numeric");
  if (rng.chance(0.5)) score("toxicity", clamp(rng.around(0.02, 0.8)), "", "evaluator", "numeric");
  if (rng.chance(0.12)) {
    const down = rng.chance(drifting ? 0.45 : 0.12);
    score("user_feedback", down ? 0 : 1, down ? "down" : "up", "sdk", "categorical");
  }
  return out;
}

async function insertAll(client: RowInserter, table: string, rows: readonly object[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 2000) {
    await client.insert({ table, values: rows.slice(i, i + 2000), format: "JSONEachRow" });
  }
}

export async function seedDemoData(client: RowInserter, options: SeedOptions): Promise<SeedResult> {
  const rng = createRandom(options.seed ?? 20_260_915);
  const days = options.days ?? 14;
  const tracesPerDay = options.tracesPerDay ?? 220;
  const endMs = options.end.getTime();
  const startMs = endMs - days * DAY_MS;
  const driftFromMs = endMs - 3 * DAY_MS;
  // One afternoon of provider rate limiting on Anthropic, a week before the end.
  const burstFromMs = endMs - 7 * DAY_MS + 14 * 3_600_000;
  const burstToMs = burstFromMs + 2 * 3_600_000;
  const users = Array.from({ length: 60 }, (_, i) => `user-${String(i + 1).padStart(3, "0")}`);

  const calls: LlmCallRow[] = [];
  const spans: SpanRow[] = [];
  const scores: ScoreRow[] = [];
  const hourTotal = HOURLY.reduce((a, b) => a + b, 0);

  for (let day = 0; day < days; day++) {
    const dayStart = startMs + day * DAY_MS;
    const weekday = new Date(dayStart).getUTCDay();
    const volume = Math.round(tracesPerDay * (weekday === 0 || weekday === 6 ? 0.45 : 1) * rng.around(1, 0.1));
    for (let t = 0; t < volume; t++) {
      const hour = rng.weighted(
        HOURLY.map((w, h) => ({ w, h })),
        (x) => x.w / hourTotal,
      ).h;
      const traceStart = dayStart + hour * 3_600_000 + rng.int(0, 3_599_999);
      if (traceStart > endMs) continue;
      const team = rng.weighted(TEAMS, (x) => x.weight);
      const project = team.projects[rng.int(0, team.projects.length - 1)] ?? "";
      const environment = rng.chance(0.85) ? "production" : "staging";
      const modelName = rng.weighted(Object.keys(team.models), (m) => team.models[m] ?? 0);
      const profile = MODELS[modelName];
      if (profile === undefined) continue;
      const source = rng.weighted(["sdk", "proxy", "otlp"] as const, (s) =>
        s === "sdk" ? 55 : s === "proxy" ? 38 : 7,
      );
      const traceId = rng.hex(32);
      const rootSpanId = rng.hex(16);
      const drifting = team.team === "support" && project === "chatbot" && traceStart >= driftFromMs;
      const rateLimitBurst = profile.provider === "anthropic" && traceStart >= burstFromMs && traceStart < burstToMs;
      const userId = users[rng.int(0, users.length - 1)] ?? "";
      const plan: CallPlan = {
        start: traceStart,
        team,
        project,
        environment,
        userId,
        sessionId: `sess-${userId}-${Math.floor(traceStart / 3_600_000)}`,
        traceId,
        parentSpanId: rootSpanId,
        profile,
        source,
        drifting,
        rateLimitBurst,
      };

      const steps = rng.int(team.steps[0], team.steps[1]);
      let cursor = traceStart + rng.int(2, 20);
      for (let s = 0; s < steps; s++) {
        const { call, span } = buildCall(rng, { ...plan, start: cursor }, options.price);
        calls.push(call);
        spans.push(span);
        scores.push(...scoresFor(rng, call, drifting));
        cursor = Math.ceil(span.end_timestamp / 1000) + rng.int(5, 200);
        if (steps > 1 && s < steps - 1) {
          // An agent step between model calls: a tool or retrieval.
          const toolMs = rng.around(120, 0.6);
          spans.push({
            timestamp: cursor * 1000,
            end_timestamp: Math.round((cursor + toolMs) * 1000),
            trace_id: traceId,
            span_id: rng.hex(16),
            parent_span_id: rootSpanId,
            name: rng.chance(0.5) ? "tool search_knowledge_base" : "retrieve documents",
            kind: 1,
            service: team.service,
            scope_name: "app",
            status_code: 0,
            status_message: "",
            duration_ms: Math.round(toolMs * 1000) / 1000,
            convention: "",
            operation: "execute_tool",
            is_llm_call: 0,
            attributes: { "gen_ai.tool.name": "search_knowledge_base" },
            content_attributes: {},
            resource_attributes: { "service.name": team.service },
            events: "[]",
          });
          cursor += Math.ceil(toolMs) + rng.int(1, 20);
        }
      }
      const endUs = cursor * 1000;
      spans.push({
        timestamp: traceStart * 1000,
        end_timestamp: endUs,
        trace_id: traceId,
        span_id: rootSpanId,
        parent_span_id: "",
        name: `POST /${project}`,
        kind: 2,
        service: team.service,
        scope_name: "http",
        status_code: 0,
        status_message: "",
        duration_ms: (endUs - traceStart * 1000) / 1000,
        convention: "",
        operation: "",
        is_llm_call: 0,
        attributes: { "http.request.method": "POST", "http.route": `/${project}` },
        content_attributes: {},
        resource_attributes: { "service.name": team.service, "deployment.environment.name": environment },
        events: "[]",
      });
    }
  }

  const db = options.database;
  await insertAll(client, `${db}.llm_calls`, calls);
  await insertAll(client, `${db}.spans`, spans);
  await insertAll(client, `${db}.scores`, scores);
  return {
    from: new Date(startMs),
    to: new Date(endMs),
    calls: calls.length,
    spans: spans.length,
    scores: scores.length,
  };
}
