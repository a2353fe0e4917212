import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CLICKHOUSE, PROMETHEUS } from "./datasources.js";

/**
 * The docker-compose stack that serves the dashboards: docker-compose.yml is valid for
 * `docker-compose config`, every provisioning file parses and points where the stack mounts it,
 * images are pinned, and the Dockerfile builds with the README's own commands.
 *
 * In CI (CI=true) a missing docker-compose, promtool or amtool is a failure; locally those checks
 * are skipped with a note.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const inCi = process.env["CI"] === "true";

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  ulimits?: { nofile?: { soft?: number; hard?: number } };
  healthcheck?: { test?: string[] | string };
  profiles?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
}

const composeText = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");
const compose = parse(composeText, { merge: true }) as { services: Record<string, ComposeService> };

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** Host path of the bind mount whose container path is `target`. */
function mountSource(svc: ComposeService, target: string): string | undefined {
  for (const v of svc.volumes ?? []) {
    const [source, dest] = v.split(":");
    if (dest === target) return source;
  }
  return undefined;
}

/** Runs a tool when installed; undefined when it is not (the caller skips, or fails in CI). */
function runTool(command: string, args: string[]) {
  const run = spawnSync(command, args, { cwd: ROOT, encoding: "utf8" });
  if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
  return run;
}

function requireTool(ctx: { skip: () => void }, command: string): boolean {
  const probe = runTool(command, ["--version"]);
  if (probe) return true;
  if (inCi) throw new Error(`${command} is not installed; .ci/run installs it`);
  process.stderr.write(`skipping: ${command} is not installed (CI installs it)\n`);
  ctx.skip();
  return false;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("docker-compose.yml", () => {
  it("is valid for docker-compose config (all profiles)", (ctx) => {
    if (!requireTool(ctx, "docker-compose")) return;
    const run = runTool("docker-compose", ["-f", "docker-compose.yml", "--profile", "demo", "config", "-q"]);
    expect(run?.status, `${run?.stdout}${run?.stderr}`).toBe(0);
  });

  it("pins every image to a version", () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (svc.build !== undefined) continue;
      expect(svc.image, name).toMatch(/^[\w./-]+:v?\d+(\.\d+)+$/);
    }
  });

  it("runs ClickHouse with a healthcheck and raised file limits", () => {
    const clickhouse = service("clickhouse");
    expect(clickhouse.image).toMatch(/^clickhouse\/clickhouse-server:/);
    expect(clickhouse.healthcheck?.test).toBeTruthy();
    expect(clickhouse.ulimits?.nofile?.soft).toBeGreaterThanOrEqual(262144);
    expect(clickhouse.ulimits?.nofile?.hard).toBeGreaterThanOrEqual(262144);
  });

  it("builds tokenmeter from the repository, bound to 0.0.0.0 and pointed at the ClickHouse service", () => {
    const tokenmeter = service("tokenmeter");
    expect(tokenmeter.build).toBe(".");
    expect(tokenmeter.environment?.["CLICKHOUSE_URL"]).toBe("http://clickhouse:8123");
    expect(tokenmeter.environment?.["TOKENMETER_HOST"]).toBe("0.0.0.0");
    expect(tokenmeter.ports).toEqual(expect.arrayContaining(["4318:4318", "8787:8787"]));
    expect(tokenmeter.depends_on).toMatchObject({ clickhouse: { condition: "service_healthy" } });
    // Both sides use the same credentials, which the ClickHouse image creates.
    const clickhouse = service("clickhouse");
    expect(tokenmeter.environment?.["CLICKHOUSE_USER"]).toBe(clickhouse.environment?.["CLICKHOUSE_USER"]);
    expect(tokenmeter.environment?.["CLICKHOUSE_PASSWORD"]).toBe(clickhouse.environment?.["CLICKHOUSE_PASSWORD"]);
  });

  it("installs a pinned ClickHouse plugin in Grafana and mounts the provisioning folders", () => {
    const grafana = service("grafana");
    expect(grafana.environment?.["GF_INSTALL_PLUGINS"]).toMatch(/^grafana-clickhouse-datasource \d+\.\d+\.\d+$/);
    expect(mountSource(grafana, "/etc/grafana/provisioning/datasources")).toBe("./dashboards/provisioning/datasources");
    expect(mountSource(grafana, "/etc/grafana/provisioning/dashboards")).toBe("./dashboards/provisioning/dashboards");
  });

  it("scrapes tokenmeter from Prometheus with the repository's rule files, and runs Alertmanager", () => {
    const prometheus = service("prometheus");
    expect(mountSource(prometheus, "/etc/prometheus/prometheus.yml")).toBe("./deploy/prometheus/prometheus.yml");
    expect(mountSource(prometheus, "/etc/prometheus/rules")).toBe("./alerts/prometheus");
    const config = parse(readFileSync(join(ROOT, "deploy/prometheus/prometheus.yml"), "utf8")) as {
      scrape_configs: { static_configs: { targets: string[] }[]; metrics_path?: string }[];
      rule_files: string[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    };
    const targets = config.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets));
    expect(targets).toContain("tokenmeter:4318");
    expect(config.rule_files.every((f) => f.startsWith("/etc/prometheus/rules/"))).toBe(true);
    expect(config.alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual(["alertmanager:9093"]);
    expect(mountSource(service("alertmanager"), "/etc/alertmanager/alertmanager.yml")).toBe(
      "./deploy/alertmanager/alertmanager.yml",
    );
  });

  it("offers demo traffic under the demo profile only", () => {
    const demo = service("demo");
    expect(demo.profiles).toEqual(["demo"]);
    expect(demo.command).toEqual([
      "node",
      "collector/dist/cli/main.js",
      "demo",
      "--collector",
      "http://tokenmeter:4318",
    ]);
    for (const [name, svc] of Object.entries(compose.services)) {
      if (name !== "demo") expect(svc.profiles, name).toBeUndefined();
    }
  });
});

