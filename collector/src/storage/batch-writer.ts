import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { ERR_BACKPRESSURE, ERR_UNAVAILABLE } from "../errors.js";
import type { Logger } from "../logger.js";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import { clickhouseErrorName, isInvalidData } from "./client.js";
import type { IngestLog, LogSegment } from "./ingest-log.js";
import { encodeRows, insertHead, tableLayout } from "./row-format.js";
import { Spool, type SpooledBatch } from "./spool.js";

/** The deduplication token of one table's batch cut from an ingest log segment. */
function segmentToken(segmentId: string, table: string, part = 0): string {
  return part === 0 ? `${segmentId}:${table}` : `${segmentId}:${table}:${part}`;
}

/** Longest an idle writer waits for more rows before inserting. */
const LINGER_MS = 50;

/** Defaults of the byte bounds (see BatchWriterOptions). */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_QUEUE_BYTES = 512 * 1024 * 1024;

export interface BatchWriterOptions {
  client: ClickHouseClient;
  database: string;
  spool: Spool;
  /**
   * With an ingest log, callers are answered once their rows are logged to disk, and batches
   * are cut by size and age alone (large inserts). Without one, callers wait for the insert.
   */
  log?: IngestLog;
  /** The table a batch for a table is inserted into (see migrations.ts: insertTable); the table itself by default. */
  insertTable?: (table: string) => string;
  maxRows: number;
  maxDelayMs: number;
  maxQueueRows: number;
  /**
   * A table's batch is also cut once its row text reaches this many bytes (UTF-16 code units,
   * as JavaScript holds it), so a batch of calls with large prompts stays a bounded insert: a
   * row count alone lets 20,000 rows of 1 MB prompts make one 20 GB statement, far past what a
   * JavaScript string holds (about 512 MiB). Default 64 MiB.
   */
  maxBatchBytes?: number;
  /** Ingest answers 429 while the rows in memory hold this many bytes or more. Default 512 MiB. */
  maxQueueBytes?: number;
  maxSpoolBytes: number;
  metrics?: CollectorMetrics;
  logger?: Logger;
  /** First and longest wait between replay attempts while storage is down. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

interface Pending {
  /** The column layout of the rows (see row-format.ts). */
  layout: string;
  /** Row text pieces in that layout, each ending in a newline. */
  chunks: string[];
  rows: number;
  /** Length of the chunks' text. */
  bytes: number;
  /** Resolvers of callers waiting until their rows are durable (in ClickHouse or the spool). */
  waiters: Array<{ resolve: () => void; reject: (err: Error) => void }>;
}

/**
 * Buffers rows per table and writes them in batches, by size or age. A batch ClickHouse refuses
 * goes to the disk spool and is replayed in order once storage answers again; while anything is
 * spooled, new batches queue behind it so order holds. Each batch carries a deduplication token
 * that travels with it into the spool, so a replay after an ambiguous failure writes it once.
 *
 * `write()` resolves when the rows are durable: that is when ingest may answer 200.
 */
export class BatchWriter {
  readonly #o: Required<Omit<BatchWriterOptions, "metrics" | "logger" | "log" | "insertTable">> &
    Pick<BatchWriterOptions, "metrics" | "logger">;
  readonly #log: IngestLog | undefined;
  readonly #insertTable: (table: string) => string;
  readonly #pending = new Map<string, Pending>();
  #queued = 0;
  /** Length of the row text in memory (pending and being written). */
  #queuedBytes = 0;
  /** Callers waiting on pending (not yet cut) rows. */
  #waiting = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;
  /** Batches cut and not yet written. */
  #busy = 0;
  /** Tail of the chain of flushes: batches are written one at a time, in order. */
  #chain: Promise<void> = Promise.resolve();
  #storageDown = false;
  /** Batches ClickHouse refused as invalid data (see #setAside); opened on first use. */
  #rejected: Spool | undefined;
  #replayTimer: NodeJS.Timeout | undefined;
  #retryMs: number;
  #closed = false;

