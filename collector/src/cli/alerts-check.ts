import { checkRules } from "../alerts/check-rules.js";
import { alertsConfigSchema } from "../alerts/config.js";
import { formatIssue, type RuleIssue } from "../alerts/rules.js";
import { loadConfig } from "../config/load-config.js";

export interface AlertsCheckArgs {
  /** Rule files, directories or patterns; default: the configured alerts.rulesGlob. */
  paths: readonly string[];
  /** tokenmeter.yaml, for the rules pattern, notifier names and interval. */
  configFile?: string | undefined;
  /** Treat warnings as errors. */
  strict?: boolean | undefined;
  cwd?: string | undefined;
  stdout?: { write(text: string): unknown };
  stderr?: { write(text: string): unknown };
}

/**
 * `tokenmeter alerts check [paths...]`: validates and lints rule files like promtool checks
 * Prometheus rules. Prints one line per problem (file:line:column: field: message) and returns
 * the exit code: 0 when clean (warnings allowed unless strict), 1 otherwise.
 */
export function runAlertsCheck(args: AlertsCheckArgs): number {
  const out = args.stdout ?? process.stdout;
  const err = args.stderr ?? process.stderr;
  const config: object = loadConfig({ file: args.configFile });
  // Parsed again on its own: defaults apply even where the section is absent.
  const alerts = alertsConfigSchema.parse("alerts" in config ? config.alerts : undefined);
  const paths = args.paths.length > 0 ? args.paths : [alerts.rulesGlob];
  const result = checkRules(paths, {
    cwd: args.cwd,
    notifiers: alerts.notifiers.map((n) => n.name),
    intervalMs: alerts.intervalMs,
    minSamples: alerts.drift.minSamples,
  });
  const print = (kind: string, issues: RuleIssue[]) => {
    for (const issue of issues) err.write(`${kind}: ${formatIssue(issue)}\n`);
  };
  print("error", result.errors);
  print("warning", result.warnings);
  const failed = result.errors.length > 0 || (args.strict === true && result.warnings.length > 0);
  out.write(
    `${result.files.length} file(s), ${result.rules.length} rule(s): ${result.errors.length} error(s), ${result.warnings.length} warning(s)${failed ? "" : " - OK"}\n`,
  );
  return failed ? 1 : 0;
}
