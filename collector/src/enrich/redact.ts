import type { Config } from "../config/schema.js";

/**
 * Redaction applied to prompt and response content before it is stored. Patterns are kept
 * deliberately conservative (few false positives on ordinary prose); card numbers are checked
 * with the Luhn sum so order numbers and timestamps survive.
 */

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// International or North-American style numbers with separators; needs 9+ digits in total.
const PHONE = /(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?![\w])/g;
const CARD = /(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)/g;
// Provider keys, bearer tokens, cloud keys, JWTs, and tokenmeter virtual keys.
const SECRET =
  /\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|tm_[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})|(?<=\bBearer\s)[A-Za-z0-9._~+/-]{16,}=*/g;

/**
 * Substrings every SECRET match contains; when none is present the regex cannot match. One
 * alternation scans the text once (a dozen `includes` calls cost three times as much).
 */
const SECRET_HINT = /sk-|tm_|AKIA|gh[pousr]_|xox|AIza|eyJ|Bearer/;
/**
 * `text` with every secret-looking token (SECRET) replaced, the same string when it holds none.
 * Applied to every attribute a span is stored with, whatever the content redaction settings:
 * credentials have no place in storage.
 */
export function redactSecrets(text: string): string {
  if (!SECRET_HINT.test(text)) return text;
  SECRET.lastIndex = 0;
  return text.replace(SECRET, "[REDACTED_SECRET]");
}

/** Phone and card numbers need at least three digits in a row. */
const HAS_DIGIT_RUN = /\d{3}/;

/** The Luhn checksum of a card number's digits holds. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export type Redactor = (text: string) => { text: string; redacted: boolean };

export function createRedactor(config: Config["redaction"]): Redactor {
  if (!config.enabled) return (text) => ({ text, redacted: false });
  const extra = config.patterns.map((p) => new RegExp(p, "g"));
  return (text: string) => {
    if (text.length === 0) return { text, redacted: false };
    // The common case ends here: no '@', no run of digits and no secret prefix means nothing
    // below can match. Three simple scans cost less than one alternation of all of them.
    const secretHint = config.secrets && SECRET_HINT.test(text);
    if (extra.length === 0 && !secretHint && !text.includes("@") && !HAS_DIGIT_RUN.test(text)) {
      return { text, redacted: false };
    }
    let out = text;
    let hit = false;
    const replace = (re: RegExp, label: string, check?: (m: string) => boolean) => {
      // Most content has nothing to redact: the cheap prechecks below skip the regex scans.
      re.lastIndex = 0;
      if (!re.test(out)) return;
      re.lastIndex = 0;
      out = out.replace(re, (m) => {
        if (check && !check(m)) return m;
        hit = true;
        return `[REDACTED_${label}]`;
      });
    };
    // Secrets go first, so `out` is still `text` here.
    if (secretHint) replace(SECRET, "SECRET");
    if (config.emails && out.includes("@")) replace(EMAIL, "EMAIL");
    const digits = HAS_DIGIT_RUN.test(out);
    if (config.cardNumbers && digits) {
      replace(CARD, "CARD", (m) => {
        const digits = m.replace(/[ -]/g, "");
        return digits.length >= 13 && digits.length <= 19 && luhnValid(digits);
      });
    }
    if (config.phoneNumbers && digits) replace(PHONE, "PHONE");
    for (const re of extra) replace(re, "CUSTOM");
    return { text: out, redacted: hit };
  };
}
