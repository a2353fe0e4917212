import { mkdirSync } from "node:fs";
import { open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * Append-only disk spool for batches ClickHouse refused. One file per batch, named by a
 * monotonic sequence so a directory listing is the replay order, written with fsync before the
 * batch counts as safe. A file holds one header line (table, deduplication token, row count,
 * column layout) followed by the rows in that layout (see row-format.ts).
 */

export interface SpooledBatch {
  file: string;
  table: string;
  token: string;
  rows: number;
  /** The column layout of the rows (see row-format.ts); "" for JSONEachRow. */
  layout: string;
  /** The rows, newline-separated. */
  body: string;
  bytes: number;
}

interface Header {
  table: string;
  token: string;
  rows: number;
  /** Missing in files written before layouts existed: JSONEachRow. */
  layout?: string;
}

const SUFFIX = ".tmspool";

export class Spool {
  readonly dir: string;
  #seq = 0;
  #bytes = 0;
  #files = 0;
  #ready: Promise<void>;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.#ready = this.#scan();
  }

  async #scan(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith(SUFFIX));
    let bytes = 0;
    for (const name of names) {
      const s = await stat(join(this.dir, name)).catch(() => undefined);
      if (s) bytes += s.size;
      const seq = Number.parseInt(name, 10);
      if (Number.isFinite(seq) && seq > this.#seq) this.#seq = seq;
    }
    this.#bytes = bytes;
    this.#files = names.length;
  }

  /** Bytes currently spooled. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Batches currently spooled. */
  get size(): number {
    return this.#files;
  }

  async ready(): Promise<void> {
    await this.#ready;
  }

  /** Writes one batch durably (fsync) and returns once it is on disk. */
  async append(table: string, token: string, rows: number, layout: string, body: string): Promise<void> {
    await this.#ready;
    const seq = ++this.#seq;
    const name = `${String(seq).padStart(16, "0")}${SUFFIX}`;
    const header: Header = { table, token, rows, layout };
    const data = `${JSON.stringify(header)}\n${body}`;
    const tmp = join(this.dir, `${name}.tmp`);
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(data, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    // rename is atomic: a crash mid-write leaves only a .tmp file, never half a batch.
    await rename(tmp, join(this.dir, name));
    this.#bytes += Buffer.byteLength(data);
    this.#files += 1;
  }

  /** The oldest spooled batch, or undefined when the spool is empty. */
  async peek(): Promise<SpooledBatch | undefined> {
    await this.#ready;
    const names = (await readdir(this.dir)).filter((n) => n.endsWith(SUFFIX)).sort();
    const name = names[0];
    if (!name) return undefined;
    const file = join(this.dir, name);
    const text = await readFile(file, "utf8");
    const nl = text.indexOf("\n");
    const header = JSON.parse(nl < 0 ? text : text.slice(0, nl)) as Header;
    return {
      file,
      table: header.table,
      token: header.token,
      rows: header.rows,
      layout: header.layout ?? "",
      body: nl < 0 ? "" : text.slice(nl + 1),
      bytes: Buffer.byteLength(text),
    };
  }

  /** Removes a batch once ClickHouse has it. */
  async remove(batch: SpooledBatch): Promise<void> {
    await unlink(batch.file);
    this.#bytes = Math.max(0, this.#bytes - batch.bytes);
    this.#files = Math.max(0, this.#files - 1);
  }
}
