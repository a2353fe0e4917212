/**
 * Expands a grafana-clickhouse-datasource panel query the way Grafana and the plugin do before
 * ClickHouse sees it, so tests can run the dashboards' SQL for a chosen time range and variable
 * selection. Three passes, in the plugin's order:
 *
 * 1. `$__conditionalAll(condition, $var)` (plugin frontend, before interpolation): the condition
 *    when the variable selects some values, `1=1` when it selects All or is empty.
 * 2. Template variables (Grafana's template service): `$var`, `${var}`, `${var:format}`, `[[var]]`
 *    with the formats `singlequote`, `sqlstring`, `doublequote`, `csv`, `raw`; without a format a
 *    multi-value selection becomes `'a','b'` (the plugin's default formatter) and a single value
 *    is inserted as-is. All expands to the variable's `allValue` or else every option. Grafana's
 *    globals `$__from`, `$__to` (epoch ms), `$__interval`, `$__interval_ms`, `$__range_s` are
 *    resolved here too.
 * 3. Backend macros (pkg/macros of the plugin):
 *    `$__timeFilter(c)`      c >= toDateTime(from_s) AND c <= toDateTime(to_s)
 *    `$__timeFilter_ms(c)`   c >= fromUnixTimestamp64Milli(from_ms) AND c <= fromUnixTimestamp64Milli(to_ms)
 *    `$__dateFilter(c)`      c >= toDate('from') AND c <= toDate('to')
 *    `$__dateTimeFilter(d, t)` / `$__dt(d, t)`  both of the above, on a Date and a DateTime column
 *    `$__timeInterval(c)`    toStartOfInterval(toDateTime(c), INTERVAL <interval_s> second)
 *    `$__timeInterval_ms(c)` toStartOfInterval(toDateTime64(c, 3), INTERVAL <interval_ms> millisecond)
 *    `$__fromTime`, `$__toTime`        toDateTime(<s>)
 *    `$__fromTime_ms`, `$__toTime_ms`  fromUnixTimestamp64Milli(<ms>)
 *    `$__interval_s`                   the interval in whole seconds, at least 1
 *
 * Anything left that looks like a variable or macro is an error: a typo must fail the test, not
 * reach Grafana.
 */

export interface VariableState {
  /** The selection: a value, several values, or `$__all` (Grafana's All). */
  current: string | readonly string[];
  /** Every option the variable offers; what All expands to when there is no allValue. */
  options?: readonly string[];
  allValue?: string;
}

export interface MacroContext {
  from: Date;
  to: Date;
  /** Grafana's computed interval for the panel ($__interval). */
  intervalMs: number;
  variables: Readonly<Record<string, VariableState>>;
}

export class MacroExpansionError extends Error {
  override readonly name = "MacroExpansionError";
}

export const ALL = "$__all";

export function expandQuery(rawSql: string, ctx: MacroContext): string {
  const conditional = applyConditionalAll(rawSql, ctx.variables);
  const interpolated = interpolateVariables(conditional, ctx);
  return applyBackendMacros(interpolated, ctx);
}

/** The macro's arguments, split on top-level commas; `open` is the index of its "(". */
function macroArgs(text: string, open: number): { args: string[]; end: number } {
  let depth = 0;
  let start = open + 1;
  const args: string[] = [];
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    if (ch === "," && depth === 1) {
      args.push(text.slice(start, i));
      start = i + 1;
    }
    if (depth === 0) {
      args.push(text.slice(start, i));
      return { args, end: i + 1 };
    }
  }
  throw new MacroExpansionError(`unbalanced parentheses after ${text.slice(Math.max(0, open - 20), open + 1)}`);
}

/** The plugin's test: the selection, joined with commas, is empty or exactly All. */
function isAllSelected(state: VariableState): boolean {
  const joined = typeof state.current === "string" ? state.current : state.current.join(",");
  return joined === "" || joined === ALL;
}

