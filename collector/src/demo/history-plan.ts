/**
 * The history the demo backfills, planned before anything is sent: every trace with its spans'
 * times, token counts, outcomes and scores, drawn from the world (world.ts) with a seeded random
 * source. Planning first lets the demo price the plan and steer one team's spend toward its
 * budget before a single span leaves the process, and keeps the sending code free of decisions.
 */
import type { PriceBook } from "../enrich/price-book.js";
import { priceCall } from "../enrich/pricing.js";
import { createRandom, type Random } from "./random.js";
import {
  DRIFT,
  type FailureKind,
  INCIDENTS,
  MODELS,
  type ModelName,
  type ModelProfile,
  TEAMS,
  type Team,
  VERSION_CHANGE,
  type Workload,
} from "./world.js";

const HOUR_US = 3_600_000_000;
const DAY_US = 24 * HOUR_US;
const MS = 1000;

/** An evaluator's verdict, sent as a gen_ai.evaluation.result event on the call's span. */
export interface PlannedEvaluation {
  name: string;
  value: number;
  atUs: number;
}

export interface PlannedCall {
  kind: "call";
  startUs: number;
  durationUs: number;
  profile: ModelProfile;
  responseModel: string;
  /** Usage as the provider reported it; undefined when the call failed before any arrived. */
  usage: { input: number; output: number; cacheRead: number; cacheWrite: number; reasoning: number } | undefined;
  streamed: boolean;
  ttftMs: number | undefined;
  failure: FailureKind | undefined;
  finishReason: string;
  responseId: string;
  /** The call asks for a tool (agent runs). */
  toolCall: { id: string; name: string; arguments: string } | undefined;
  /** Text of the prompt's last user turn and of the answer. */
  question: string;
  answer: string;
  evaluations: PlannedEvaluation[];
  /** List-price cost, for steering budgets; null when the model has no price. */
  costUsd: number | null;
}

export interface PlannedTool {
  kind: "tool";
  startUs: number;
  durationUs: number;
  name: string;
  callId: string;
}

export interface PlannedRetrieval {
  kind: "retrieval";
  startUs: number;
  durationUs: number;
  documents: number;
}

export type PlannedStep = PlannedCall | PlannedTool | PlannedRetrieval;

/** A score a person gives later, through POST /api/v1/scores. */
export interface PlannedFeedback {
  /** Index in `steps` of the call it is about. */
  step: number;
  name: string;
  value: number;
  label: string;
  source: string;
  comment: string;
  atUs: number;
  id: string;
}

export interface PlannedTrace {
  startUs: number;
  endUs: number;
  team: Team;
  workload: Workload;
  environment: string;
  user: string;
  session: string;
  tags: Record<string, string>;
  /** Set for agent runs: the agent's name. */
  agent: string | undefined;
  steps: PlannedStep[];
  feedback: PlannedFeedback[];
}

export interface HistoryPlan {
  fromUs: number;
  endUs: number;
  traces: PlannedTrace[];
  calls: number;
  spans: number;
}

/** Scales one team's traffic from `fromUs` on (budget steering). */
export interface TeamScale {
  fromUs: number;
  factor: number;
}

export interface HistoryOptions {
  seed: number;
  /** Last instant of the history, Unix microseconds. */
  endUs: number;
  days: number;
  /** Mean model calls per day across all teams. */
  callsPerDay: number;
  book: PriceBook;
  /** Team -> traffic scale. */
  scales?: ReadonlyMap<string, TeamScale>;
}

/** Model calls per trace, on average, used to turn calls per day into traces per day. */
const CALLS_PER_TRACE = 1.17;

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** Everything the history holds, team by team (each team on its own random stream). */
export function planHistory(options: HistoryOptions): HistoryPlan {
  const fromUs = options.endUs - Math.round(options.days * DAY_US);
  const traces: PlannedTrace[] = [];
  for (const team of TEAMS) traces.push(...planTeam(team, options));
  traces.sort((a, b) => a.startUs - b.startUs);
  let calls = 0;
  let spans = 0;
  for (const t of traces) {
    spans += 1 + (t.agent === undefined ? 0 : 1) + t.steps.length;
    for (const s of t.steps) if (s.kind === "call") calls++;
  }
  return { fromUs, endUs: options.endUs, traces, calls, spans };
}

