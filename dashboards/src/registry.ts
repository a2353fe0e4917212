import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { callsExplorerDashboard } from "./calls-explorer.js";
import { finopsDashboard } from "./finops.js";
import { overviewDashboard } from "./overview.js";
import { loadCatalog, promptCacheRatesSql } from "./prompt-cache-rates.js";
import { qualityDashboard } from "./quality.js";
import { reliabilityDashboard } from "./reliability.js";

/** Every dashboard tokenmeter ships, with the file name it is provisioned under. */

export interface BuiltDashboard {
  /** File name in the provisioning folder, e.g. "overview.json". */
  file: string;
  dashboard: Dashboard;
}

export interface BuildOptions {
  /** The parsed price catalog (collector/prices/catalog.json unless given). */
  catalog?: unknown;
}

export function buildAllDashboards(options: BuildOptions = {}): BuiltDashboard[] {
  const catalog = options.catalog ?? loadCatalog();
  return [
    { file: "overview.json", dashboard: overviewDashboard() },
    { file: "finops.json", dashboard: finopsDashboard({ promptCacheRatesSql: promptCacheRatesSql(catalog) }) },
    { file: "reliability.json", dashboard: reliabilityDashboard() },
    { file: "quality.json", dashboard: qualityDashboard() },
    { file: "calls-explorer.json", dashboard: callsExplorerDashboard() },
  ];
}

/** The JSON as committed: two-space indent, trailing newline. */
export function serializeDashboard(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
