import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { type FileHandle, open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * The ingest log: an append-only file of rows that were accepted but are not yet in ClickHouse.
 * Ingest answers 200 once a request's rows are written here, so inserts can be large (few parts,
 * little merge work) without holding requests open, and a process that dies before inserting
 * loses nothing: the next start replays what is left.
 *
 * The log is cut into segments, one per batch cycle of the writer. A segment is deleted once
 * every table's batch cut from it is in ClickHouse or in the spool. Each batch's deduplication
 * token is derived from its segment, so a replay after a crash between the insert and the delete
 * is dropped by ClickHouse as a repeat.
 *
 * A segment is a sequence of records: one JSON header line ({table, rows, bytes, layout}) and
 * then `bytes` bytes of row text in that layout (see row-format.ts; no layout: JSONEachRow). A
 * torn last record (the process died mid-write) was never acknowledged and is ignored on replay.
 */

const SUFFIX = ".tmlog";

export interface LoggedBatch {
  table: string;
  rows: number;
  /** The column layout the rows were encoded with (see row-format.ts). */
  layout: string;
  /** Row text, newline-terminated. */
  text: string;
  /**
   * 0 for a table's batch; a table's records in another layout (one run writes one layout per
   * table, so never in practice) come as further batches numbered from 1.
   */
  part: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** One segment file being appended to. Appends made while a write is in flight share the next write. */
export class LogSegment {
  /** Unique across runs: the deduplication tokens of this segment's batches derive from it. */
  readonly id: string;
  readonly path: string;
  readonly #fsync: boolean;
  #fh: FileHandle | undefined;
  #queue: Buffer[] = [];
  #waiters: Waiter[] = [];
  #writing: Promise<void> | undefined;
  /** A write failed: later appends fail too (their rows are durable only once inserted). */
  #failed = false;

  constructor(dir: string, id: string, fsync: boolean) {
    this.id = id;
    this.path = join(dir, `${id}${SUFFIX}`);
    this.#fsync = fsync;
  }

  /** Appends one table's rows; resolves once they are written to the file (and synced when configured). */
  append(table: string, rows: number, layout: string, text: string): Promise<void> {
    const body = Buffer.from(text, "utf8");
    const header = JSON.stringify({ table, rows, bytes: body.length, layout });
    this.#queue.push(Buffer.from(`${header}\n`, "utf8"), body);
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const buffers = this.#queue;
      const waiters = this.#waiters;
      this.#queue = [];
      this.#waiters = [];
      try {
        if (this.#failed) throw new Error("an earlier write to this ingest log segment failed");
        this.#fh ??= await open(this.path, "a");
        let total = 0;
        for (const b of buffers) total += b.length;
        const { bytesWritten } = await this.#fh.writev(buffers);
        if (bytesWritten !== total)
          throw new Error(`short write to the ingest log (${bytesWritten} of ${total} bytes)`);
        if (this.#fsync) await this.#fh.datasync();
        for (const w of waiters) w.resolve();
      } catch (err) {
        this.#failed = true;
        for (const w of waiters) w.reject(err as Error);
      }
    }
    this.#writing = undefined;
  }

  /** Waits for writes in flight and closes the file. */
  async close(): Promise<void> {
    while (this.#writing) await this.#writing;
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }

  /** Closes and deletes the segment: its rows are in ClickHouse or the spool. */
  async remove(): Promise<void> {
    await this.close();
    await removeFile(this.path);
  }
}

/** A segment a previous run left behind. */
export interface LeftoverSegment {
  id: string;
  /** Reads and parses the file: one batch per table, rows in the order they were logged. */
  read(): Promise<LoggedBatch[]>;
  remove(): Promise<void>;
}

export class IngestLog {
  readonly dir: string;
  readonly #fsync: boolean;
  /** Distinguishes this run's segments (and tokens) from every earlier run's. */
  readonly #run = `${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
  #seq = 0;
  #current: LogSegment | undefined;

  constructor(dir: string, options: { fsync?: boolean } = {}) {
    this.dir = dir;
    this.#fsync = options.fsync ?? false;
    mkdirSync(dir, { recursive: true });
  }

  /** The segment appends go to now (created on first use). */
  get current(): LogSegment {
    if (!this.#current) {
      // Zero-padded so a directory listing sorts segments in the order they were written.
      const id = `${Date.now().toString().padStart(15, "0")}-${this.#run}-${String(++this.#seq).padStart(8, "0")}`;
      this.#current = new LogSegment(this.dir, id, this.#fsync);
    }
    return this.#current;
  }

  /** Ends the current segment: later appends go to a new one. Returns the ended segment, if any. */
  rotate(): LogSegment | undefined {
    const ended = this.#current;
    this.#current = undefined;
    return ended;
  }

  /** Segments left by earlier runs (call before appending), oldest first; each is read when asked. */
  async leftovers(): Promise<LeftoverSegment[]> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith(SUFFIX) && !n.includes(this.#run)).sort();
    return names.map((name) => {
      const path = join(this.dir, name);
      return {
        id: name.slice(0, -SUFFIX.length),
        read: async () => parseSegment(await readFile(path)),
        remove: () => removeFile(path),
      };
    });
  }
}

/** Deletes a file; one already gone is fine. */
async function removeFile(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

/** Records of one segment file, merged per table (and layout) in order; a torn last record is dropped. */
export function parseSegment(data: Buffer): LoggedBatch[] {
  const groups = new Map<string, LoggedBatch & { parts: string[] }>();
  const partsOf = new Map<string, number>();
  let at = 0;
  while (at < data.length) {
    const nl = data.indexOf(0x0a, at);
    if (nl < 0) break;
    let header: { table?: unknown; rows?: unknown; bytes?: unknown; layout?: unknown };
    try {
      header = JSON.parse(data.toString("utf8", at, nl)) as typeof header;
    } catch {
      break;
    }
    const { table, rows, bytes } = header;
    // Segments written before layouts existed hold JSONEachRow.
    const layout = typeof header.layout === "string" ? header.layout : "";
    if (typeof table !== "string" || typeof rows !== "number" || typeof bytes !== "number") break;
    const end = nl + 1 + bytes;
    if (end > data.length) break;
    const key = `${table}\n${layout}`;
    let g = groups.get(key);
    if (!g) {
      const part = partsOf.get(table) ?? 0;
      partsOf.set(table, part + 1);
      g = { table, rows: 0, layout, text: "", part, parts: [] };
      groups.set(key, g);
    }
    g.rows += rows;
    g.parts.push(data.toString("utf8", nl + 1, end));
    at = end;
  }
  return [...groups.values()].map(({ parts, ...g }) => ({ ...g, text: parts.join("") }));
}
