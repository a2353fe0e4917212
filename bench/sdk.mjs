// SDK overhead: the time @tokenmeter/sdk adds to an OpenAI call, and its effect on stream
// throughput.
//
// Two clients of the official `openai` package share one in-process fake: a custom `fetch`
// that answers from memory (no sockets), so what differs between them is the instrumentation
// alone. One is plain, the other observed by the SDK, initialised with the real batching span
// processor and a no-op exporter (export is asynchronous and batched in production; here it
// would only measure the exporter). Calls alternate between the two clients, order flipped
// every pair, so drift (GC, JIT, CPU clocks, other processes) hits both equally. Both clients
// run with OpenTelemetry's async context tracking on (init registers it), as in any app using
// OpenTelemetry; on Node 20 that is a promise hook every promise of the process pays.
//
//   npm run bench:sdk            (builds first)
//   SDK_BENCH_CALLS=50000 SDK_BENCH_STREAMS=4000 node bench/sdk.mjs
import OpenAI from "openai";
import { VERSION as OPENAI_VERSION } from "openai/version";
import { init, observeOpenAI } from "../sdk/dist/index.js";
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
const handle = init({ serviceName: "sdk-bench", team: "bench", exporter: noopExporter });

const options = { apiKey: "sk-bench", baseURL: "http://bench.invalid/v1", maxRetries: 0, fetch: inMemoryFetch };
const plain = new OpenAI(options);
const observed = observeOpenAI(new OpenAI(options));

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

async function timeStream(client) {
  const t0 = process.hrtime.bigint();
  const stream = await client.chat.completions.create(streamRequest);
  let events = 0;
  for await (const _chunk of stream) events++;
  const t1 = process.hrtime.bigint();
  if (events !== STREAM_EVENTS) throw new Error(`expected ${STREAM_EVENTS} events, got ${events}`);
  return events / (Number(t1 - t0) / 1e9); // events per second
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

await interleaved(WARMUP, timeCall);
await interleaved(Math.ceil(WARMUP / 10), timeStream);

const calls = await interleaved(CALLS, timeCall);
const streams = await interleaved(STREAMS, timeStream);
await handle.shutdown();

const p = (sorted, q) => percentile(sorted, q);
const medianAdded = p(calls.observed, 50) - p(calls.plain, 50);
const p99Added = p(calls.observed, 99) - p(calls.plain, 99);
const streamRatio = p(streams.observed, 50) / p(streams.plain, 50);

console.log(`node ${process.version}, openai ${OPENAI_VERSION}, in-memory fetch, content capture on`);
console.log(`non-streaming chat.completions.create, ${fmt(CALLS)} calls per client:`);
console.log(`  plain      median ${fmt(p(calls.plain, 50), 1)} µs   p99 ${fmt(p(calls.plain, 99), 1)} µs`);
console.log(`  observed   median ${fmt(p(calls.observed, 50), 1)} µs   p99 ${fmt(p(calls.observed, 99), 1)} µs`);
console.log(`  added      median ${fmt(medianAdded, 1)} µs   p99 ${fmt(p99Added, 1)} µs   (target: median <= 50 µs)`);
console.log(`streaming (${STREAM_EVENTS} events per stream), ${fmt(STREAMS)} streams per client:`);
console.log(`  plain      median ${fmt(p(streams.plain, 50))} events/s`);
console.log(`  observed   median ${fmt(p(streams.observed, 50))} events/s`);
console.log(`  ratio      observed/plain ${fmt(streamRatio, 3)}   (target: 1 within noise)`);

if (medianAdded > 50) process.exitCode = 1;
