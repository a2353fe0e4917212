/**
 * Aligned text tables for the CLI: text columns left-aligned, numbers right-aligned, a rule
 * under the header, an optional totals line.
 */

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  align?: "left" | "right";
}

export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[], totals?: Row): string {
  const body = rows.map((r) => columns.map((c) => c.value(r)));
  const foot = totals ? columns.map((c) => c.value(totals)) : undefined;
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...body.map((r) => (r[i] ?? "").length), foot ? (foot[i] ?? "").length : 0),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => {
        const w = widths[i] ?? 0;
        return columns[i]?.align === "right" ? cell.padStart(w) : cell.padEnd(w);
      })
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const out = [line(columns.map((c) => c.header)), rule, ...body.map(line)];
  if (foot) out.push(rule, line(foot));
  return `${out.join("\n")}\n`;
}

/** USD with cents (4 decimals below $1, so small costs stay visible). */
export function usd(value: number | string): string {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return "n/a";
  const digits = Math.abs(n) < 1 && n !== 0 ? 4 : 2;
  return `${n < 0 ? "-" : ""}$${Math.abs(n).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

export function int(value: number | string): string {
  const n = Number(value);
  return Number.isFinite(n) ? n.toLocaleString("en-US") : "n/a";
}
