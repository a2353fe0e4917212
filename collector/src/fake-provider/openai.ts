/**
 * The OpenAI dialect of the fake provider: chat completions, Responses, embeddings, legacy
 * completions and the model list, in the shapes and event sequences the real API sends (and the
 * official `openai` SDK's stream helpers accept).
 */
import type { OutgoingHttpHeaders } from "node:http";
import {
  asArray,
  asNumber,
  asObject,
  asString,
  countWords,
  type ErrorScenario,
  type FakeReply,
  type FakeRequest,
  fakeEmbedding,
  fakeReplyText,
  fakeToolInput,
  float32Base64,
  type IdSource,
  IMAGE_TOKENS,
  isObject,
  isReasoningModel,
  type JsonObject,
  MESSAGE_OVERHEAD_TOKENS,
  openaiCachedTokens,
  type PromptTail,
  pieces,
  planText,
  REFUSAL_TEXT,
  REPLY_PRIMER_TOKENS,
  type RequestPlan,
  reasoningTokensFor,
  shortHash,
  textTokens,
  toolCallTokens,
  wantsToolCall,
  wordDeltas,
} from "./scenarios.js";

// ---------------------------------------------------------------------------------------------
// Wire constants
// ---------------------------------------------------------------------------------------------

const JSON_HEADERS: OutgoingHttpHeaders = { "content-type": "application/json" };
const SSE_HEADERS: OutgoingHttpHeaders = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
};

/** Aliases the real API resolves to dated snapshots, so `response_model` differs from the request. */
const MODEL_SNAPSHOTS: Readonly<Record<string, string>> = {
  "gpt-4o": "gpt-4o-2024-08-06",
  "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
  "gpt-4.1": "gpt-4.1-2025-04-14",
  "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
  "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
  "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
  "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
  o1: "o1-2024-12-17",
  o3: "o3-2025-04-16",
  "o3-mini": "o3-mini-2025-01-31",
  "o4-mini": "o4-mini-2025-04-16",
  "gpt-5": "gpt-5-2025-08-07",
  "gpt-5-mini": "gpt-5-mini-2025-08-07",
  "gpt-5-nano": "gpt-5-nano-2025-08-07",
  "gpt-5.1": "gpt-5.1-2025-11-13",
};

/** The model id a response reports for a requested model. */
export function openaiResponseModel(model: string): string {
  return Object.hasOwn(MODEL_SNAPSHOTS, model) ? (MODEL_SNAPSHOTS[model] ?? model) : model;
}

const MODELS_JSON = JSON.stringify({
  object: "list",
  data: [
    ...Object.keys(MODEL_SNAPSHOTS),
    ...Object.values(MODEL_SNAPSHOTS),
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
    "gpt-3.5-turbo-instruct",
  ].map((id) => ({ id, object: "model", created: 1_715_367_049, owned_by: "system" })),
});

const OBFUSCATION_PAD = "q8ZfX2mLr0TkdWc1yNbVhu3Gs";

/** Real streams pad each event with a random `obfuscation` string; this one is length-varied, not random. */
function obfuscation(delta: string): string {
  return OBFUSCATION_PAD.slice(0, 3 + ((delta.length * 7) % 13));
}

const fingerprints = new Map<string, string>();

