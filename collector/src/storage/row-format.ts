/**
 * How rows travel to ClickHouse: TabSeparated, one line per row, its values in the order of the
 * table's column list here, and the INSERT names those columns.
 *
 * Content columns hold JSON text (normalized messages). Inside a JSON row every quote of that
 * text is escaped once more; TabSeparated only escapes backslashes, tabs and line breaks, which
 * JSON text seldom holds, so most content is copied as it is. Measured on the ingest bench's
 * rows: a call row encodes in 2.7 µs instead of 6.0 µs as JSONCompactEachRow, a span row in
 * 1.1 µs instead of 1.7 µs, and the engine parses either format at the same cost.
 *
 * A batch written to the ingest log or the spool keeps the layout it was encoded with, so a
 * later version with other columns or another format still inserts it right. Layouts:
 * `tsv:<columns>` (TabSeparated, this version), `<columns>` (JSONCompactEachRow, the version
 * before) and "" (JSONEachRow, from before layouts were recorded).
 */
import { settingsClause } from "./query-scoped-settings.js";
import type { LlmCallRow, ScoreRow, SpanRow } from "./rows.js";

/** A row of `call_content`: a call's messages stored apart from its llm_calls row. */
export interface CallContentRow {
  timestamp: number;
  trace_id: string;
  span_id: string;
  input: string;
  output: string;
  redacted: number;
}

/** Every key of T, each once: the compiler rejects a list that misses one. */
export type AllKeys<T, L extends readonly (keyof T)[]> = [Exclude<keyof T, L[number]>] extends [never] ? L : never;

export function columnsOf<T>() {
  return <const L extends readonly (keyof T & string)[]>(list: AllKeys<T, L>): L => list;
}

export const LLM_CALLS_COLUMNS = columnsOf<LlmCallRow>()([
  "timestamp",
  "trace_id",
  "span_id",
  "parent_span_id",
  "service",
  "environment",
  "team",
  "project",
  "user_id",
  "session_id",
  "feature",
  "source",
  "convention",
  "provider",
  "operation",
  "request_model",
  "response_model",
  "response_id",
  "prompt_name",
  "prompt_version",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "tokens_estimated",
  "cost_usd",
  "list_cost_usd",
  "reported_cost_usd",
  "priced",
  "price_id",
  "duration_ms",
  "ttft_ms",
  "streamed",
  "status",
  "error_type",
  "finish_reason",
  "http_status",
  "request_params",
  "input",
  "output",
  "redacted",
  "cache_hit",
  "tags",
]);

export const SPANS_COLUMNS = columnsOf<SpanRow>()([
  "timestamp",
  "end_timestamp",
  "trace_id",
  "span_id",
  "parent_span_id",
  "name",
  "kind",
  "service",
  "scope_name",
  "status_code",
  "status_message",
  "duration_ms",
  "convention",
  "operation",
  "is_llm_call",
  "attributes",
  "resource_attributes",
  "events",
  "content_attributes",
]);

export const SCORES_COLUMNS = columnsOf<ScoreRow>()([
  "timestamp",
  "score_id",
  "trace_id",
  "span_id",
  "name",
  "value",
  "label",
  "source",
  "comment",
  "data_type",
]);

export const CALL_CONTENT_COLUMNS = columnsOf<CallContentRow>()([
  "timestamp",
  "trace_id",
  "span_id",
  "input",
  "output",
  "redacted",
]);

/** Tables whose rows are written as TabSeparated lines, with their column lists. */
const COLUMNS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ["llm_calls", LLM_CALLS_COLUMNS],
  ["spans", SPANS_COLUMNS],
  ["scores", SCORES_COLUMNS],
  ["call_content", CALL_CONTENT_COLUMNS],
]);
/** The tables ingest writes through the batch writer. */
export const WRITTEN_TABLES: readonly string[] = [...COLUMNS.keys()];
const TSV = "tsv:";
const LAYOUTS: ReadonlyMap<string, string> = new Map(
  [...COLUMNS].map(([table, columns]) => [table, TSV + columns.join(",")]),
);

/**
 * The layout a table's rows are encoded with (see the top of this file), or "" for JSONEachRow
 * (tables without a column list here). This is what a logged or spooled batch records.
 */