/** One team's traces: hour by hour, a Poisson number of requests shaped by its daily rhythm. */
export function planTeam(team: Team, options: HistoryOptions): PlannedTrace[] {
  const rng = createRandom(options.seed).fork(`history:${team.team}`);
  const totalWeight = TEAMS.reduce((sum, t) => sum + t.weight, 0);
  const tracesPerDay = (options.callsPerDay / CALLS_PER_TRACE) * (team.weight / totalWeight);
  const hourlyTotal = team.hourly.reduce((a, b) => a + b, 0);
  // Weekends are quieter: keep the weekly mean at tracesPerDay.
  const weekNorm = (5 + 2 * team.weekend) / 7;
  const scale = options.scales?.get(team.team);
  const endUs = options.endUs;
  const fromUs = endUs - Math.round(options.days * DAY_US);
  const out: PlannedTrace[] = [];

  for (let hourStart = Math.floor(fromUs / HOUR_US) * HOUR_US; hourStart < endUs; hourStart += HOUR_US) {
    const from = Math.max(hourStart, fromUs);
    const to = Math.min(hourStart + HOUR_US, endUs);
    if (to <= from) continue;
    const date = new Date(hourStart / MS);
    const day = date.getUTCDay();
    const dayFactor = day === 0 || day === 6 ? team.weekend : 1;
    const hourly = team.hourly[date.getUTCHours()] ?? 1;
    let expected = ((tracesPerDay * hourly) / hourlyTotal) * (dayFactor / weekNorm) * ((to - from) / HOUR_US);
    if (scale !== undefined && hourStart >= scale.fromUs) expected *= scale.factor;
    const count = rng.poisson(expected);
    for (let i = 0; i < count; i++) {
      const startUs = from + Math.floor(rng.next() * (to - from));
      const trace = planTrace(rng, team, startUs, options);
      // A trace that would end after the history's end (a long agent run) is left to live traffic.
      if (trace.endUs <= endUs) out.push(trace);
    }
  }
  return out;
}

export function userOf(rng: Random, team: Team): string {
  // Skewed: a few heavy users, a long tail of occasional ones.
  const n = 1 + Math.floor(team.users * rng.next() ** 2.2);
  return `${team.userPrefix}-${n}`;
}

export function tagsOf(rng: Random, team: Team, workload: Workload): Record<string, string> {
  switch (team.team) {
    case "search":
    case "support":
      return { tier: rng.weighted(["free", "pro", "enterprise"], (t) => (t === "free" ? 6 : t === "pro" ? 3 : 1)) };
    case "payments":
      return { region: rng.chance(0.6) ? "eu" : "us" };
    case "growth":
      return {
        campaign: workload.project === "email-writer" ? rng.pick(["trial-nurture", "win-back"]) : "spring-sale",
      };
    default:
      return {};
  }
}

