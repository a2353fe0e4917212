/**
 * Live demo traffic, now, against the built-in fake provider, by the two paths an app uses:
 *
 * - SDK: the official `openai` and `@anthropic-ai/sdk` clients wrapped by `observeOpenAI` /
 *   `observeAnthropic`, talking to the fake provider directly; `withAttributes` says who the
 *   request is for; app and agent spans around the calls; scores with `recordScore`.
 * - proxy: the same official clients, not instrumented, with their base URL at the proxy's demo
 *   routes (`/demo-openai/v1`, `/demo-anthropic`) and attribution in `x-tokenmeter-*` headers.
 *
 * Requests arrive as a Poisson process at `rate` per second. The fake provider is told how to
 * behave per request (reply length, latency, streaming pace, the odd error or timeout) through
 * its `x-fake-*` headers, which the SDK and the proxy pass through untouched.
 */
import { setTimeout as sleep } from "node:timers/promises";
import Anthropic from "@anthropic-ai/sdk";
import { type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import {
  type Attribution,
  init,
  observeAnthropic,
  observeOpenAI,
  recordScore,
  type TokenmeterHandle,
  withAttributes,
} from "@tokenmeter/sdk";
import OpenAI from "openai";
import type { CollectorClient } from "./collector-client.js";
import { PROXY_ANTHROPIC_ROUTE, PROXY_OPENAI_ROUTE } from "./demo-upstream.js";
import { tagsOf, userOf } from "./history-plan.js";
import { systemPrompt, userPrompt } from "./prompts.js";
import { createRandom, type Random } from "./random.js";
import { DRIFT, MODELS, type ModelName, TEAMS, type Team, type Workload } from "./world.js";

/** Requests in flight at most; beyond it the scheduler skips arrivals instead of queueing them. */
const MAX_IN_FLIGHT = 200;
const ERROR_SHARE = 0.025;
const TIMEOUT_SHARE = 0.006;
/** Client timeout of the requests chosen to time out; the fake holds them longer. */
const CLIENT_TIMEOUT_MS = 1500;
const MAX_ANSWER_MS = 6000;

export type LivePath = "sdk" | "proxy";

export interface PathStats {
  requests: number;
  calls: number;
  errors: number;
  streamed: number;
}

export interface LiveStats {
  sdk: PathStats;
  proxy: PathStats;
  scores: number;
}

export interface LiveOptions {
  seed: number;
  durationMs: number;
  /** Requests per second (each makes one or more model calls). */
  rate: number;
  /** Stop after this many requests, even before `durationMs`. */
  maxRequests?: number | undefined;
  collector: CollectorClient;
  /** The fake provider's base URL (`http://127.0.0.1:18080`). */
  fakeUrl: string;
  /** The proxy's base URL when proxy traffic is on. */
  proxyUrl?: string | undefined;
  environment?: string;
  onProgress?: (requests: number, stats: LiveStats) => void;
  signal?: AbortSignal | undefined;
}

export interface LiveResult extends LiveStats {
  durationMs: number;
}

interface RequestControls {
  headers: Record<string, string>;
  timeout?: number;
}

interface Who {
  team: Team;
  workload: Workload;
  user: string;
  session: string;
  tags: Record<string, string>;
}

interface Clients {
  openai: OpenAI;
  anthropic: Anthropic;
  gemini: OpenAI;
  selfHosted: OpenAI;
}

interface Ctx {
  rng: Random;
  path: LivePath;
  stats: PathStats;
  who: Who;
  clients: Clients;
  tracer: Tracer;
  collector: CollectorClient;
  scored: () => void;
}

const newStats = (): PathStats => ({ requests: 0, calls: 0, errors: 0, streamed: 0 });

function teamNamed(name: string): Team {
  const team = TEAMS.find((t) => t.team === name);
  if (team === undefined) throw new Error(`unknown demo team ${name}`);
  return team;
}

function workloadOf(team: Team, project: string): Workload {
  const w = team.workloads.find((x) => x.project === project);
  if (w === undefined) throw new Error(`unknown demo project ${team.team}/${project}`);
  return w;
}

function whoFor(rng: Random, teamName: string, project: string): Who {
  const team = teamNamed(teamName);
  const workload = workloadOf(team, project);
  const user = userOf(rng, team);
  return { team, workload, user, session: `${user}.live.${rng.int(1, 3)}`, tags: tagsOf(rng, team, workload) };
}

/** The attribution headers the proxy reads (and strips before forwarding). */
function attributionHeaders(who: Who): Record<string, string> {
  return {
    "x-tokenmeter-team": who.team.team,
    "x-tokenmeter-project": who.workload.project,
    "x-tokenmeter-feature": who.workload.feature,
    "x-tokenmeter-user": who.user,
    "x-tokenmeter-session": who.session,
    "x-tokenmeter-tags": Object.entries(who.tags)
      .map(([k, v]) => `${k}=${v}`)
      .join(","),
  };
}

/**
 * How the fake provider should answer one call: reply length, latency before the first byte,
 * pace of streamed words, and now and then an error or a hang the client gives up on.
 */
function controls(ctx: Ctx, model: ModelName, words: number, streamed: boolean): RequestControls {
  const { rng } = ctx;
  const profile = MODELS[model];
  const ttft = Math.round(rng.around(profile.ttftMs, 0.35));
  const headers: Record<string, string> = { "x-fake-reply-words": String(Math.max(1, Math.round(words))) };
  if (streamed) {
    headers["x-fake-delay-ms"] = String(ttft);
    // Paced like the model, but no answer takes longer than MAX_ANSWER_MS: the demo's end waits for them.
    const pace = Math.min(profile.msPerToken * rng.around(1, 0.2), MAX_ANSWER_MS / Math.max(1, words));
    headers["x-fake-chunk-delay-ms"] = String(Math.max(1, Math.round(pace)));
  } else {
    headers["x-fake-delay-ms"] = String(Math.min(MAX_ANSWER_MS, ttft + Math.round(words * profile.msPerToken)));
  }
  if (ctx.path === "proxy") Object.assign(headers, attributionHeaders(ctx.who));
  const roll = rng.next();
  if (roll < TIMEOUT_SHARE) {
    headers["x-fake-delay-ms"] = String(CLIENT_TIMEOUT_MS * 4);
    return { headers, timeout: CLIENT_TIMEOUT_MS };
  }
  if (roll < TIMEOUT_SHARE + ERROR_SHARE) {
    const choices =
      profile.provider === "anthropic"
        ? ["overloaded", "rate_limit", "server_error"]
        : ["rate_limit", "rate_limit", "server_error"];
    headers["x-fake-scenario"] = rng.pick(choices);
  }
  return { headers };
}

/** Runs one model call, counting it; a failed call resolves to undefined (the app carries on). */
async function modelCall<T>(ctx: Ctx, streamed: boolean, run: () => Promise<T>): Promise<T | undefined> {
  ctx.stats.calls++;
  if (streamed) ctx.stats.streamed++;
  try {
    return await run();
  } catch {
    ctx.stats.errors++;
    return undefined;
  }
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _event of stream) {
    // Read to the end, as an app rendering the answer would.
  }
}

