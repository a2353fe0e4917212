import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, posix } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The publishable packages as npm would pack them (`npm pack --dry-run`, after the build
 * `npm test` runs first): what a user installs must hold its license, a readme, every file its
 * entry points and source maps name, and import nothing it does not declare (a workspace
 * hoists every package to the root, so a missing dependency works here and fails for users).
 */
const root = join(import.meta.dirname, "..");

interface PackageJson {
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function packed(dir: string): Set<string> {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: join(root, dir),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const [result] = JSON.parse(out) as [{ files: { path: string }[] }];
  return new Set(result.files.map((f) => f.path));
}

/** Bare module specifiers a compiled ES module imports (static, side-effect and dynamic), comments left out. */
function importsOf(js: string): string[] {
  const code = js.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  const found: string[] = [];
  for (const pattern of patterns) {
    for (const m of code.matchAll(pattern)) {
      const specifier = m[1] ?? "";
      if (!specifier.startsWith(".") && !specifier.startsWith("/")) found.push(specifier);
    }
  }
  return found;
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

const builtins = new Set(builtinModules);

describe.each([
  ["sdk", ["dist/index.js", "dist/index.d.ts"]],
  ["collector", ["bin/tokenmeter.js", "dist/cli/main.js", "prices/catalog.json", "proto/VERSION.md"]],
])("the %s package as npm packs it", (dir, required) => {
  const files = packed(dir);
  const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as PackageJson;

  it("holds its license, readme and entry points, and no build state or tests", () => {
    for (const f of ["LICENSE", "README.md", "package.json", ...required]) expect(files, f).toContain(f);
    const entries = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
    for (const conditions of Object.values(pkg.exports ?? {})) entries.push(...Object.values(conditions));
    for (const entry of entries) if (entry !== undefined) expect(files, entry).toContain(posix.normalize(entry));
    const unwanted = [...files].filter((f) => /tsbuildinfo|\.test\.|(^|\/)test-[^/]*$/.test(f));
    expect(unwanted).toEqual([]);
    expect(readFileSync(join(root, dir, "LICENSE"), "utf8")).toBe(readFileSync(join(root, "LICENSE"), "utf8"));
  });

  it("reports the version in its package.json", async () => {
    const { version } = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as { version: string };
    const reported =
      dir === "sdk"
        ? (await import("../sdk/src/version.js")).SDK_VERSION
        : (await import("../collector/src/version.js")).VERSION;
    expect(reported).toBe(version);
  });

  it("ships the sources its source maps name", () => {
    const maps = [...files].filter((f) => f.endsWith(".js.map"));
    expect(maps.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(root, dir, map), "utf8")) as { sources: string[] };
      for (const source of sources) {
        const path = posix.normalize(posix.join(dirname(map), source));
        if (!files.has(path)) missing.push(`${map} -> ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("imports only node built-ins and the packages it declares", () => {
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
    const undeclared = new Set<string>();
    for (const f of files) {
      if (!f.endsWith(".js")) continue;
      for (const specifier of importsOf(readFileSync(join(root, dir, f), "utf8"))) {
        if (specifier.startsWith("node:") || builtins.has(specifier)) continue;
        if (!declared.has(packageName(specifier))) undeclared.add(`${packageName(specifier)} (${f})`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });
});

describe("the SDK in a CommonJS app", () => {
  it("require('@tokenmeter/sdk') instruments the CommonJS build of openai, streams included", () => {
    // Node 20.19+ loads an ES module through require(); the app and its openai are CommonJS.
    const app = `
      const OpenAI = require("openai");
      const { init, observeOpenAI } = require("@tokenmeter/sdk");
      const spans = [];
      const handle = init({
        serviceName: "cjs-app",
        team: "cjs",
        exporter: { export: (batch, done) => { spans.push(...batch); done({ code: 0 }); }, shutdown: async () => {} },
      });
      const frame = (o) => "data: " + JSON.stringify({ id: "chatcmpl-cjs", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini-2024-07-18", ...o }) + "\\n\\n";
      const sse = frame({ choices: [{ index: 0, delta: { role: "assistant", content: "Hello" }, finish_reason: null }] })
        + frame({ choices: [{ index: 0, delta: { content: " there" }, finish_reason: "stop" }] })
        + frame({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } })
        + "data: [DONE]\\n\\n";
      const fetch = async () => new Response(sse, { headers: { "content-type": "text/event-stream" } });
      const openai = observeOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: "http://127.0.0.1:9/v1", fetch, maxRetries: 0 }));
      (async () => {
        const stream = await openai.chat.completions.create({
          model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true },
        });
        let text = "";
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
        await handle.shutdown();
        process.stdout.write(JSON.stringify({ text, spans: spans.map((s) => s.attributes) }));
      })();`;
    const run = spawnSync(process.execPath, ["--input-type=commonjs", "-e", app], { cwd: root, encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const { text, spans } = JSON.parse(run.stdout) as { text: string; spans: Record<string, unknown>[] };
    expect(text).toBe("Hello there");
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
      "gen_ai.usage.input_tokens": 9,
      "gen_ai.usage.output_tokens": 2,
      "gen_ai.response.finish_reasons": ["stop"],
      "tokenmeter.team": "cjs",
    });
  });
});