function planTrace(rng: Random, team: Team, startUs: number, options: HistoryOptions): PlannedTrace {
  const workload = rng.weighted(team.workloads, (w) => w.weight);
  const user = userOf(rng, team);
  const dayIndex = Math.floor(startUs / DAY_US);
  const trace: PlannedTrace = {
    startUs,
    endUs: startUs,
    team,
    workload,
    environment: rng.chance(team.staging) ? "staging" : "production",
    user,
    session: `${user}.${dayIndex.toString(36)}.${rng.int(1, 3)}`,
    tags: tagsOf(rng, team, workload),
    agent: workload.shape === "agent" ? workload.feature : undefined,
    steps: [],
    feedback: [],
  };
  let t = startUs + Math.round(rng.around(4, 0.5) * MS);
  const modelName = rng.weighted(Object.keys(workload.models) as ModelName[], (m) => workload.models[m] ?? 0);
  const question = rng.pick(workload.questions);

  const call = (profile: ModelProfile, extraInput: number, tool: string | undefined): PlannedCall => {
    const c = planCall(rng, { team, workload, profile, startUs: t, question, extraInput, tool, options });
    trace.steps.push(c);
    t = c.startUs + c.durationUs + Math.round(rng.around(3, 0.5) * MS);
    return c;
  };

  switch (workload.shape) {
    case "single": {
      let c = call(MODELS[modelName], 0, undefined);
      // Apps retry a rate-limited call once, after a back-off.
      if (c.failure?.httpStatus === 429 && rng.chance(0.5)) {
        t += Math.round(rng.around(1500, 0.4) * MS);
        c = call(MODELS[modelName], 0, undefined);
      }
      break;
    }
    case "rag": {
      const embedded = call(MODELS["text-embedding-3-small"], 0, undefined);
      if (embedded.failure !== undefined) break;
      const documents = rng.int(3, 8);
      const retrieval: PlannedRetrieval = {
        kind: "retrieval",
        startUs: t,
        durationUs: Math.round(rng.around(35, 0.5) * MS),
        documents,
      };
      trace.steps.push(retrieval);
      t += retrieval.durationUs + Math.round(rng.around(2, 0.5) * MS);
      call(MODELS[modelName], documents * 180, undefined);
      break;
    }
    case "agent": {
      const tools = workload.tools ?? ["lookup"];
      const rounds = rng.int(1, 2);
      let context = 0;
      for (let round = 0; round < rounds; round++) {
        const name = tools[round % tools.length] ?? "lookup";
        const asked = call(MODELS[modelName], context, name);
        if (asked.failure !== undefined || asked.toolCall === undefined) return finish(rng, trace, t, options.endUs);
        const tool: PlannedTool = {
          kind: "tool",
          startUs: t,
          durationUs: Math.round(rng.around(name === "issue_refund" ? 420 : 90, 0.6) * MS),
          name,
          callId: asked.toolCall.id,
        };
        trace.steps.push(tool);
        t += tool.durationUs + Math.round(rng.around(2, 0.5) * MS);
        context += (asked.usage?.output ?? 0) + rng.int(80, 400);
      }
      call(MODELS[modelName], context, undefined);
      break;
    }
  }
  return finish(rng, trace, t, options.endUs);
}

/** Closes the trace and adds what people say about its answer afterwards. */
function finish(rng: Random, trace: PlannedTrace, t: number, historyEndUs: number): PlannedTrace {
  trace.endUs = t + Math.round(rng.around(3, 0.5) * MS);
  const lastIndex = trace.steps.findLastIndex((s) => s.kind === "call");
  const last = trace.steps[lastIndex];
  if (last?.kind !== "call" || last.failure !== undefined) return trace;
  const { workload } = trace;
  if (rng.chance(workload.feedbackShare)) {
    const helpfulness = last.evaluations.find((e) => e.name === "helpfulness")?.value ?? 0.8;
    const down = rng.chance(clamp01(1.15 - helpfulness));
    trace.feedback.push({
      step: lastIndex,
      name: "user_feedback",
      value: down ? 0 : 1,
      label: down ? "down" : "up",
      source: "api",
      comment: down ? rng.pick(["too long", "did not answer my question", "wrong plan mentioned", ""]) : "",
      atUs: trace.endUs + Math.round(rng.around(45_000, 0.8) * MS),
      id: `demo-${rng.hex(24)}`,
    });
  }
  if (rng.chance(workload.reviewShare)) {
    const correct = rng.chance(0.86);
    trace.feedback.push({
      step: lastIndex,
      name: "correctness",
      value: correct ? 1 : 0,
      label: correct ? "correct" : "incorrect",
      source: "annotation",
      comment: correct ? "" : "refund amount did not match the policy",
      atUs: trace.endUs + Math.round(rng.around(3 * 3_600_000, 0.6) * MS),
      id: `demo-${rng.hex(24)}`,
    });
  }
  // Nobody scores the future: feedback due after the history's end is dropped.
  trace.feedback = trace.feedback.filter((f) => f.atUs < historyEndUs);
  return trace;
}

