import { formatPicoUsd } from "../enrich/pricing.js";

/**
 * Money as integers: nano-USD bigints, the unit of the Decimal(…, 9) cost columns. Sums and
 * differences of costs are exact this way; floats appear only in projections and ratios.
 */

/** Nano-USD from a decimal string or number as ClickHouse returns it ("12.5", "-0.000000001"). */
export function decimalToNano(v: unknown): bigint {
  const s = String(v ?? "0").trim();
  if (s === "" || s === "NULL" || s === "null") return 0n;
  const neg = s.startsWith("-");
  const [whole = "0", frac = ""] = (neg ? s.slice(1) : s).split(".");
  const nano = BigInt(whole || "0") * 1_000_000_000n + BigInt(frac.padEnd(9, "0").slice(0, 9));
  return neg ? -nano : nano;
}

/** Fixed 9 decimals: "12.500000000". */
export function nanoToDecimal(nano: bigint): string {
  const neg = nano < 0n;
  const abs = neg ? -nano : nano;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0");
  return `${neg ? "-" : ""}${abs / 1_000_000_000n}.${frac}`;
}

/** Trailing zeros trimmed: "12.5". */
export function formatNanoUsd(nano: bigint): string {
  return formatPicoUsd(nano * 1000n);
}

/** USD as a number, for ratios and display. */
export function nanoToNumber(nano: bigint): number {
  return Number(nano) / 1e9;
}
