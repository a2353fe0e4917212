/**
 * Durations in rule files, Prometheus style: one or more `<integer><unit>` parts, largest unit
 * first (`90s`, `1h30m`, `7d`). Units: ms, s, m, h, d, w.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const WHOLE = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+)(ms|s|m|h|d|w)/g;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!WHOLE.test(trimmed)) return undefined;
  let total = 0;
  for (const m of trimmed.matchAll(PART)) {
    const unit = UNIT_MS[m[2] ?? ""];
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** The shortest rendering of a duration: 5400000 -> "1h30m". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join("");
}
