/**
 * Budget counters: per budget window, the spend settled so far (in buckets) and the cost
 * reserved by calls in flight. Amounts are integer nano-USD.
 *
 * `reserve` is atomic over every budget a call falls under: either every hard budget has room
 * for the estimate and all of them record the reservation, or none does. With the estimate
 * reserved before the call and checked against spent + reserved, concurrent calls cannot all
 * spend the same remaining budget: a hard budget is exceeded only by what calls cost beyond their
 * estimates.
 *
 * Reservations carry an expiry: one whose call never settles (its replica died) is dropped
 * after the TTL, so it cannot hold the budget forever.
 *
 * Two implementations: in memory (one process) and Redis (shared by proxy replicas,
 * redis-budget-store.ts), with the same semantics.
 */

export interface CounterRef {
  /** The counter set of one budget window (calendar) or one rolling budget. */
  key: string;
  /** Bucket (Unix ms) where spend settled now lands. */
  bucket: number;
  /** Buckets older than this are outside the window and no longer count. */
  minBucket: number;
  /** The counters may be dropped after this (Unix ms). */
  expireAt: number;
}

export interface ReserveItem extends CounterRef {
  budget: string;
  limitNano: bigint;
  /** Only hard budgets can refuse; soft ones record the reservation. */
  hard: boolean;
}

export type ReserveResult =
  | { ok: true }
  | { ok: false; budget: string; spentNano: bigint; reservedNano: bigint; limitNano: bigint };

export interface CounterValues {
  spentNano: bigint;
  reservedNano: bigint;
}

export interface BudgetStore {
  /**
   * Reserves `amountNano` on every item, unless a hard item has spent + reserved + amount above
   * its limit (or is already at its limit: an unknown estimate, 0, is refused then too).
   */
  reserve(
    id: string,
    items: readonly ReserveItem[],
    amountNano: bigint,
    now: number,
    ttlMs: number,
  ): Promise<ReserveResult>;
  /** Drops the reservation and adds the actual cost to the spend of each ref's bucket. */
  settle(id: string, refs: readonly CounterRef[], actualNano: bigint, now: number): Promise<void>;
  /** Drops the reservation; nothing is spent. */
  release(id: string, refs: readonly CounterRef[], now: number): Promise<void>;
  read(refs: readonly CounterRef[], now: number): Promise<CounterValues[]>;
  /** Raises bucket totals to at least these values (spend ClickHouse knows of); never lowers. */
  raise(ref: CounterRef, buckets: ReadonlyMap<number, bigint>, now: number): Promise<void>;
  close(): Promise<void>;
}

interface MemoryCounters {
  spent: Map<number, bigint>;
  reserved: Map<string, { amount: bigint; expiresAt: number }>;
  reservedTotal: bigint;
  expireAt: number;
}

/** Counters in this process. Every method runs synchronously, so each is atomic. */
export class MemoryBudgetStore implements BudgetStore {
  readonly #sets = new Map<string, MemoryCounters>();

  #counters(ref: CounterRef, now: number): MemoryCounters {
    let c = this.#sets.get(ref.key);
    if (!c) {
      c = { spent: new Map(), reserved: new Map(), reservedTotal: 0n, expireAt: ref.expireAt };
      this.#sets.set(ref.key, c);
    }
    c.expireAt = Math.max(c.expireAt, ref.expireAt);
    for (const [id, r] of c.reserved) {
      if (r.expiresAt <= now) {
        c.reserved.delete(id);
        c.reservedTotal -= r.amount;
      }
    }
    for (const b of c.spent.keys()) if (b < ref.minBucket) c.spent.delete(b);
    return c;
  }

  #sweep(now: number): void {
    for (const [key, c] of this.#sets) if (c.expireAt < now) this.#sets.delete(key);
  }

  async reserve(
    id: string,
    items: readonly ReserveItem[],
    amountNano: bigint,
    now: number,
    ttlMs: number,
  ): Promise<ReserveResult> {
    this.#sweep(now);
    const sets = items.map((item) => this.#counters(item, now));
    for (const [i, item] of items.entries()) {
      const c = sets[i];
      if (!c || !item.hard) continue;
      let spent = 0n;
      for (const v of c.spent.values()) spent += v;
      const used = spent + c.reservedTotal;
      if (used >= item.limitNano || used + amountNano > item.limitNano) {
        return {
          ok: false,
          budget: item.budget,
          spentNano: spent,
          reservedNano: c.reservedTotal,
          limitNano: item.limitNano,
        };
      }
    }
    for (const c of sets) {
      c.reserved.set(id, { amount: amountNano, expiresAt: now + ttlMs });
      c.reservedTotal += amountNano;
    }
    return { ok: true };
  }

  #drop(c: MemoryCounters, id: string): void {
    const r = c.reserved.get(id);
    if (r) {
      c.reserved.delete(id);
      c.reservedTotal -= r.amount;
    }
  }

  async settle(id: string, refs: readonly CounterRef[], actualNano: bigint, now: number): Promise<void> {
    for (const ref of refs) {
      const c = this.#counters(ref, now);
      this.#drop(c, id);
      c.spent.set(ref.bucket, (c.spent.get(ref.bucket) ?? 0n) + actualNano);
    }
  }

  async release(id: string, refs: readonly CounterRef[], now: number): Promise<void> {
    for (const ref of refs) this.#drop(this.#counters(ref, now), id);
  }

  async read(refs: readonly CounterRef[], now: number): Promise<CounterValues[]> {
    return refs.map((ref) => {
      const c = this.#counters(ref, now);
      let spent = 0n;
      for (const v of c.spent.values()) spent += v;
      return { spentNano: spent, reservedNano: c.reservedTotal };
    });
  }

  async raise(ref: CounterRef, buckets: ReadonlyMap<number, bigint>, now: number): Promise<void> {
    const c = this.#counters(ref, now);
    for (const [b, v] of buckets) {
      if (b < ref.minBucket) continue;
      if ((c.spent.get(b) ?? 0n) < v) c.spent.set(b, v);
    }
  }

  async close(): Promise<void> {
    this.#sets.clear();
  }
}
