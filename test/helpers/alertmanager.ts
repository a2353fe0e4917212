import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "./net.js";

/**
 * A real Alertmanager (Debian package prometheus-alertmanager) for tests. Locally a missing
 * binary skips its tests; in CI (CI=true), where .ci/run installs the package, they fail.
 */

export function alertmanagerBinary(): string | undefined {
  const dirs = ["/usr/bin", ...(process.env["PATH"] ?? "").split(delimiter)];
  for (const dir of dirs) {
    for (const name of ["prometheus-alertmanager", "alertmanager"]) {
      const path = join(dir, name);
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // next
      }
    }
  }
  return undefined;
}

export interface RunningAlertmanager {
  /** http://127.0.0.1:<port> */
  base: string;
  /** Ends the process (SIGTERM) and waits for it. */
  stop(): Promise<void>;
}

/** Starts `binary` with `configFile` on a free local port and waits until it is ready. */
export async function startAlertmanager(binary: string, configFile: string): Promise<RunningAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), "tm-alertmanager-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let output = "";
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Empty: no gossip cluster, so nothing else is bound and no peers are looked for.
      "--cluster.listen-address=",
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`alertmanager exited (${child.exitCode}): ${output}`);
    try {
      const res = await fetch(`${base}/-/ready`);
      if (res.ok) return { base, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`alertmanager did not become ready: ${output}`);
}
