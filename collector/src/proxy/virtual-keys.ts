/**
 * Virtual keys: applications hold a `tm_...` key; tokenmeter.yaml holds only its sha256, the
 * team/project it is charged to, and the name of the environment variable with the real
 * provider key. The real key is read once at start, kept in this module's private map, and
 * written only into the upstream request's credential header.
 */
import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import { ERR_BAD_CONFIG } from "../errors.js";

type VirtualKeyConfig = Config["proxy"]["virtualKeys"][number];
type Env = Readonly<Record<string, string | undefined>>;

/** What a virtual key grants; deliberately without the real key. */
export interface VirtualKey {
  readonly id: string;
  readonly team: string;
  readonly project: string;
  readonly rateLimit: VirtualKeyConfig["rateLimit"];
  readonly cache: boolean;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export class VirtualKeys {
  readonly #byHash = new Map<string, VirtualKey>();
  /** id -> route name ("*" for every route) -> real key. */
  readonly #realKeys = new Map<string, Map<string, string>>();

  constructor(entries: readonly VirtualKeyConfig[], env: Env) {
    const ids = new Set<string>();
    for (const e of entries) {
      if (ids.has(e.id)) throw ERR_BAD_CONFIG(`proxy.virtualKeys: id "${e.id}" appears twice`);
      if (this.#byHash.has(e.sha256)) throw ERR_BAD_CONFIG(`proxy.virtualKeys: "${e.id}" repeats another key's sha256`);
      ids.add(e.id);
      this.#byHash.set(
        e.sha256,
        Object.freeze({ id: e.id, team: e.team, project: e.project, rateLimit: e.rateLimit, cache: e.cache }),
      );
      const keys = new Map<string, string>();
      const names = typeof e.providerKeyEnv === "string" ? { "*": e.providerKeyEnv } : (e.providerKeyEnv ?? {});
      for (const [route, envName] of Object.entries(names)) {
        const value = env[envName];
        // A missing variable is reported per request (the route may never be used), not at start.
        if (value !== undefined && value !== "") keys.set(route, value);
      }
      this.#realKeys.set(e.id, keys);
    }
  }

  /** The virtual key a presented `tm_...` key maps to, or undefined when it is unknown. */
  lookup(presented: string): VirtualKey | undefined {
    if (this.#byHash.size === 0) return undefined;
    return this.#byHash.get(sha256Hex(presented));
  }

  /** The real provider key for `route`, or undefined when none is configured or set. */
  realKey(vk: VirtualKey, route: string): string | undefined {
    const keys = this.#realKeys.get(vk.id);
    return keys?.get(route) ?? keys?.get("*");
  }
}
