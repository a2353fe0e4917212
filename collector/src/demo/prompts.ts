/**
 * Prompt text for live demo calls, sized like the workload's prompts in the history: the fake
 * provider counts prompt tokens from the text (about four characters a token), so a live call
 * reports input tokens and prompt-cache reads in line with the backfilled ones.
 */
import type { Random } from "./random.js";
import type { Workload } from "./world.js";

const CHARS_PER_TOKEN = 4;

const REFERENCE_LINES = [
  "Plans: Free (3 seats), Pro (per seat, monthly or annual), Business (SSO, audit log), Enterprise (contract).",
  "Refunds: annual plans within 30 days, pro rata after; hardware within 14 days if unused; never for usage fees.",
  "Invoices are issued on the 1st, kept for ten years, and can be re-issued with a corrected VAT number.",
  "Security: SAML 2.0 and OIDC single sign-on, SCIM provisioning, data residency in the EU or the US.",
  "Tone: friendly, brief, no exclamation marks in subject lines, address the customer by first name.",
  "Escalate to a human for legal threats, chargebacks in progress, or any request to delete an account.",
  "API limits: 60 requests per minute on Free, 600 on Pro, 6000 on Business; bursts of twice the rate.",
  "Exports: CSV and JSON for every table; scheduled exports to S3 or GCS on Business and above.",
];

const CONTEXT_LINES = [
  "Earlier in the conversation the customer mentioned they are on the Pro plan with 12 seats.",
  "Account facts: created 2024-02-11, region eu-west, 3 open tickets, last invoice paid.",
  "Retrieved document doc-112: Single sign-on is available on Business and Enterprise plans.",
  "Retrieved document doc-45: Invoices are retained for ten years for tax purposes.",
  "Usage facts: 41 dashboards, 7 data sources, 2,310 queries last week, 4 active editors.",
];

/** Roughly `tokens` tokens of text built from `lines`, in an order the seed decides. */
function filler(rng: Random, lines: readonly string[], tokens: number): string {
  const target = tokens * CHARS_PER_TOKEN;
  const out: string[] = [];
  let length = 0;
  let i = rng.int(0, lines.length - 1);
  while (length < target) {
    const line = lines[i % lines.length] ?? "";
    out.push(line);
    length += line.length + 1;
    i++;
  }
  return out.join("\n");
}

/** The cacheable system prompt of a workload: its instructions plus stable reference text. */
export function systemPrompt(workload: Workload): string {
  const prefixTokens = Math.round(workload.inputTokens * workload.cacheablePrefix);
  const base = workload.system;
  if (prefixTokens * CHARS_PER_TOKEN <= base.length) return base;
  // Stable across calls (no randomness), so the provider's prompt cache can hit.
  const lines: string[] = [base, "", "Reference:"];
  let length = base.length;
  for (let i = 0; length < prefixTokens * CHARS_PER_TOKEN; i++) {
    const line = REFERENCE_LINES[i % REFERENCE_LINES.length] ?? "";
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join("\n");
}

/** The per-request part: context that changes from call to call, then the question. */
export function userPrompt(rng: Random, workload: Workload, question: string): string {
  const variableTokens = Math.round(rng.around(workload.inputTokens * (1 - workload.cacheablePrefix), 0.3));
  const context = variableTokens > 40 ? `${filler(rng, CONTEXT_LINES, variableTokens)}\n\n` : "";
  return `${context}${question}`;
}