function systemFingerprint(model: string): string {
  let fp = fingerprints.get(model);
  if (fp === undefined) {
    fp = `fp_${shortHash(model, 10)}`;
    if (fingerprints.size < 256) fingerprints.set(model, fp);
  }
  return fp;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function json(body: unknown, status = 200, headers: OutgoingHttpHeaders = JSON_HEADERS): FakeReply {
  return { type: "json", status, headers, body: JSON.stringify(body) };
}

function dataFrame(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

function eventFrame(type: string, payload: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`;
}

/** Keeps the first half of a stream's frames and ends it with an error frame. */
function cutWithError(frames: string[], errorFrame: string): string[] {
  const kept = frames.slice(0, Math.max(1, Math.floor(frames.length / 2)));
  kept.push(errorFrame);
  return kept;
}

const MID_STREAM_ERROR = {
  message: "The server had an error while processing your request. Sorry about that!",
  type: "server_error",
  param: null,
  code: null,
};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** An error in the OpenAI shape: `{"error": {message, type, param, code}}`. */
export function openaiError(
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
  headers: OutgoingHttpHeaders = JSON_HEADERS,
): FakeReply {
  return json({ error: { message, type, param, code } }, status, headers);
}

/** The error reply of an error scenario. */
export function openaiScenarioError(kind: ErrorScenario, model: string | undefined): FakeReply {
  switch (kind) {
    case "rate_limit":
      return openaiError(
        429,
        `Rate limit reached for ${model ?? "requests"} in organization org-fake on requests per min (RPM): Limit 10000, Used 10000, Requested 1. Please try again in 6ms. Visit https://platform.openai.com/account/rate-limits to learn more.`,
        "requests",
        "rate_limit_exceeded",
        null,
        {
          ...JSON_HEADERS,
          "retry-after": "1",
          "x-ratelimit-limit-requests": "10000",
          "x-ratelimit-remaining-requests": "0",
          "x-ratelimit-reset-requests": "6ms",
          "x-ratelimit-limit-tokens": "30000000",
          "x-ratelimit-remaining-tokens": "29999000",
          "x-ratelimit-reset-tokens": "2ms",
        },
      );
    case "server_error":
      return openaiError(500, MID_STREAM_ERROR.message, "server_error");
    case "overloaded":
      return openaiError(503, "The server is overloaded or not ready yet.", "server_error");
    case "bad_request":
      return openaiError(
        400,
        "Invalid value for 'temperature': expected a number between 0 and 2.",
        "invalid_request_error",
        "invalid_value",
        "temperature",
      );
    case "auth":
      return openaiError(
        401,
        "Incorrect API key provided: sk-fake***********. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
      );
  }
}

export function openaiNotFound(method: string, path: string): FakeReply {
  return openaiError(404, `Invalid URL (${method} ${path})`, "invalid_request_error");
}

export function openaiInvalidJson(): FakeReply {
  return openaiError(
    400,
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    "invalid_request_error",
  );
}

/** Headers every OpenAI answer carries. */
export function openaiResponseHeaders(requestId: string, processingMs: number): OutgoingHttpHeaders {
  return {
    "x-request-id": requestId,
    "openai-processing-ms": String(processingMs),
    "openai-version": "2020-10-01",
    "openai-organization": "org-fake",
    "openai-project": "proj_fake",
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-limit-tokens": "30000000",
    "x-ratelimit-remaining-tokens": "29999000",
    "x-ratelimit-reset-tokens": "2ms",
  };
}

// ---------------------------------------------------------------------------------------------
// Prompt accounting
// ---------------------------------------------------------------------------------------------

/** Tokens and text of a message's `content` (string or array of parts). */
function contentTokens(content: unknown): { tokens: number; text: string } {
  if (typeof content === "string") return { tokens: textTokens(content), text: content };
  let tokens = 0;
  const texts: string[] = [];
  for (const part of asArray(content)) {
    const p = asObject(part);
    const text = asString(p["text"]) ?? asString(p["refusal"]);
    if (text !== undefined) {
      tokens += textTokens(text);
      texts.push(text);
    } else if (isObject(part)) {
      tokens += IMAGE_TOKENS;
    }
  }
  return { tokens, text: texts.join(" ") };
}

function toolsTokens(tools: unknown): number {
  return Array.isArray(tools) && tools.length > 0 ? textTokens(JSON.stringify(tools)) : 0;
}

/**
 * Prompt tokens the fake reports for a chat completions request: per message 4 + ceil(chars/4)
 * of its text (85 per non-text part, name + arguments of assistant tool calls), plus 3 for the
 * reply primer, plus ceil(chars/4) of the JSON of `tools` when present.
 */
