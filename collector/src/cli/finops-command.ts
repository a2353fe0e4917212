import { loadConfig } from "../config/load-config.js";
import type { Config } from "../config/schema.js";
import { isTokenmeterError } from "../errors.js";
import { type Backend, openBackend } from "../finops/cli-backend.js";

/** What a FinOps CLI command writes to and how it finds its data; tests inject these. */
export interface CliIo {
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  /** tokenmeter.yaml, as given to `tokenmeter -c`. */
  configFile?: string | undefined;
  /** Unix ms. */
  now?: number;
}

/** The options every FinOps command takes, for its parseArgs. */
export const BACKEND_OPTIONS = {
  "api-url": { type: "string" },
  local: { type: "boolean" },
  config: { type: "string", short: "c" },
  help: { type: "boolean", short: "h" },
} as const;

interface BackendArgs {
  config?: string | undefined;
  "api-url"?: string | undefined;
  local?: boolean | undefined;
}

export interface FinopsCommand {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** The configuration of `-c FILE` (or the one the CLI was started with). */
  config(args: BackendArgs): Config;
  /** The server's API, or storage opened here; closed when the command ends. */
  connect(config: Config, args: BackendArgs): Promise<Backend>;
}

/**
 * The frame of the FinOps commands (spend, export, reprice): a failure prints as
 * `tokenmeter NAME: CODE: message` and exits 1, and the backend opened is always closed.
 */
export async function runFinopsCommand(
  name: string,
  io: CliIo,
  run: (cmd: FinopsCommand) => Promise<number>,
  { errorPrefix = "" }: { errorPrefix?: string } = {},
): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let backend: Backend | undefined;
  try {
    return await run({
      stdout,
      stderr,
      config: (args) => loadConfig({ file: args.config ?? io.configFile }),
      connect: async (config, args) => {
        backend = await openBackend(config, { apiUrl: args["api-url"], local: args.local });
        return backend;
      },
    });
  } catch (err) {
    stderr.write(
      `${errorPrefix}tokenmeter ${name}: ${isTokenmeterError(err) ? `${err.code}: ` : ""}${(err as Error).message}\n`,
    );
    return 1;
  } finally {
    await backend?.close();
  }
}
