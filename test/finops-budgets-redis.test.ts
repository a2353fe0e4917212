import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetEnforcer } from "../collector/src/finops/budget-enforcer.js";
import { budgetsSchema } from "../collector/src/finops/config.js";
import { RedisBudgetStore } from "../collector/src/finops/redis-budget-store.js";
import { freePort } from "./helpers/net.js";

/**
 * Budget counters in a real redis-server (Debian's redis-server package; .ci/run installs it).
 * Each run starts its own server on a free loopback port with a temporary directory. Without the
 * binary the tests are skipped locally, and fail in CI (CI=true), where it must be present.
 */

function redisBinary(): string | undefined {
  const r = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

const binary = redisBinary();
const inCi = process.env["CI"] === "true";
if (!binary && inCi) throw new Error("redis-server is required in CI (apt-get install redis-server)");

let server: ChildProcess | undefined;
let dir = "";
let url = "";

beforeAll(async () => {
  if (!binary) return;
  dir = mkdtempSync(join(tmpdir(), "tokenmeter-redis-"));
  const port = await freePort();
  server = spawn(
    binary,
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const probe = await RedisBudgetStore.connect({ url });
      await probe.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server?.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const subject = {
  team: "search",
  project: "web",
  user: "",
  virtualKeyId: "",
  provider: "openai",
  model: "gpt-test",
  tags: {},
};

let budgetSeq = 0;
function budgetConfig(limitUsd: number, extra: object = {}) {
  budgetSeq++;
  return budgetsSchema.parse({
    definitions: [
      {
        name: `shared-${budgetSeq}-${Date.now()}`,
        scope: { team: "search" },
        window: "daily",
        limitUsd,
        enforcement: "hard",
      },
    ],
    ...extra,
  });
}

describe.skipIf(!binary)("budget counters in Redis", () => {
  it("200 concurrent reserve/settle against one hard budget overshoot by at most one estimate", async () => {
    const store = await RedisBudgetStore.connect({ url });
    const enforcer = new BudgetEnforcer({ config: budgetConfig(2), store });
    const estimate = 0.05;
    let spent = 0;
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const d = await enforcer.reserve(subject, estimate);
        if (!d.ok) return false;
        const actual = estimate * (0.6 + (i % 5) / 10);
        spent += actual;
        await d.reservation?.settle(actual);
        return true;
      }),
    );
    expect(results.filter(Boolean).length).toBeGreaterThan(0);
    expect(results.filter((r) => !r).length).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(2 + estimate);
    const def = enforcer.definitions[0];
    if (!def) throw new Error("no budget");
    const [c] = await store.read([enforcer.window(def).ref], Date.now());
    expect(Number(c?.spentNano) / 1e9).toBeCloseTo(spent, 6);
    expect(c?.reservedNano).toBe(0n);
    await enforcer.close();
  });

  it("two enforcers with separate connections share one budget", async () => {
    const config = budgetConfig(1);
    const a = new BudgetEnforcer({ config, store: await RedisBudgetStore.connect({ url }) });
    const b = new BudgetEnforcer({ config, store: await RedisBudgetStore.connect({ url }) });
    let spent = 0;
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const d = await (i % 2 ? a : b).reserve(subject, 0.02);
        if (d.ok) {
          spent += 0.02;
          await d.reservation?.settle(0.02);
        }
      }),
    );
    expect(spent).toBeCloseTo(1, 9);
    await a.close();
    await b.close();
  });

  it("a reservation whose process died expires after the TTL; a window resets at its boundary", async () => {
    let now = Date.UTC(2026, 10, 3, 22, 50);
    const enforcer = new BudgetEnforcer({
      config: budgetConfig(1, { reservationTtlMs: 60_000, timezone: "Europe/Berlin" }),
      store: await RedisBudgetStore.connect({ url }),
      clock: () => now,
    });
    expect((await enforcer.reserve(subject, 0.9)).ok).toBe(true); // never settled
    expect((await enforcer.reserve(subject, 0.2)).ok).toBe(false);
    now += 61_000;
    const d = await enforcer.reserve(subject, 0.9);
    expect(d.ok).toBe(true);
    if (d.ok) await d.reservation?.settle(1);
    expect((await enforcer.reserve(subject, 0.01)).ok).toBe(false);
    now = Date.UTC(2026, 10, 3, 23); // midnight in Berlin
    expect((await enforcer.reserve(subject, 0.01)).ok).toBe(true);
    await enforcer.close();
  });

  describe("two processes", () => {
    const dist = new URL("../collector/dist/finops/", import.meta.url);
    const src = new URL("../collector/src/finops/", import.meta.url);

    beforeAll(() => {
      // The children run the compiled collector; build it when the sources are newer.
      const need = ["budget-enforcer", "redis-budget-store", "config"];
      const stale = need.some((n) => {
        const js = new URL(`${n}.js`, dist);
        return !existsSync(js) || statSync(js).mtimeMs < statSync(new URL(`${n}.ts`, src)).mtimeMs;
      });
      if (stale) {
        try {
          execFileSync(process.execPath, [require_tsc(), "-b", "collector"], { stdio: "ignore" });
        } catch {
          // Type errors elsewhere still emit; the check below decides.
        }
      }
      for (const n of need) expect(existsSync(new URL(`${n}.js`, dist))).toBe(true);
    });

    it("two proxy processes sharing Redis enforce one budget", async () => {
      const name = `procs-${Date.now()}`;
      const script = `
import { BudgetEnforcer } from ${JSON.stringify(new URL("budget-enforcer.js", dist).href)};
import { RedisBudgetStore } from ${JSON.stringify(new URL("redis-budget-store.js", dist).href)};
import { budgetsSchema } from ${JSON.stringify(new URL("config.js", dist).href)};
const config = budgetsSchema.parse({ definitions: [{ name: ${JSON.stringify(name)}, scope: { team: "search" }, window: "monthly", limitUsd: 3, enforcement: "hard" }] });
const enforcer = new BudgetEnforcer({ config, store: await RedisBudgetStore.connect({ url: process.argv[1] }) });
const subject = { team: "search", project: "", user: "", virtualKeyId: "", provider: "openai", model: "m", tags: {} };
// Connected: tell the parent, then wait for its "go", which both processes receive together.
process.stdout.write("ready\\n");
await new Promise((r) => process.stdin.once("data", r));
let allowed = 0, spent = 0;
// Reservations are spread over about 600 ms, so the two processes interleave even when one of
// them is scheduled tens of milliseconds late.
await Promise.all(Array.from({ length: 150 }, async (_, i) => {
  await new Promise((r) => setTimeout(r, i * 4));
  const d = await enforcer.reserve(subject, 0.05);
  if (!d.ok) return;
  allowed++;
  await new Promise((r) => setTimeout(r, i % 7));
  const actual = 0.05 * (0.5 + (i % 6) / 10);
  spent += actual;
  await d.reservation.settle(actual);
}));
process.stdout.write(JSON.stringify({ allowed, spent }));
await enforcer.close();
process.stdin.destroy();
`;
      const children = [0, 1].map(() => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", script, url], {
          stdio: ["pipe", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        let onReady: () => void = () => {};
        const ready = new Promise<void>((r) => {
          onReady = r;
        });
        child.stdout.on("data", (d) => {
          out += d;
          if (out.startsWith("ready\n")) onReady();
        });
        child.stderr.on("data", (d) => {
          err += d;
        });
        // A child that dies before it is ready releases the barrier; its result then rejects.
        child.on("exit", () => onReady());
        const result = new Promise<{ allowed: number; spent: number }>((resolve, reject) => {
          child.on("exit", (code) =>
            code === 0 ? resolve(JSON.parse(out.slice("ready\n".length))) : reject(new Error(`child ${code}: ${err}`)),
          );
        });
        return { child, ready, result };
      });
      await Promise.all(children.map((c) => c.ready));
      for (const c of children) c.child.stdin.write("go\n");
      const [p1, p2] = await Promise.all(children.map((c) => c.result));
      const spent = (p1?.spent ?? 0) + (p2?.spent ?? 0);
      expect((p1?.allowed ?? 0) > 0 && (p2?.allowed ?? 0) > 0).toBe(true);
      expect((p1?.allowed ?? 0) + (p2?.allowed ?? 0)).toBeLessThan(300);
      expect(spent).toBeLessThanOrEqual(3 + 0.05);
      // One counter holds both processes' spend.
      const parent = new BudgetEnforcer({
        config: budgetsSchema.parse({
          definitions: [{ name, scope: { team: "search" }, window: "monthly", limitUsd: 3, enforcement: "hard" }],
        }),
        store: await RedisBudgetStore.connect({ url }),
      });
      const def = parent.definitions[0];
      if (!def) throw new Error("no budget");
      const [c] = await parent.store.read([parent.window(def).ref], Date.now());
      expect(Number(c?.spentNano) / 1e9).toBeCloseTo(spent, 6);
      expect(c?.reservedNano).toBe(0n);
      await parent.close();
    });
  });
});

function require_tsc(): string {
  return join(process.cwd(), "node_modules", "typescript", "bin", "tsc");
}
