// Proxy overhead benchmark. Three processes: the fake provider (child), tokenmeter's proxy with
// telemetry on (child: collector + proxy in one process, in-process pipeline, embedded ClickHouse
// in a temp dir, as `tokenmeter start` runs them), and the load generator (this process, undici).
// The same load goes direct to the fake, through two floors (a raw TCP pipe: what the extra
// process hop alone costs on this machine; a bare node:http + undici relay: the least any Node
// HTTP proxy adds) and through the proxy, in alternating rounds of one run, so machine noise
// hits all alike. Prints:
//   - added latency p50/p99 at a fixed 500 req/s, non-streamed and streamed (time to first byte);
//   - maximum throughput through the proxy vs direct (closed loop);
//   - the proxy's RSS over a soak at 500 req/s (BENCH_SOAK_SECONDS, default 300).
//
//   npm run bench:proxy                      (full run, about 8 minutes)
//   BENCH_SECONDS=10 BENCH_SOAK_SECONDS=30 npm run bench:proxy     (quick look)
//
// Knobs: BENCH_RATE (500), BENCH_SECONDS per mode and path (20), BENCH_THROUGHPUT_SECONDS (8),
// BENCH_CONCURRENCY for the closed loop (64), BENCH_REPLY_WORDS per answer (64).
// Diagnostics: BENCH_TELEMETRY=off (proxy without telemetry), BENCH_EVENT_LOOP=1 (the proxy
// prints its event-loop delay every 5 s), BENCH_SINK_FLUSH_MS (span batching interval),
// BENCH_PROXY_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuSeconds, freePort, percentile, rssMiB } from "./lib.mjs";

const SELF = fileURLToPath(import.meta.url);
const DIST = new URL("../collector/dist/", import.meta.url);

// ---------------------------------------------------------------------------------------------
// Child roles

async function runFake(port) {
  const { startFakeProvider } = await import(new URL("fake-provider/index.js", DIST).href);
  const fake = await startFakeProvider({ port, maxRecordedRequests: 0 });
  process.on("SIGTERM", () => fake.close().then(() => process.exit(0)));
}

async function runProxy(proxyPort, collectorPort, fakeUrl, dir) {
  const { loadConfig } = await import(new URL("config/load-config.js", DIST).href);
  const { createLogger } = await import(new URL("logger.js", DIST).href);
  const { openStorage } = await import(new URL("storage/client.js", DIST).href);
  const { buildCollector } = await import(new URL("app.js", DIST).href);
  const proxyApi = await import(new URL("proxy/index.js", DIST).href);
  const config = loadConfig({
    env: {},
    overrides: {
      server: { host: "127.0.0.1", proxyPort, collectorPort, logLevel: "warn" },
      storage: { dataDir: join(dir, "data") },
      ingest: {
        spoolDir: join(dir, "spool"),
        ...(process.env.BENCH_BACKGROUND_NICE ? { backgroundNice: Number(process.env.BENCH_BACKGROUND_NICE) } : {}),
      },
      proxy: { openaiBaseUrl: `${fakeUrl}/v1`, anthropicBaseUrl: `${fakeUrl}/v1` },
    },
  });
  const logger = createLogger("warn");
  const storage = await openStorage(config);
  const collector = await buildCollector({ config, storage, logger });
  await collector.app.listen({ host: "127.0.0.1", port: collectorPort });
  const registry = collector.metrics.registry;
  const noop = { emit() {}, close: async () => {} };
  const sink =
    process.env.BENCH_TELEMETRY === "off"
      ? noop
      : proxyApi.createPipelineSink({
          pipeline: collector.pipeline,
          writer: collector.writer,
          dropped: proxyApi.telemetryDroppedCounter(registry).labels({ component: "proxy" }),
          logger,
          maxBufferedSpans: config.proxy.maxBufferedSpans,
          ...(process.env.BENCH_SINK_FLUSH_MS ? { flushIntervalMs: Number(process.env.BENCH_SINK_FLUSH_MS) } : {}),
        });
  const proxy = await proxyApi.startProxy({ config, logger, sink, registry, env: {} });
  if (process.env.BENCH_EVENT_LOOP === "1") {
    // Diagnostic: how long requests could wait behind other work on the proxy's thread.
    const { monitorEventLoopDelay } = await import("node:perf_hooks");
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    setInterval(() => {
      const ms = (n) => (n / 1e6).toFixed(1);
      process.stderr.write(
        `event loop delay ms: p50 ${ms(h.percentile(50))} p99 ${ms(h.percentile(99))} max ${ms(h.max)}\n`,
      );
      h.reset();
    }, 5000).unref();
  }
  process.on("SIGTERM", async () => {
    await proxy.close(2000);
    await collector.close();
    process.exit(0);
  });
}