  constructor(options: BatchWriterOptions) {
    this.#o = {
      retryMinMs: 250,
      retryMaxMs: 10_000,
      maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
      maxQueueBytes: DEFAULT_MAX_QUEUE_BYTES,
      ...options,
    };
    this.#log = options.log;
    this.#insertTable = options.insertTable ?? ((table) => table);
    this.#retryMs = this.#o.retryMinMs;
  }

  /** Rows in memory across tables. */
  get queuedRows(): number {
    return this.#queued;
  }

  /** Bytes of row text in memory across tables (UTF-16 code units). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** True while ClickHouse is failing and batches go to the spool. */
  get degraded(): boolean {
    return this.#storageDown || this.#o.spool.size > 0;
  }

  /**
   * Throws a coded 429/503 error when `rows` more rows cannot be taken now. Ingest calls this
   * before doing any work, so a refused request costs little.
   */
  admit(rows: number): void {
    if (this.#closed) throw ERR_UNAVAILABLE("tokenmeter is shutting down", { retryAfter: 5 });
    if (this.#queued + rows > this.#o.maxQueueRows) {
      throw ERR_BACKPRESSURE(`write queue full (${this.#queued} rows waiting); retry later`, { retryAfter: 1 });
    }
    // Checked before the request is decoded, so one request in flight per connection may pass
    // the bound by its own size: the overshoot is bounded by the body limit.
    if (this.#queuedBytes >= this.#o.maxQueueBytes) {
      throw ERR_BACKPRESSURE(`write queue full (${this.#queuedBytes} bytes waiting); retry later`, { retryAfter: 1 });
    }
    if (this.#o.spool.bytes >= this.#o.maxSpoolBytes) {
      throw ERR_UNAVAILABLE("storage is unavailable and the disk spool is full; retry later", { retryAfter: 30 });
    }
  }

  /** Queues rows for `table`, resolving once they are in ClickHouse or in the spool. */
  write(table: string, rows: readonly unknown[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.writeText(table, encodeRows(table, rows), rows.length);
  }

  /**
   * Queues rows already encoded in the table's layout (row-format.ts: encodeRows, encodeLine),
   * one row per line, newline-terminated.
   */
  writeText(table: string, text: string, rows: number): Promise<void> {
    if (rows === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#enqueue(table, text, rows, { resolve, reject });
    });
  }

  /** Queues rows without waiting for durability (in-process producers such as the proxy). */
  enqueue(table: string, rows: readonly unknown[]): void {
    if (rows.length === 0) return;
    this.#enqueue(table, encodeRows(table, rows), rows.length, undefined);
  }

  /** Like enqueue(), for rows already encoded in the table's layout. */
  enqueueText(table: string, text: string, rows: number): void {
    if (rows === 0) return;
    this.#enqueue(table, text, rows, undefined);
  }

  #enqueue(table: string, text: string, rows: number, waiter: Pending["waiters"][number] | undefined): void {
    let p = this.#pending.get(table);
    if (!p) {
      p = { layout: tableLayout(table), chunks: [], rows: 0, bytes: 0, waiters: [] };
      this.#pending.set(table, p);
    }
    p.chunks.push(text);
    p.rows += rows;
    p.bytes += text.length;
    if (waiter) {
      p.waiters.push(waiter);
      this.#waiting++;
    }
    this.#queued += rows;
    this.#queuedBytes += text.length;
    this.#o.metrics?.pipeline.queueRows.set(this.#queued);
    this.#o.metrics?.pipeline.queueBytes.set(this.#queuedBytes);
    if (this.#log) {
      const logged = this.#log.current.append(table, rows, p.layout, text);
      // Logged is durable: answer now. If the log write fails, the caller is answered when
      // the batch is inserted or spooled instead (the waiter stays on the batch either way).
      if (waiter) logged.then(waiter.resolve, () => {});
      else logged.catch(() => {});
    }
    // With the log, every table's rows leave together: one log segment per cycle.
    if (p.rows < this.#o.maxRows && p.bytes < this.#o.maxBatchBytes) this.#schedule();
    else if (this.#log) this.#cutAll();
    else this.#cut(table);
  }

  /**
   * When the pending rows are cut. With the ingest log nobody waits on an insert: rows are cut
   * by age (maxDelayMs) or size (maxRows) alone, even while an insert runs, so inserts are
   * large. Without it, group commit: while a write is in flight rows accumulate and are cut the
   * moment it ends if someone waits on them; when idle, rows somebody waits on linger briefly
   * so concurrent requests share one insert, and rows nobody waits on (the in-process proxy's)
   * linger up to maxDelayMs.
   */
  #schedule(): void {
    if (this.#busy > 0 && !this.#log) return;
    const waitedOn = this.#waiting > 0 && !this.#log;
    const delay = waitedOn ? Math.min(LINGER_MS, this.#o.maxDelayMs) : this.#o.maxDelayMs;
    const due = performance.now() + delay;
    if (this.#timer) {
      if (this.#timerDue <= due) return;
      clearTimeout(this.#timer);
    }
    this.#timerDue = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#cutAll();
    }, delay);
  }

  #cutAll(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    // One log segment per cycle: it is deleted once every table's batch from it is stored.
    const segment = this.#log?.rotate();
    let stored = true;
    for (const t of [...this.#pending.keys()]) {
      this.#cut(t, segment, (ok) => {
        stored &&= ok;
      });
    }
    if (segment) {
      this.#chain = this.#chain.then(() =>
        (stored ? segment.remove() : segment.close()).catch((err: unknown) =>
          this.#o.logger?.warn({ err: { message: (err as Error).message } }, "cannot remove an ingest log segment"),
        ),
      );
    }
  }

  /**
   * Takes the table's pending rows as one batch and chains its write. A batch cut from a log
   * segment takes its deduplication token from it, so a replay of the segment is dropped as a
   * repeat.
   */
  #cut(table: string, segment?: LogSegment, done?: (stored: boolean) => void): void {
    const p = this.#pending.get(table);
    if (!p || p.rows === 0) return;
    this.#pending.delete(table);
    this.#waiting -= p.waiters.length;
    const token = segment ? segmentToken(segment.id, table) : randomUUID();
    this.#busy++;
    this.#chain = this.#chain
      .then(() => this.#writeBatch(table, token, p))
      .then((ok) => done?.(ok))
      .finally(() => {
        this.#busy--;
        if (this.#busy === 0 && this.#pending.size > 0) {
          if (this.#waiting > 0 && !this.#log) this.#cutAll();
          else this.#schedule();
        }
      });
  }

  /** Writes one batch to ClickHouse, or the spool when ClickHouse fails. False when both failed. */
  async #writeBatch(table: string, token: string, p: Pending): Promise<boolean> {
    const n = p.rows;
    try {
      if (this.degraded) {
        await this.#spoolBatch(table, token, p.layout, p.chunks.join(""), n);
        this.#scheduleReplay();
      } else {
        try {
          await this.#insert(table, token, p.layout, p.chunks, n);
        } catch (err) {
          const text = p.chunks.join("");
          if (isInvalidData(err)) await this.#setAside(table, token, p.layout, text, n, err);
          else {
            this.#markDown(table, err);
            await this.#spoolBatch(table, token, p.layout, text, n);
            this.#scheduleReplay();
          }
        }
      }
      for (const w of p.waiters) w.resolve();
      return true;
    } catch (err) {
      // Neither ClickHouse nor the disk took the batch: callers get an error (ingest answers 503).
      this.#o.logger?.error({ err, table, rows: n }, "batch lost: storage and spool both failed");
      this.#o.metrics?.pipeline.telemetryDropped.inc({ component: "batch_writer" }, n);
      const e = ERR_UNAVAILABLE("storage and disk spool both failed", { cause: err, retryAfter: 5 });
      for (const w of p.waiters) w.reject(e);
      return false;
    } finally {
      this.#queued -= n;
      this.#queuedBytes -= p.bytes;
      this.#o.metrics?.pipeline.queueRows.set(this.#queued);
      this.#o.metrics?.pipeline.queueBytes.set(this.#queuedBytes);
    }
  }

  /** Inserts the rows of `pieces` (row text, in order). */
  async #insert(table: string, token: string, layout: string, pieces: readonly string[], rows: number): Promise<void> {
    const started = performance.now();
    const head = insertHead(this.#o.database, this.#insertTable(table), layout, {
      insert_deduplication_token: token,
      insert_deduplicate: 1,
      // Batches are thousands of rows: parsing them on one thread costs less CPU than
      // splitting them across parser threads (measured: about a quarter less per row).
      input_format_parallel_parsing: 0,
    });
    // The rows travel as the INSERT's data, already encoded: nothing is parsed or re-encoded
    // on the way, on the embedded engine and over HTTP alike. One join makes the statement a
    // single flat string, which the engine's binding converts in one pass (a head added
    // afterwards, or settings spliced in, would make it copy tens of megabytes once more).
    await this.#o.client.command({ query: [head, ...pieces].join("") });
    const m = this.#o.metrics?.pipeline;
    if (m) {
      m.insertSeconds.observe({ table }, (performance.now() - started) / 1000);
      m.batchRows.observe({ table }, rows);
      m.rowsWritten.inc({ table }, rows);
    }
  }

  async #spoolBatch(table: string, token: string, layout: string, text: string, rows: number): Promise<void> {
    await this.#o.spool.append(table, token, rows, layout, text);
    this.#updateSpoolGauges();
  }

  /**
   * Keeps a batch ClickHouse refused for its data in `<spool dir>/rejected` (same file format
   * as the spool, so it can be fixed and moved back) instead of retrying it: a retry fails the
   * same way, and every batch behind it would wait. Counted, and logged with the engine's
   * error code (not its message, which quotes the rows).
   */
  async #setAside(table: string, token: string, layout: string, text: string, rows: number, err: unknown) {
    this.#rejected ??= new Spool(join(this.#o.spool.dir, "rejected"));
    await this.#rejected.append(table, token, rows, layout, text);
    const m = this.#o.metrics?.pipeline;
    m?.insertErrors.inc({ table });
    m?.rowsRejected.inc({ table }, rows);
    this.#o.logger?.error(
      { error: clickhouseErrorName(err), table, rows, dir: this.#rejected.dir },
      "ClickHouse refused a batch as invalid data; set aside instead of retried",
    );
  }

  #markDown(table: string, err: unknown): void {
    this.#o.metrics?.pipeline.insertErrors.inc({ table });
    if (!this.#storageDown) {
      this.#o.logger?.warn({ err: { message: (err as Error).message }, table }, "ClickHouse insert failed; spooling");
    }
    this.#storageDown = true;
  }

  #updateSpoolGauges(): void {
    const m = this.#o.metrics?.pipeline;
    if (!m) return;
    m.spoolBytes.set(this.#o.spool.bytes);
    m.spoolBatches.set(this.#o.spool.size);
  }

  #scheduleReplay(): void {
    if (this.#replayTimer || this.#closed) return;
    this.#replayTimer = setTimeout(() => {
      this.#replayTimer = undefined;
      this.#chain = this.#chain.then(() => this.#replayOnce());
    }, this.#retryMs);
    this.#replayTimer.unref();
  }

  /** Replays spooled batches oldest first until the spool is empty or an insert fails. */
  async #replayOnce(): Promise<void> {
    let batch: SpooledBatch | undefined = await this.#o.spool.peek();
    while (batch) {
      try {
        await this.#insert(batch.table, batch.token, batch.layout, [batch.body], batch.rows);
      } catch (err) {
        // Refused for its data: set aside, and replay goes on with the next batch.
        if (isInvalidData(err))
          await this.#setAside(batch.table, batch.token, batch.layout, batch.body, batch.rows, err);
        else {
          this.#markDown(batch.table, err);
          this.#retryMs = Math.min(this.#retryMs * 2, this.#o.retryMaxMs);
          this.#scheduleReplay();
          return;
        }
      }
      await this.#o.spool.remove(batch);
      this.#updateSpoolGauges();
      batch = await this.#o.spool.peek();
    }
    if (this.#storageDown) this.#o.logger?.info("ClickHouse is back; spool replayed");
    this.#storageDown = false;
    this.#retryMs = this.#o.retryMinMs;
  }

  /** Starts replaying anything a previous run left in the spool and the ingest log. */
  async start(): Promise<void> {
    await this.#o.spool.ready();
    this.#updateSpoolGauges();
    if (this.#o.spool.size > 0) {
      this.#chain = this.#chain.then(() => this.#replayOnce());
      await this.#chain;
    }
    if (this.#log) await this.#replayLog(this.#log);
  }

  /** Stores the rows of log segments an earlier run acknowledged but did not insert. */
  async #replayLog(log: IngestLog): Promise<void> {
    const leftovers = await log.leftovers();
    let rows = 0;
    for (const segment of leftovers) {
      let stored = true;
      // One segment in memory at a time.
      for (const b of await segment.read()) {
        this.#queued += b.rows;
        this.#queuedBytes += b.text.length;
        rows += b.rows;
        stored &&= await this.#writeBatch(b.table, segmentToken(segment.id, b.table, b.part), {
          layout: b.layout,
          chunks: [b.text],
          rows: b.rows,
          bytes: b.text.length,
          waiters: [],
        });
      }
      if (stored) await segment.remove();
    }
    if (leftovers.length > 0) {
      this.#o.logger?.info({ segments: leftovers.length, rows }, "ingest log replayed from the previous run");
    }
  }

  /** Writes everything queued so far (to ClickHouse, or the spool) and waits for it. */
  async flush(): Promise<void> {
    this.#cutAll();
    await this.#chain;
  }

  /** Drains and stops. Spooled batches stay on disk for the next start. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    if (this.#replayTimer) clearTimeout(this.#replayTimer);
    this.#replayTimer = undefined;
  }
}
