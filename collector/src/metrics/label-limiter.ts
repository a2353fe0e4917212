/**
 * Keeps a metric label's cardinality bounded: the first `max` distinct values pass through,
 * every later one becomes "other". Empty values become "unknown" so series stay readable.
 */
export class LabelLimiter {
  readonly #max: number;
  readonly #seen = new Set<string>();

  constructor(max: number) {
    this.#max = max;
  }

  value(raw: string): string {
    if (!raw) return "unknown";
    if (this.#seen.has(raw)) return raw;
    if (this.#seen.size >= this.#max) return "other";
    this.#seen.add(raw);
    return raw;
  }
}
