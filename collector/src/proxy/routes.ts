/**
 * The proxy's route table: `/openai/v1/*`, `/anthropic/v1/*` and each named upstream at
 * `/<name>/v1/*`, mapped onto the upstream's base URL. The path after `/<name>/v1` is appended
 * to the base URL's path unchanged, query string included.
 */
import type { Config } from "../config/schema.js";
import { ERR_BAD_CONFIG } from "../errors.js";

export type ApiFormat = "openai" | "anthropic";

/** The model-call endpoints the proxy understands; anything else is passed through untouched. */
export type Endpoint = "chat" | "responses" | "embeddings" | "completions" | "messages";

export interface Route {
  readonly name: string;
  readonly format: ApiFormat;
  /** gen_ai.provider.name for spans and pricing. */
  readonly provider: string;
  /** `http://host:port` of the upstream. */
  readonly origin: string;
  /** Path of the base URL without a trailing slash ("/v1", "" for a bare origin). */
  readonly basePath: string;
  readonly injectStreamUsage: boolean;
  /** The response cache is on for every call on this route. */
  readonly cache: boolean;
}

export interface MatchedRoute {
  readonly route: Route;
  /** Path (and query) to request upstream. */
  readonly upstreamPath: string;
  /** Path after `/<name>/v1`, without the query, e.g. "/chat/completions". */
  readonly path: string;
  /** The model-call endpoint, when the request is one. */
  readonly endpoint: Endpoint | undefined;
}

type ProxyConfig = Config["proxy"];

function makeRoute(
  name: string,
  baseUrl: string,
  format: ApiFormat,
  provider: string,
  config: ProxyConfig,
  inject?: boolean,
) {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw ERR_BAD_CONFIG(`proxy upstream ${name}: invalid base URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw ERR_BAD_CONFIG(`proxy upstream ${name}: base URL must be http or https`);
  }
  const route: Route = {
    name,
    format,
    provider: provider.trim().toLowerCase(),
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ""),
    injectStreamUsage: inject ?? config.injectStreamUsage,
    cache: config.cache.routes.includes(name),
  };
  return Object.freeze(route);
}

/** Builds the route table from the proxy section of the config. */
export function buildRoutes(config: ProxyConfig): ReadonlyMap<string, Route> {
  const routes = new Map<string, Route>();
  routes.set("openai", makeRoute("openai", config.openaiBaseUrl, "openai", "openai", config));
  routes.set("anthropic", makeRoute("anthropic", config.anthropicBaseUrl, "anthropic", "anthropic", config));
  for (const [name, up] of Object.entries(config.upstreams)) {
    routes.set(name, makeRoute(name, up.baseUrl, up.format, up.provider ?? name, config, up.injectStreamUsage));
  }
  return routes;
}

const OPENAI_ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map([
  ["/chat/completions", "chat"],
  ["/responses", "responses"],
  ["/embeddings", "embeddings"],
  ["/completions", "completions"],
]);

/** Which model-call endpoint a POST to `path` is, for a route speaking `format`. */
export function endpointOf(format: ApiFormat, method: string, path: string): Endpoint | undefined {
  if (method !== "POST") return undefined;
  if (format === "anthropic") return path === "/messages" ? "messages" : undefined;
  return OPENAI_ENDPOINTS.get(path);
}

/**
 * `/<name>/v1/<rest>` -> the route and upstream path, or undefined when the URL names no route
 * or lacks the `/v1` segment.
 */
export function matchRoute(routes: ReadonlyMap<string, Route>, url: string, method: string): MatchedRoute | undefined {
  if (url.charCodeAt(0) !== 47 /* / */) return undefined;
  const slash = url.indexOf("/", 1);
  if (slash < 0) return undefined;
  const route = routes.get(url.slice(1, slash));
  if (route === undefined) return undefined;
  // "/v1" followed by "/", "?" or the end.
  if (!url.startsWith("/v1", slash)) return undefined;
  const restStart = slash + 3;
  const next = url.charCodeAt(restStart);
  if (restStart < url.length && next !== 47 && next !== 63 /* ? */) return undefined;
  const rest = url.slice(restStart);
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const upstreamPath = route.basePath + rest;
  return {
    route,
    upstreamPath: upstreamPath.charCodeAt(0) === 47 ? upstreamPath : `/${upstreamPath}`,
    path,
    endpoint: endpointOf(route.format, method, path),
  };
}