describe("provisioning", () => {
  const dir = join(ROOT, "dashboards/provisioning");

  it("every YAML and JSON file parses", () => {
    const files = [...filesUnder(dir), ...filesUnder(join(ROOT, "deploy"))].filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      const name = relative(ROOT, file);
      if (file.endsWith(".json")) expect(() => JSON.parse(text), name).not.toThrow();
      else expect(() => parse(text), name).not.toThrow();
    }
  });

  it("defines the datasources the dashboards use", () => {
    const config = parse(readFileSync(join(dir, "datasources/datasources.yaml"), "utf8")) as {
      datasources: { uid: string; type: string; url?: string; jsonData?: Record<string, unknown> }[];
    };
    const byUid = new Map(config.datasources.map((d) => [d.uid, d]));
    expect(byUid.get(CLICKHOUSE.uid)?.type).toBe(CLICKHOUSE.type);
    expect(byUid.get(CLICKHOUSE.uid)?.jsonData?.["host"]).toBe("clickhouse");
    expect(byUid.get(CLICKHOUSE.uid)?.jsonData?.["defaultDatabase"]).toBe("tokenmeter");
    expect(byUid.get(PROMETHEUS.uid)?.type).toBe(PROMETHEUS.type);
    expect(byUid.get(PROMETHEUS.uid)?.url).toBe("http://prometheus:9090");
  });

  it("loads the generated dashboards into the tokenmeter folder from where compose mounts them", () => {
    const config = parse(readFileSync(join(dir, "dashboards/dashboards.yaml"), "utf8")) as {
      providers: { folder: string; type: string; options: { path: string } }[];
    };
    const [provider] = config.providers;
    expect(provider?.type).toBe("file");
    expect(provider?.folder).toBe("tokenmeter");
    // ./dashboards/provisioning/dashboards is mounted at /etc/grafana/provisioning/dashboards.
    expect(provider?.options.path).toBe("/etc/grafana/provisioning/dashboards/json");
    expect(readdirSync(join(dir, "dashboards/json")).filter((f) => f.endsWith(".json")).length).toBe(5);
  });

  it("Prometheus and Alertmanager accept their configs (promtool, amtool)", (ctx) => {
    if (!requireTool(ctx, "promtool") || !requireTool(ctx, "amtool")) return;
    const prom = runTool("promtool", ["check", "config", "deploy/prometheus/prometheus.yml"]);
    expect(prom?.status, `${prom?.stdout}${prom?.stderr}`).toBe(0);
    const am = runTool("amtool", ["check-config", "deploy/alertmanager/alertmanager.yml"]);
    expect(am?.status, `${am?.stdout}${am?.stderr}`).toBe(0);
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const npmCommands = [...dockerfile.matchAll(/^RUN\s+(npm\s.+)$/gm)].map((m) => (m[1] ?? "").trim());

  it("builds on Node 20 with the README's own install and build commands", () => {
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim$/m);
    expect(npmCommands.some((c) => c === "npm ci" || c === "npm install")).toBe(true);
    expect(npmCommands).toContain("npm run build");
    for (const command of npmCommands) expect(readme, `README.md mentions \`${command}\``).toContain(`\`${command}\``);
  });

  it("installs every workspace's dependencies before copying the sources", () => {
    const { workspaces } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { workspaces: string[] };
    for (const ws of workspaces) expect(dockerfile, ws).toMatch(new RegExp(`^COPY ${ws}/package\\.json ${ws}/$`, "m"));
  });

  it("starts the collector", () => {
    expect(dockerfile).toMatch(/^CMD \["node", "collector\/dist\/cli\/main\.js", "start"\]$/m);
  });
});
