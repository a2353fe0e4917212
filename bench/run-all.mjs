// Runs every benchmark in sequence (each prints its own figures and ratios).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const benches = ["ingest", "sdk", "proxy", "query"];
let failed = 0;
for (const name of benches) {
  const file = new URL(`./${name}.mjs`, import.meta.url);
  if (!existsSync(file)) continue;
  console.log(`\n=== bench:${name} ===`);
  const r = spawnSync(process.execPath, [file.pathname], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
