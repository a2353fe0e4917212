/**
 * A seeded random source for the demo: the same seed gives the same traffic on every platform,
 * which `Math.random` cannot promise. The generator is SplitMix32 (a 32-bit Weyl sequence run
 * through an avalanche mixer): tiny, fast, and good enough for synthetic traffic — it is not
 * meant for anything where randomness must be unpredictable.
 */

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  /** A standard normal deviate (Box-Muller). */
  normal(): number;
  /**
   * Log-normal around `median`: latencies and token counts have long right tails. `spread` is
   * the standard deviation of the logarithm (0.5 puts the 90th percentile near 1.9x the median).
   */
  around(median: number, spread?: number): number;
  /** A Poisson count with mean `mean` (normal approximation above 30). */
  poisson(mean: number): number;
  pick<T>(items: readonly T[]): T;
  /** An item chosen with probability proportional to `weight(item)`. */
  weighted<T>(items: readonly T[], weight: (item: T) => number): T;
  /** `chars` lowercase hex digits. */
  hex(chars: number): string;
  /** An independent stream, derived from this one's seed and `label`. */
  fork(label: string): Random;
}

/** FNV-1a of a label, to derive stream seeds from names. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function createRandom(seed: number): Random {
  const base = seed >>> 0;
  let state = base;
  const u32 = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const next = (): number => u32() / 4_294_967_296;
  const normal = (): number => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  const random: Random = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    normal,
    around: (median, spread = 0.5) => median * Math.exp(spread * normal()),
    poisson(mean) {
      if (mean <= 0) return 0;
      if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal()));
      // Knuth's multiplication method: exact and cheap for small means.
      const limit = Math.exp(-mean);
      let k = 0;
      let p = next();
      while (p > limit) {
        k++;
        p *= next();
      }
      return k;
    },
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
    weighted(items, weight) {
      let total = 0;
      for (const item of items) total += Math.max(0, weight(item));
      let left = next() * total;
      for (const item of items) {
        left -= Math.max(0, weight(item));
        if (left < 0) return item;
      }
      return items[items.length - 1] as (typeof items)[number];
    },
    hex(chars) {
      let out = "";
      while (out.length < chars) out += u32().toString(16).padStart(8, "0");
      return out.slice(0, chars);
    },
    fork: (label) => createRandom((base ^ hashLabel(label)) >>> 0),
  };
  return random;
}