/** Reply length: long-tailed around the workload's typical answer, at most twice it. */
function outputWords(rng: Random, workload: Workload, factor = 1): number {
  const median = workload.outputTokens * factor;
  return Math.max(1, Math.round(Math.min(rng.around(median, 0.45), 2 * median)));
}

/** An app-side span around the request (SERVER for interactive routes, INTERNAL for jobs). */
async function inSpan<T>(
  tracer: Tracer,
  name: string,
  kind: SpanKind,
  attributes: Record<string, string>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

async function score(ctx: Ctx, name: string, value: number, label?: string): Promise<void> {
  const traceId = trace.getActiveSpan()?.spanContext().traceId;
  if (traceId === undefined) return;
  const result = await recordScore(
    { traceId, name, value: Math.round(value * 1000) / 1000, ...(label ? { label } : {}) },
    { headers: ctx.collector.apiHeaders() },
  );
  if (result.ok) ctx.scored();
}

// ---------------------------------------------------------------------------------------------
// Requests

type Scenario = (ctx: Ctx) => Promise<void>;

/** The workload's system prompt and one of its questions, as chat messages. */
function workloadMessages(ctx: Ctx) {
  const w = ctx.who.workload;
  return [
    { role: "system" as const, content: systemPrompt(w) },
    { role: "user" as const, content: userPrompt(ctx.rng, w, ctx.rng.pick(w.questions)) },
  ];
}

/** Support chat on Claude Haiku: streamed, drifting (longer answers, lower helpfulness). */
const supportChat: Scenario = async (ctx) => {
  const { rng, who } = ctx;
  const w = who.workload;
  const streamed = rng.chance(w.streamShare);
  const c = controls(ctx, DRIFT.model, outputWords(rng, w, DRIFT.outputFactor), streamed);
  const body = {
    model: DRIFT.model,
    max_tokens: w.maxTokens,
    system: [{ type: "text" as const, text: systemPrompt(w), cache_control: { type: "ephemeral" as const } }],
    messages: [{ role: "user" as const, content: userPrompt(rng, w, rng.pick(w.questions)) }],
  };
  const answered = await modelCall(ctx, streamed, async () => {
    if (streamed) await drain(await ctx.clients.anthropic.messages.create({ ...body, stream: true }, c));
    else await ctx.clients.anthropic.messages.create(body, c);
    return true;
  });
  if (answered && ctx.path === "sdk") {
    const helpfulness = Math.min(1, Math.max(0, 0.84 - DRIFT.scoreDrop + 0.09 * rng.normal()));
    await score(ctx, "helpfulness", helpfulness);
    if (rng.chance(w.feedbackShare)) {
      const down = rng.chance(1.15 - helpfulness);
      await score(ctx, "user_feedback", down ? 0 : 1, down ? "down" : "up");
    }
  }
};

/** The refund agent on Claude Sonnet: a tool round trip inside an invoke_agent span. */
const refundAgent: Scenario = async (ctx) => {
  const { rng, who, tracer } = ctx;
  const w = who.workload;
  const tools = (w.tools ?? ["lookup_order"]).map((name) => ({
    name,
    description: `${name.replaceAll("_", " ")} for a customer order`,
    input_schema: {
      type: "object" as const,
      properties: { order_id: { type: "string" } },
      required: ["order_id"],
    },
  }));
  const model: ModelName = "claude-sonnet-4-6";
  const system = systemPrompt(w);
  const question = userPrompt(rng, w, rng.pick(w.questions));
  await inSpan(
    tracer,
    `invoke_agent ${w.feature}`,
    SpanKind.INTERNAL,
    { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": w.feature, "gen_ai.provider.name": "anthropic" },
    async () => {
      const ask = controls(ctx, model, 20, false);
      ask.headers["x-fake-scenario"] = [ask.headers["x-fake-scenario"], "tool_call"].filter(Boolean).join(",");
      const first = await modelCall(ctx, false, () =>
        ctx.clients.anthropic.messages.create(
          { model, max_tokens: w.maxTokens, system, tools, messages: [{ role: "user", content: question }] },
          ask,
        ),
      );
      const toolUse = first?.content.find((b) => b.type === "tool_use");
      if (first === undefined || toolUse === undefined || toolUse.type !== "tool_use") return;
      const result = await inSpan(
        tracer,
        `execute_tool ${toolUse.name}`,
        SpanKind.INTERNAL,
        {
          "gen_ai.operation.name": "execute_tool",
          "gen_ai.tool.name": toolUse.name,
          "gen_ai.tool.call.id": toolUse.id,
        },
        async () => {
          await sleep(Math.round(rng.around(90, 0.6)));
          return JSON.stringify({ status: "delivered", total: 129, currency: "EUR", refundable: true });
        },
      );
      const streamed = rng.chance(w.streamShare);
      const final = {
        model,
        max_tokens: w.maxTokens,
        system,
        tools,
        messages: [
          { role: "user" as const, content: question },
          { role: "assistant" as const, content: first.content },
          {
            role: "user" as const,
            content: [{ type: "tool_result" as const, tool_use_id: toolUse.id, content: result }],
          },
        ],
      };
      const c = controls(ctx, model, outputWords(rng, w), streamed);
      await modelCall(ctx, streamed, async () => {
        if (streamed) await drain(await ctx.clients.anthropic.messages.create({ ...final, stream: true }, c));
        else await ctx.clients.anthropic.messages.create(final, c);
      });
    },
  );
};

/** Ticket routing on the self-hosted model: no price in the catalog, so its spend is unknown. */
const ticketTriage: Scenario = async (ctx) => {
  const { rng, who } = ctx;
  const w = who.workload;
  const model: ModelName = "acme-support-llama-3.1-8b";
  const c = controls(ctx, model, rng.int(1, 3), false);
  await modelCall(ctx, false, () =>
    ctx.clients.selfHosted.chat.completions.create(
      {
        model,
        max_tokens: w.maxTokens,
        temperature: 0,
        messages: workloadMessages(ctx),
      },
      c,
    ),
  );
};

/** Search answers: embed the question, search the index, answer with Gemini (streamed). */
const searchAnswer: Scenario = async (ctx) => {
  const { rng, who, tracer } = ctx;
  const w = who.workload;
  const question = rng.pick(w.questions);
  const embedded = await modelCall(ctx, false, () =>
    ctx.clients.openai.embeddings.create(
      { model: "text-embedding-3-small", input: question },
      controls(ctx, "text-embedding-3-small", 1, false),
    ),
  );
  if (embedded === undefined) return;
  await inSpan(
    tracer,
    "retrieval support-kb",
    SpanKind.CLIENT,
    { "gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": "kb-articles", "db.system.name": "qdrant" },
    () => sleep(Math.round(rng.around(35, 0.5))),
  );
  const model: ModelName = rng.chance(0.8) ? "gemini-2.5-flash" : "gpt-4o-mini";
  const client = model === "gemini-2.5-flash" ? ctx.clients.gemini : ctx.clients.openai;
  const streamed = rng.chance(w.streamShare);
  const c = controls(ctx, model, outputWords(rng, w), streamed);
  const body = {
    model,
    max_tokens: w.maxTokens,
    temperature: w.temperature,
    messages: [
      { role: "system" as const, content: systemPrompt(w) },
      { role: "user" as const, content: userPrompt(rng, w, question) },
    ],
  };
  await modelCall(ctx, streamed, async () => {
    if (streamed) {
      await drain(
        await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }, c),
      );
    } else {
      await client.chat.completions.create(body, c);
    }
  });
};

