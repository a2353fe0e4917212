import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The `tokenmeter` command as a new user gets it: npm links a workspace's commands when it
 * installs, which in a fresh clone is before the first build, so the command must be a file
 * in the repository rather than compiler output.
 */
const root = join(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "collector/package.json"), "utf8")) as {
  bin: Record<string, string>;
  files: string[];
  version: string;
};
const command = join("collector", pkg.bin["tokenmeter"] ?? "");

function run(file: string, args: string[]) {
  return spawnSync(process.execPath, [file, ...args], { cwd: root, encoding: "utf8" });
}

describe("the tokenmeter command", () => {
  it("is a tracked, executable file outside dist, so npm links it before any build", () => {
    expect(command).not.toMatch(/(^|\/)dist\//);
    const staged = execFileSync("git", ["ls-files", "--stage", "--", command], { cwd: root, encoding: "utf8" });
    expect(staged.split(" ")[0]).toBe("100755");
    expect(readFileSync(join(root, command), "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(pkg.files).toContain(command.split("/")[1]);
  });

  it("runs the compiled CLI with its arguments and exit codes", () => {
    const help = run(command, ["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: tokenmeter <command> \[options\]\n/);
    const version = run(command, ["--version"]);
    expect(version.status).toBe(0);
    expect(version.stdout).toBe(`tokenmeter ${pkg.version}\n`);
    const alertsHelp = run(command, ["alerts", "check", "--help"]);
    expect(alertsHelp.status).toBe(0);
    expect(alertsHelp.stdout).toMatch(/^usage: tokenmeter alerts check \[files\.\.\.\] \[options\]\n/);
    expect(alertsHelp.stderr).toBe("");
    const unknown = run(command, ["nosuch"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^tokenmeter: unknown command "nosuch"\n/);
  });

  it("before the first build it exits 1 with a coded message saying how to build", () => {
    const clone = mkdtempSync(join(tmpdir(), "tm-unbuilt-"));
    mkdirSync(join(clone, "bin"));
    const copy = join(clone, "bin", "tokenmeter.js");
    copyFileSync(join(root, command), copy);
    const result = run(copy, ["--help"]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      "tokenmeter: TM_ERR_NOT_BUILT: the CLI is not compiled yet; run `npm run build` (or `npm start`) at the repository root first\n",
    );
  });

  it("the standalone proxy serves its runtime metrics and build on /metrics", async () => {
    const child = spawn(process.execPath, [command, "proxy", "--collector", "http://127.0.0.1:9", "--port", "0"], {
      cwd: root,
      env: { ...process.env, TOKENMETER_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          const m = /tokenmeter proxy on (http:\/\/\S+),/.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
        child.on("exit", (code) => reject(new Error(`proxy exited with ${code}`)));
      });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(
          `^tokenmeter_build_info\\{version="${pkg.version}",price_book="[^"]+",nodejs="${process.version}"\\} 1$`,
          "m",
        ),
      );
      expect(metrics).toMatch(/^tokenmeter_process_resident_memory_bytes \d+/m);
    } finally {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  }, 60_000);

  it("start on a port already in use exits 1 with a coded message naming the setting", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    const dir = mkdtempSync(join(tmpdir(), "tm-port-"));
    try {
      const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [command, "start"], {
          cwd: root,
          env: {
            ...process.env,
            TOKENMETER_DATA_DIR: join(dir, "data"),
            TOKENMETER_SPOOL_DIR: join(dir, "spool"),
            TOKENMETER_COLLECTOR_PORT: String(port),
            TOKENMETER_LOG_LEVEL: "warn",
          },
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (d) => {
          stderr += d;
        });
        child.on("exit", (status) => resolve({ status, stderr }));
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(
        `tokenmeter: TM_ERR_PORT_IN_USE: the collector port 127.0.0.1:${port} is already in use`,
      );
      expect(result.stderr).toContain("TOKENMETER_COLLECTOR_PORT");
      expect(result.stderr).not.toContain("    at ");
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
