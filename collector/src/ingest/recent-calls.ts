import { type DedupeCandidate, sameCall, siblingsMatch } from "../normalize/registry.js";
import type { CallSummary } from "./process-batch.js";

/**
 * De-duplication across export batches. Within one OTLP request, dedupeCalls() already keeps
 * one row per model call when a framework span wraps a provider span, or two instrumentations
 * describe one call side by side. But an exporter cuts its batches by size and time, so the
 * inner span (which ends first) can leave in one request and its wrapper in the next; a span
 * re-sent after a timeout arrives twice. This index remembers the calls stored lately and
 * drops a new call that one of them already counts:
 *
 * - the same span again (a retried export);
 * - a wrapper of a stored call (the stored call's parent is the new span);
 * - a call inside a stored wrapper (the new call's parent is a stored call);
 * - a sibling from another instrumentation (same parent, overlapping lifetime, same usage).
 *
 * The stored row is kept, so usage and cost count once. When the dropped row carried the
 * messages and the kept one did not, they are written to `call_content` under the kept span,
 * where reads pick them up. Only direct parent links are followed here (the in-batch pass
 * also walks through plain spans in between). The index is bounded: the oldest calls leave
 * first.
 */

/** What the index keeps of a stored call: enough to match, nothing else. */
interface Entry extends DedupeCandidate {
  hasContent: boolean;
  /** For a dropped call remembered as an alias: the stored call that counts it. */
  canonical?: Entry;
  /** Its batch was not stored after all (rolled back): it counts nothing. */
  removed?: boolean;
}

export interface CrossBatchVerdict {
  /** Indexes (in the batch's call order) of calls already counted by a stored one. */
  drop: number[];
  /**
   * The dropped calls that are another span than the stored one (a wrapper, a wrapped call, a
   * sibling), not the same span sent again: their span rows are groupings, not calls.
   */
  otherSpans: number[];
  /** For each dropped call whose messages the kept call lacks: the kept call's ids. */
  contentFor: Array<{ index: number; trace_id: string; span_id: string; timestamp: number }>;
  /**
   * Forgets what this batch added, for a batch that was not stored after all (refused with
   * 429/503): its retry must be stored, not dropped as a copy of itself.
   */
  rollback(): void;
}

const NONE: CrossBatchVerdict = Object.freeze({ drop: [], otherSpans: [], contentFor: [], rollback() {} });

/** An entry still counts: neither it nor the call it stands for was rolled back. */
function live(e: Entry): boolean {
  return e.removed !== true && e.canonical?.removed !== true;
}

export const DEFAULT_RECENT_CALLS = 50_000;

/**
 * Entries are keyed by span id alone (random 64-bit ids, so no concatenated keys to build
 * on this hot path) and matched only within their own trace; a sender reusing one span id
 * across traces costs at most a missed de-duplication, never a wrong one.
 */
export class RecentCalls {
  readonly #capacity: number;
  readonly #byId = new Map<string, Entry>();
  /** Calls by their parent span id: one entry, or several under a common parent. */
  readonly #byParent = new Map<string, Entry | Entry[]>();
  /** Insertion order, for eviction. */
  readonly #ring: Array<Entry | undefined>;
  #next = 0;

  constructor(capacity = DEFAULT_RECENT_CALLS) {
    this.#capacity = Math.max(1, capacity);
    this.#ring = new Array<Entry | undefined>(this.#capacity);
  }

  get size(): number {
    return this.#byId.size;
  }