/** Dispute triage on o4-mini (reasoning tokens), some on gpt-4o-mini. */
const fraudReview: Scenario = async (ctx) => {
  const { rng, who } = ctx;
  const w = who.workload;
  const model: ModelName = rng.chance(0.7) ? "o4-mini" : "gpt-4o-mini";
  const c = controls(ctx, model, outputWords(rng, w), false);
  const messages = workloadMessages(ctx);
  await modelCall(ctx, false, () =>
    model === "o4-mini"
      ? ctx.clients.openai.chat.completions.create(
          {
            model,
            max_completion_tokens: w.maxTokens,
            reasoning_effort: rng.chance(0.6) ? "low" : "medium",
            messages,
          },
          c,
        )
      : ctx.clients.openai.chat.completions.create({ model, max_tokens: 1024, messages }, c),
  );
};

/** Lifecycle emails on gpt-4o: long prompts with a large cached prefix. */
const emailWriter: Scenario = async (ctx) => {
  const { rng, who } = ctx;
  const w = who.workload;
  const model: ModelName = "gpt-4o";
  const c = controls(ctx, model, outputWords(rng, w), false);
  await modelCall(ctx, false, () =>
    ctx.clients.openai.chat.completions.create(
      {
        model,
        max_tokens: w.maxTokens,
        temperature: w.temperature,
        messages: workloadMessages(ctx),
      },
      c,
    ),
  );
};

