/**
 * Public types of @tokenmeter/sdk. Everything here is exported from index.ts; internal shapes
 * live next to the code that uses them.
 */
import type { SpanContext } from "@opentelemetry/api";

/**
 * Who a call is charged to. Every field is optional; the collector fills what is missing from
 * the service's defaults. `user` and `session` become the `user_id` / `session_id` columns.
 */
export interface Attribution {
  team?: string;
  project?: string;
  user?: string;
  session?: string;
  feature?: string;
  /** Free-form labels, e.g. `{ tier: "free" }`; stored in the `tags` map column. */
  tags?: Record<string, string>;
}

/** Rewrites a piece of captured text before it leaves the process (e.g. to mask PII). */
export type RedactFn = (text: string) => string;

/** Options of `observeOpenAI` / `observeAnthropic`: defaults for every call made with that client. */
export interface ObserveOptions {
  /** Attribution for every call of this client; `withAttributes` and per-call headers override it. */
  attributes?: Attribution;
  /** Overrides `init({ captureContent })` for this client. */
  captureContent?: boolean;
  /** Overrides `init({ redact })` for this client. */
  redact?: RedactFn;
  /**
   * `gen_ai.provider.name` for this client's spans. Defaults to `anthropic` (`aws.bedrock` /
   * `gcp.vertex_ai` for the Anthropic SDK's Bedrock and Vertex clients), and for an `openai`
   * client to the provider its base URL names (Azure OpenAI, Groq, DeepSeek, Mistral, xAI,
   * Perplexity, Together, Fireworks, OpenRouter, Gemini's OpenAI endpoint, Ollama's port), else
   * `openai`. Set it for other OpenAI-compatible servers.
   */
  providerName?: string;
}

/**
 * Token usage in the OpenTelemetry GenAI sense: `inputTokens` INCLUDES cached reads and writes,
 * `outputTokens` INCLUDES reasoning tokens.
 */
export interface TokenUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
}

/** One part of a message, in the OpenTelemetry GenAI "parts" format. */
export type GenAIPart =
  | { type: "text"; content: string }
  | { type: "reasoning"; content: string }
  | { type: "tool_call"; id: string; name: string; arguments?: unknown }
  | { type: "tool_call_response"; id: string; response: unknown }
  | { type: "blob"; modality: string; mime_type?: string; content: string; content_omitted_bytes?: number }
  | { type: "uri"; modality: string; mime_type?: string; uri: string }
  | { type: "file"; modality?: string; mime_type?: string; file_id: string }
  | { type: string; [key: string]: unknown };

/** A message in the OpenTelemetry GenAI format (`gen_ai.input.messages` / `gen_ai.output.messages`). */
export interface GenAIMessage {
  role: string;
  parts: GenAIPart[];
  /** Output messages only. */
  finish_reason?: string;
  name?: string;
}

/** A message as `traceLLMCall` accepts it: the parts format, or plain `{ role, content }` text. */
export type MessageInput = GenAIMessage | { role: string; content: string; finish_reason?: string };

/** What `traceLLMCall` hands to its callback to describe the call it traces. */
export interface LLMCallHandle {
  /** Token usage (see {@link TokenUsage} for what each count includes). Later calls add fields. */
  setUsage(usage: TokenUsage): void;
  /** Response facts: id, the model that answered, finish reasons (one per choice). */
  setResponse(response: { id?: string; model?: string; finishReasons?: string[] }): void;
  /** The prompt. Ignored when content capture is off. */
  setInput(messages: MessageInput[], systemInstructions?: string | GenAIPart[]): void;
  /** The completion. Ignored when content capture is off. */
  setOutput(messages: MessageInput[]): void;
  /** Marks the arrival of the first streamed chunk (time to first chunk). */
  recordFirstChunk(): void;
  /** Any other attribute, e.g. `gen_ai.request.temperature`. */
  setAttribute(key: string, value: string | number | boolean | string[] | number[]): void;
  /** The span's ids, e.g. to attach a score later with `recordScore`. */
  spanContext(): SpanContext;
}

/** What `traceLLMCall` needs to know up front. */
export interface LLMCallInfo {
  /** `gen_ai.provider.name`, e.g. `openai`, `gcp.gemini`, `ollama`. */
  provider: string;
  /** The requested model. */
  model: string;
  /** `chat` (default), `text_completion`, `embeddings` or `generate_content`. */
  operation?: string;
  /** Attribution for this call only. */
  attributes?: Attribution;
}

/** A score for a traced call: a number, a label, or both. */
export interface ScoreInput {
  /** Defaults to the active span's trace. */
  traceId?: string;
  /** Defaults to the active span when `traceId` is not given either. */
  spanId?: string;
  name: string;
  value?: number;
  label?: string;
  comment?: string;
}

export interface ScoreOptions {
  /** Collector base URL; defaults to the one `init` resolved (or the environment's). */
  endpoint?: string;
  /** Extra request headers (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** Give up after this long; default 5000 ms. */
  timeoutMs?: number;
}

/** `recordScore` never throws: it tells what happened instead. */
export type ScoreResult = { ok: true; ids: string[] } | { ok: false; error: string; status?: number };

/** What `init` returns. */
export interface TokenmeterHandle {
  /**
   * `standalone`: the SDK registered its own tracer provider. `attached`: the app had already
   * set up OpenTelemetry, so spans go through the app's provider.
   */
  readonly mode: "standalone" | "attached";
  /** Whether spans reach tokenmeter directly (false when attached to a provider that could not take our exporter). */
  readonly exporting: boolean;
  /**
   * Exports every finished span now. Never rejects: when the collector cannot be reached or
   * refuses the spans, the diag logger says so (within the exporter's timeout,
   * OTEL_EXPORTER_OTLP_TIMEOUT). After a failed export it does not wait for the next 30 s
   * (until an export succeeds): the flush then runs in the background.
   */
  forceFlush(): Promise<void>;
  /** Flushes, stops exporting and undoes what `init` registered. Never rejects, as forceFlush. */
  shutdown(): Promise<void>;
}
