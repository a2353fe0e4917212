import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Config } from "../config/schema.js";
import { ERR_BACKPRESSURE, ERR_UNAVAILABLE, TokenmeterError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { DecodedSpan } from "../otlp/types.js";
import { type PackedCalls, unpackCalls } from "./call-summary-transfer.js";
import type { ProcessedBatch } from "./process-batch.js";

/** A request for a worker: one OTLP body, or spans already decoded (the in-process proxy's). */
export type WorkerTask =
  | {
      id: number;
      kind: "traces" | "logs";
      body: Uint8Array;
      contentType: string;
      contentEncoding: string | undefined;
    }
  | { id: number; kind: "spans"; spans: DecodedSpan[] };

export type WorkerReply =
  | { id: number; ok: true; batch: ProcessedBatch; calls: PackedCalls }
  | { id: number; ok: false; error: { code: string; statusCode: number; message: string; retryAfter?: number } };

/** How many ingest workers to run: the configured count, or one per core beyond the first. */
export function workerCount(configured: number | undefined): number {
  if (configured !== undefined) return configured;
  return Math.max(0, Math.min(4, availableParallelism() - 1));
}

/**
 * The compiled worker script. Under a TypeScript runner (tests) this module is loaded from
 * src/, where only the .ts file exists, so the worker runs the build output in dist/.
 */
function workerScript(): URL {
  const here = import.meta.url;
  if (here.endsWith(".ts")) return new URL("../../dist/ingest/ingest-worker.js", here);
  return new URL("./ingest-worker.js", here);
}

/**
 * Young-generation size of each ingest worker's heap (V8 makes it three semi-spaces: 64 MB each
 * here, against 16 MB by default). One request of 500 GenAI spans keeps tens of megabytes alive
 * while it is processed (decoded spans, normalized calls, row text); with the default size most
 * of it is copied by every scavenge and much is promoted to the old generation. Measured on the
 * processing floor (800 requests of the bench's spans on one thread): GC pauses 1.4-1.9 s ->
 * 0.45 s; two workers taking turns on the same requests: 3-8% less time per span with it.
 * Costs up to 144 MB more resident memory per worker.
 */
const INGEST_WORKER_YOUNG_GENERATION_MB = 192;

interface Slot {
  worker: Worker;
  inflight: number;
}

/**
 * Worker threads for the CPU part of ingest (request body to row text). Request bodies are
 * transferred, not copied; replies carry text and small call summaries. A worker that dies is
 * replaced and its in-flight requests fail with a coded 503 (the sender retries).
 */
export class IngestWorkerPool {
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<
    number,
    { resolve: (b: ProcessedBatch) => void; reject: (e: Error) => void; slot: Slot }
  >();
  readonly #config: Config;
  readonly #logger: Logger | undefined;
  readonly #maxInflight: number;
  #nextId = 1;
  #closed = false;

  constructor(size: number, config: Config, logger?: Logger, maxInflightPerWorker = 16) {
    this.#config = config;
    this.#logger = logger;
    this.#maxInflight = maxInflightPerWorker;
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
  }

  get size(): number {
    return this.#slots.length;
  }

  #spawn(): Slot {
    const worker = new Worker(fileURLToPath(workerScript()), {
      workerData: { config: this.#config },
      resourceLimits: { maxYoungGenerationSizeMb: INGEST_WORKER_YOUNG_GENERATION_MB },
    });
    const slot: Slot = { worker, inflight: 0 };
    worker.on("message", (reply: WorkerReply) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      p.slot.inflight--;
      if (reply.ok) {
        reply.batch.calls = unpackCalls(reply.calls);
        p.resolve(reply.batch);
      } else {
        const e = reply.error;
        p.reject(
          new TokenmeterError(
            e.code,
            e.statusCode,
            e.message,
            e.retryAfter === undefined ? {} : { retryAfter: e.retryAfter },
          ),
        );
      }
    });
    worker.on("error", (err) => this.#logger?.error({ err }, "ingest worker failed"));
    worker.on("exit", (code) => {
      // Fail what this worker held, then replace it.
      for (const [id, p] of this.#pending) {
        if (p.slot !== slot) continue;
        this.#pending.delete(id);
        p.reject(ERR_UNAVAILABLE("ingest worker stopped; retry", { retryAfter: 1 }));
      }
      const i = this.#slots.indexOf(slot);
      if (i >= 0 && !this.#closed) {
        this.#logger?.warn({ code }, "ingest worker exited; restarting");
        this.#slots[i] = this.#spawn();
      }
    });
    worker.unref();
    return slot;
  }

  /** Runs one body on the least busy worker. */
  run(
    kind: "traces" | "logs",
    body: Buffer,
    contentType: string,
    contentEncoding: string | undefined,
  ): Promise<ProcessedBatch> {
    // Copy into a buffer this request owns, so transferring it cannot touch a pooled allocation.
    const owned = new Uint8Array(body.byteLength);
    owned.set(body);
    return this.#dispatch((id) => ({ id, kind, body: owned, contentType, contentEncoding }), [owned.buffer]);
  }

  /** Processes decoded spans on the least busy worker (they are copied over). */
  runSpans(spans: DecodedSpan[]): Promise<ProcessedBatch> {
    return this.#dispatch((id) => ({ id, kind: "spans", spans }), []);
  }

  #dispatch(task: (id: number) => WorkerTask, transfer: ArrayBuffer[]): Promise<ProcessedBatch> {
    if (this.#closed) return Promise.reject(ERR_UNAVAILABLE("tokenmeter is shutting down", { retryAfter: 5 }));
    let slot = this.#slots[0] as Slot;
    for (const s of this.#slots) if (s.inflight < slot.inflight) slot = s;
    if (slot.inflight >= this.#maxInflight) {
      return Promise.reject(ERR_BACKPRESSURE("ingest workers are saturated; retry later", { retryAfter: 1 }));
    }
    const message = task(this.#nextId++);
    return new Promise<ProcessedBatch>((resolve, reject) => {
      this.#pending.set(message.id, { resolve, reject, slot });
      slot.inflight++;
      slot.worker.postMessage(message, transfer);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
