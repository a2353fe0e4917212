// SDK overhead: the time @tokenmeter/sdk adds to an OpenAI call, and its effect on stream
// throughput.
//
// Clients of the official `openai` package share one in-process fake: a custom `fetch`
// that answers from memory (no sockets), so what differs between them is the instrumentation
// alone. One is plain, the other observed by the SDK, initialised with the real batching span
// processor and a no-op exporter (export is asynchronous and batched in production; here it
// would only measure the exporter). Calls alternate between the two clients, order flipped
// every pair, so drift (GC, JIT, CPU clocks, other processes) hits both equally. For streams a
// second plain client runs in the same rotation: how far it lands from the first is the noise
// that "unchanged within noise" is judged against.
//
// Async context: on Node 20, once anything enters an OpenTelemetry context, AsyncLocalStorage
// puts a hook on every promise of the process. The SDK alone, called from the root context,
// never switches it on (lazy-context.ts), so by default all clients run without it.
// SDK_BENCH_ASYNC_CONTEXT=1 switches it on first, as in an app that already uses contexts
// (withAttributes, an HTTP instrumentation...): every promise then costs more, and the
// observer's own promise per stream event shows more.
//
//   npm run bench:sdk            (builds first)
//   SDK_BENCH_CALLS=50000 SDK_BENCH_STREAMS=4000 node bench/sdk.mjs
//   SDK_BENCH_ASYNC_CONTEXT=1 node bench/sdk.mjs
//
// Where the added time goes: SDK_BENCH_SAMPLE_RATE=0 keeps the wrapping but samples every span
// out (nothing is recorded or serialized), SDK_BENCH_CAPTURE=0 records spans without content.
import OpenAI from "openai";
import { VERSION as OPENAI_VERSION } from "openai/version";
import { init, observeOpenAI, withAttributes } from "../sdk/dist/index.js";
import { fmt, percentile } from "./lib.mjs";

const CALLS = Number(process.env.SDK_BENCH_CALLS ?? 20_000);
const STREAMS = Number(process.env.SDK_BENCH_STREAMS ?? 2_000);
const STREAM_CHUNKS = Number(process.env.SDK_BENCH_STREAM_CHUNKS ?? 200);
const WARMUP = Math.min(2_000, Math.ceil(CALLS / 5));

// -------------------------------------------------------------------------------------------
// The in-memory provider: byte-for-byte OpenAI wire format, prepared once.

const MODEL = "gpt-4o-mini";
const REPLY = "Your order shipped this morning and should arrive within two business days. Anything else?";
const COMPLETION = JSON.stringify({
  id: "chatcmpl-bench0000000000000000000001",
  object: "chat.completion",
  created: 1_767_225_600,
  model: "gpt-4o-mini-2024-07-18",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: REPLY, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: "stop",
    },
  ],
  usage: {
    prompt_tokens: 61,
    completion_tokens: 18,
    total_tokens: 79,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  },
  service_tier: "default",
  system_fingerprint: "fp_bench",
});

