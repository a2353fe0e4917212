import { parentPort, workerData } from "node:worker_threads";
import type { Config } from "../config/schema.js";
import { createDefaultStages } from "../default-stages.js";
import { isTokenmeterError } from "../errors.js";
import { packCalls } from "./call-summary-transfer.js";
import { createBatchProcessor } from "./process-batch.js";
import type { WorkerReply, WorkerTask } from "./worker-pool.js";

// Entry point of an ingest worker thread: builds its own stages (adapters, price book,
// redaction, evaluators) from the collector's config and answers one task per message.
const { config } = workerData as { config: Config };
const processor = createBatchProcessor(config, createDefaultStages(config));
const port = parentPort;
if (!port) throw new Error("ingest-worker must run in a worker thread");

port.on("message", (task: WorkerTask) => {
  let reply: WorkerReply;
  try {
    const batch =
      task.kind === "spans"
        ? processor.spans(task.spans)
        : task.kind === "traces"
          ? processor.traces(task.body, task.contentType, task.contentEncoding)
          : processor.logs(task.body, task.contentType, task.contentEncoding);
    reply = { id: task.id, ok: true, batch: { ...batch, calls: [] }, calls: packCalls(batch.calls) };
  } catch (err) {
    reply = isTokenmeterError(err)
      ? {
          id: task.id,
          ok: false,
          error: {
            code: err.code,
            statusCode: err.statusCode,
            message: err.message,
            ...(err.retryAfter === undefined ? {} : { retryAfter: err.retryAfter }),
          },
        }
      : { id: task.id, ok: false, error: { code: "TM_ERR_INTERNAL", statusCode: 500, message: "ingest failed" } };
  }
  port.postMessage(reply);
});
