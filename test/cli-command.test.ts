import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
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
});
