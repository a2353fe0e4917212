import { readdirSync, readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { deprioritizeEngineThreads } from "../collector/src/runtime/thread-priority.js";

/** A thread's nice value, from its /proc stat line (field 19). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[16]);
}

function commOf(tid: string): string {
  try {
    return readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

const workers: Worker[] = [];

/**
 * A thread standing in for a storage-engine thread: any thread not named like Node's own. It
 * renames itself, reports its kernel id and stays alive until terminated.
 */
async function startEngineThread(): Promise<number> {
  const worker = new Worker(
    `const { parentPort } = require("node:worker_threads");
     const fs = require("node:fs");
     fs.writeFileSync("/proc/thread-self/comm", "EngineTest");
     parentPort.postMessage(Number(/\\/task\\/(\\d+)$/.exec(fs.readlinkSync("/proc/thread-self"))[1]));
     setInterval(() => {}, 1000);`,
    { eval: true },
  );
  workers.push(worker);
  return new Promise<number>((resolve) => worker.once("message", resolve));
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

describe.skipIf(process.platform !== "linux")("background thread priority", () => {
  it("engine-threads-are-lowered-and-node-threads-keep-their-priority", async () => {
    const base = niceOf(process.pid);
    const tid = await startEngineThread();
    const nodeThreads = readdirSync("/proc/self/task").filter((t) => commOf(t) === "node");
    const before = new Map(nodeThreads.map((t) => [t, niceOf(Number(t))]));

    const stop = deprioritizeEngineThreads(base + 7, 20);
    try {
      const deadline = Date.now() + 5000;
      while (niceOf(tid) !== base + 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(niceOf(tid)).toBe(base + 7);
      expect(niceOf(process.pid)).toBe(base);
      for (const [t, nice] of before) {
        if (commOf(t) === "node") expect(niceOf(Number(t))).toBe(nice);
      }
    } finally {
      stop();
    }
  });

  it("background-nice-0-leaves-engine-threads-alone", async () => {
    const base = niceOf(process.pid);
    const tid = await startEngineThread();
    const stop = deprioritizeEngineThreads(0, 20);
    await new Promise((r) => setTimeout(r, 150));
    stop();
    expect(niceOf(tid)).toBe(base);
  });
});
