import { type Dirent, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { isMap, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { z } from "zod";
import { ERR_BAD_CONFIG } from "../errors.js";
import { resolveSignal, STATISTICS_BY_KIND } from "./drift.js";
import { parseDuration } from "./duration.js";

/**
 * Alert rules as code: YAML files holding `rules: [...]`, validated here. Durations are parsed
 * to milliseconds; every other field keeps its name, so a rule reads the same in YAML and TS.
 *
 * ```yaml
 * rules:
 *   - name: LlmErrorRateHigh
 *     kind: threshold
 *     metric: error_rate
 *     window: 10m
 *     threshold: 0.05
 *     resolve_threshold: 0.03
 *     for: 5m
 *     group_by: [team, model]
 * ```
 */

const duration = (example: string) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as "${example}" (units ms, s, m, h, d, w)` });
      return z.NEVER;
    }
    return ms;
  });

const oneOrMany = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (typeof v === "string" ? [v] : v));

const labelName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "label names are letters, digits and '_'");

/** Fields every kind of rule has. */
const common = {
  name: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/, "a letter or '_' first, then letters, digits, '_', '.', ':', '-'"),
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  severity: z.enum(["critical", "error", "warning", "info"]).default("warning"),
  /** How long the condition must hold before pending becomes firing. */
  for: duration("5m").default(0),
  /** While firing, notify again after this long. */
  repeat_interval: duration("4h").default(4 * 3_600_000),
  /** What a series with no result means: ok (resolve), alerting (a breach), keep_state. */
  no_data: z.enum(["ok", "alerting", "keep_state"]).default("ok"),
  /** Hysteresis: a pending or firing series stays active until the value crosses this. */
  resolve_threshold: z.number().finite().optional(),
  /** Hysteresis as a band: resolve_threshold = threshold -/+ this percentage of it. */
  hysteresis_pct: z.number().gt(0).lt(100).optional(),
  labels: z.record(labelName, z.string()).default({}),
  /** Texts for people; `{{ value }}`, `{{ threshold }}`, `{{ labels.team }}` are filled in. */
  annotations: z.record(labelName, z.string()).default({}),
  /** Notifier names to send to; default: every configured notifier. */
  notifiers: z.array(z.string().min(1)).optional(),
};

const GROUP_COLUMNS = ["team", "project", "model", "provider", "environment", "service", "feature"] as const;
export type GroupColumn = (typeof GROUP_COLUMNS)[number];

const callFilters = z
  .strictObject({
    team: oneOrMany.optional(),
    project: oneOrMany.optional(),
    model: oneOrMany.optional(),
    provider: oneOrMany.optional(),
    environment: oneOrMany.optional(),
    service: oneOrMany.optional(),
    feature: oneOrMany.optional(),
  })
  .default({});

export const THRESHOLD_METRICS = [
  "latency_p95",
  "latency_p99",
  "ttft_p95",
  "error_rate",
  /** USD per hour over the window. */
  "cost_rate",
  /** Tokens (input + output) per minute over the window, like providers' TPM limits. */
  "tokens_rate",
] as const;
export type ThresholdMetric = (typeof THRESHOLD_METRICS)[number];

const thresholdRule = z.strictObject({
  ...common,
  kind: z.literal("threshold"),
  metric: z.enum(THRESHOLD_METRICS),
  op: z.enum([">", ">=", "<", "<="]).default(">"),
  threshold: z.number().finite(),
  window: duration("10m").default(5 * 60_000),
  filters: callFilters,
  group_by: z.array(z.enum(GROUP_COLUMNS)).default([]),
  /** Fewer calls than this in the window: no result for the group. */
  min_calls: z.number().int().min(1).default(1),
});

const unpricedRule = z.strictObject({
  ...common,
  kind: z.literal("unpriced_spend"),
  /** Fires when more calls than this had no price in the window. */
  threshold: z.number().int().min(0).default(0),
  window: duration("1h").default(3_600_000),
  filters: callFilters,
  group_by: z.array(z.enum(GROUP_COLUMNS)).default([]),
});

const driftFilters = z
  .strictObject({
    team: oneOrMany.optional(),
    model: oneOrMany.optional(),
    prompt_name: oneOrMany.optional(),
    prompt_version: oneOrMany.optional(),
  })
  .default({});

const driftRule = z.strictObject({
  ...common,
  kind: z.literal("drift"),
  /** input_tokens, output_tokens, latency_ms, ttft_ms, error_rate, refusal_rate, finish_reason, score:<name>|*, score_label:<name>|* */
  signal: z.string().min(1),
  statistic: z.enum(["psi", "ks", "js", "welch"]),
  /** psi: index; ks: D; js: divergence; welch: mean shift (see direction). */
  threshold: z.number().finite().min(0),
  /** ks and welch: the shift must also be significant. */
  max_p_value: z.number().gt(0).max(1).optional(),
  /** welch: which way counts. `decrease` for a score that must not drop. */
  direction: z.enum(["increase", "decrease", "any"]).optional(),
  reference_window: duration("7d").default(7 * 86_400_000),
  current_window: duration("1h").default(3_600_000),
  min_samples: z.number().int().min(2).optional(),
  filters: driftFilters,
});

const modelChangeRule = z.strictObject({
  ...common,
  kind: z.literal("model_change"),
  reference_window: duration("7d").default(7 * 86_400_000),
  current_window: duration("1h").default(3_600_000),
  min_samples: z.number().int().min(1).optional(),
  filters: driftFilters,
});

const budgetRule = z.strictObject({
  ...common,
  kind: z.literal("budget"),
  /** Budget names to watch; default: all. */
  budget: oneOrMany.optional(),
  /** Compare spend so far, or the forecast for the whole period. */
  measure: z.enum(["spent", "forecast"]).default("spent"),
  /** Fraction of the budget: 0.8 fires at 80%. */
  threshold: z.number().positive(),
});

const costAnomalyRule = z.strictObject({
  ...common,
  kind: z.literal("cost_anomaly"),
  /** Anomaly score (deviations from the expected cost) above which the rule fires. */
  threshold: z.number().positive().default(3),
  /** Match anomalies whose labels have these values. */
  filters: z.record(labelName, oneOrMany).default({}),
});

export const ruleSchema = z
  .discriminatedUnion("kind", [thresholdRule, unpricedRule, driftRule, modelChangeRule, budgetRule, costAnomalyRule])
  .superRefine((rule, ctx) => {
    if (rule.resolve_threshold !== undefined && rule.hysteresis_pct !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["hysteresis_pct"],
        message: "set resolve_threshold or hysteresis_pct, not both",
      });
    }
    if (rule.kind === "model_change" && (rule.resolve_threshold !== undefined || rule.hysteresis_pct !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["resolve_threshold"], message: "model_change rules have no threshold" });
    }
    if (rule.resolve_threshold !== undefined && rule.kind !== "model_change") {
      const op = ruleOp(rule);
      const upward = op === ">" || op === ">=";
      if (upward ? rule.resolve_threshold > rule.threshold : rule.resolve_threshold < rule.threshold) {
        ctx.addIssue({
          code: "custom",
          path: ["resolve_threshold"],
          message: `must be ${upward ? "at most" : "at least"} threshold (${rule.threshold}) for op "${op}"`,
        });
      }
    }
    if (rule.kind === "drift") {
      const signal = resolveSignal(rule.signal);
      if (!signal || signal.kind === "model") {
        ctx.addIssue({
          code: "custom",
          path: ["signal"],
          message:
            "unknown signal; use input_tokens, output_tokens, latency_ms, ttft_ms, error_rate, refusal_rate, finish_reason, score:<name>, score:*, score_label:<name> or score_label:* (model changes have their own kind, model_change)",
        });
      } else if (!STATISTICS_BY_KIND[signal.kind].includes(rule.statistic)) {
        ctx.addIssue({
          code: "custom",
          path: ["statistic"],
          message: `${rule.signal} is a ${signal.kind} signal: use ${STATISTICS_BY_KIND[signal.kind].join(" or ")}`,
        });
      }
      if (rule.direction !== undefined && rule.statistic !== "welch") {
        ctx.addIssue({ code: "custom", path: ["direction"], message: "only welch has a direction" });
      }
      if (rule.max_p_value !== undefined && rule.statistic !== "ks" && rule.statistic !== "welch") {
        ctx.addIssue({ code: "custom", path: ["max_p_value"], message: "only ks and welch have a p-value" });
      }
    }
  });

export type Rule = z.infer<typeof ruleSchema>;
export type ThresholdRule = Extract<Rule, { kind: "threshold" }>;
export type UnpricedSpendRule = Extract<Rule, { kind: "unpriced_spend" }>;
export type DriftRule = Extract<Rule, { kind: "drift" }>;
export type ModelChangeRule = Extract<Rule, { kind: "model_change" }>;
export type BudgetRule = Extract<Rule, { kind: "budget" }>;
export type CostAnomalyRule = Extract<Rule, { kind: "cost_anomaly" }>;
export type RuleOp = ">" | ">=" | "<" | "<=";

/**
 * Comparison of a rule: only threshold rules choose. A budget rule fires when the budget reaches
 * its share of the limit, as the budget's status counts a threshold crossed (used >= t): spend
 * exactly at the limit is "exceeded" there and must page here. Every other kind fires above.
 */
export function ruleOp(rule: Rule): RuleOp {
  if (rule.kind === "threshold") return rule.op;
  return rule.kind === "budget" ? ">=" : ">";
}

/** The threshold a rule fires at (model changes: any new model). */
export function ruleThreshold(rule: Rule): number {
  return rule.kind === "model_change" ? 0 : rule.threshold;
}

/** The threshold an active series must cross back over to resolve. */
export function resolveThreshold(rule: Rule): number {
  const threshold = ruleThreshold(rule);
  if (rule.kind !== "model_change" && rule.resolve_threshold !== undefined) return rule.resolve_threshold;
  if (rule.hysteresis_pct !== undefined) {
    const band = Math.abs(threshold) * (rule.hysteresis_pct / 100);
    const op = ruleOp(rule);
    return op === ">" || op === ">=" ? threshold - band : threshold + band;
  }
  return threshold;
}

export const ruleFileSchema = z.strictObject({ rules: z.array(ruleSchema).default([]) });

/** A problem found in a rule file; `path` is the field, e.g. `rules[2].threshold`. */
export interface RuleIssue {
  file: string;
  path: string;
  /** 1-based position in the file, when known. */
  line?: number | undefined;
  column?: number | undefined;
  /** The rule's name, when the problem is inside one. */
  rule?: string | undefined;
  message: string;
}

export interface LoadedRule {
  rule: Rule;
  file: string;
  /** Index in the file's `rules` list. */
  index: number;
}

export interface ParsedRuleFile {
  file: string;
  rules: LoadedRule[];
  errors: RuleIssue[];
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || "(root)";
}

/** The deepest node of the document on `path`, for a line number. */
function nodeAt(root: unknown, path: readonly PropertyKey[], atKey = false): Node | undefined {
  let node = root as Node | undefined;
  let found = node;
  for (const [i, part] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === part);
      if (!pair) break;
      // A wrong value points at the value; an unknown key, or a key without value, at the key.
      const key = atKey && i === path.length - 1;
      node = (key ? pair.key : (pair.value ?? pair.key)) as Node | undefined;
    } else if (isSeq(node) && typeof part === "number") {
      node = node.items[part] as Node | undefined;
    } else break;
    if (node) found = node;
  }
  return found;
}

/** Validates the text of one rule file. Never throws: problems come back as issues. */
export function parseRuleFile(text: string, file: string): ParsedRuleFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      file,
      rules: [],
      errors: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          file,
          path: "(yaml)",
          line: pos.line,
          column: pos.col,
          message: e.message.split("\n")[0] ?? e.message,
        };
      }),
    };
  }
  const data: unknown = doc.toJS() ?? {};
  const parsed = ruleFileSchema.safeParse(data);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => {
      let path = issue.path;
      // Point an unknown key at the key itself.
      const unknownKey = issue.code === "unrecognized_keys" && issue.keys.length > 0;
      if (unknownKey) path = [...path, issue.keys[0] as string];
      const node = nodeAt(doc.contents, path, unknownKey);
      const pos = node?.range ? lineCounter.linePos(node.range[0]) : undefined;
      const ruleIndex = path[0] === "rules" && typeof path[1] === "number" ? path[1] : undefined;
      const rules = (data as { rules?: unknown }).rules;
      const name =
        ruleIndex !== undefined && Array.isArray(rules)
          ? (rules[ruleIndex] as { name?: unknown } | undefined)?.name
          : undefined;
      return {
        file,
        path: formatPath(path),
        line: pos?.line,
        column: pos?.col,
        rule: typeof name === "string" ? name : undefined,
        message: issue.message,
      } satisfies RuleIssue;
    });
    return { file, rules: [], errors };
  }
  return { file, rules: parsed.data.rules.map((rule, index) => ({ rule, file, index })), errors: [] };
}

function wildcard(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${escaped}$`);
}

