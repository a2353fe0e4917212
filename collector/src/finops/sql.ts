/**
 * Small helpers for SQL that tokenmeter generates itself (reprice plans, exports), where values
 * are inlined as literals because ClickHouse mutations take no query parameters.
 */

/** A ClickHouse string literal: backslash escapes for \, ' and control characters. */
export function sqlString(value: string): string {
  let out = "'";
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === "'") out += "\\'";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}'`;
}

export function sqlStringList(values: Iterable<string>): string {
  return `(${[...values].map(sqlString).join(", ")})`;
}

/** A DateTime64(6) literal from Unix microseconds. */
export function sqlMicros(us: number): string {
  return `fromUnixTimestamp64Micro(toInt64(${Math.trunc(us)}), 'UTC')`;
}

/** An integer literal (bigint or safe integer). */
export function sqlInt(n: bigint | number): string {
  return typeof n === "bigint" ? n.toString() : String(Math.trunc(n));
}

/** A plain identifier (database, table, cluster) checked before it is inlined. */
export function identifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return name;
}
