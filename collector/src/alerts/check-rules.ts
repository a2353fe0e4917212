import { type LoadedRule, type RuleIssue, readRuleFiles, resolveRulePaths, resolveThreshold } from "./rules.js";
import { TEMPLATE_FIELD, templateFields } from "./template.js";

/**
 * `tokenmeter alerts check`: schema errors plus the mistakes a valid file can still hold —
 * duplicate names, notifiers that do not exist, windows that cannot work, thresholds that can
 * never be crossed. Errors stop a deploy; warnings are advice.
 */

export interface CheckOptions {
  cwd?: string;
  /** Configured notifier names; when given, a rule naming another one is an error. */
  notifiers?: readonly string[] | undefined;
  /** The engine's evaluation interval, to flag durations shorter than it. */
  intervalMs?: number | undefined;
  /** The configured drift minimum sample size (alerts.drift.minSamples). */
  minSamples?: number | undefined;
}

export interface CheckResult {
  files: string[];
  rules: LoadedRule[];
  errors: RuleIssue[];
  warnings: RuleIssue[];
}

export function checkRules(paths: readonly string[], options: CheckOptions = {}): CheckResult {
  const files = resolveRulePaths(paths, options.cwd);
  const errors: RuleIssue[] = [];
  const warnings: RuleIssue[] = [];
  if (files.length === 0) {
    errors.push({ file: paths.join(", "), path: "(files)", message: "no rule files match" });
    return { files, rules: [], errors, warnings };
  }
  const parsed = readRuleFiles(files);
  const rules: LoadedRule[] = [];
  for (const p of parsed) {
    errors.push(...p.errors);
    rules.push(...p.rules);
    if (p.errors.length === 0 && p.rules.length === 0) {
      warnings.push({ file: p.file, path: "rules", message: "the file holds no rules" });
    }
  }

  const firstByName = new Map<string, LoadedRule>();
  for (const loaded of rules) {
    const { rule, file, index } = loaded;
    const at = (field: string, message: string): RuleIssue => ({
      file,
      path: `rules[${index}]${field ? `.${field}` : ""}`,
      rule: rule.name,
      message,
    });
    const first = firstByName.get(rule.name);
    if (first) errors.push(at("name", `duplicate rule name (first at ${first.file} rules[${first.index}])`));
    else firstByName.set(rule.name, loaded);

    if (options.notifiers && rule.notifiers) {
      for (const n of rule.notifiers) {
        if (!options.notifiers.includes(n)) errors.push(at("notifiers", `no notifier named "${n}" is configured`));
      }
    }
    if (rule.notifiers && rule.notifiers.length === 0) {
      warnings.push(at("notifiers", "an empty list: this rule never notifies anyone"));
    }
    if (!rule.annotations["summary"]) {
      warnings.push(at("annotations.summary", "no summary: notifications fall back to a generic text"));
    }
    for (const [key, text] of Object.entries(rule.annotations)) {
      for (const field of templateFields(text)) {
        if (!TEMPLATE_FIELD.test(field)) {
          warnings.push(
            at(`annotations.${key}`, `unknown placeholder {{ ${field} }}: use value, threshold, labels.<name>, ...`),
          );
        }
      }
    }
    if (options.intervalMs !== undefined && rule.repeat_interval < options.intervalMs) {
      warnings.push(at("repeat_interval", "shorter than the evaluation interval: every evaluation re-notifies"));
    }

    switch (rule.kind) {
      case "threshold":
        if (rule.metric === "error_rate" && (rule.threshold < 0 || rule.threshold > 1)) {
          warnings.push(at("threshold", "error_rate is a fraction between 0 and 1"));
        }
        if (
          (rule.metric.startsWith("latency") || rule.metric === "ttft_p95" || rule.metric === "error_rate") &&
          rule.min_calls < 10
        ) {
          warnings.push(
            at("min_calls", `${rule.min_calls} call(s) can fire this: a minimum of 10 or more avoids paging on noise`),
          );
        }
        break;
      case "drift":
        if (rule.current_window >= rule.reference_window) {
          warnings.push(
            at("current_window", "not shorter than reference_window: the reference barely describes normal"),
          );
        }
        if (rule.min_samples !== undefined && rule.min_samples < 30) {
          warnings.push(at("min_samples", "below 30 the statistics are too noisy to page on"));
        }
        if (rule.statistic === "js" && rule.threshold >= 1) {
          errors.push(at("threshold", "Jensen-Shannon divergence is at most 1: this never fires"));
        }
        if (rule.statistic === "ks" && rule.threshold >= 1) {
          errors.push(at("threshold", "the KS statistic is at most 1: this never fires"));
        }
        if (rule.statistic === "psi") {
          // Two samples of one distribution still show a PSI of about (bins - 1) / n.
          const n = rule.min_samples ?? options.minSamples ?? 100;
          const floor = 9 / n;
          const resolveAt = resolveThreshold(rule);
          if (rule.threshold < 0.1) {
            warnings.push(
              at("threshold", "PSI below 0.1 is usually noise: 0.1-0.25 is a moderate shift, above 0.25 a major one"),
            );
          } else if (resolveAt < 2 * floor) {
            const field = rule.resolve_threshold !== undefined ? "resolve_threshold" : "threshold";
            warnings.push(
              at(
                field,
                `with ${n} samples an unchanged distribution already scores a PSI near ${floor.toFixed(2)}: below ${(2 * floor).toFixed(2)} the alert may never resolve (raise min_samples or this threshold)`,
              ),
            );
          }
        }
        break;
      case "model_change":
        if (rule.current_window >= rule.reference_window) {
          warnings.push(at("current_window", "not shorter than reference_window"));
        }
        break;
      default:
        break;
    }
  }
  return { files, rules, errors, warnings };
}