function applyConditionalAll(text: string, variables: MacroContext["variables"]): string {
  const macro = "$__conditionalAll(";
  let out = text;
  // Innermost-last like the plugin: expanding from the end keeps earlier indexes valid.
  for (let at = out.lastIndexOf(macro); at !== -1; at = out.lastIndexOf(macro)) {
    const { args, end } = macroArgs(out, at + macro.length - 1);
    const [condition, variableArg] = args;
    if (args.length !== 2 || condition === undefined || variableArg === undefined) {
      throw new MacroExpansionError(`$__conditionalAll takes 2 arguments, got ${args.length}`);
    }
    const name = /^\s*\$\{?(\w+)/.exec(variableArg)?.[1];
    if (name === undefined) throw new MacroExpansionError(`$__conditionalAll: "${variableArg}" is not a variable`);
    const state = variables[name];
    if (state === undefined) throw new MacroExpansionError(`$__conditionalAll: unknown variable $${name}`);
    out = out.slice(0, at) + (isAllSelected(state) ? "1=1" : condition) + out.slice(end);
  }
  return out;
}

function selectedValues(state: VariableState): string[] | string {
  if (typeof state.current === "string" && state.current !== ALL) return state.current;
  const values = typeof state.current === "string" ? [state.current] : [...state.current];
  if (!values.includes(ALL)) return values;
  if (state.allValue !== undefined) return state.allValue;
  return [...(state.options ?? [])];
}

function formatValue(value: string[] | string, format: string | undefined, name: string): string {
  const list = typeof value === "string" ? [value] : value;
  switch (format) {
    case undefined:
      // The plugin's formatter: lists are quoted, a single value is inserted raw.
      return typeof value === "string" ? value : `'${value.join("','")}'`;
    case "singlequote":
      return list.map((v) => `'${v.replaceAll("'", "\\'")}'`).join(",");
    case "sqlstring":
      return list.map((v) => `'${v.replaceAll("'", "''")}'`).join(",");
    case "doublequote":
      return list.map((v) => `"${v.replaceAll('"', '\\"')}"`).join(",");
    case "csv":
    case "raw":
      return list.join(",");
    default:
      throw new MacroExpansionError(`unsupported format "${format}" for $${name}`);
  }
}

function globalVariable(name: string, ctx: MacroContext): string | undefined {
  switch (name) {
    case "__from":
      return String(ctx.from.getTime());
    case "__to":
      return String(ctx.to.getTime());
    case "__interval_ms":
      return String(ctx.intervalMs);
    case "__interval":
      return grafanaInterval(ctx.intervalMs);
    case "__range_s":
      return String(Math.round((ctx.to.getTime() - ctx.from.getTime()) / 1000));
    default:
      return undefined;
  }
}

/** Grafana's rendering of an interval: the largest whole unit ("1h", "30m", "15s", "500ms"). */
function grafanaInterval(ms: number): string {
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

const VARIABLE_PATTERN = /\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)/g;

function interpolateVariables(text: string, ctx: MacroContext): string {
  const replace = (
    match: string,
    braced: string | undefined,
    bracedFormat: string | undefined,
    bracket: string | undefined,
    bracketFormat: string | undefined,
    bare: string | undefined,
  ): string => {
    const name = braced ?? bracket ?? bare ?? "";
    const format = bracedFormat ?? bracketFormat;
    const global = globalVariable(name, ctx);
    if (global !== undefined) return global;
    // Plugin macros are expanded by the backend, after interpolation.
    if (name.startsWith("__")) return match;
    const state = ctx.variables[name];
    if (state === undefined) throw new MacroExpansionError(`unknown template variable $${name}`);
    return formatValue(selectedValues(state), format, name);
  };
  return text.replace(VARIABLE_PATTERN, replace);
}

function toDateTime(date: Date): string {
  return `toDateTime(${Math.floor(date.getTime() / 1000)})`;
}

function toDateTime64(date: Date): string {
  return `fromUnixTimestamp64Milli(${date.getTime()})`;
}

function toDate(date: Date): string {
  return `toDate('${date.toISOString().slice(0, 10)}')`;
}

function expectArgs(name: string, args: string[] | undefined, count: number): string[] {
  if (args === undefined || args.length !== count || args.some((a) => a.trim() === "")) {
    throw new MacroExpansionError(`$__${name} takes ${count} argument(s)`);
  }
  return args.map((a) => a.trim());
}

function backendMacro(name: string, args: string[] | undefined, ctx: MacroContext): string {
  const { from, to } = ctx;
  const seconds = Math.max(Math.trunc(ctx.intervalMs / 1000), 1);
  switch (name) {
    case "fromTime":
      return toDateTime(from);
    case "toTime":
      return toDateTime(to);
    case "fromTime_ms":
      return toDateTime64(from);
    case "toTime_ms":
      return toDateTime64(to);
    case "interval_s":
      return String(seconds);
    case "timeFilter": {
      const [c] = expectArgs(name, args, 1);
      return `${c} >= ${toDateTime(from)} AND ${c} <= ${toDateTime(to)}`;
    }
    case "timeFilter_ms": {
      const [c] = expectArgs(name, args, 1);
      return `${c} >= ${toDateTime64(from)} AND ${c} <= ${toDateTime64(to)}`;
    }
    case "dateFilter": {
      const [c] = expectArgs(name, args, 1);
      return `${c} >= ${toDate(from)} AND ${c} <= ${toDate(to)}`;
    }
    case "dateTimeFilter":
    case "dt": {
      const [d, t] = expectArgs(name, args, 2);
      return `(${d} >= ${toDate(from)} AND ${d} <= ${toDate(to)}) AND (${t} >= ${toDateTime(from)} AND ${t} <= ${toDateTime(to)})`;
    }
    case "timeInterval": {
      const [c] = expectArgs(name, args, 1);
      return `toStartOfInterval(toDateTime(${c}), INTERVAL ${seconds} second)`;
    }
    case "timeInterval_ms": {
      const [c] = expectArgs(name, args, 1);
      return `toStartOfInterval(toDateTime64(${c}, 3), INTERVAL ${Math.max(ctx.intervalMs, 1)} millisecond)`;
    }
    default:
      throw new MacroExpansionError(`unknown macro $__${name}`);
  }
}

const TAKES_ARGS = new Set([
  "timeFilter",
  "timeFilter_ms",
  "dateFilter",
  "dateTimeFilter",
  "dt",
  "timeInterval",
  "timeInterval_ms",
]);

function applyBackendMacros(text: string, ctx: MacroContext): string {
  let out = "";
  let i = 0;
  const pattern = /\$__(\w+)/g;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const name = m[1] ?? "";
    out += text.slice(i, m.index);
    let end = m.index + m[0].length;
    let args: string[] | undefined;
    if (TAKES_ARGS.has(name) && text[end] === "(") {
      const parsed = macroArgs(text, end);
      // An argument may itself hold a macro, e.g. $__timeInterval(if(x, $__fromTime, ts)).
      args = parsed.args.map((a) => applyBackendMacros(a, ctx));
      end = parsed.end;
    }
    out += backendMacro(name, args, ctx);
    i = end;
    pattern.lastIndex = end;
  }
  return out + text.slice(i);
}
