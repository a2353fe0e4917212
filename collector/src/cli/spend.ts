import { parseArgs } from "node:util";
import { ERR_BAD_REQUEST } from "../errors.js";
import type { Backend } from "../finops/cli-backend.js";
import { forecastMonth, type MonthForecast, type Projection } from "../finops/forecast.js";
import { querySavings, type SavingsReport, type SavingsRow } from "../finops/savings.js";
import { GROUP_KEYS, type GroupKey, querySpend, type SpendRow, type SpendTotal } from "../finops/spend.js";
import { type Column, formatTable, int, usd } from "../finops/table.js";
import { parseTimeArg } from "../finops/time-arg.js";
import { BACKEND_OPTIONS, type CliIo, runFinopsCommand } from "./finops-command.js";

const USAGE = `usage: tokenmeter spend [options]

  --by KEYS        group by team,project,model,provider,user_id,day (default: team)
  --since T        start: a duration back from now (30d, 12h; from the start of that hour) or an
                   ISO date or time (default 30d); a date alone is midnight in --tz
  --until T        end (default now; a date alone is midnight in --tz)
  --tz ZONE        time zone for "day" (default budgets.timezone)
  --limit N        at most N rows, the costliest first (default 10000); the total still covers
                   every group, and a cut table says so
  --team T  --project P  --provider P  --model M     filters
  --forecast       month-end projection per team instead (--month YYYY-MM, default this month)
  --savings        cost avoided by the proxy cache and provider prompt caching, per team
  --json           print JSON instead of a table
  --api-url URL    a running server's API (default: the configured collector address)
  --local          read storage directly even if a server answers
`;

export function runSpend(argv: string[], io: CliIo = {}): Promise<number> {
  return runFinopsCommand("spend", io, async ({ stdout, config: loadCommandConfig, connect }) => {
    const { values } = parseArgs({
      args: argv,
      options: {
        by: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        tz: { type: "string" },
        team: { type: "string" },
        project: { type: "string" },
        provider: { type: "string" },
        model: { type: "string" },
        forecast: { type: "boolean" },
        month: { type: "string" },
        savings: { type: "boolean" },
        json: { type: "boolean" },
        limit: { type: "string" },
        ...BACKEND_OPTIONS,
      },
    });
    if (values.help) {
      stdout.write(USAGE);
      return 0;
    }
    const config = loadCommandConfig(values);
    const now = io.now ?? Date.now();
    const groupBy = (values.by ?? "team")
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean);
    for (const k of groupBy) {
      if (!(GROUP_KEYS as readonly string[]).includes(k)) {
        throw ERR_BAD_REQUEST(`--by: unknown key "${k}"; expected ${GROUP_KEYS.join(", ")}`);
      }
    }
    const timezone = values.tz ?? config.budgets.timezone;
    // A date alone is midnight in the report's zone, where its "day" rows start.
    const from = parseTimeArg(values.since ?? "30d", now, "--since", { hourAligned: true, timeZone: timezone });
    const to = values.until ? parseTimeArg(values.until, now, "--until", { timeZone: timezone }) : now;
    if (!(from < to)) throw ERR_BAD_REQUEST("--since must be before --until");
    const backend = await connect(config, values);

    if (values.forecast) {
      const f = await getForecast(backend, values.month, timezone, now);
      stdout.write(values.json ? `${JSON.stringify(f, null, 2)}\n` : forecastText(f));
      return 0;
    }
    if (values.savings) {
      const s = await getSavings(backend, from, to, timezone);
      stdout.write(values.json ? `${JSON.stringify(s, null, 2)}\n` : savingsText(s));
      return 0;
    }

    const filter = { team: values.team, project: values.project, provider: values.provider, model: values.model };
    let rows: SpendRow[];
    let total: SpendTotal;
    let truncated: boolean;
    let groups: number;
    if (backend.kind === "api") {
      const qs = new URLSearchParams({
        from: new Date(from).toISOString(),
        group_by: groupBy.join(","),
        tz: timezone,
      });
      if (values.until) qs.set("to", new Date(to).toISOString());
      if (values.limit) qs.set("limit", values.limit);
      for (const [k, v] of Object.entries(filter)) if (v !== undefined) qs.set(k, v);
      const body = (await (await backend.request("GET", `/api/v1/spend?${qs}`)).json()) as {
        rows: SpendRow[];
        meta: { total: SpendTotal; truncated: boolean; groups: number };
      };
      ({ rows } = body);
      ({ total, truncated, groups } = body.meta);
    } else {
      ({ rows, total, truncated, groups } = await querySpend(backend.finops.client, backend.finops.database, {
        fromUs: from * 1000,
        toUs: to * 1000,
        openEnded: !values.until,
        groupBy: groupBy as GroupKey[],
        timezone,
        filter,
        limit: values.limit ? Number(values.limit) : undefined,
      }));
    }
    if (values.json) {
      stdout.write(`${JSON.stringify({ rows, total, truncated, groups }, null, 2)}\n`);
      return 0;
    }
    stdout.write(
      `spend ${new Date(from).toISOString()} -> ${values.until ? new Date(to).toISOString() : "now"}${
        backend.kind === "api" ? ` (via ${backend.baseUrl})` : ""
      }\n\n`,
    );
    stdout.write(rows.length ? spendTable(rows, groupBy as GroupKey[], total) : "no calls in this range\n");
    if (truncated) {
      stdout.write(
        `\nshowing the ${int(rows.length)} costliest of ${int(groups)} groups (--limit); the total covers all of them.\n`,
      );
    }
    const unpriced = Number(total.unpriced_calls);
    if (unpriced > 0) {
      stdout.write(`\n${int(unpriced)} call(s) have no price and are not in cost_usd (see unpriced).\n`);
    }
    return 0;
  });
}

