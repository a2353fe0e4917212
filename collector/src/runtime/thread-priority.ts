import { readdirSync, readFileSync } from "node:fs";
import { setPriority } from "node:os";

/**
 * The embedded ClickHouse's own threads (inserts, merges, its pools) run at a lower CPU
 * priority than the rest of the process, so on a small machine a burst of storage work does not
 * hold a proxied call waiting for a core. The ingest workers keep their priority: they are the
 * ingest path's bottleneck, and lowering them measurably cost OTLP throughput. Linux only
 * (per-thread nice values); elsewhere, and when the system refuses, nothing changes.
 */

/**
 * Every `intervalMs`, gives threads the storage engine started (any thread not named like
 * Node's own) the lower priority `nice`. The engine grows and shrinks its pools, so new threads
 * are picked up on the next pass. Returns a stop function.
 */
export function deprioritizeEngineThreads(nice: number, intervalMs = 2000): () => void {
  if (nice <= 0 || process.platform !== "linux") return () => {};
  const done = new Set<number>();
  const pass = () => {
    let tids: string[];
    try {
      tids = readdirSync("/proc/self/task");
    } catch {
      return;
    }
    const alive = new Set<number>();
    for (const t of tids) {
      const tid = Number(t);
      alive.add(tid);
      if (tid === process.pid || done.has(tid)) continue;
      try {
        const comm = readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim();
        // Node's own threads (V8 helpers that the request thread waits on in GC, libuv's pool) keep theirs.
        if (comm === "node" || comm.startsWith("libuv")) continue;
        setPriority(tid, nice);
      } catch {
        // the thread ended, or the system refused: try again next pass
        continue;
      }
      done.add(tid);
    }
    for (const tid of done) if (!alive.has(tid)) done.delete(tid);
  };
  pass();
  const timer = setInterval(pass, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