export function openaiChatPromptTokens(body: JsonObject): number {
  let tokens = REPLY_PRIMER_TOKENS + toolsTokens(body["tools"]);
  for (const message of asArray(body["messages"])) {
    const m = asObject(message);
    tokens += MESSAGE_OVERHEAD_TOKENS + contentTokens(m["content"]).tokens;
    for (const call of asArray(m["tool_calls"])) {
      const fn = asObject(asObject(call)["function"]);
      tokens += textTokens((asString(fn["name"]) ?? "") + (asString(fn["arguments"]) ?? ""));
    }
  }
  return tokens;
}

/** The last user message, or the tool results after the last assistant turn. */
function chatTail(messages: readonly unknown[]): PromptTail {
  const last = asObject(messages[messages.length - 1]);
  if (last["role"] === "tool") {
    const texts: string[] = [];
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = asObject(messages[i]);
      if (m["role"] !== "tool") break;
      texts.unshift(contentTokens(m["content"]).text);
    }
    return { text: texts.join(" "), afterToolResult: true };
  }
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = asObject(messages[i]);
    if (m["role"] === "user") return { text: contentTokens(m["content"]).text, afterToolResult: false };
  }
  return { text: "", afterToolResult: false };
}

/**
 * Input tokens the fake reports for a Responses request: like chat (4 per item + text), with
 * `instructions` counted as one more message.
 */
export function openaiResponsesInputTokens(body: JsonObject): number {
  let tokens = REPLY_PRIMER_TOKENS + toolsTokens(body["tools"]);
  const instructions = asString(body["instructions"]);
  if (instructions !== undefined) tokens += MESSAGE_OVERHEAD_TOKENS + textTokens(instructions);
  const input = body["input"];
  if (typeof input === "string") return tokens + MESSAGE_OVERHEAD_TOKENS + textTokens(input);
  for (const item of asArray(input)) {
    const it = asObject(item);
    switch (it["type"]) {
      case "function_call_output": {
        const output = it["output"];
        tokens +=
          MESSAGE_OVERHEAD_TOKENS + (typeof output === "string" ? textTokens(output) : contentTokens(output).tokens);
        break;
      }
      case "function_call":
        tokens +=
          MESSAGE_OVERHEAD_TOKENS + textTokens((asString(it["name"]) ?? "") + (asString(it["arguments"]) ?? ""));
        break;
      case "reasoning":
        break;
      default:
        tokens += MESSAGE_OVERHEAD_TOKENS + contentTokens(it["content"]).tokens;
    }
  }
  return tokens;
}

function responsesTail(body: JsonObject): PromptTail {
  const input = body["input"];
  if (typeof input === "string") return { text: input, afterToolResult: false };
  const items = asArray(input);
  const outputs: string[] = [];
  for (let i = items.length - 1; i >= 0; i--) {
    const it = asObject(items[i]);
    if (it["type"] !== "function_call_output") break;
    const output = it["output"];
    outputs.unshift(typeof output === "string" ? output : contentTokens(output).text);
  }
  if (outputs.length > 0) return { text: outputs.join(" "), afterToolResult: true };
  for (let i = items.length - 1; i >= 0; i--) {
    const it = asObject(items[i]);
    if (it["role"] === "user") return { text: contentTokens(it["content"]).text, afterToolResult: false };
  }
  return { text: "", afterToolResult: false };
}