function walk(dir: string, recursive: boolean): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory() && recursive) out.push(...walk(full, true));
    else if (e.isFile()) out.push(full);
  }
  return out;
}

/**
 * Files named by paths or patterns: a file; a directory (its *.yaml and *.yml files); or a
 * pattern with `*`/`?` in its last segment, optionally after `**` to recurse
 * (`alerts/*.yaml`, `rules/**` + `/*.yml`). Sorted, without duplicates.
 */
export function resolveRulePaths(patterns: readonly string[], cwd = process.cwd()): string[] {
  const found = new Set<string>();
  for (const pattern of patterns) {
    const abs = resolve(cwd, pattern);
    if (!/[*?]/.test(pattern)) {
      let isDir = false;
      try {
        isDir = statSync(abs).isDirectory();
      } catch {
        found.add(abs); // a missing file is reported when it is read
        continue;
      }
      if (!isDir) found.add(abs);
      else {
        for (const f of walk(abs, false)) if (/\.ya?ml$/.test(f)) found.add(f);
      }
      continue;
    }
    let dir = dirname(abs);
    const recursive = basename(dir) === "**";
    if (recursive) dir = dirname(dir);
    if (/[*?]/.test(dir)) throw ERR_BAD_CONFIG(`rule pattern ${pattern}: wildcards are only allowed in the file name`);
    const re = wildcard(basename(abs));
    for (const f of walk(dir, recursive)) if (re.test(basename(f))) found.add(f);
  }
  return [...found].sort();
}

