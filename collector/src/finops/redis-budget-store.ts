import type { RedisClientType } from "@redis/client";
import type { BudgetStore, CounterRef, CounterValues, ReserveItem, ReserveResult } from "./budget-store.js";

/**
 * Budget counters in Redis, shared by every proxy replica. Each operation is one Lua script,
 * which Redis runs atomically, so a reservation over several budgets is checked and recorded
 * with no other replica's call in between.
 *
 * Per counter set (`tm:{budgets}:<key>`, one hash slot for all of them so a script may touch
 * several budgets on a Redis Cluster too):
 *   :s  hash  bucket (Unix ms) -> nano-USD spent
 *   :r  hash  reservation id -> nano-USD reserved, and __total
 *   :e  zset  reservation id scored by its expiry (Unix ms)
 *
 * Amounts travel as decimal strings and are summed in Lua numbers (doubles): exact up to 2^53
 * nano-USD, about $9 million per window.
 */

const PURGE_AND_SUM = `
local function purge(r, e, now)
  local ids = redis.call('ZRANGEBYSCORE', e, '-inf', now)
  for _, x in ipairs(ids) do
    local amt = redis.call('HGET', r, x)
    if amt then
      redis.call('HDEL', r, x)
      redis.call('HINCRBY', r, '__total', -tonumber(amt))
    end
    redis.call('ZREM', e, x)
  end
end
local function spent(s, minb)
  local all = redis.call('HGETALL', s)
  local total = 0
  for i = 1, #all, 2 do
    if tonumber(all[i]) < minb then
      redis.call('HDEL', s, all[i])
    else
      total = total + tonumber(all[i + 1])
    end
  end
  return total
end
local function reserved(r)
  return tonumber(redis.call('HGET', r, '__total') or '0')
end
local function keep(s, r, e, ttl)
  redis.call('PEXPIRE', s, ttl)
  redis.call('PEXPIRE', r, ttl)
  redis.call('PEXPIRE', e, ttl)
end
`;

/** KEYS: s, r, e per item. ARGV: now, id, expiry, amount, n, then per item: limit, hard, minBucket, keyTtlMs. */
const RESERVE = `${PURGE_AND_SUM}
local now, id, expiry, amount, n = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 0, n - 1 do
  local s, r, e = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  local a = 6 + i * 4
  purge(r, e, now)
  local sp = spent(s, tonumber(ARGV[a + 2]))
  local rs = reserved(r)
  local limit = tonumber(ARGV[a])
  if ARGV[a + 1] == '1' and (sp + rs >= limit or sp + rs + amount > limit) then
    return {0, i, string.format('%.0f', sp), string.format('%.0f', rs)}
  end
end
for i = 0, n - 1 do
  local s, r, e = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  redis.call('HSET', r, id, ARGV[4])
  redis.call('HINCRBY', r, '__total', ARGV[4])
  redis.call('ZADD', e, expiry, id)
  keep(s, r, e, tonumber(ARGV[6 + i * 4 + 3]))
end
return {1}
`;

/** KEYS: s, r, e per ref. ARGV: id, actual ('' = release), n, then per ref: bucket, keyTtlMs. */
const SETTLE = `
local id, actual, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
for i = 0, n - 1 do
  local s, r, e = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  local amt = redis.call('HGET', r, id)
  if amt then
    redis.call('HDEL', r, id)
    redis.call('HINCRBY', r, '__total', -tonumber(amt))
    redis.call('ZREM', e, id)
  end
  if actual ~= '' then
    redis.call('HINCRBY', s, ARGV[4 + i * 2], actual)
    local ttl = tonumber(ARGV[5 + i * 2])
    redis.call('PEXPIRE', s, ttl)
    redis.call('PEXPIRE', r, ttl)
    redis.call('PEXPIRE', e, ttl)
  end
end
return 1
`;

/** KEYS: s, r, e per ref. ARGV: now, n, then per ref: minBucket. Returns spent, reserved pairs. */
const READ = `${PURGE_AND_SUM}
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 0, n - 1 do
  local s, r, e = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  purge(r, e, now)
  out[#out + 1] = string.format('%.0f', spent(s, tonumber(ARGV[3 + i])))
  out[#out + 1] = string.format('%.0f', reserved(r))
end
return out
`;

/** KEYS: s. ARGV: keyTtlMs, then bucket, value pairs. Raises each bucket to at least value. */
const RAISE = `
for i = 2, #ARGV, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if cur < tonumber(ARGV[i + 1]) then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
`;