/** Prompt tokens of a legacy completions request: ceil(chars/4) of each prompt. */
export function openaiCompletionPromptTokens(body: JsonObject): number {
  const prompt = body["prompt"];
  if (typeof prompt === "string") return textTokens(prompt);
  let tokens = 0;
  for (const p of asArray(prompt)) tokens += typeof p === "string" ? textTokens(p) : typeof p === "number" ? 1 : 0;
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// What the model answers
// ---------------------------------------------------------------------------------------------

interface ToolCallPlan {
  readonly name: string;
  readonly arguments: string;
}

/**
 * Tool calls for a request: when tools are offered and either `autoCall` (see `wantsToolCall`)
 * or `tool_choice` requires a call. All offered tools are called
 * in parallel unless `parallel_tool_calls` is false.
 */
function planToolCalls(
  tools: readonly unknown[],
  toolChoice: unknown,
  parallel: boolean,
  autoCall: boolean,
  fnOf: (tool: JsonObject) => JsonObject | undefined,
): ToolCallPlan[] {
  const functions = tools
    .filter(isObject)
    .map(fnOf)
    .filter((f): f is JsonObject => f !== undefined && typeof f["name"] === "string");
  if (functions.length === 0 || toolChoice === "none") return [];
  const forcedName = isObject(toolChoice)
    ? (asString(asObject(toolChoice["function"])["name"]) ?? asString(toolChoice["name"]))
    : undefined;
  if (forcedName === undefined && toolChoice !== "required" && !autoCall) return [];
  const candidates = forcedName === undefined ? functions : functions.filter((f) => f["name"] === forcedName);
  const chosen = parallel ? candidates : candidates.slice(0, 1);
  return chosen.map((f) => ({
    name: asString(f["name"]) ?? "",
    arguments: JSON.stringify(fakeToolInput(f["parameters"])),
  }));
}

type Finish = "stop" | "length" | "tool_calls";

interface AnswerPlan {
  readonly kind: "text" | "refusal" | "tools";
  readonly text: string;
  readonly toolCalls: readonly ToolCallPlan[];
  readonly finish: Finish;
  /** Per choice, reasoning included. */
  readonly outputTokens: number;
  readonly reasoningTokens: number;
}

function planAnswer(opts: {
  readonly lastUser: string;
  readonly plan: RequestPlan;
  readonly model: string;
  readonly effort: string | undefined;
  readonly limit: number | undefined;
  readonly toolCalls: readonly ToolCallPlan[];
}): AnswerPlan {
  const reasoning = isReasoningModel(opts.model);
  if (opts.plan.scenarios.has("refusal")) {
    const words = countWords(REFUSAL_TEXT);
    const r = reasoning ? reasoningTokensFor(words, opts.effort) : 0;
    return {
      kind: "refusal",
      text: REFUSAL_TEXT,
      toolCalls: [],
      finish: "stop",
      outputTokens: words + r,
      reasoningTokens: r,
    };
  }
  if (opts.toolCalls.length > 0 && !opts.plan.scenarios.has("length")) {
    let tokens = 0;
    for (const c of opts.toolCalls) tokens += toolCallTokens(c.name, c.arguments);
    const r = reasoning ? reasoningTokensFor(tokens, opts.effort) : 0;
    return {
      kind: "tools",
      text: "",
      toolCalls: opts.toolCalls,
      finish: "tool_calls",
      outputTokens: tokens + r,
      reasoningTokens: r,
    };
  }
  const outcome = planText({
    fullText: fakeReplyText(opts.lastUser, opts.plan.replyWords),
    plan: opts.plan,
    limit: opts.limit,
    reasoning,
    effort: opts.effort,
  });
  return {
    kind: "text",
    text: outcome.text,
    toolCalls: [],
    finish: outcome.truncated ? "length" : "stop",
    outputTokens: outcome.visibleTokens + outcome.reasoningTokens,
    reasoningTokens: outcome.reasoningTokens,
  };
}

function chatUsage(promptTokens: number, cached: number, completion: number, reasoning: number) {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function serviceTier(body: JsonObject): string {
  const tier = asString(body["service_tier"]);
  return tier === "flex" || tier === "priority" || tier === "scale" ? tier : "default";
}

function wantsObfuscation(body: JsonObject): boolean {
  return asObject(body["stream_options"])["include_obfuscation"] !== false;
}

function badRequest(message: string, param: string | null): FakeReply {
  return openaiError(400, message, "invalid_request_error", null, param);
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

export interface OpenAIDialect {
  chatCompletions(req: FakeRequest): FakeReply;
  responses(req: FakeRequest): FakeReply;
  embeddings(req: FakeRequest): FakeReply;
  completions(req: FakeRequest): FakeReply;
  models(req: FakeRequest): FakeReply;
}

export function createOpenAIDialect(ids: IdSource): OpenAIDialect {
  function chatCompletions(req: FakeRequest): FakeReply {
    const { body, plan } = req;
    const model = asString(body["model"]);
    if (model === undefined || model === "") return badRequest("you must provide a model parameter", null);
    const messages = asArray(body["messages"]);
    if (messages.length === 0) {
      return badRequest("Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages");
    }
    const tail = chatTail(messages);
    const lastUser = tail.text;
    const toolCalls = planToolCalls(
      asArray(body["tools"]),
      body["tool_choice"],
      body["parallel_tool_calls"] !== false,
      wantsToolCall(tail, plan),
      (t) => (t["type"] === "function" && isObject(t["function"]) ? t["function"] : undefined),
    );
    const answer = planAnswer({
      lastUser,
      plan,
      model,
      effort: asString(body["reasoning_effort"]),
      limit: asNumber(body["max_completion_tokens"]) ?? asNumber(body["max_tokens"]),
      toolCalls,
    });
    const n = Math.min(Math.max(Math.floor(asNumber(body["n"]) ?? 1), 1), 128);
    const promptTokens = openaiChatPromptTokens(body);
    const cached = openaiCachedTokens(promptTokens, plan.scenarios.has("cache"));
    const usage = chatUsage(promptTokens, cached, answer.outputTokens * n, answer.reasoningTokens * n);
    const id = ids("chatcmpl-", 29);
    const created = nowSeconds();
    const responseModel = openaiResponseModel(model);
    const tier = serviceTier(body);
    const fingerprint = systemFingerprint(responseModel);
    const callIds: string[][] = [];
    for (let i = 0; i < n; i++) callIds.push(answer.toolCalls.map(() => ids("call_", 24)));

    if (body["stream"] !== true) {
      const choices = [];
      for (let i = 0; i < n; i++) {
        const message: Record<string, unknown> = {
          role: "assistant",
          content: answer.kind === "text" ? answer.text : null,
          refusal: answer.kind === "refusal" ? answer.text : null,
        };
        if (answer.kind === "tools") {
          message["tool_calls"] = answer.toolCalls.map((c, j) => ({
            id: callIds[i]?.[j],
            type: "function",
            function: { name: c.name, arguments: c.arguments },
          }));
        }
        message["annotations"] = [];
        choices.push({ index: i, message, logprobs: null, finish_reason: answer.finish });
      }
      return json({
        id,
        object: "chat.completion",
        created,
        model: responseModel,
        choices,
        usage,
        service_tier: tier,
        system_fingerprint: fingerprint,
      });
    }

    const includeUsage = asObject(body["stream_options"])["include_usage"] === true;
    const obfuscate = wantsObfuscation(body);
    const frames: string[] = [];
    // Every chunk shares its head; serialize it once and only the choices per chunk (hot path
    // of the proxy benchmark). Same bytes as stringifying the whole object.
    const head = `data: ${JSON.stringify({
      id,
      object: "chat.completion.chunk",
      created,
      model: responseModel,
      service_tier: tier,
      system_fingerprint: fingerprint,
    }).slice(0, -1)},"choices":`;
    const chunk = (choices: unknown[], deltaText: string, usageValue: unknown = null): string => {
      let frame = head + JSON.stringify(choices);
      if (includeUsage) frame += `,"usage":${JSON.stringify(usageValue)}`;
      if (obfuscate) frame += `,"obfuscation":"${obfuscation(deltaText)}"`;
      return `${frame}}\n\n`;
    };
    const choice = (index: number, delta: unknown, finish: Finish | null = null) => [
      { index, delta, logprobs: null, finish_reason: finish },
    ];
    for (let i = 0; i < n; i++) {
      if (answer.kind === "text") {
        frames.push(chunk(choice(i, { role: "assistant", content: "", refusal: null }), ""));
        if (answer.text !== "")
          for (const d of wordDeltas(answer.text)) frames.push(chunk(choice(i, { content: d }), d));
      } else if (answer.kind === "refusal") {
        frames.push(chunk(choice(i, { role: "assistant", content: null, refusal: "" }), ""));
        for (const d of wordDeltas(answer.text)) frames.push(chunk(choice(i, { refusal: d }), d));
      } else {
        frames.push(chunk(choice(i, { role: "assistant", content: null }), ""));
        answer.toolCalls.forEach((c, j) => {
          const start = { index: j, id: callIds[i]?.[j], type: "function", function: { name: c.name, arguments: "" } };
          frames.push(chunk(choice(i, { tool_calls: [start] }), c.name));
          for (const piece of pieces(c.arguments)) {
            frames.push(chunk(choice(i, { tool_calls: [{ index: j, function: { arguments: piece } }] }), piece));
          }
        });
      }
      frames.push(chunk(choice(i, {}, answer.finish), ""));
    }
    if (plan.scenarios.has("error_mid_stream"))
      return {
        type: "sse",
        headers: SSE_HEADERS,
        frames: cutWithError(frames, dataFrame({ error: MID_STREAM_ERROR })),
      };
    if (includeUsage && !plan.scenarios.has("stream_no_usage")) frames.push(chunk([], "", usage));
    frames.push("data: [DONE]\n\n");
    return { type: "sse", headers: SSE_HEADERS, frames };
  }

  function responses(req: FakeRequest): FakeReply {
    const { body, plan } = req;
    const model = asString(body["model"]);
    if (model === undefined || model === "") return badRequest("Missing required parameter: 'model'.", "model");
    if (body["input"] === undefined && body["previous_response_id"] === undefined) {
      return badRequest("Missing required parameter: 'input'.", "input");
    }
    const tail = responsesTail(body);
    const lastUser = tail.text;
    const reasoningModel = isReasoningModel(model);
    const reasoningConfig = asObject(body["reasoning"]);
    const effort = asString(reasoningConfig["effort"]) ?? (reasoningModel ? "medium" : undefined);
    const toolCalls = planToolCalls(
      asArray(body["tools"]),
      body["tool_choice"],
      body["parallel_tool_calls"] !== false,
      wantsToolCall(tail, plan),
      (t) => (t["type"] === "function" ? t : undefined),
    );
    const maxOutput = asNumber(body["max_output_tokens"]);
    const answer = planAnswer({ lastUser, plan, model, effort, limit: maxOutput, toolCalls });
    const inputTokens = openaiResponsesInputTokens(body);
    const cached = openaiCachedTokens(inputTokens, plan.scenarios.has("cache"));
    const usage = {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: cached },
      output_tokens: answer.outputTokens,
      output_tokens_details: { reasoning_tokens: answer.reasoningTokens },
      total_tokens: inputTokens + answer.outputTokens,
    };
    const incomplete = answer.finish === "length";
    const id = ids("resp_", 48, "hex");
    const createdAt = nowSeconds();
    const responseModel = openaiResponseModel(model);

    // Output items in their final form; the stream replays them as in-progress snapshots first.
    const output: JsonObject[] = [];
    if (reasoningModel) output.push({ id: ids("rs_", 48, "hex"), type: "reasoning", summary: [] });
    const messageId = ids("msg_", 48, "hex");
    const part =
      answer.kind === "refusal"
        ? { type: "refusal", refusal: answer.text }
        : { type: "output_text", annotations: [], logprobs: [], text: answer.text };
    if (answer.kind === "tools") {
      for (const c of answer.toolCalls) {
        output.push({
          id: ids("fc_", 48, "hex"),
          type: "function_call",
          status: "completed",
          arguments: c.arguments,
          call_id: ids("call_", 24),
          name: c.name,
        });
      }
    } else {
      output.push({
        id: messageId,
        type: "message",
        status: incomplete ? "incomplete" : "completed",
        content: [part],
        role: "assistant",
      });
    }

    const responseObject = (status: string, items: readonly JsonObject[], withUsage: boolean): JsonObject => ({
      id,
      object: "response",
      created_at: createdAt,
      status,
      background: false,
      completed_at: status === "completed" ? nowSeconds() : null,
      error: null,
      incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
      instructions: asString(body["instructions"]) ?? null,
      max_output_tokens: maxOutput ?? null,
      max_tool_calls: null,
      model: responseModel,
      output: items,
      parallel_tool_calls: body["parallel_tool_calls"] !== false,
      previous_response_id: asString(body["previous_response_id"]) ?? null,
      prompt_cache_key: asString(body["prompt_cache_key"]) ?? null,
      reasoning: { effort: effort ?? null, summary: null },
      safety_identifier: null,
      service_tier: serviceTier(body),
      store: body["store"] !== false,
      temperature: asNumber(body["temperature"]) ?? 1,
      text: { format: { type: "text" }, verbosity: "medium" },
      tool_choice: body["tool_choice"] ?? "auto",
      tools: asArray(body["tools"]),
      top_logprobs: 0,
      top_p: asNumber(body["top_p"]) ?? 1,
      truncation: "disabled",
      usage: withUsage ? usage : null,
      user: null,
      metadata: asObject(body["metadata"]),
    });
    const finalStatus = incomplete ? "incomplete" : "completed";

    if (body["stream"] !== true) return json(responseObject(finalStatus, output, true));

    const obfuscate = wantsObfuscation(body);
    const frames: string[] = [];
    let seq = 0;
    const emit = (type: string, fields: JsonObject): void => {
      frames.push(eventFrame(type, { type, sequence_number: seq++, ...fields }));
    };
    emit("response.created", { response: responseObject("in_progress", [], false) });
    emit("response.in_progress", { response: responseObject("in_progress", [], false) });
    output.forEach((item, outputIndex) => {
      const itemId = asString(item["id"]) ?? "";
      if (item["type"] === "reasoning") {
        emit("response.output_item.added", { output_index: outputIndex, item });
        emit("response.output_item.done", { output_index: outputIndex, item });
      } else if (item["type"] === "function_call") {
        const args = asString(item["arguments"]) ?? "";
        emit("response.output_item.added", {
          output_index: outputIndex,
          item: { ...item, status: "in_progress", arguments: "" },
        });
        for (const piece of pieces(args)) {
          const delta: Record<string, unknown> = { item_id: itemId, output_index: outputIndex, delta: piece };
          if (obfuscate) delta["obfuscation"] = obfuscation(piece);
          emit("response.function_call_arguments.delta", delta);
        }
        emit("response.function_call_arguments.done", { item_id: itemId, output_index: outputIndex, arguments: args });
        emit("response.output_item.done", { output_index: outputIndex, item });
      } else {
        const at = { item_id: itemId, output_index: outputIndex, content_index: 0 };
        emit("response.output_item.added", {
          output_index: outputIndex,
          item: { ...item, status: "in_progress", content: [] },
        });
        if (answer.kind === "refusal") {
          emit("response.content_part.added", { ...at, part: { type: "refusal", refusal: "" } });
          for (const d of wordDeltas(answer.text)) emit("response.refusal.delta", { ...at, delta: d });
          emit("response.refusal.done", { ...at, refusal: answer.text });
        } else {
          emit("response.content_part.added", {
            ...at,
            part: { type: "output_text", annotations: [], logprobs: [], text: "" },
          });
          if (answer.text !== "") {
            for (const d of wordDeltas(answer.text)) {
              const delta: Record<string, unknown> = { ...at, delta: d, logprobs: [] };
              if (obfuscate) delta["obfuscation"] = obfuscation(d);
              emit("response.output_text.delta", delta);
            }
          }
          emit("response.output_text.done", { ...at, text: answer.text, logprobs: [] });
        }
        emit("response.content_part.done", { ...at, part });
        emit("response.output_item.done", { output_index: outputIndex, item });
      }
    });
    if (plan.scenarios.has("error_mid_stream")) {
      return {
        type: "sse",
        headers: SSE_HEADERS,
        frames: cutWithError(
          frames,
          eventFrame("error", {
            type: "error",
            code: "server_error",
            message: MID_STREAM_ERROR.message,
            param: null,
            sequence_number: seq,
          }),
        ),
      };
    }
    emit(`response.${finalStatus}`, { response: responseObject(finalStatus, output, true) });
    return { type: "sse", headers: SSE_HEADERS, frames };
  }

  function embeddings(req: FakeRequest): FakeReply {
    const { body } = req;
    const model = asString(body["model"]);
    if (model === undefined || model === "") return badRequest("you must provide a model parameter", null);
    const input = body["input"];
    // string | string[] | number[] (one tokenized input) | number[][]
    let inputs: { seed: string; tokens: number }[];
    if (typeof input === "string") inputs = [{ seed: input, tokens: textTokens(input) }];
    else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === "number")) {
      inputs = [{ seed: JSON.stringify(input), tokens: input.length }];
    } else if (Array.isArray(input) && input.length > 0) {
      inputs = input.map((x) =>
        typeof x === "string"
          ? { seed: x, tokens: textTokens(x) }
          : { seed: JSON.stringify(x), tokens: asArray(x).length },
      );
    } else {
      return badRequest("'input' : input must be a string or an array of strings, tokens, or token arrays", "input");
    }
    const dimensions = Math.min(Math.max(Math.floor(asNumber(body["dimensions"]) ?? 8), 1), 4096);
    const base64 = body["encoding_format"] === "base64";
    let tokens = 0;
    const data = inputs.map((x, index) => {
      tokens += x.tokens;
      const vector = fakeEmbedding(x.seed, dimensions);
      return { object: "embedding", index, embedding: base64 ? float32Base64(vector) : Array.from(vector) };
    });
    return json({ object: "list", data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  }

  function completions(req: FakeRequest): FakeReply {
    const { body, plan } = req;
    const model = asString(body["model"]);
    if (model === undefined || model === "") return badRequest("you must provide a model parameter", null);
    const prompt = body["prompt"];
    const prompts =
      typeof prompt === "string" ? [prompt] : asArray(prompt).map((p) => (typeof p === "string" ? p : ""));
    if (prompts.length === 0) return badRequest("Missing required parameter: 'prompt'.", "prompt");
    // The legacy endpoint's max_tokens defaults to 16.
    const limit = asNumber(body["max_tokens"]) ?? 16;
    const outcomes = prompts.map((p) =>
      planText({ fullText: fakeReplyText(p, plan.replyWords), plan, limit, reasoning: false, effort: undefined }),
    );
    const promptTokens = openaiCompletionPromptTokens(body);
    let completionTokens = 0;
    for (const o of outcomes) completionTokens += o.visibleTokens;
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const id = ids("cmpl-", 29);
    const created = nowSeconds();
    const responseModel = openaiResponseModel(model);
    const fingerprint = systemFingerprint(responseModel);

    if (body["stream"] !== true) {
      return json({
        id,
        object: "text_completion",
        created,
        model: responseModel,
        choices: outcomes.map((o, index) => ({
          text: o.text,
          index,
          logprobs: null,
          finish_reason: o.truncated ? "length" : "stop",
        })),
        usage,
        system_fingerprint: fingerprint,
      });
    }
    const includeUsage = asObject(body["stream_options"])["include_usage"] === true;
    const frames: string[] = [];
    const chunk = (choices: unknown[], usageValue: unknown = null): string => {
      const c: Record<string, unknown> = {
        id,
        object: "text_completion",
        created,
        choices,
        model: responseModel,
        system_fingerprint: fingerprint,
      };
      if (includeUsage) c["usage"] = usageValue;
      return dataFrame(c);
    };
    outcomes.forEach((o, index) => {
      if (o.text !== "") {
        for (const d of wordDeltas(o.text)) {
          frames.push(chunk([{ text: d, index, logprobs: null, finish_reason: null }]));
        }
      }
      frames.push(chunk([{ text: "", index, logprobs: null, finish_reason: o.truncated ? "length" : "stop" }]));
    });
    if (plan.scenarios.has("error_mid_stream")) {
      return {
        type: "sse",
        headers: SSE_HEADERS,
        frames: cutWithError(frames, dataFrame({ error: MID_STREAM_ERROR })),
      };
    }
    if (includeUsage && !plan.scenarios.has("stream_no_usage")) frames.push(chunk([], usage));
    frames.push("data: [DONE]\n\n");
    return { type: "sse", headers: SSE_HEADERS, frames };
  }

  function models(): FakeReply {
    return { type: "json", status: 200, headers: JSON_HEADERS, body: MODELS_JSON };
  }

  return { chatCompletions, responses, embeddings, completions, models };
}
