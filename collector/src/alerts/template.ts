/**
 * Annotation templates: `{{ value }}`, `{{ threshold }}`, `{{ labels.team }}` and a few more
 * fields are replaced when a notification is built. Anything else is left as written, so a
 * typo shows up in the message instead of vanishing (and `alerts check` warns about it).
 */

export const TEMPLATE_FIELD =
  /^(value|threshold|rule|statistic|severity|labels\.[A-Za-z_][A-Za-z0-9_]*|p_value|t_statistic|ref_mean|cur_mean|ref_n|cur_n|new_models|calls|spent_usd|limit_usd|forecast_usd|period|expected_usd|actual_usd)$/;

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

export interface TemplateData {
  value: number | null;
  threshold: number | null;
  rule: string;
  statistic: string;
  severity: string;
  labels: Readonly<Record<string, string>>;
  /** Extra numbers a rule kind reports (p_value, ref_mean, ...). */
  details?: Readonly<Record<string, number | string | undefined>>;
}

/** A number for people: integers as they are, others with 4 significant digits. */
export function formatNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "n/a";
  if (Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e9)) return n.toExponential(3);
  return String(Number(n.toPrecision(4)));
}

export function templateFields(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1] ?? "");
}

export function renderTemplate(text: string, data: TemplateData): string {
  return text.replace(PLACEHOLDER, (whole, field: string) => {
    if (field.startsWith("labels.")) return data.labels[field.slice(7)] ?? "";
    switch (field) {
      case "value":
        return formatNumber(data.value);
      case "threshold":
        return formatNumber(data.threshold);
      case "rule":
        return data.rule;
      case "statistic":
        return data.statistic;
      case "severity":
        return data.severity;
      default: {
        const extra = data.details?.[field];
        if (extra === undefined) return whole;
        return typeof extra === "number" ? formatNumber(extra) : extra;
      }
    }
  });
}