/**
 * The floor: the least a Node.js proxy can add on this machine. A bare node:http server relaying
 * each request to the fake through an undici pool and writing each upstream chunk straight back:
 * no routing framework, no header rewriting beyond hop-by-hop, no parsing, no telemetry.
 */
async function runFloor(port, fakeUrl) {
  const http = await import("node:http");
  const { Pool } = await import("undici");
  const upstream = new Pool(fakeUrl, { connections: 256, keepAliveTimeout: 60_000 });
  const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "host", "content-length"]);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const headers = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
      upstream.dispatch(
        { method: req.method, path: req.url, headers, body: Buffer.concat(chunks) },
        {
          onRequestStart() {},
          onResponseStart(_c, status, upstreamHeaders) {
            const out = {};
            for (const [k, v] of Object.entries(upstreamHeaders)) if (!HOP.has(k)) out[k] = v;
            res.writeHead(status, out);
          },
          onResponseData(_c, chunk) {
            res.write(chunk);
          },
          onResponseEnd() {
            res.end();
          },
          onResponseError(_c, err) {
            res.destroy(err);
          },
        },
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  process.on("SIGTERM", () => process.exit(0));
}

/**
 * The lower floor: a raw TCP pipe. Each client connection gets its own connection to the fake
 * and bytes are copied both ways untouched: no HTTP parsing at all, only the extra process hop
 * (two more socket reads and writes per exchange, one more process to schedule). Nothing that
 * relays HTTP from another process, in any language, adds less than this hop.
 */
async function runPipe(port, fakeUrl) {
  const net = await import("node:net");
  const target = new URL(fakeUrl);
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: target.hostname, port: Number(target.port), noDelay: true });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  process.on("SIGTERM", () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Helpers

async function startChild(args, ready, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, SELF, ...args], { stdio: ["ignore", "inherit", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-20_000);
    if (process.env.BENCH_EVENT_LOOP === "1") process.stderr.write(d);
  });
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`child ${args[0]} exited: ${stderr}`);
    if (await ready().catch(() => false)) return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGKILL");
  throw new Error(`child ${args[0]} not ready: ${stderr}`);
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

const f2 = (n) => (Number.isFinite(n) ? n.toFixed(2) : "n/a");
const f3 = (n) => (Number.isFinite(n) ? n.toFixed(3) : "n/a");

// ---------------------------------------------------------------------------------------------
// Load

const REPLY_WORDS = String(process.env.BENCH_REPLY_WORDS ?? 64);
const HEADERS = {
  "content-type": "application/json",
  authorization: "Bearer sk-bench",
  "x-fake-reply-words": REPLY_WORDS,
  "x-tokenmeter-team": "bench",
};
const PROMPT =
  "You are a support assistant for an online store. Customer: my parcel 8812-5530 has not moved for three days; " +
  "is it lost, and can I get a refund or a replacement?";
const BODIES = {
  plain: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }], max_tokens: 200 }),
  stream: JSON.stringify({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: PROMPT }],
    max_tokens: 200,
    stream: true,
    stream_options: { include_usage: true },
  }),
};

