import { type Rule, ruleSchema } from "../alerts/rules.js";
import type { BudgetsConfig } from "./config.js";

/**
 * Alert rules for budget thresholds: one `budget` rule per budget and threshold in
 * tokenmeter.yaml (50/80/100% by default), so soft budgets alert without a rule file.
 * 100% and above page as critical, 80% and above as error, lower ones warn. Rules in rule files
 * with the same name win (the caller appends these after its own, skipping duplicates).
 */
export function budgetAlertRules(config: BudgetsConfig): Rule[] {
  const rules: Rule[] = [];
  for (const def of config.definitions) {
    for (const t of [...new Set(def.thresholds)].sort((a, b) => a - b)) {
      const pct = Math.round(t * 100);
      rules.push(
        ruleSchema.parse({
          name: `budget:${def.name}:${pct}pct`,
          kind: "budget",
          description: `Budget ${def.name} reached ${pct}% of $${def.limitUsd} (${def.enforcement})`,
          budget: def.name,
          measure: "spent",
          threshold: t,
          severity: t >= 1 ? "critical" : t >= 0.8 ? "error" : "warning",
          labels: { budget_enforcement: def.enforcement },
        }),
      );
    }
  }
  return rules;
}
