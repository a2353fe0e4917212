import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../config/load-config.js";
import { createPriceBook, DEFAULT_CATALOG_URL, type PriceBook, type PriceEntry } from "../enrich/price-book.js";
import { ERR_BAD_CONFIG, ERR_BAD_REQUEST, isTokenmeterError } from "../errors.js";
import { diffPrices, entriesAt, lintCatalog, type PriceChange } from "../finops/catalog-diff.js";
import { formatTable } from "../finops/table.js";
import { parseTimeArg } from "../finops/time-arg.js";
import type { CliIo } from "./finops-command.js";

const USAGE = `usage: tokenmeter prices <show|validate|diff> [options]

  show [--catalog F] [--provider P] [--model M] [--at DATE] [--all-versions] [--json]
      prices in force at DATE (default now), USD per 1M tokens
  validate [F ...]
      check catalogs (default: the configured one); exit 1 on errors, warnings are printed
  diff [A] [B] [--at DATE] [--at-b DATE] [--json]
      what changed from catalog A at --at to catalog B at --at-b. A and B are files or git
      revisions ("HEAD~1:collector/prices/catalog.json"); B defaults to A, --at-b to --at,
      so "diff --at 2026-09-01 --at-b 2026-10-01" compares two dates of one catalog
`;

interface CatalogSource {
  label: string;
  book: PriceBook;
}

