/**
 * What the proxy learns about one call from the provider's answer: ids, model, usage, finish
 * reasons, errors and (bounded) output content. Filled by the format extractors from a JSON body
 * or event by event from a stream, so a call cut short still reports what it saw.
 */

/** Token usage in OTel GenAI terms: input INCLUDES cache reads and writes, output INCLUDES reasoning. */
export interface Usage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
}

interface ToolCallCapture {
  id: string;
  name: string;
  args: string;
}

interface ChoiceCapture {
  text: string;
  reasoning: string;
  refusal: string;
  toolCalls: ToolCallCapture[] | undefined;
  finishReason: string;
}

const TRUNCATED_MARK = "…[truncated]";

export class CallCapture {
  responseId = "";
  responseModel = "";
  usage: Usage | undefined;
  /** The usage is the provider's final report (a stream cut short has at most a partial one). */
  usageFinal = false;
  /** Set by an error event inside a 200 stream (the provider's error type). */
  errorType = "";
  /** performance.now() when the first output content arrived; -1 before. */
  firstContentMs = -1;
  #choices: ChoiceCapture[] = [];
  #budget: number;
  truncated = false;
  /** Finish reasons that do not belong to one choice (Responses status, Anthropic stop_reason). */
  #finish: string[] | undefined;

  /** `maxChars` bounds the captured output; 0 captures none (usage and ids are still read). */
  constructor(maxChars: number) {
    this.#budget = maxChars;
  }

  markContent(): void {
    if (this.firstContentMs < 0) this.firstContentMs = performance.now();
  }

  #choice(index: number): ChoiceCapture {
    let c = this.#choices[index];
    if (c === undefined) {
      c = { text: "", reasoning: "", refusal: "", toolCalls: undefined, finishReason: "" };
      // Indexes come from the provider; a sparse array past a sane bound is not worth keeping.
      if (index < 128) this.#choices[index] = c;
    }
    return c;
  }

  #take(s: string): string {
    if (s.length <= this.#budget) {
      this.#budget -= s.length;
      return s;
    }
    const kept = s.slice(0, Math.max(0, this.#budget));
    this.#budget = 0;
    this.truncated = true;
    return kept + TRUNCATED_MARK;
  }

  appendText(index: number, kind: "text" | "reasoning" | "refusal", s: string): void {
    if (s === "") return;
    this.markContent();
    if (this.#budget <= 0) {
      this.truncated = true;
      return;
    }
    const c = this.#choice(index);
    c[kind] += this.#take(s);
  }

  /** Starts (or continues) tool call `callIndex` of a choice. */
  toolCall(index: number, callIndex: number, id: string, name: string): void {
    this.markContent();
    const c = this.#choice(index);
    c.toolCalls ??= [];
    let tc = c.toolCalls[callIndex];
    if (tc === undefined) {
      if (callIndex >= 128) return;
      tc = { id: "", name: "", args: "" };
      c.toolCalls[callIndex] = tc;
    }
    if (id !== "") tc.id = id;
    if (name !== "") tc.name = this.#budget > 0 ? this.#take(name) : tc.name;
  }

  toolArgs(index: number, callIndex: number, s: string): void {
    if (s === "") return;
    this.markContent();
    const tc = this.#choice(index).toolCalls?.[callIndex];
    if (tc === undefined) return;
    if (this.#budget <= 0) {
      this.truncated = true;
      return;
    }
    tc.args += this.#take(s);
  }

  setFinish(index: number, reason: string): void {
    if (reason !== "") this.#choice(index).finishReason = reason;
  }

  /** A finish reason for the whole response (formats without per-choice reasons). */
  setResponseFinish(reason: string): void {
    if (reason === "") return;
    this.#finish = [reason];
    for (const c of this.#choices) if (c !== undefined) c.finishReason = reason;
  }

  /** Usage merged field by field: streams report parts of it in different events. */
  mergeUsage(u: Partial<Usage>, final: boolean): void {
    if (final) this.usageFinal = true;
    const cur = this.usage ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 };
    if (u.input !== undefined) cur.input = u.input;
    if (u.output !== undefined) cur.output = u.output;
    if (u.cacheRead !== undefined) cur.cacheRead = u.cacheRead;
    if (u.cacheWrite !== undefined) cur.cacheWrite = u.cacheWrite;
    if (u.reasoning !== undefined) cur.reasoning = u.reasoning;
    this.usage = cur;
  }

  finishReasons(): string[] {
    const out: string[] = [];
    for (const c of this.#choices) if (c !== undefined && c.finishReason !== "") out.push(c.finishReason);
    if (out.length === 0 && this.#finish !== undefined) return this.#finish;
    return out;
  }

  /** The captured output as OTel GenAI output messages (one per choice); undefined when none. */
  outputMessages(): OutputMessage[] | undefined {
    let out: OutputMessage[] | undefined;
    for (const c of this.#choices) {
      if (c === undefined) continue;
      const parts: OutputPart[] = [];
      if (c.reasoning !== "") parts.push({ type: "reasoning", content: c.reasoning });
      if (c.text !== "") parts.push({ type: "text", content: c.text });
      if (c.refusal !== "") parts.push({ type: "refusal", content: c.refusal });
      if (c.toolCalls !== undefined) {
        for (const tc of c.toolCalls) {
          if (tc === undefined) continue;
          parts.push({ type: "tool_call", id: tc.id, name: tc.name, arguments: parseArgs(tc.args) });
        }
      }
      if (parts.length === 0 && c.finishReason === "") continue;
      const m: OutputMessage = { role: "assistant", parts };
      if (c.finishReason !== "") m.finish_reason = c.finishReason;
      out ??= [];
      out.push(m);
    }
    return out;
  }
}

export type OutputPart =
  | { type: "text" | "reasoning" | "refusal"; content: string }
  | { type: "tool_call"; id: string; name: string; arguments: unknown };

export interface OutputMessage {
  role: "assistant";
  parts: OutputPart[];
  finish_reason?: string;
}

/** Tool arguments as JSON when they parse (the OTel schema holds them structured), else the text. */
function parseArgs(args: string): unknown {
  if (args === "") return {};
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

// ---------------------------------------------------------------------------------------------
// Readers for provider JSON (untrusted `unknown`)

export type JsonObj = { readonly [key: string]: unknown };

export function isObj(v: unknown): v is JsonObj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function strOf(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** A non-negative token count, or undefined when absent or not a number. */
export function countOf(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** JSON.parse that returns undefined for invalid text. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The JSON string literal whose opening quote is at `quote`: its decoded value and the index
 * just past its closing quote; undefined when `text` has no well-formed literal there. Lets the
 * stream tap read the one field it needs from a delta event without parsing the whole event.
 */
export function jsonStringAt(text: string, quote: number): { value: string; end: number } | undefined {
  if (text.charCodeAt(quote) !== 34 /* " */) return undefined;
  let escaped = false;
  for (let i = quote + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) {
      escaped = true;
      i++;
      continue;
    }
    if (c === 34) {
      if (!escaped) return { value: text.slice(quote + 1, i), end: i + 1 };
      const decoded = parseJson(text.slice(quote, i + 1));
      return typeof decoded === "string" ? { value: decoded, end: i + 1 } : undefined;
    }
  }
  return undefined;
}