  /**
   * Decides which calls of a new batch are already counted, then remembers the batch's calls
   * at once (a batch arriving while this one is still being written must see them). Call it
   * once per batch, in the order batches are stored, and roll it back if the batch is refused.
   */
  admit(calls: readonly CallSummary[]): CrossBatchVerdict {
    if (calls.length === 0) return NONE;
    const kept: Entry[] = [];
    const gaveContent: Entry[] = [];
    const verdict: CrossBatchVerdict = {
      drop: [],
      otherSpans: [],
      contentFor: [],
      rollback: () => {
        for (const e of kept) {
          e.removed = true;
          this.#forget(e);
        }
        for (const e of gaveContent) e.hasContent = false;
      },
    };
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i] as CallSummary;
      const e = entryOf(c);
      const found = this.#match(e);
      if (found === undefined) {
        kept.push(e);
        continue;
      }
      const match = found.canonical ?? found;
      // Remembered too, so that a span wrapping this one later still finds the kept call.
      if (found.span_id !== e.span_id) {
        e.canonical = match;
        kept.push(e);
        verdict.otherSpans.push(i);
      }
      verdict.drop.push(i);
      if (e.hasContent && !match.hasContent) {
        verdict.contentFor.push({
          index: i,
          trace_id: match.trace_id,
          span_id: match.span_id,
          timestamp: match.timestamp ?? c.timestamp,
        });
        match.hasContent = true;
        gaveContent.push(match);
      }
    }
    for (const e of kept) this.#remember(e);
    return verdict;
  }

  #match(e: Entry): Entry | undefined {
    const trace = e.trace_id;
    const same = this.#byId.get(e.span_id);
    if (same !== undefined && same.trace_id === trace && live(same)) return same;
    // A wrapper of a stored call: any stored call right under it describing the same call.
    const children = this.#byParent.get(e.span_id);
    if (children !== undefined) {
      for (const child of Array.isArray(children) ? children : [children]) {
        if (child.trace_id === trace && live(child) && sameCall(e, child, true)) return child;
      }
    }
    if (e.parent_span_id === "") return undefined;
    // A call inside a stored wrapper.
    const parent = this.#byId.get(e.parent_span_id);
    if (parent !== undefined && parent.trace_id === trace && live(parent) && sameCall(parent, e, true)) return parent;
    // Another instrumentation's span for the same call, side by side.
    const siblings = this.#byParent.get(e.parent_span_id);
    if (siblings !== undefined) {
      for (const sib of Array.isArray(siblings) ? siblings : [siblings]) {
        if (sib.trace_id === trace && live(sib) && siblingsMatch(sib, e)) return sib;
      }
    }
    return undefined;
  }

  #remember(e: Entry): void {
    const old = this.#ring[this.#next];
    if (old !== undefined) this.#forget(old);
    this.#ring[this.#next] = e;
    this.#next = (this.#next + 1) % this.#capacity;
    this.#byId.set(e.span_id, e);
    // Root calls have no siblings to pair with: two root spans are two traces.
    if (e.parent_span_id === "") return;
    const under = this.#byParent.get(e.parent_span_id);
    if (under === undefined) this.#byParent.set(e.parent_span_id, e);
    else if (Array.isArray(under)) under.push(e);
    else this.#byParent.set(e.parent_span_id, [under, e]);
  }

  #forget(e: Entry): void {
    if (this.#byId.get(e.span_id) === e) this.#byId.delete(e.span_id);
    if (e.parent_span_id === "") return;
    const under = this.#byParent.get(e.parent_span_id);
    if (under === e) this.#byParent.delete(e.parent_span_id);
    else if (Array.isArray(under)) {
      const at = under.indexOf(e);
      if (at >= 0) under.splice(at, 1);
      if (under.length === 0) this.#byParent.delete(e.parent_span_id);
    }
  }
}

function entryOf(c: CallSummary): Entry {
  return {
    trace_id: c.trace_id,
    span_id: c.span_id,
    parent_span_id: c.parent_span_id,
    operation: c.operation,
    request_model: c.request_model,
    response_model: c.response_model,
    convention: c.convention,
    timestamp: c.timestamp,
    duration_ms: c.duration_ms,
    input_tokens: c.input_tokens,
    output_tokens: c.output_tokens,
    usageMissing: c.tokens_estimated === 1,
    hasContent: c.has_content === 1,
  };
}