/** Query rewriting on gpt-4o-mini: short, fast, frequent. */
const queryRewrite: Scenario = async (ctx) => {
  const { rng, who } = ctx;
  const w = who.workload;
  const model: ModelName = "gpt-4o-mini";
  await modelCall(ctx, false, () =>
    ctx.clients.openai.chat.completions.create(
      {
        model,
        max_tokens: w.maxTokens,
        temperature: w.temperature,
        messages: [
          { role: "system", content: w.system },
          { role: "user", content: rng.pick(w.questions) },
        ],
      },
      controls(ctx, model, rng.int(3, 9), false),
    ),
  );
};

/** Receipt extraction on gpt-4o-mini. */
const receipts: Scenario = async (ctx) => {
  const { rng, who } = ctx;
  const w = who.workload;
  const model: ModelName = "gpt-4o-mini";
  await modelCall(ctx, false, () =>
    ctx.clients.openai.chat.completions.create(
      {
        model,
        max_tokens: w.maxTokens,
        temperature: 0,
        messages: workloadMessages(ctx),
      },
      controls(ctx, model, outputWords(rng, w), false),
    ),
  );
};

/** Ad headline variants on Claude Sonnet. */
const adCopy: Scenario = async (ctx) => {
  const { rng, who } = ctx;
  const w = who.workload;
  const model: ModelName = "claude-sonnet-4-6";
  await modelCall(ctx, false, () =>
    ctx.clients.anthropic.messages.create(
      {
        model,
        max_tokens: w.maxTokens,
        system: systemPrompt(w),
        messages: [{ role: "user", content: rng.pick(w.questions) }],
      },
      controls(ctx, model, outputWords(rng, w), false),
    ),
  );
};