/** Reads and validates rule files. Never throws for bad content. */
export function readRuleFiles(files: readonly string[]): ParsedRuleFile[] {
  return files.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      return {
        file,
        rules: [],
        errors: [
          { file, path: "(file)", message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` },
        ],
      };
    }
    return parseRuleFile(text, file);
  });
}

export function formatIssue(issue: RuleIssue): string {
  const where = issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
  const rule = issue.rule ? ` (rule ${issue.rule})` : "";
  return `${where}: ${issue.path}${rule}: ${issue.message}`;
}

/**
 * The enabled rules for the engine. Any problem fails here, at start, with every issue listed,
 * so a typo never silently disables an alert.
 */
export function loadRules(pattern: string, cwd = process.cwd()): Rule[] {
  const files = resolveRulePaths([pattern], cwd);
  const parsed = readRuleFiles(files);
  const errors = parsed.flatMap((p) => p.errors);
  const names = new Map<string, string>();
  for (const { rule, file } of parsed.flatMap((p) => p.rules)) {
    const first = names.get(rule.name);
    if (first !== undefined) {
      errors.push({ file, path: "name", rule: rule.name, message: `duplicate rule name (first in ${first})` });
    }
    names.set(rule.name, file);
  }
  if (errors.length > 0) {
    throw ERR_BAD_CONFIG(`invalid alert rules:\n${errors.map(formatIssue).join("\n")}`);
  }
  return parsed.flatMap((p) => p.rules.map((r) => r.rule)).filter((r) => r.enabled);
}
