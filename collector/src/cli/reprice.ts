import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createPriceBook } from "../enrich/price-book.js";
import { ERR_BAD_CONFIG, ERR_BAD_REQUEST, TokenmeterError } from "../errors.js";
import type { Backend } from "../finops/cli-backend.js";
import { createProgressBar } from "../finops/progress-bar.js";
import { type RepriceDiffRow, type RepriceProgress, type RepriceResult, reprice } from "../finops/reprice.js";
import { formatTable, int, usd } from "../finops/table.js";
import { parseTimeArg } from "../finops/time-arg.js";
import { BACKEND_OPTIONS, type CliIo, runFinopsCommand } from "./finops-command.js";

const USAGE = `usage: tokenmeter reprice --from T [--to T] [--model M] [--catalog FILE] [--dry-run] [--json]

Re-rates stored calls with the current catalog (or --catalog) and contract prices, then prints
the cost before and after per model and team. Running it again changes nothing.

  --from T         start: an ISO date/time or a duration back from now (30d)
  --to T           end (default: now; never past the start of the current hour)
  --model M        only calls whose request or response model is M
  --catalog FILE   rate with this catalog instead of the server's
  --dry-run        show the diff, change nothing
  --json           print the result as JSON
  --api-url URL    a running server's API (default: the configured collector address)
  --local          use storage directly even if a server answers
`;

export function runReprice(argv: string[], io: CliIo = {}): Promise<number> {
  return runFinopsCommand(
    "reprice",
    io,
    async ({ stdout, stderr, config, connect }) => {
      const { values } = parseArgs({
        args: argv,
        options: {
          from: { type: "string" },
          to: { type: "string" },
          model: { type: "string" },
          catalog: { type: "string" },
          "dry-run": { type: "boolean" },
          json: { type: "boolean" },
          ...BACKEND_OPTIONS,
        },
      });
      if (values.help) {
        stdout.write(USAGE);
        return 0;
      }
      if (!values.from) throw ERR_BAD_REQUEST("--from is required");
      const now = io.now ?? Date.now();
      const from = parseTimeArg(values.from, now, "--from");
      const to = values.to ? parseTimeArg(values.to, now, "--to") : now;
      let catalog: unknown;
      if (values.catalog) {
        try {
          catalog = JSON.parse(readFileSync(values.catalog, "utf8"));
        } catch (err) {
          throw ERR_BAD_CONFIG(`--catalog ${values.catalog}: ${(err as Error).message}`);
        }
      }
      const backend = await connect(config(values), values);

      const bar = createProgressBar(stderr);
      const onProgress = (p: RepriceProgress) => bar.update(p.phase, p.done, p.total, p.message);
      let result: RepriceResult;
      if (backend.kind === "api") {
        result = await viaApi(backend, {
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          model: values.model,
          dry_run: values["dry-run"] === true,
          catalog,
          onProgress,
        });
      } else {
        result = await reprice({
          client: backend.finops.client,
          database: backend.finops.database,
          cluster: backend.finops.cluster,
          book: catalog === undefined ? backend.finops.book : createPriceBook(catalog),
          pricing: backend.finops.pricing,
          fromUs: from * 1000,
          toUs: to * 1000,
          model: values.model,
          dryRun: values["dry-run"] === true,
          onProgress,
          clock: () => io.now ?? Date.now(),
        });
      }
      bar.done();
      stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : repriceText(result));
      return 0;
    },
    // A failure may interrupt the progress bar's line.
    { errorPrefix: "\n" },
  );
}

async function viaApi(
  backend: Extract<Backend, { kind: "api" }>,
  req: {
    from: string;
    to: string;
    model: string | undefined;
    dry_run: boolean;
    catalog: unknown;
    onProgress: (p: RepriceProgress) => void;
  },
): Promise<RepriceResult> {
  const { onProgress, ...body } = req;
  const res = await backend.request("POST", "/api/v1/admin/reprice", body);
  if (!res.body) throw new TokenmeterError("TM_ERR_INTERNAL", 500, "empty answer from the server");
  const decoder = new TextDecoder();
  let buffered = "";
  let result: RepriceResult | undefined;
  const handle = (line: string) => {
    if (!line.trim()) return;
    const msg = JSON.parse(line) as {
      progress?: RepriceProgress;
      result?: RepriceResult;
      error?: { code: string; message: string };
    };
    if (msg.progress) onProgress(msg.progress);
    if (msg.result) result = msg.result;
    if (msg.error) throw new TokenmeterError(msg.error.code, 500, msg.error.message);
  };
  for await (const chunk of res.body) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      handle(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
    }
  }
  handle(buffered);
  if (!result) throw new TokenmeterError("TM_ERR_INTERNAL", 500, "the server ended the reprice without a result");
  return result;
}

function pct(before: string, after: string): string {
  const b = Number(before);
  const a = Number(after);
  if (b === 0) return a === 0 ? "" : "new";
  const p = ((a - b) / b) * 100;
  return `${p > 0 ? "+" : ""}${p.toFixed(1)}%`;
}

export function repriceText(r: RepriceResult): string {
  const head = `${r.dry_run ? "dry run: " : ""}${r.from} -> ${r.to}${r.model ? ` model ${r.model}` : ""}, catalog ${r.catalog_version}: ${int(r.calls)} calls, ${int(r.changed_calls)} re-rated${r.dry_run || r.rewritten ? "" : " (nothing to change)"}\n\n`;
  const total: RepriceDiffRow = {
    model: "total",
    team: "",
    calls: r.calls,
    before_cost_usd: r.totals.before_cost_usd,
    after_cost_usd: r.totals.after_cost_usd,
    delta_usd: r.totals.delta_usd,
    before_unpriced: r.rows.reduce((n, x) => n + x.before_unpriced, 0),
    after_unpriced: r.rows.reduce((n, x) => n + x.after_unpriced, 0),
    changed_calls: r.changed_calls,
  };
  const table = formatTable<RepriceDiffRow>(
    [
      { header: "model", value: (x) => x.model || "(none)" },
      { header: "team", value: (x) => (x.model === "total" ? "" : x.team || "(none)") },
      { header: "calls", value: (x) => int(x.calls), align: "right" },
      { header: "changed", value: (x) => int(x.changed_calls), align: "right" },
      { header: "before", value: (x) => usd(x.before_cost_usd), align: "right" },
      { header: "after", value: (x) => usd(x.after_cost_usd), align: "right" },
      { header: "delta", value: (x) => usd(x.delta_usd), align: "right" },
      { header: "delta %", value: (x) => pct(x.before_cost_usd, x.after_cost_usd), align: "right" },
      { header: "unpriced", value: (x) => `${int(x.before_unpriced)} -> ${int(x.after_unpriced)}`, align: "right" },
    ],
    r.rows.filter((x) => x.changed_calls > 0 || x.before_unpriced !== x.after_unpriced),
    total,
  );
  return head + table;
}