/** One request on `pool`; calls back with (ttfbMs, totalMs) or an error. */
function fire(pool, path, body, done) {
  const t0 = performance.now();
  let ttfb = -1;
  let status = 0;
  pool.dispatch(
    { path, method: "POST", headers: HEADERS, body },
    {
      onRequestStart() {},
      onResponseStart(_c, s) {
        status = s;
      },
      onResponseData() {
        if (ttfb < 0) ttfb = performance.now() - t0;
      },
      onResponseEnd() {
        const total = performance.now() - t0;
        done(status === 200 ? null : new Error(`HTTP ${status}`), ttfb < 0 ? total : ttfb, total);
      },
      onResponseError(_c, err) {
        done(err, 0, 0);
      },
    },
  );
}

/** Open loop: `rate` requests per second for `seconds`, whatever the latency. */
function fixedRate(pool, path, body, rate, seconds) {
  const total = Math.round(rate * seconds);
  const ttfb = new Float64Array(total);
  const lat = new Float64Array(total);
  let sent = 0;
  let finished = 0;
  let errors = 0;
  const start = performance.now();
  return new Promise((resolve) => {
    const onDone = (i) => (err, t, l) => {
      if (err) errors++;
      ttfb[i] = t;
      lat[i] = l;
      if (++finished === total) resolve({ ttfb, lat, errors });
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (sent < due) {
        const i = sent++;
        fire(pool, path, body, onDone(i));
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

/** Closed loop: `concurrency` requests always in flight for `seconds`; completed requests/s. */
function closedLoop(pool, path, body, concurrency, seconds) {
  let done = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  return new Promise((resolve) => {
    let active = concurrency;
    const next = () => {
      if (performance.now() >= end) {
        if (--active === 0) resolve({ rps: done / seconds, errors });
        return;
      }
      fire(pool, path, body, (err) => {
        if (err) errors++;
        else done++;
        next();
      });
    };
    for (let i = 0; i < concurrency; i++) next();
  });
}

function summary(samples) {
  const s = Float64Array.from(samples).sort();
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), n: s.length };
}

async function metric(collectorUrl, name) {
  const text = await (await fetch(`${collectorUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) if (line.startsWith(name)) sum += Number(line.split(" ").pop());
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const { Pool } = await import("undici");
  const RATE = Number(process.env.BENCH_RATE ?? 500);
  const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
  const THROUGHPUT_SECONDS = Number(process.env.BENCH_THROUGHPUT_SECONDS ?? 8);
  const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
  const SOAK = Number(process.env.BENCH_SOAK_SECONDS ?? 300);
  const ROUND = 5;

  const dir = mkdtempSync(join(tmpdir(), "tokenmeter-bench-proxy-"));
  const [fakePort, proxyPort, collectorPort, floorPort, pipePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const fakeUrl = `http://127.0.0.1:${fakePort}`;
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  const collectorUrl = `http://127.0.0.1:${collectorPort}`;
  const up = (url) => async () => (await fetch(url)).status < 500;
  const fake = await startChild(["fake", String(fakePort)], up(`${fakeUrl}/v1/models`));
  const proxy = await startChild(
    ["proxy", String(proxyPort), String(collectorPort), fakeUrl, dir],
    up(`${proxyUrl}/healthz`),
    (process.env.BENCH_PROXY_NODE_OPTIONS ?? "").split(" ").filter(Boolean),
  );

  const floorUrl = `http://127.0.0.1:${floorPort}`;
  const floor = await startChild(["floor", String(floorPort), fakeUrl], up(`${floorUrl}/v1/models`));
  const pipeUrl = `http://127.0.0.1:${pipePort}`;
  const pipe = await startChild(["pipe", String(pipePort), fakeUrl], up(`${pipeUrl}/v1/models`));

  const pools = {
    direct: new Pool(fakeUrl, { connections: 256, keepAliveTimeout: 60_000 }),
    pipe: new Pool(pipeUrl, { connections: 256, keepAliveTimeout: 60_000 }),
    floor: new Pool(floorUrl, { connections: 256, keepAliveTimeout: 60_000 }),
    proxy: new Pool(proxyUrl, { connections: 256, keepAliveTimeout: 60_000 }),
  };
  const paths = {
    direct: "/v1/chat/completions",
    pipe: "/v1/chat/completions",
    floor: "/v1/chat/completions",
    proxy: "/openai/v1/chat/completions",
  };
  const PATHS = ["direct", "pipe", "floor", "proxy"];

  console.log(
    `proxy benchmark: node ${process.version}, ${cpus().length} cores, load avg ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, reply ${REPLY_WORDS} words, telemetry ${
      process.env.BENCH_TELEMETRY === "off" ? "OFF (diagnostic run)" : "on (in-process pipeline, embedded ClickHouse)"
    }`,
  );

  // Warm up both paths (JIT, connection pools, the storage engine).
  for (const p of PATHS) {
    await fixedRate(pools[p], paths[p], BODIES.plain, RATE, 3);
    await fixedRate(pools[p], paths[p], BODIES.stream, RATE, 2);
  }

  const results = {};
  for (const mode of ["plain", "stream"]) {
    const acc = Object.fromEntries(PATHS.map((p) => [p, { ttfb: [], lat: [], errors: 0 }]));
    for (let done = 0; done < SECONDS; done += ROUND) {
      const secs = Math.min(ROUND, SECONDS - done);
      for (const p of PATHS) {
        const r = await fixedRate(pools[p], paths[p], BODIES[mode], RATE, secs);
        acc[p].ttfb.push(...r.ttfb);
        acc[p].lat.push(...r.lat);
        acc[p].errors += r.errors;
      }
    }
    results[mode] = Object.fromEntries(
      PATHS.map((p) => [p, { lat: summary(acc[p].lat), ttfb: summary(acc[p].ttfb), errors: acc[p].errors }]),
    );
  }

  console.log(`\nfixed rate ${RATE} req/s, ${SECONDS} s per path (alternating ${ROUND} s rounds), latency in ms`);
  console.log("  (pipe: a raw TCP relay, the cost of the extra process hop alone)");
  console.log("  (floor: a bare node:http + undici relay, the least any Node.js HTTP proxy adds here)");
  console.log(
    "                            direct p50/p90/p99       pipe p50/p90/p99         floor p50/p90/p99        proxy p50/p90/p99        pipe added p50/p99    floor added p50/p99   proxy added p50/p99",
  );
  const triple = (x) => `${f3(x.p50)} / ${f3(x.p90)} / ${f3(x.p99)}`.padEnd(25);
  const added = (x, d) => `${f3(x.p50 - d.p50)} / ${f3(x.p99 - d.p99)}`.padEnd(22);
  const row = (label, key, pick) => {
    const [d, t, f, p] = PATHS.map((path) => results[key][path][pick]);
    console.log(
      `${label.padEnd(28)}${triple(d)}${triple(t)}${triple(f)}${triple(p)}${added(t, d)}${added(f, d)}${added(p, d)}`,
    );
  };
  row("non-streamed (full reply)", "plain", "lat");
  row("streamed, time to 1st byte", "stream", "ttfb");
  row("streamed, full stream", "stream", "lat");
  let errs = 0;
  for (const mode of ["plain", "stream"]) for (const p of PATHS) errs += results[mode][p].errors;
  if (errs > 0) console.log(`  errors: ${errs}`);

  console.log(`\nmax throughput, closed loop, ${CONCURRENCY} in flight, ${THROUGHPUT_SECONDS} s each`);
  // CPU per request of each relay process while it alone was loaded.
  const relayed = async (child, path, mode) => {
    const c0 = cpuSeconds(child.pid);
    const r = await closedLoop(pools[path], paths[path], BODIES[mode], CONCURRENCY, THROUGHPUT_SECONDS);
    r.cpuUs = ((cpuSeconds(child.pid) - c0) / Math.max(1, r.rps * THROUGHPUT_SECONDS)) * 1e6;
    return r;
  };
  for (const mode of ["plain", "stream"]) {
    const proxyCpu0 = cpuSeconds(proxy.pid);
    const d = await closedLoop(pools.direct, paths.direct, BODIES[mode], CONCURRENCY, THROUGHPUT_SECONDS);
    // What the proxy's process burns with no requests (background merges), taken off its figure below.
    const idleCpu = cpuSeconds(proxy.pid) - proxyCpu0;
    const t = await relayed(pipe, "pipe", mode);
    const f = await relayed(floor, "floor", mode);
    const p = await relayed(proxy, "proxy", mode);
    p.cpuUs -= (idleCpu / Math.max(1, p.rps * THROUGHPUT_SECONDS)) * 1e6;
    const rps = (x) =>
      `${x.rps.toFixed(0).padStart(6)} req/s (ratio ${(x.rps / d.rps).toFixed(2)}, CPU ${x.cpuUs.toFixed(0)} µs/req)`;
    const errors = d.errors + t.errors + f.errors + p.errors;
    console.log(
      `  ${mode === "plain" ? "non-streamed" : "streamed    "}  direct ${d.rps.toFixed(0).padStart(6)} req/s   pipe ${rps(t)}   floor ${rps(f)}   proxy ${rps(p)}${errors ? `   errors ${errors}` : ""}`,
    );
  }

  if (SOAK > 0) {
    console.log(`\nsoak: ${RATE} req/s through the proxy (streamed and not, alternating) for ${SOAK} s`);
    // Let the throughput phase's backlog drain first.
    await new Promise((r) => setTimeout(r, 3000));
    const samples = [];
    const sample = () => samples.push([performance.now(), rssMiB(proxy.pid)]);
    const timer = setInterval(sample, 5000);
    sample();
    let sent = 0;
    let errors = 0;
    const soakStart = performance.now();
    while (performance.now() - soakStart < SOAK * 1000) {
      const secs = Math.min(10, SOAK - (performance.now() - soakStart) / 1000);
      if (secs < 0.5) break;
      const r = await fixedRate(pools.proxy, paths.proxy, sent % 2 === 0 ? BODIES.plain : BODIES.stream, RATE, secs);
      sent++;
      errors += r.errors;
    }
    clearInterval(timer);
    sample();
    // After warm-up: the first minute (or first 20% of a short soak) is heap growth to steady state.
    const warm = Math.min(60_000, SOAK * 200);
    const steady = samples.filter(([t]) => t - soakStart >= warm);
    const first = steady[0]?.[1] ?? samples[0][1];
    const last = samples[samples.length - 1][1];
    const max = Math.max(...samples.map(([, r]) => r));
    let slope = Number.NaN;
    if (steady.length >= 3) {
      const n = steady.length;
      const mx = steady.reduce((s, [t]) => s + t, 0) / n;
      const my = steady.reduce((s, [, r]) => s + r, 0) / n;
      let num = 0;
      let den = 0;
      for (const [t, r] of steady) {
        num += (t - mx) * (r - my);
        den += (t - mx) ** 2;
      }
      slope = (num / den) * 60_000;
    }
    console.log(
      `  proxy RSS (MiB): at start ${f2(samples[0][1])}, after warm-up ${f2(first)}, end ${f2(last)}, max ${f2(max)}; ` +
        `steady-state slope ${f2(slope)} MiB/min${errors ? `; errors ${errors}` : ""}`,
    );
  }

  await new Promise((r) => setTimeout(r, 1500));
  const rows = await metric(collectorUrl, 'tokenmeter_rows_written_total{table="llm_calls"}').catch(() => Number.NaN);
  const dropped = await metric(collectorUrl, "tokenmeter_telemetry_dropped_total").catch(() => Number.NaN);
  console.log(`\ntelemetry: ${rows} llm_calls rows written by the proxy's process, ${dropped} spans dropped`);

  for (const pool of Object.values(pools)) await pool.close();
  await stopChild(floor);
  await stopChild(pipe);
  await stopChild(proxy);
  await stopChild(fake);
  rmSync(dir, { recursive: true, force: true });
}

const [role, ...args] = process.argv.slice(2);
if (role === "fake") await runFake(Number(args[0]));
else if (role === "proxy") await runProxy(Number(args[0]), Number(args[1]), args[2], args[3]);
else if (role === "floor") await runFloor(Number(args[0]), args[1]);
else if (role === "pipe") await runPipe(Number(args[0]), args[1]);
else await main();
