import type { LlmCallRow, ScoreRow } from "../../storage/rows.js";

/** One output message as the evaluators see it (from the normalized `llm_calls.output` JSON). */
export interface OutputMessage {
  role: string;
  /** The message's text parts joined together ("" when it has none). */
  text: string;
  /** True when the message carries something other than text and reasoning (tool calls, media...). */
  hasOtherContent: boolean;
  /** The provider's refusal text (OpenAI `refusal` field or a `refusal` part), "" when none. */
  refusal: string;
  finishReason: string;
}

/** What an evaluator gets: the stored call row and its output messages, parsed on first use. */
export interface EvalInput {
  row: LlmCallRow;
  /** Parses `row.output` once per row, whichever evaluator asks first; [] when not captured. */
  output(): readonly OutputMessage[];
}

/** One score an evaluator produced; index.ts turns it into a ScoreRow. */
export interface Finding {
  name: string;
  value: number;
  label?: string;
  comment?: string;
  data_type?: ScoreRow["data_type"];
}

/** A built-in evaluator: a pure function of the call; no findings when it does not apply. */
export type Evaluator = (input: EvalInput) => readonly Finding[];