function sseBody(chunks) {
  const head = {
    id: "chatcmpl-bench0000000000000000000002",
    object: "chat.completion.chunk",
    created: 1_767_225_600,
    model: "gpt-4o-mini-2024-07-18",
    service_tier: "default",
    system_fingerprint: "fp_bench",
  };
  const frame = (choices, usage = null) => `data: ${JSON.stringify({ ...head, choices, usage })}\n\n`;
  let out = frame([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
  for (let i = 0; i < chunks; i++) {
    out += frame([{ index: 0, delta: { content: ` word${i}` }, logprobs: null, finish_reason: null }]);
  }
  out += frame([{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]);
  out += frame([], { prompt_tokens: 61, completion_tokens: chunks, total_tokens: 61 + chunks });
  return `${out}data: [DONE]\n\n`;
}
const SSE = new TextEncoder().encode(sseBody(STREAM_CHUNKS));
const STREAM_EVENTS = STREAM_CHUNKS + 3; // role chunk + content chunks + finish chunk + usage chunk

const JSON_HEADERS = { "content-type": "application/json", "x-request-id": "req_bench" };
const SSE_HEADERS = { "content-type": "text/event-stream", "x-request-id": "req_bench" };

async function inMemoryFetch(_url, init) {
  if (typeof init?.body === "string" && init.body.includes('"stream":true')) {
    return new Response(SSE, { status: 200, headers: SSE_HEADERS });
  }
  return new Response(COMPLETION, { status: 200, headers: JSON_HEADERS });
}

// -------------------------------------------------------------------------------------------

const noopExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};
const SAMPLE_RATE = Number(process.env.SDK_BENCH_SAMPLE_RATE ?? 1);
const CAPTURE = process.env.SDK_BENCH_CAPTURE !== "0";
const handle = init({
  serviceName: "sdk-bench",
  team: "bench",
  exporter: noopExporter,
  sampleRate: SAMPLE_RATE,
  captureContent: CAPTURE,
});
const ASYNC_CONTEXT = process.env.SDK_BENCH_ASYNC_CONTEXT === "1";
// Entering any context switches async context tracking on for the rest of the process.
if (ASYNC_CONTEXT) await withAttributes({ feature: "bench" }, async () => undefined);

const options = { apiKey: "sk-bench", baseURL: "http://bench.invalid/v1", maxRetries: 0, fetch: inMemoryFetch };
const plain = new OpenAI(options);
const observed = observeOpenAI(new OpenAI(options));
// A second plain client, measured like the other two: plain vs control shows the noise.
const control = new OpenAI(options);

const request = {
  model: MODEL,
  temperature: 0.2,
  max_tokens: 256,
  messages: [
    { role: "system", content: "You are the support assistant of an online shop. Answer briefly and politely." },
    { role: "user", content: "Hi! Where is my order #4711? I ordered it last Tuesday." },
  ],
};
const streamRequest = { ...request, stream: true, stream_options: { include_usage: true } };

async function timeCall(client) {
  const t0 = process.hrtime.bigint();
  const completion = await client.chat.completions.create(request);
  const t1 = process.hrtime.bigint();
  if (completion.choices[0].message.content !== REPLY) throw new Error("unexpected completion");
  return Number(t1 - t0) / 1000; // µs
}

/**
 * Events per second over the whole stream (request to end of iteration), and between the first
 * and the last event: that window leaves out what each call pays once (request, span start,
 * first event; span end after the last), so it shows the cost per event alone.
 */
async function timeStream(client) {
  const t0 = process.hrtime.bigint();
  const stream = await client.chat.completions.create(streamRequest);
  let events = 0;
  let tFirst = t0;
  let tLast = t0;
  for await (const _chunk of stream) {
    if (events === 0) tFirst = process.hrtime.bigint();
    else if (events === STREAM_EVENTS - 1) tLast = process.hrtime.bigint();
    events++;
  }
  const t1 = process.hrtime.bigint();
  if (events !== STREAM_EVENTS) throw new Error(`expected ${STREAM_EVENTS} events, got ${events}`);
  return {
    whole: events / (Number(t1 - t0) / 1e9),
    between: (events - 2) / (Number(tLast - tFirst) / 1e9),
    micros: Number(t1 - t0) / 1000,
  };
}

/** Runs `measure` on both clients `n` times, alternating which goes first. */
async function interleaved(n, measure) {
  const a = new Array(n);
  const b = new Array(n);
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      a[i] = await measure(plain);
      b[i] = await measure(observed);
    } else {
      b[i] = await measure(observed);
      a[i] = await measure(plain);
    }
  }
  return { plain: a.sort((x, y) => x - y), observed: b.sort((x, y) => x - y) };
}

/**
 * Streams on the three clients, the order rotating every round. Returns, per block of rounds,
 * the median events/s of each client, so ratios can be read block by block; `mid` holds the
 * same between the first and the last event.
 */
async function streamRounds(n, blocks) {
  const clients = [plain, control, observed];
  const per = Math.max(1, Math.floor(n / blocks));
  const byNumber = (x, y) => x - y;
  const perBlock = [];
  const midPerBlock = [];
  const all = clients.map(() => []);
  const allMid = clients.map(() => []);
  const totalMicros = clients.map(() => 0);
  for (let b = 0; b < blocks; b++) {
    const samples = clients.map(() => []);
    const mids = clients.map(() => []);
    for (let i = 0; i < per; i++) {
      for (let k = 0; k < clients.length; k++) {
        const c = (i + k) % clients.length;
        const { whole, between, micros } = await timeStream(clients[c]);
        totalMicros[c] += micros;
        samples[c].push(whole);
        all[c].push(whole);
        mids[c].push(between);
        allMid[c].push(between);
      }
    }
    perBlock.push(samples.map((xs) => percentile(xs.sort(byNumber), 50)));
    midPerBlock.push(mids.map((xs) => percentile(xs.sort(byNumber), 50)));
  }
  const [a, c, o] = all.map((xs) => xs.sort(byNumber));
  const [ta, tc, to] = allMid.map((xs) => xs.sort(byNumber));
  return {
    perBlock,
    plain: a,
    control: c,
    observed: o,
    mid: { perBlock: midPerBlock, plain: ta, control: tc, observed: to },
    totalMicros,
  };
}

