import type { CatalogEntry, PriceBook, PriceEntry } from "../enrich/price-book.js";

/**
 * Reading a price catalog as a person would: the prices in force at a date, what changed
 * between two catalogs (or two dates of one), and the checks the schema cannot express.
 */

export const PRICE_FIELDS = ["input", "output", "cache_read", "cache_write", "reasoning"] as const;
export type PriceField = (typeof PRICE_FIELDS)[number];

/** Entries in force at `atMs`, one per id (the catalog allows no overlap within an id). */
export function entriesAt(book: PriceBook, atMs: number): PriceEntry[] {
  const us = atMs * 1000;
  return book.entries
    .filter((e) => us >= e.effectiveFromUs && us < e.effectiveToUs)
    .sort((a, b) => a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model));
}

export interface PriceChange {
  id: string;
  provider: string;
  model: string;
  kind: "added" | "removed" | "changed";
  fromVersion: string | null;
  toVersion: string | null;
  fields: { field: PriceField | "tiers"; from: string; to: string; changePct: number | null }[];
}

function fieldValue(e: CatalogEntry, f: PriceField): number | undefined {
  return e[f];
}

function tiersText(e: CatalogEntry): string {
  return (e.tiers ?? [])
    .map(
      (t) => `>${t.above_input_tokens}: ${t.input}/${t.output}${t.cache_read !== undefined ? `/${t.cache_read}` : ""}`,
    )
    .join("; ");
}

export function diffPrices(a: readonly PriceEntry[], b: readonly PriceEntry[]): PriceChange[] {
  const byId = (list: readonly PriceEntry[]) => new Map(list.map((e) => [e.id, e]));
  const left = byId(a);
  const right = byId(b);
  const out: PriceChange[] = [];
  for (const id of [...new Set([...left.keys(), ...right.keys()])].sort()) {
    const x = left.get(id);
    const y = right.get(id);
    const base = { id, provider: (x ?? y)?.provider ?? "", model: (x ?? y)?.model ?? "" };
    if (!x && y) {
      out.push({ ...base, kind: "added", fromVersion: null, toVersion: y.version, fields: [] });
      continue;
    }
    if (x && !y) {
      out.push({ ...base, kind: "removed", fromVersion: x.version, toVersion: null, fields: [] });
      continue;
    }
    if (!x || !y) continue;
    const fields: PriceChange["fields"] = [];
    for (const f of PRICE_FIELDS) {
      const from = fieldValue(x.raw, f);
      const to = fieldValue(y.raw, f);
      if (from === to) continue;
      fields.push({
        field: f,
        from: from === undefined ? "-" : String(from),
        to: to === undefined ? "-" : String(to),
        changePct:
          from !== undefined && to !== undefined && from > 0 ? Math.round(((to - from) / from) * 1000) / 10 : null,
      });
    }
    if (tiersText(x.raw) !== tiersText(y.raw)) {
      fields.push({ field: "tiers", from: tiersText(x.raw) || "-", to: tiersText(y.raw) || "-", changePct: null });
    }
    if (fields.length > 0 || x.version !== y.version) {
      out.push({ ...base, kind: "changed", fromVersion: x.version, toVersion: y.version, fields });
    }
  }
  return out;
}

export interface CatalogWarning {
  id: string;
  message: string;
}

/** Checks beyond the schema: suspicious prices and holes between versions of one model. */
export function lintCatalog(book: PriceBook, nowMs: number): CatalogWarning[] {
  const out: CatalogWarning[] = [];
  const byId = new Map<string, PriceEntry[]>();
  for (const e of book.entries) {
    const list = byId.get(e.id) ?? [];
    list.push(e);
    byId.set(e.id, list);
    const r = e.raw;
    if (r.cache_read !== undefined && r.cache_read > r.input) {
      out.push({ id: `${e.id}@${e.version}`, message: `cache_read (${r.cache_read}) is above input (${r.input})` });
    }
    if (r.output === 0) out.push({ id: `${e.id}@${e.version}`, message: "output price is 0" });
    for (const t of r.tiers ?? []) {
      if (t.input < r.input) {
        out.push({
          id: `${e.id}@${e.version}`,
          message: `tier above ${t.above_input_tokens} tokens is cheaper (${t.input}) than the base input (${r.input})`,
        });
      }
    }
  }
  for (const [id, list] of byId) {
    list.sort((a, b) => a.effectiveFromUs - b.effectiveFromUs);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1];
      const next = list[i];
      if (prev && next && Number.isFinite(prev.effectiveToUs) && prev.effectiveToUs < next.effectiveFromUs) {
        out.push({
          id,
          message: `no price between ${new Date(prev.effectiveToUs / 1000).toISOString()} and ${new Date(next.effectiveFromUs / 1000).toISOString()}: calls then are unpriced`,
        });
      }
    }
    const last = list[list.length - 1];
    if (last && Number.isFinite(last.effectiveToUs) && last.effectiveToUs / 1000 < nowMs) {
      out.push({
        id,
        message: `the last version ends ${new Date(last.effectiveToUs / 1000).toISOString()}: new calls are unpriced`,
      });
    }
  }
  return out;
}