export function tableLayout(table: string): string {
  return LAYOUTS.get(table) ?? "";
}

/** Characters TabSeparated escapes in a value; a raw one would end the field or the row. */
const ESCAPED = /[\\\t\n\r]/;
const ESCAPED_ALL = /[\\\t\n\r]/g;

/**
 * Whether `s` holds a character to escape. Four single-character searches scan a long string
 * about five times faster than one character-class regex; short strings take the regex.
 */
function needsEscape(s: string): boolean {
  if (s.length < 64) return ESCAPED.test(s);
  return s.includes("\\") || s.includes("\n") || s.includes("\t") || s.includes("\r");
}
/** Inside a quoted string of a Map value the quote is escaped too. */
const QUOTED = /[\\'\t\n\r]/;
const QUOTED_ALL = /[\\'\t\n\r]/g;

function escapeChar(c: string): string {
  if (c === "\\") return "\\\\";
  if (c === "\t") return "\\t";
  if (c === "\n") return "\\n";
  if (c === "'") return "\\'";
  return "\\r";
}

function quoted(s: string): string {
  return `'${QUOTED.test(s) ? s.replace(QUOTED_ALL, escapeChar) : s}'`;
}

/** A Map column in its text form, `{'key':'value',...}`. */
function mapText(map: object): string {
  let text = "{";
  for (const [k, v] of Object.entries(map)) {
    if (text.length > 1) text += ",";
    text += `${quoted(k)}:${quoted(String(v))}`;
  }
  return `${text}}`;
}

/** One value as a TabSeparated field. */
function field(v: unknown): string {
  if (typeof v === "string") return needsEscape(v) ? v.replace(ESCAPED_ALL, escapeChar) : v;
  // Not finite: NULL, which a non-Nullable column reads as its default (as JSON's null did).
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "\\N";
  if (v === null || v === undefined) return "\\N";
  if (typeof v === "boolean") return v ? "1" : "0";
  if (typeof v === "object") return mapText(v);
  return field(String(v));
}

/**
 * A DateTime64(6) value from Unix microseconds. A run of 16 digits is read as microseconds;
 * other lengths are not (the text parser takes short numbers for seconds or refuses them), so
 * anything else goes as `YYYY-MM-DD hh:mm:ss.ffffff`.
 */
function timeField(us: unknown): string {
  if (typeof us !== "number" || !Number.isInteger(us)) return field(us);
  if (us >= 1e15 && us < 1e16) {
    // Two small integers print several times faster than one 16-digit double.
    const high = Math.floor(us / 1e8);
    const low = us - high * 1e8;
    return `${high}${low < 1e7 ? String(low).padStart(8, "0") : low}`;
  }
  const frac = ((us % 1e6) + 1e6) % 1e6;
  const iso = new Date((us - frac) / 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(frac).padStart(6, "0")}`;
}

/** The columns of the lists above that are DateTime64(6): written by timeField. */
export const TIME_COLUMNS: ReadonlySet<string> = new Set(["timestamp", "end_timestamp"]);

/**
 * The unsigned integer columns of the lists above, with the largest value each takes (UInt64
 * columns: the largest integer a double holds exactly). A value the engine cannot parse into
 * its column would fail the whole batch, and a batch that fails is retried, so every row behind
 * it would wait: such values are clamped here instead (negative, fractional, non-finite or too
 * large, as a sender's bug or a hostile span can make them).
 */
export const UINT_COLUMNS: ReadonlyMap<string, number> = new Map([
  ...["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"].map(
    (c) => [c, Number.MAX_SAFE_INTEGER] as const,
  ),
  ["http_status", 65_535],
  ...["tokens_estimated", "priced", "streamed", "redacted", "cache_hit", "kind", "status_code", "is_llm_call"].map(
    (c) => [c, 255] as const,
  ),
]);

/** The Nullable(Decimal(18, 9)) columns of the lists above: written by decimalField. */
export const DECIMAL_COLUMNS: ReadonlySet<string> = new Set(["cost_usd", "list_cost_usd", "reported_cost_usd"]);

function uintField(v: unknown, max: number): string {
  if (typeof v === "number" && v >= 0 && v <= max && Number.isInteger(v)) return String(v);
  const n = Number(v);
  if (!(n > 0)) return "0";
  return String(n >= max ? max : Math.trunc(n));
}

/** A decimal within Decimal(18, 9): at most 9 digits before the point. */
const DECIMAL_18_9 = /^-?\d{1,9}(?:\.\d+)?$/;

/** A decimal column's value, or NULL when it is out of the column's range (unknown, never wrong). */
function decimalField(v: unknown): string {
  if (typeof v === "string" && DECIMAL_18_9.test(v)) return v;
  if (typeof v === "number" && Number.isFinite(v) && Math.abs(v) < 1e9) return v.toFixed(9);
  return "\\N";
}

type LineEncoder = (row: unknown) => string;

/**
 * Line encoders, one per column list, compiled once: `f(r.a) + "\t" + t(r.b) + ...`. Reading
 * each column at a fixed name keeps every property access monomorphic; a loop reading
 * `row[columns[i]]` for every table's rows is megamorphic and cost the ingest worker about
 * 2 µs a span more (the technique fast-json-stringify uses for the same reason).
 */
const ENCODERS = new WeakMap<readonly string[], LineEncoder>();

function encoderFor(columns: readonly string[]): LineEncoder {
  let encode = ENCODERS.get(columns);
  if (encode === undefined) {
    // The names are this module's constants; checked anyway, since they become code.
    for (const c of columns) if (!/^[a-z_][a-z0-9_]*$/.test(c)) throw new Error(`invalid column name ${c}`);
    const fields = columns.map((c) => {
      if (TIME_COLUMNS.has(c)) return `t(r.${c})`;
      if (DECIMAL_COLUMNS.has(c)) return `d(r.${c})`;
      const max = UINT_COLUMNS.get(c);
      return max === undefined ? `f(r.${c})` : `u(r.${c}, ${max})`;
    });
    encode = new Function("f", "t", "u", "d", `return (r) => ${fields.join(' + "\\t" + ')} + "\\n";`)(
      field,
      timeField,
      uintField,
      decimalField,
    ) as LineEncoder;
    ENCODERS.set(columns, encode);
  }
  return encode;
}

/** One row as a line of the given columns' layout. */
export function encodeLine<T>(columns: readonly (keyof T & string)[], row: T): string {
  return encoderFor(columns)(row);
}

/** Rows of `table` as newline-terminated text in the table's layout. */
export function encodeRows(table: string, rows: readonly unknown[]): string {
  const columns = COLUMNS.get(table);
  const encode = columns === undefined ? (r: unknown) => `${JSON.stringify(r)}\n` : encoderFor(columns);
  let text = "";
  for (const r of rows) text += encode(r);
  return text;
}

/**
 * The head of the INSERT for rows in `layout` (see tableLayout), settings included, ending in
 * the newline the rows follow.
 */
export function insertHead(
  database: string,
  table: string,
  layout: string,
  settings: Record<string, string | number>,
): string {
  const clause = settingsClause(settings);
  const with_ = clause === "" ? "" : ` SETTINGS ${clause}`;
  if (layout === "") return `INSERT INTO ${database}.${table}${with_} FORMAT JSONEachRow\n`;
  if (layout.startsWith(TSV)) {
    return `INSERT INTO ${database}.${table} (${layout.slice(TSV.length)})${with_} FORMAT TabSeparated\n`;
  }
  return `INSERT INTO ${database}.${table} (${layout})${with_} FORMAT JSONCompactEachRow\n`;
}

const UNESCAPED: Readonly<Record<string, string>> = { t: "\t", n: "\n", r: "\r", b: "\b", f: "\f", "0": "\0" };

/**
 * A line of `columns` back as an object of its fields' text, `\N` as null (for the rare path
 * that edits a batch; Map columns stay in their text form).
 */
export function parseLine(columns: readonly string[], line: string): Record<string, string | null> {
  const fields = line.split("\t");
  const row: Record<string, string | null> = {};
  for (let i = 0; i < columns.length; i++) {
    const f = fields[i] ?? "";
    row[columns[i] as string] = f === "\\N" ? null : f.replace(/\\(.)/g, (_, c: string) => UNESCAPED[c] ?? c);
  }
  return row;
}
