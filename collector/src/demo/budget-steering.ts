/**
 * Steers the history so the server's team budgets tell a story whatever the day of the month:
 * the heavy-spending team ends the backfill close to its limit (about 88% used), and other
 * teams' budgets stay comfortably below theirs (at most 60%), so a hard budget does not start
 * refusing the live traffic. Only the traffic inside each budget's current window is scaled.
 *
 * Spend is estimated at list prices with the collector's own price book, the same arithmetic the
 * collector applies when the spans arrive.
 */
import type { BudgetInfo } from "./collector-client.js";
import { type HistoryOptions, type PlannedTrace, planTeam, type TeamScale, teamSpend } from "./history-plan.js";
import { HEAVY_SPENDER, TEAMS } from "./world.js";

const NEARLY_USED = 0.88;
const COMFORTABLE = 0.6;
const MIN_FACTOR = 0.05;
const MAX_FACTOR = 40;

export interface SteeredBudget {
  budget: BudgetInfo;
  team: string;
  /** What the budget will have used once the history is in, as a fraction of its limit. */
  projectedRatio: number;
}

function teamOf(b: BudgetInfo): string | undefined {
  const keys = Object.keys(b.labels);
  if (keys.length !== 1 || keys[0] !== "team") return undefined;
  const team = b.labels["team"];
  return TEAMS.some((t) => t.team === team) ? team : undefined;
}

/** Team -> how to scale its traffic so its budgets end up where the story wants them. */
export function steerBudgets(budgets: readonly BudgetInfo[], options: HistoryOptions): Map<string, TeamScale> {
  const scales = new Map<string, TeamScale>();
  const byTeam = new Map<string, BudgetInfo[]>();
  for (const b of budgets) {
    const team = teamOf(b);
    if (team === undefined) continue;
    byTeam.set(team, [...(byTeam.get(team) ?? []), b]);
  }

  for (const [team, list] of byTeam) {
    const profile = TEAMS.find((t) => t.team === team);
    if (profile === undefined) continue;
    const natural = planTeam(profile, { ...options, scales: undefined });
    // The window that starts last decides where scaling starts (its spend is a subset of the others').
    const fromUs = Math.max(...list.map((b) => b.windowStartMs * 1000));
    const naturalUsd = teamSpend(natural, team, fromUs);
    if (naturalUsd <= 0) continue;
    let factor = Number.POSITIVE_INFINITY;
    let heavyTarget: number | undefined;
    for (const b of list) {
      const inWindow = teamSpend(natural, team, b.windowStartMs * 1000);
      const extraBefore = inWindow - naturalUsd;
      const aim = (team === HEAVY_SPENDER && b.enforcement !== "hard" ? NEARLY_USED : COMFORTABLE) * b.limitUsd;
      const f = (aim - b.spentUsd - extraBefore) / naturalUsd;
      if (team === HEAVY_SPENDER && b.enforcement !== "hard") heavyTarget = Math.min(heavyTarget ?? f, f);
      else factor = Math.min(factor, f);
    }
    // The heavy spender is pushed up to its soft budget; any other budget only ever scales down.
    const chosen = heavyTarget !== undefined ? Math.min(heavyTarget, factor) : Math.min(1, factor);
    scales.set(team, { fromUs, factor: Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, chosen)) });
  }
  return scales;
}

/** How much of each team budget the planned history uses (for the summary). */
export function projectBudgets(budgets: readonly BudgetInfo[], traces: readonly PlannedTrace[]): SteeredBudget[] {
  const out: SteeredBudget[] = [];
  for (const b of budgets) {
    const team = teamOf(b);
    if (team === undefined) continue;
    const planned = teamSpend(traces, team, b.windowStartMs * 1000);
    out.push({ budget: b, team, projectedRatio: (b.spentUsd + planned) / b.limitUsd });
  }
  return out;
}