interface CallContext {
  team: Team;
  workload: Workload;
  profile: ModelProfile;
  startUs: number;
  question: string;
  /** Input tokens on top of the workload's prompt (retrieved documents, earlier agent steps). */
  extraInput: number;
  /** The agent step asks for this tool. */
  tool: string | undefined;
  options: HistoryOptions;
}

function incidentAt(profile: ModelProfile, atUs: number, endUs: number) {
  for (const incident of INCIDENTS) {
    if (incident.provider !== profile.provider) continue;
    const dayStart = Math.floor((endUs - incident.daysBeforeEnd * DAY_US) / DAY_US) * DAY_US;
    const from = dayStart + incident.hour * HOUR_US;
    if (atUs >= from && atUs < from + incident.minutes * 60_000_000) return incident;
  }
  return undefined;
}

function responseIdOf(rng: Random, profile: ModelProfile): string {
  switch (profile.provider) {
    case "openai":
      return profile.operation === "embeddings" ? "" : `chatcmpl-${rng.hex(24)}`;
    case "anthropic":
      return `msg_01${rng.hex(22)}`;
    default:
      return `resp-${rng.hex(20)}`;
  }
}

function planCall(rng: Random, ctx: CallContext): PlannedCall {
  const { workload, profile, options } = ctx;
  const endUs = options.endUs;
  const drifting =
    ctx.team.team === DRIFT.team &&
    workload.project === DRIFT.project &&
    profile.model === DRIFT.model &&
    ctx.startUs >= endUs - DRIFT.hoursBeforeEnd * HOUR_US;
  const incident = incidentAt(profile, ctx.startUs, endUs);
  const errorRate = incident?.errorRate ?? profile.errorRate;
  const failure = rng.chance(errorRate)
    ? (incident?.failure ?? rng.weighted(profile.failures, (f) => f.weight))
    : undefined;
  const slowdown = incident?.slowdown ?? 1;
  const embeddings = profile.operation === "embeddings";
  const responseModel =
    profile.model === VERSION_CHANGE.model && ctx.startUs < endUs - VERSION_CHANGE.minutesBeforeEnd * 60_000_000
      ? VERSION_CHANGE.previous
      : profile.responseModel;

  const input = embeddings
    ? rng.int(12, 60)
    : Math.max(20, Math.round(rng.around(workload.inputTokens, 0.35))) + ctx.extraInput;
  let visible = embeddings
    ? 0
    : Math.max(1, Math.round(rng.around(workload.outputTokens * (drifting ? DRIFT.outputFactor : 1), 0.45)));
  let finishReason = embeddings ? "" : ctx.tool === undefined ? "stop" : "tool_calls";
  const reasoning = Math.round(visible * profile.reasoningRatio * rng.around(1, 0.4));
  if (!embeddings && visible + reasoning > workload.maxTokens) {
    visible = Math.max(0, workload.maxTokens - reasoning);
    finishReason = "length";
  }
  let cacheRead = 0;
  let cacheWrite = 0;
  const prefix = Math.round(input * workload.cacheablePrefix);
  switch (profile.cache) {
    case "openai":
      // OpenAI caches prompts over 1024 tokens, in 128-token steps.
      if (input > 1024 && rng.chance(0.8)) cacheRead = Math.floor((prefix * rng.around(0.95, 0.05)) / 128) * 128;
      break;
    case "anthropic":
      if (prefix >= 1024) {
        if (rng.chance(0.85)) cacheRead = prefix;
        else cacheWrite = prefix;
      }
      break;
    case "implicit":
      if (rng.chance(0.35)) cacheRead = Math.round(prefix * 0.8);
      break;
    case "none":
      break;
  }
  cacheRead = Math.min(cacheRead, input);

  const streamed = !embeddings && failure === undefined && rng.chance(workload.streamShare);
  const ttft = rng.around(profile.ttftMs, 0.35) * slowdown;
  let durationMs = embeddings
    ? rng.around(profile.ttftMs, 0.4)
    : ttft + (visible + reasoning) * profile.msPerToken * rng.around(1, 0.25) * slowdown;
  if (failure !== undefined) {
    durationMs =
      failure.httpStatus === 0
        ? 30_000 + rng.around(40, 0.5)
        : rng.around(failure.httpStatus === 429 ? 90 : failure.httpStatus === 529 ? 450 : 1600, 0.5);
  }
  const usage =
    failure === undefined
      ? {
          input,
          output: visible + reasoning,
          cacheRead,
          cacheWrite,
          reasoning: profile.reasoningRatio > 0 ? reasoning : 0,
        }
      : undefined;
  const toolCall =
    ctx.tool !== undefined && failure === undefined
      ? { id: `toolu_01${rng.hex(22)}`, name: ctx.tool, arguments: JSON.stringify(toolArguments(rng, ctx.tool)) }
      : undefined;

  const evaluations: PlannedEvaluation[] = [];
  const callEndUs = ctx.startUs + Math.round(durationMs * MS);
  if (failure === undefined && ctx.tool === undefined && !embeddings) {
    for (const [name, spec] of Object.entries(workload.evaluations)) {
      if (!rng.chance(spec.share)) continue;
      let value: number;
      if (name === "toxicity") value = clamp01(rng.around(spec.mean, 0.8));
      else
        value = clamp01(spec.mean - (drifting && name === "helpfulness" ? DRIFT.scoreDrop : 0) + 0.09 * rng.normal());
      evaluations.push({
        name,
        value: Math.round(value * 1000) / 1000,
        atUs: callEndUs + Math.round(rng.around(900, 0.5) * MS),
      });
    }
  }

  let costUsd: number | null = null;
  if (usage !== undefined) {
    const priced = priceCall(
      {
        provider: profile.provider,
        request_model: profile.model,
        response_model: responseModel,
        timestampUs: ctx.startUs,
        input_tokens: usage.input,
        output_tokens: usage.output,
        cache_read_tokens: usage.cacheRead,
        cache_write_tokens: usage.cacheWrite,
        reasoning_tokens: usage.reasoning,
      },
      options.book,
    );
    costUsd = priced.cost_usd === null ? null : Number(priced.cost_usd);
  }

  return {
    kind: "call",
    startUs: ctx.startUs,
    durationUs: Math.max(1000, Math.round(durationMs * MS)),
    profile,
    responseModel,
    usage,
    streamed,
    ttftMs: streamed ? Math.round(ttft * 1000) / 1000 : undefined,
    failure,
    finishReason: failure === undefined ? finishReason : "",
    responseId: failure === undefined ? responseIdOf(rng, profile) : "",
    toolCall,
    question: ctx.question,
    answer: failure === undefined && ctx.tool === undefined ? rng.pick(workload.answers) : "",
    evaluations,
    costUsd,
  };
}

function toolArguments(rng: Random, tool: string): Record<string, unknown> {
  const order = `A-${rng.int(20_000, 23_999)}`;
  switch (tool) {
    case "lookup_order":
      return { order_id: order };
    case "refund_policy":
      return { country: rng.pick(["DE", "FR", "US", "GB"]), category: rng.pick(["hardware", "subscription"]) };
    case "issue_refund":
      return { order_id: order, amount: Math.round(rng.around(80, 0.6) * 100) / 100, currency: "EUR" };
    default:
      return { query: tool };
  }
}

/** Spend per team between `fromUs` and the end of the plan, at list prices. */
export function teamSpend(traces: readonly PlannedTrace[], team: string, fromUs: number): number {
  let sum = 0;
  for (const t of traces) {
    if (t.team.team !== team || t.startUs < fromUs) continue;
    for (const s of t.steps) if (s.kind === "call" && s.costUsd !== null) sum += s.costUsd;
  }
  return sum;
}