interface Kind {
  path: LivePath;
  team: string;
  project: string;
  weight: number;
  run: Scenario;
}

const KINDS: readonly Kind[] = [
  { path: "sdk", team: "support", project: "chatbot", weight: 5, run: supportChat },
  { path: "sdk", team: "support", project: "escalations", weight: 1, run: refundAgent },
  { path: "sdk", team: "support", project: "triage", weight: 2, run: ticketTriage },
  { path: "sdk", team: "search", project: "answers", weight: 2, run: searchAnswer },
  { path: "sdk", team: "payments", project: "fraud-review", weight: 2, run: fraudReview },
  { path: "sdk", team: "growth", project: "email-writer", weight: 1, run: emailWriter },
  { path: "proxy", team: "search", project: "query-rewrite", weight: 4, run: queryRewrite },
  { path: "proxy", team: "support", project: "chatbot", weight: 2, run: supportChat },
  { path: "proxy", team: "payments", project: "receipts", weight: 2, run: receipts },
  { path: "proxy", team: "growth", project: "ad-copy", weight: 1, run: adCopy },
];

// ---------------------------------------------------------------------------------------------
// Scheduler

function attribution(who: Who): Attribution {
  return {
    team: who.team.team,
    project: who.workload.project,
    feature: who.workload.feature,
    user: who.user,
    session: who.session,
    tags: who.tags,
  };
}

