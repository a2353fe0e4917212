/**
 * A progress bar on stderr: redrawn in place on a terminal, one line per phase otherwise (so
 * logs and CI output stay readable).
 */

export interface ProgressBar {
  update(phase: string, done: number, total: number, note?: string): void;
  done(message?: string): void;
}

export function createProgressBar(stream: NodeJS.WritableStream & { isTTY?: boolean }, width = 30): ProgressBar {
  const tty = stream.isTTY === true;
  let lastPhase = "";
  let lastDraw = 0;
  let drawn = false;
  return {
    update(phase, done, total, note) {
      const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
      if (!tty) {
        if (phase !== lastPhase) stream.write(`${phase}...${note ? ` ${note}` : ""}\n`);
        lastPhase = phase;
        return;
      }
      const now = Date.now();
      if (phase === lastPhase && now - lastDraw < 80 && done < total) return;
      lastPhase = phase;
      lastDraw = now;
      const filled = Math.round(ratio * width);
      const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
      const count = total > 1 ? ` ${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")}` : "";
      stream.write(
        `\r\x1b[2K${phase.padEnd(8)} [${bar}] ${String(Math.round(ratio * 100)).padStart(3)}%${count}${note ? ` ${note}` : ""}`,
      );
      drawn = true;
    },
    done(message) {
      if (tty && drawn) stream.write("\r\x1b[2K");
      if (message) stream.write(`${message}\n`);
    },
  };
}
