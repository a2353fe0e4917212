import { readdirSync, readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { deprioritizeEngineThreads } from "../collector/src/runtime/thread-priority.js";

// The ingest worker imports the build output, as it runs in production.
const DIST_MODULE = new URL("../collector/dist/runtime/thread-priority.js", import.meta.url).href;

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

/** Starts a thread that runs `body` (CommonJS, `post` sends to the parent) and stays alive until terminated. */
interface Reply {
  tid: number;
  ok?: boolean;
  error?: string;
}

function startThread(body: string): { worker: Worker; first: Promise<Reply> } {
  const worker = new Worker(
    `const { parentPort } = require("node:worker_threads");
     const post = (m) => parentPort.postMessage(m);
     const tid = Number(/\\/task\\/(\\d+)$/.exec(require("node:fs").readlinkSync("/proc/thread-self"))[1]);
     (async () => { ${body} })().catch((e) => post({ error: String(e) }));
     setInterval(() => {}, 1000);`,
    { eval: true },
  );
  const first = new Promise<Reply>((resolve) => worker.once("message", resolve));
  return { worker, first };
}

const workers: Worker[] = [];

/** A thread standing in for a storage-engine thread: any thread not named like Node's own. Resolves to its kernel id. */
async function startEngineThread(): Promise<number> {
  const { worker, first } = startThread(`
    require("node:fs").writeFileSync("/proc/thread-self/comm", "EngineTest");
    post({ tid });`);
  workers.push(worker);
  return (await first).tid;
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

describe.skipIf(process.platform !== "linux")("background thread priority", () => {
  it("an-ingest-worker-lowers-its-own-thread-and-not-the-process", async () => {
    const base = niceOf(process.pid);
    const { worker, first } = startThread(`
      const { lowerOwnPriority } = await import(${JSON.stringify(DIST_MODULE)});
      post({ tid, ok: lowerOwnPriority(${base + 5}) });`);
    workers.push(worker);
    const reply = await first;
    expect(reply.error).toBeUndefined();
    expect(reply.ok).toBe(true);
    expect(niceOf(reply.tid)).toBe(base + 5);
    // The thread that serves requests keeps its priority.
    expect(niceOf(process.pid)).toBe(base);
  });

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