/** Runs live traffic until the time or request budget is spent; resolves with what was sent. */
export async function runLiveTraffic(options: LiveOptions): Promise<LiveResult> {
  const rng = createRandom(options.seed).fork("live");
  const environment = options.environment ?? "production";
  const handle: TokenmeterHandle = init({
    serviceName: "acme-web",
    endpoint: options.collector.baseUrl,
    environment,
    headers: options.collector.ingestHeaders(),
  });
  const tracer = trace.getTracer("acme-web", "1.0.0");
  const fake = options.fakeUrl.replace(/\/+$/, "");
  const sdkClients: Clients = {
    openai: observeOpenAI(new OpenAI({ apiKey: "sk-demo", baseURL: `${fake}/v1`, maxRetries: 0 })),
    anthropic: observeAnthropic(new Anthropic({ apiKey: "sk-ant-demo", baseURL: fake, maxRetries: 0 })),
    gemini: observeOpenAI(new OpenAI({ apiKey: "gemini-demo", baseURL: `${fake}/v1`, maxRetries: 0 }), {
      providerName: "gcp.gemini",
    }),
    selfHosted: observeOpenAI(new OpenAI({ apiKey: "vllm-demo", baseURL: `${fake}/v1`, maxRetries: 0 }), {
      providerName: "vllm",
    }),
  };
  const proxy = options.proxyUrl?.replace(/\/+$/, "");
  const proxyOpenAI =
    proxy === undefined
      ? undefined
      : new OpenAI({ apiKey: "sk-demo", baseURL: `${proxy}/${PROXY_OPENAI_ROUTE}/v1`, maxRetries: 0 });
  const proxyClients: Clients | undefined =
    proxy === undefined || proxyOpenAI === undefined
      ? undefined
      : {
          openai: proxyOpenAI,
          // Its own tracing off: this app is not instrumented, the proxy records the calls.
          anthropic: new Anthropic({
            apiKey: "sk-ant-demo",
            baseURL: `${proxy}/${PROXY_ANTHROPIC_ROUTE}`,
            maxRetries: 0,
            openTelemetry: false,
          }),
          gemini: proxyOpenAI,
          selfHosted: proxyOpenAI,
        };
  const kinds = KINDS.filter((k) => k.path === "sdk" || proxyClients !== undefined);

  const stats: LiveStats = { sdk: newStats(), proxy: newStats(), scores: 0 };
  const inFlight = new Set<Promise<void>>();
  const startedAt = Date.now();
  const deadline = startedAt + options.durationMs;
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  let started = 0;
  let finished = 0;

  const launch = () => {
    const kind = rng.weighted(kinds, (k) => k.weight);
    const clients = kind.path === "sdk" ? sdkClients : proxyClients;
    if (clients === undefined) return;
    const pathStats = stats[kind.path];
    const ctx: Ctx = {
      rng: rng.fork(`request:${started}`),
      path: kind.path,
      stats: pathStats,
      who: whoFor(rng, kind.team, kind.project),
      clients,
      tracer,
      collector: options.collector,
      scored: () => {
        stats.scores++;
      },
    };
    pathStats.requests++;
    started++;
    const request =
      kind.path === "sdk"
        ? withAttributes(attribution(ctx.who), () =>
            inSpan(
              tracer,
              ctx.who.workload.route,
              ctx.who.workload.route.startsWith("job ") ? SpanKind.INTERNAL : SpanKind.SERVER,
              {},
              () => kind.run(ctx),
            ),
          )
        : kind.run(ctx);
    const tracked: Promise<void> = request
      .catch(() => undefined)
      .finally(() => {
        inFlight.delete(tracked);
        finished++;
        options.onProgress?.(finished, stats);
      });
    inFlight.add(tracked);
  };

  try {
    let next = startedAt;
    while (started < maxRequests && !options.signal?.aborted) {
      const now = Date.now();
      if (now >= deadline) break;
      if (now < next) {
        await sleep(Math.min(next - now, deadline - now));
        continue;
      }
      if (inFlight.size < MAX_IN_FLIGHT) launch();
      // Exponential gaps: arrivals of independent users.
      next += (-Math.log(Math.max(rng.next(), 1e-9)) * 1000) / options.rate;
    }
    await Promise.allSettled([...inFlight]);
    await handle.forceFlush();
  } finally {
    await handle.shutdown();
  }
  return { ...stats, durationMs: Date.now() - startedAt };
}