type Script = "reserve" | "settle" | "read" | "raise";
const SOURCES: Readonly<Record<Script, string>> = { reserve: RESERVE, settle: SETTLE, read: READ, raise: RAISE };

/**
 * Key lifetimes are relative (PEXPIRE), computed from the caller's clock, so replicas whose
 * clocks differ from Redis's (or a test's fixed clock) keep their counters as long as intended.
 */
function ttl(ref: CounterRef, now: number): string {
  return String(Math.max(60_000, Math.round(ref.expireAt - now)));
}

function keysOf(ref: CounterRef): string[] {
  const base = `tm:{budgets}:${ref.key}`;
  return [`${base}:s`, `${base}:r`, `${base}:e`];
}

export interface RedisBudgetStoreOptions {
  url: string;
  /** Called when the connection reports an error (it reconnects by itself). */
  onError?: (err: Error) => void;
}

export class RedisBudgetStore implements BudgetStore {
  readonly #client: RedisClientType;
  readonly #shas = new Map<Script, string>();

  private constructor(client: RedisClientType) {
    this.#client = client;
  }

  /** Connects (the client is loaded only when Redis is configured). */
  static async connect(options: RedisBudgetStoreOptions): Promise<RedisBudgetStore> {
    const { createClient } = await import("@redis/client");
    const client = createClient({
      url: options.url,
      socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
    }) as unknown as RedisClientType;
    client.on("error", (err: Error) => options.onError?.(err));
    await client.connect();
    return new RedisBudgetStore(client);
  }

  async #run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    let sha = this.#shas.get(script);
    if (sha === undefined) {
      sha = String(await this.#client.scriptLoad(SOURCES[script]));
      this.#shas.set(script, sha);
    }
    try {
      return await this.#client.evalSha(sha, { keys, arguments: args });
    } catch (err) {
      // A restarted or flushed Redis forgets scripts: load again once.
      if (!String((err as Error).message).includes("NOSCRIPT")) throw err;
      this.#shas.delete(script);
      sha = String(await this.#client.scriptLoad(SOURCES[script]));
      this.#shas.set(script, sha);
      return this.#client.evalSha(sha, { keys, arguments: args });
    }
  }

  async reserve(
    id: string,
    items: readonly ReserveItem[],
    amountNano: bigint,
    now: number,
    ttlMs: number,
  ): Promise<ReserveResult> {
    const keys = items.flatMap(keysOf);
    const args = [String(now), id, String(now + ttlMs), amountNano.toString(), String(items.length)];
    for (const item of items) {
      args.push(item.limitNano.toString(), item.hard ? "1" : "0", String(item.minBucket), ttl(item, now));
    }
    const reply = (await this.#run("reserve", keys, args)) as unknown[];
    if (Number(reply[0]) === 1) return { ok: true };
    const item = items[Number(reply[1])];
    return {
      ok: false,
      budget: item?.budget ?? "",
      spentNano: BigInt(String(reply[2] ?? "0")),
      reservedNano: BigInt(String(reply[3] ?? "0")),
      limitNano: item?.limitNano ?? 0n,
    };
  }

  async settle(id: string, refs: readonly CounterRef[], actualNano: bigint, now: number): Promise<void> {
    const args = [id, actualNano.toString(), String(refs.length)];
    for (const ref of refs) args.push(String(ref.bucket), ttl(ref, now));
    await this.#run("settle", refs.flatMap(keysOf), args);
  }

  async release(id: string, refs: readonly CounterRef[], now: number): Promise<void> {
    const args = [id, "", String(refs.length)];
    for (const ref of refs) args.push(String(ref.bucket), ttl(ref, now));
    await this.#run("settle", refs.flatMap(keysOf), args);
  }

  async read(refs: readonly CounterRef[], now: number): Promise<CounterValues[]> {
    if (refs.length === 0) return [];
    const args = [String(now), String(refs.length), ...refs.map((r) => String(r.minBucket))];
    const reply = (await this.#run("read", refs.flatMap(keysOf), args)) as unknown[];
    return refs.map((_, i) => ({
      spentNano: BigInt(String(reply[i * 2] ?? "0")),
      reservedNano: BigInt(String(reply[i * 2 + 1] ?? "0")),
    }));
  }

  async raise(ref: CounterRef, buckets: ReadonlyMap<number, bigint>, now: number): Promise<void> {
    const args = [ttl(ref, now)];
    for (const [b, v] of buckets) if (b >= ref.minBucket) args.push(String(b), v.toString());
    const [spentKey] = keysOf(ref);
    if (args.length > 1 && spentKey) await this.#run("raise", [spentKey], args);
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
