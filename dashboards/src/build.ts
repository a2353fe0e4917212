import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildAllDashboards, serializeDashboard } from "./registry.js";

/**
 * `npm run dashboards`: renders every dashboard to JSON in the folder Grafana provisions from
 * (dashboards/provisioning/dashboards/json, mounted by docker-compose.yml). The JSON is committed;
 * the dashboards test fails when it is stale. `--out <dir>` writes elsewhere.
 */

const DEFAULT_OUT_DIR = fileURLToPath(new URL("../provisioning/dashboards/json/", import.meta.url));
const BIOME = fileURLToPath(new URL("../../node_modules/@biomejs/biome/bin/biome", import.meta.url));

function writeDashboards(outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const built = buildAllDashboards();
  const keep = new Set(built.map((b) => b.file));
  // A dashboard removed from the code must disappear from provisioning too.
  for (const file of readdirSync(outDir)) {
    if (file.endsWith(".json") && !keep.has(file)) rmSync(join(outDir, file));
  }
  const paths: string[] = [];
  for (const { file, dashboard } of built) {
    const path = join(outDir, file);
    writeFileSync(path, serializeDashboard(dashboard));
    paths.push(path);
  }
  return paths;
}

/**
 * Formats the files the way the repository's formatter does, so `npm run lint` passes on freshly
 * generated JSON. Only the layout changes; the test compares parsed JSON. Skipped when Biome is
 * not installed (production installs).
 */
function formatLikeRepository(paths: string[]): void {
  if (!existsSync(BIOME)) {
    process.stdout.write("biome not installed: JSON left unformatted\n");
    return;
  }
  const run = spawnSync(process.execPath, [BIOME, "format", "--write", ...paths], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`biome format failed: ${run.stderr || run.stdout}`);
}

function main(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string", short: "o" } } });
  const paths = writeDashboards(resolve(values.out ?? DEFAULT_OUT_DIR));
  formatLikeRepository(paths);
  for (const path of paths) process.stdout.write(`wrote ${path}\n`);
}

main(process.argv.slice(2));