await interleaved(WARMUP, timeCall);
await streamRounds(Math.ceil(WARMUP / 10), 1);

const calls = await interleaved(CALLS, timeCall);
const BLOCKS = 10;
const streams = await streamRounds(STREAMS, BLOCKS);
const blocks = streams.perBlock;
await handle.shutdown();

const p = (sorted, q) => percentile(sorted, q);
const medianAdded = p(calls.observed, 50) - p(calls.plain, 50);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
// Work the SDK does for many calls at once (span writing, content serialization at export)
// lands in a few calls: the mean counts it, spread over all of them.
const meanAdded = mean(calls.observed) - mean(calls.plain);
const p99Added = p(calls.observed, 99) - p(calls.plain, 99);
const streamRatio = p(streams.observed, 50) / p(streams.plain, 50);
// Block by block: control/plain is the noise band, observed/plain the effect.
const sortNum = (xs) => xs.sort((x, y) => x - y);
function judge(perBlock) {
  const noise = sortNum(perBlock.map(([a, c]) => c / a));
  const effect = sortNum(perBlock.map(([a, , o]) => o / a));
  const effectMedian = percentile(effect, 50);
  const within = effectMedian >= noise[0] && effectMedian <= noise[noise.length - 1];
  return `control/plain ${fmt(noise[0], 3)}..${fmt(noise[noise.length - 1], 3)}, observed/plain median ${fmt(effectMedian, 3)} (${fmt(effect[0], 3)}..${fmt(effect[effect.length - 1], 3)}): ${within ? "within" : "OUTSIDE"} the noise band`;
}
const mid = streams.mid;

console.log(
  `node ${process.version}, openai ${OPENAI_VERSION}, in-memory fetch, sample rate ${SAMPLE_RATE}, content capture ${CAPTURE ? "on" : "off"}, async context tracking ${ASYNC_CONTEXT ? "on (SDK_BENCH_ASYNC_CONTEXT=1)" : "off (the SDK alone never turns it on)"}`,
);
console.log(`non-streaming chat.completions.create, ${fmt(CALLS)} calls per client:`);
console.log(`  plain      median ${fmt(p(calls.plain, 50), 1)} µs   p99 ${fmt(p(calls.plain, 99), 1)} µs`);
console.log(`  observed   median ${fmt(p(calls.observed, 50), 1)} µs   p99 ${fmt(p(calls.observed, 99), 1)} µs`);
console.log(`  added      median ${fmt(medianAdded, 1)} µs   p99 ${fmt(p99Added, 1)} µs   (target: median <= 50 µs)`);
console.log(`  mean       added ${fmt(meanAdded, 1)} µs   (batched work spread over every call)`);
console.log(`streaming (${STREAM_EVENTS} events per stream), ${fmt(STREAMS)} streams per client:`);
console.log(`  plain      median ${fmt(p(streams.plain, 50))} events/s`);
console.log(`  control    median ${fmt(p(streams.control, 50))} events/s   (a second plain client)`);
console.log(`  observed   median ${fmt(p(streams.observed, 50))} events/s`);
console.log(`  ratio      observed/plain ${fmt(streamRatio, 3)}   (target: 1 within noise)`);
const [plainTotal, , observedTotal] = streams.totalMicros;
console.log(
  `  overall    all streams' events over all their time, observed/plain ${fmt(plainTotal / observedTotal, 3)} (batched work included)`,
);
console.log(`  noise      ${BLOCKS} blocks of plain/control/observed rounds: ${judge(blocks)}`);
console.log(
  `  per event  between the first and the last event (what each call pays once left out): plain ${fmt(p(mid.plain, 50))}, observed ${fmt(p(mid.observed, 50))} events/s; ${judge(mid.perBlock)}`,
);

if (medianAdded > 50) process.exitCode = 1;