/** The rows as a table, ending in `total` (every group's, not only the rows shown) when grouped. */
export function spendTable(rows: readonly SpendRow[], keys: readonly GroupKey[], total: SpendTotal): string {
  const columns: Column<SpendRow>[] = [
    ...keys.map((k) => ({ header: k, value: (r: SpendRow) => (r[k] === "" ? "(none)" : (r[k] ?? "")) })),
    { header: "calls", value: (r) => int(r.calls), align: "right" },
    { header: "input_tokens", value: (r) => int(r.input_tokens), align: "right" },
    { header: "output_tokens", value: (r) => int(r.output_tokens), align: "right" },
    { header: "cost_usd", value: (r) => usd(r.cost_usd), align: "right" },
    { header: "unpriced", value: (r) => int(r.unpriced_calls), align: "right" },
  ];
  const totalRow: SpendRow = { ...total };
  const first = keys[0];
  if (first) totalRow[first] = "total";
  return formatTable(columns, rows, keys.length ? totalRow : undefined);
}

async function getForecast(backend: Backend, month: string | undefined, timezone: string, now: number) {
  if (backend.kind === "api") {
    const qs = new URLSearchParams({ tz: timezone });
    if (month) qs.set("month", month);
    return (await (await backend.request("GET", `/api/v1/spend/forecast?${qs}`)).json()) as MonthForecast;
  }
  return forecastMonth(backend.finops.client, backend.finops.database, { month, timezone, now });
}

function forecastText(f: MonthForecast): string {
  type Row = Projection & { team: string };
  const rows: Row[] = [...f.teams, { team: "total", ...f.total }];
  const table = formatTable<Row>(
    [
      { header: "team", value: (r) => (r.team === "" ? "(none)" : r.team) },
      { header: "spent", value: (r) => usd(r.spent_usd), align: "right" },
      { header: "projected", value: (r) => usd(r.projected_usd), align: "right" },
      { header: "method", value: (r) => r.method },
      { header: "run_rate/day", value: (r) => usd(r.run_rate.daily_usd), align: "right" },
      { header: "run_rate_proj", value: (r) => usd(r.run_rate.projected_usd), align: "right" },
      {
        header: "regression_proj",
        value: (r) => (r.linear_regression ? usd(r.linear_regression.projected_usd) : "-"),
        align: "right",
      },
      { header: "r2", value: (r) => (r.linear_regression ? r.linear_regression.r2.toFixed(2) : "-"), align: "right" },
    ],
    rows,
  );
  return `forecast for ${f.month} (${f.timezone}) as of ${f.as_of}\n\n${table}\nmethods: weighted_run_rate_7d = spent + trailing 7-day weighted daily rate x days left (from the first day with spend); run_rate_today = spend that started today, at today's rate so far; linear_regression = least-squares line through this month's days (used with >= 7 days and R^2 >= 0.5)\n`;
}

async function getSavings(backend: Backend, from: number, to: number, timezone: string): Promise<SavingsReport> {
  if (backend.kind === "api") {
    const qs = new URLSearchParams({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      tz: timezone,
    });
    return (await (await backend.request("GET", `/api/v1/savings?${qs}`)).json()) as SavingsReport;
  }
  return querySavings(backend.finops.client, backend.finops.database, {
    fromUs: from * 1000,
    toUs: to * 1000,
    book: backend.finops.book,
    timezone,
  });
}

function savingsText(s: SavingsReport): string {
  const rows: SavingsRow[] = [...s.rows, { team: "total", ...s.total }];
  return formatTable<SavingsRow>(
    [
      { header: "team", value: (r) => (r.team === "" ? "(none)" : r.team) },
      { header: "cache_hits", value: (r) => int(r.cache_hit_calls), align: "right" },
      { header: "proxy_cache_saved", value: (r) => usd(r.cache_hit_savings_usd), align: "right" },
      { header: "cache_read_tokens", value: (r) => int(r.cache_read_tokens), align: "right" },
      { header: "prompt_cache_saved", value: (r) => usd(r.prompt_cache_savings_usd), align: "right" },
      { header: "total_saved", value: (r) => usd(r.total_savings_usd), align: "right" },
    ],
    rows,
  );
}
