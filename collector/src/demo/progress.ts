/**
 * The demo's progress display on stderr. On a terminal, one line redrawn in place: phase, bar,
 * percent, count, rate and time left. Elsewhere (CI logs, docker compose), a plain line every few
 * seconds, so logs stay readable.
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface Progress {
  /** Starts a phase of `total` units (0 when open-ended: no percent or ETA). */
  start(phase: string, total: number, unit: string): void;
  update(done: number, note?: string): void;
  /** Ends the phase with a final line. */
  finish(message: string): void;
}

const BAR_WIDTH = 24;
const TTY_REDRAW_MS = 100;
const PLAIN_EVERY_MS = 5000;

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "--";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 100) return Math.round(perSecond).toLocaleString("en-US");
  return perSecond.toFixed(perSecond >= 10 ? 1 : 2);
}

export function createProgress(stream: ProgressStream, clock: () => number = Date.now): Progress {
  const tty = stream.isTTY === true;
  let phase = "";
  let unit = "";
  let total = 0;
  let startedAt = 0;
  let lastDraw = 0;
  let done = 0;
  let note = "";

  const line = (): string => {
    const elapsed = clock() - startedAt;
    const rate = elapsed > 0 ? (done * 1000) / elapsed : 0;
    const count =
      total > 0 ? `${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")}` : done.toLocaleString("en-US");
    const parts = [phase.padEnd(10)];
    if (total > 0) {
      const ratio = Math.min(1, done / total);
      const filled = Math.round(ratio * BAR_WIDTH);
      parts.push(
        `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`,
        `${String(Math.floor(ratio * 100)).padStart(3)}%`,
      );
    }
    parts.push(`${count} ${unit}`, `${formatRate(rate)}/s`);
    if (total > 0) parts.push(`ETA ${rate > 0 ? formatDuration(((total - done) / rate) * 1000) : "--"}`);
    else parts.push(`${formatDuration(elapsed)} elapsed`);
    if (note) parts.push(note);
    return parts.join("  ");
  };

  return {
    start(name, units, unitName) {
      phase = name;
      total = units;
      unit = unitName;
      done = 0;
      note = "";
      startedAt = clock();
      lastDraw = tty ? 0 : startedAt;
      if (!tty) stream.write(`${phase}: started\n`);
    },
    update(value, text) {
      done = value;
      // Totals of open-ended phases are estimates (live requests arrive at random).
      if (total > 0 && done > total) total = done;
      if (text !== undefined) note = text;
      const now = clock();
      if (now - lastDraw < (tty ? TTY_REDRAW_MS : PLAIN_EVERY_MS)) return;
      lastDraw = now;
      stream.write(tty ? `\r\x1b[2K${line()}` : `${line()}\n`);
    },
    finish(message) {
      stream.write(tty ? `\r\x1b[2K${message}\n` : `${message}\n`);
    },
  };
}
