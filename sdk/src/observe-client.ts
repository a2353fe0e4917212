/**
 * What `observeOpenAI` and `observeAnthropic` share: one settings object per client, kept in a
 * WeakMap (re-observing updates it instead of wrapping twice), and clients derived with
 * `withOptions()` observed like their parent.
 */
import { reportFailure } from "./diag.js";
import {
  applyObserveOptions,
  type ClientState,
  createClientState,
  type Server,
  serverOf,
  setServer,
} from "./instrument-method.js";
import type { ObserveOptions } from "./types.js";

export interface ClientKind {
  /** `gen_ai.provider.name` unless the options say otherwise; `server` is the client's base URL's. */
  defaultProvider(client: object, server: Server): string;
  /** Instruments the client's API methods (instrumentMethod on each resource). */
  instrument(client: object, state: ClientState): void;
  /** Wraps each original call, e.g. to switch the client's own tracing off for it. */
  around?(client: object): <T>(run: () => T) => T;
}

function baseURLOf(client: object): unknown {
  return (client as { baseURL?: unknown }).baseURL;
}

export function createObserver(kind: ClientKind): <C extends object>(client: C, options?: ObserveOptions) => C {
  const observed = new WeakMap<object, ClientState>();

  function instrument(client: object, state: ClientState): void {
    state.around = kind.around?.(client);
    observed.set(client, state);
    kind.instrument(client, state);
    const withOptions = (client as { withOptions?: unknown }).withOptions;
    if (typeof withOptions !== "function" || Object.hasOwn(client, "withOptions")) return;
    Object.defineProperty(client, "withOptions", {
      value: function withOptionsObserved(this: unknown, ...args: unknown[]) {
        const derived: unknown = Reflect.apply(withOptions, this, args);
        const parent = observed.get(client);
        if (parent !== undefined && derived !== null && typeof derived === "object" && !observed.has(derived)) {
          try {
            const state: ClientState = { ...parent, cached: undefined };
            setServer(state, serverOf(baseURLOf(derived)));
            instrument(derived, state);
          } catch (err) {
            reportFailure("withOptions", err);
          }
        }
        return derived;
      },
      writable: true,
      configurable: true,
    });
  }

  return <C extends object>(client: C, options: ObserveOptions = {}): C => {
    try {
      const known = observed.get(client);
      const server = serverOf(baseURLOf(client));
      const provider = kind.defaultProvider(client, server);
      if (known !== undefined) applyObserveOptions(known, provider, options);
      else instrument(client, createClientState(provider, server, options));
    } catch (err) {
      reportFailure("observe", err);
    }
    return client;
  };
}

/** `parent[key]` when parent is an object. */
export function child(parent: unknown, key: string): unknown {
  return parent !== null && typeof parent === "object" ? (parent as Record<string, unknown>)[key] : undefined;
}
