import { createWriteStream } from "node:fs";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { ERR_BAD_REQUEST } from "../errors.js";
import { exportFocus, type FocusFormat, utcMonth } from "../finops/focus-export.js";
import { BACKEND_OPTIONS, type CliIo, runFinopsCommand } from "./finops-command.js";

const USAGE = `usage: tokenmeter export focus --month YYYY-MM [--format csv|parquet] [--out FILE]

Chargeback data for one month in FOCUS 1.2 columns (one Usage row per day, team, project,
environment, provider, model and price), written by ClickHouse. Without --out it goes to stdout.

  --api-url URL    a running server's API (default: the configured collector address)
  --local          read storage directly even if a server answers
`;

export function runExport(argv: string[], io: CliIo = {}): Promise<number> {
  return runFinopsCommand("export", io, async ({ stdout, stderr, config, connect }) => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        month: { type: "string" },
        format: { type: "string" },
        out: { type: "string", short: "o" },
        ...BACKEND_OPTIONS,
      },
    });
    if (values.help) {
      stdout.write(USAGE);
      return 0;
    }
    if (positionals[0] !== "focus") {
      stderr.write(`tokenmeter export: expected "focus"\n\n${USAGE}`);
      return 2;
    }
    if (!values.month) throw ERR_BAD_REQUEST("--month is required (YYYY-MM)");
    utcMonth(values.month);
    const format = (values.format ?? "csv") as FocusFormat;
    if (format !== "csv" && format !== "parquet") throw ERR_BAD_REQUEST("--format: csv or parquet");
    if (format === "parquet" && !values.out && (stdout as { isTTY?: boolean }).isTTY) {
      throw ERR_BAD_REQUEST("Parquet is binary: pass --out FILE or redirect stdout");
    }
    const backend = await connect(config(values), values);

    let source: Readable;
    if (backend.kind === "api") {
      const qs = new URLSearchParams({ month: values.month, format });
      const res = await backend.request("GET", `/api/v1/export/focus?${qs}`);
      if (!res.body) throw ERR_BAD_REQUEST("empty answer from the server");
      source = Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]);
    } else {
      source = await exportFocus(backend.finops.client, backend.finops.database, { month: values.month, format });
    }
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    if (values.out) {
      await pipeline(source, count, createWriteStream(values.out));
      stderr.write(
        `wrote FOCUS ${format} for ${values.month} to ${values.out} (${bytes.toLocaleString("en-US")} bytes)\n`,
      );
    } else {
      await pipeline(source, count, stdout, { end: false });
    }
    return 0;
  });
}