function readCatalog(spec: string): CatalogSource {
  let text: string;
  if (existsSync(spec)) {
    text = readFileSync(spec, "utf8");
  } else if (/^[^:]+:.+/.test(spec)) {
    try {
      text = execFileSync("git", ["show", spec], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      throw ERR_BAD_REQUEST(`cannot read ${spec} from git: ${(err as Error).message.split("\n")[0]}`);
    }
  } else {
    throw ERR_BAD_REQUEST(`no such catalog file: ${spec}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw ERR_BAD_CONFIG(`${spec}: not JSON: ${(err as Error).message}`);
  }
  return { label: spec, book: createPriceBook(json) };
}

function configuredCatalog(configFile: string | undefined): string {
  const config = loadConfig({ file: configFile });
  return config.pricing.catalog ? resolve(config.pricing.catalog) : DEFAULT_CATALOG_URL.pathname;
}

const fmt = (n: number | undefined) => (n === undefined ? "-" : String(n));

function showTable(entries: readonly PriceEntry[]): string {
  return formatTable(
    [
      { header: "provider", value: (e: PriceEntry) => e.provider },
      { header: "model", value: (e) => e.model },
      { header: "version", value: (e) => e.version },
      { header: "input", value: (e) => fmt(e.raw.input), align: "right" },
      { header: "output", value: (e) => fmt(e.raw.output), align: "right" },
      { header: "cache_read", value: (e) => fmt(e.raw.cache_read), align: "right" },
      { header: "cache_write", value: (e) => fmt(e.raw.cache_write), align: "right" },
      {
        header: "tiers (in/out)",
        value: (e) =>
          (e.raw.tiers ?? []).map((t) => `>${t.above_input_tokens / 1000}K ${t.input}/${t.output}`).join(", "),
      },
      { header: "effective", value: (e) => `${e.raw.effective_from} -> ${e.raw.effective_to ?? ""}` },
    ],
    entries,
  );
}

function diffTable(changes: readonly PriceChange[]): string {
  const rows = changes.flatMap((c) =>
    c.fields.length === 0
      ? [{ c, field: "", from: c.fromVersion ?? "", to: c.toVersion ?? "", pct: "" }]
      : c.fields.map((f) => ({
          c,
          field: f.field,
          from: f.from,
          to: f.to,
          pct: f.changePct === null ? "" : `${f.changePct > 0 ? "+" : ""}${f.changePct}%`,
        })),
  );
  return formatTable(
    [
      { header: "change", value: (r: (typeof rows)[number]) => r.c.kind },
      { header: "id", value: (r) => r.c.id },
      { header: "version", value: (r) => `${r.c.fromVersion ?? "-"} -> ${r.c.toVersion ?? "-"}` },
      { header: "field", value: (r) => r.field },
      { header: "from", value: (r) => r.from, align: "right" },
      { header: "to", value: (r) => r.to, align: "right" },
      { header: "change %", value: (r) => r.pct, align: "right" },
    ],
    rows,
  );
}

export async function runPrices(argv: string[], io: CliIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const now = io.now ?? Date.now();
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        catalog: { type: "string" },
        provider: { type: "string" },
        model: { type: "string" },
        at: { type: "string" },
        "at-b": { type: "string" },
        "all-versions": { type: "boolean" },
        json: { type: "boolean" },
        config: { type: "string", short: "c" },
        help: { type: "boolean", short: "h" },
      },
    });
    const configFile = values.config ?? io.configFile;
    const [sub, ...rest] = positionals;
    if (values.help || !sub) {
      stdout.write(USAGE);
      return sub || values.help ? 0 : 2;
    }
    switch (sub) {
      case "show": {
        const source = readCatalog(values.catalog ?? configuredCatalog(configFile));
        const at = values.at ? parseTimeArg(values.at, now, "--at") : now;
        let entries = values["all-versions"] ? [...source.book.entries] : entriesAt(source.book, at);
        if (values.provider) entries = entries.filter((e) => e.provider === values.provider);
        if (values.model) {
          const m = values.model.toLowerCase();
          entries = entries.filter((e) => e.model.includes(m) || e.raw.aliases.some((a) => a.includes(m)));
        }
        if (values.json) {
          stdout.write(
            `${JSON.stringify(
              entries.map((e) => e.raw),
              null,
              2,
            )}\n`,
          );
        } else {
          stdout.write(
            `catalog ${source.label} (version ${source.book.catalogVersion}), USD per 1M tokens, ${
              values["all-versions"] ? "all versions" : `in force at ${new Date(at).toISOString()}`
            }\n\n`,
          );
          stdout.write(showTable(entries));
        }
        return 0;
      }
      case "validate": {
        const files = rest.length ? rest : [values.catalog ?? configuredCatalog(configFile)];
        let failed = 0;
        for (const file of files) {
          try {
            const { book } = readCatalog(file);
            const ids = new Set(book.entries.map((e) => e.id));
            stdout.write(
              `ok  ${file}: catalog ${book.catalogVersion}, ${book.entries.length} entries, ${ids.size} models\n`,
            );
            for (const w of lintCatalog(book, now)) stdout.write(`    warning ${w.id}: ${w.message}\n`);
          } catch (err) {
            failed++;
            stdout.write(`ERR ${file}: ${isTokenmeterError(err) ? err.message : (err as Error).message}\n`);
          }
        }
        return failed ? 1 : 0;
      }
      case "diff": {
        const aSpec = rest[0] ?? values.catalog ?? configuredCatalog(configFile);
        const a = readCatalog(aSpec);
        const b = rest[1] ? readCatalog(rest[1]) : a;
        const atA = values.at ? parseTimeArg(values.at, now, "--at") : now;
        const atB = values["at-b"] ? parseTimeArg(values["at-b"], now, "--at-b") : atA;
        const changes = diffPrices(entriesAt(a.book, atA), entriesAt(b.book, atB));
        if (values.json) {
          stdout.write(`${JSON.stringify(changes, null, 2)}\n`);
        } else {
          stdout.write(
            `${a.label} at ${new Date(atA).toISOString()}  ->  ${b.label} at ${new Date(atB).toISOString()}: ${changes.length} change(s)\n\n`,
          );
          if (changes.length) stdout.write(diffTable(changes));
        }
        return 0;
      }
      default:
        stderr.write(`tokenmeter prices: unknown subcommand "${sub}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    stderr.write(`tokenmeter prices: ${isTokenmeterError(err) ? `${err.code}: ` : ""}${(err as Error).message}\n`);
    return 1;
  }
}
