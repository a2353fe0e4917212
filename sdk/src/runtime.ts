/**
 * What instrumented calls need at call time: the tracer and the resolved configuration. `init`
 * installs one; before `init` (or without it, in an app that set up OpenTelemetry itself)
 * calls use the global tracer and the configuration the environment gives.
 *
 * This is process-wide by nature: the OpenTelemetry API it builds on is global too.
 */
import { type Attributes, type Tracer, trace } from "@opentelemetry/api";
import { normalizeAttribution } from "./attribution.js";
import { resolveConfig, type SdkConfig } from "./config.js";
import { TOKENMETER_ENVIRONMENT, TOKENMETER_SOURCE } from "./semconv.js";
import type { Attribution } from "./types.js";
import { SCOPE_NAME, SDK_VERSION } from "./version.js";

export interface Runtime {
  readonly tracer: Tracer;
  readonly config: SdkConfig;
  /** init's team / project as an attribution layer (the lowest one). */
  readonly defaults: Attribution;
  /** Attributes every SDK span starts with: source marker, environment. */
  readonly baseAttributes: Readonly<Attributes>;
  /**
   * Whether a call in the root context may open its span when it ends (LlmCall's `deferSpan`),
   * written with other ended calls' spans in one pass over the tracer: true only for the SDK's
   * own provider at sample rate 1 (always-on root sampler), whose span processor does nothing at
   * span start.
   */
  readonly deferSpans: boolean;
  /**
   * Whether calls leave serializing their captured content to the exporter (deferred-content.ts):
   * true only when the SDK's own provider and exporter are the only readers of its spans.
   */
  readonly deferContent: boolean;
}

let installed: Runtime | undefined;
let fallback: Runtime | undefined;

/**
 * `ownProvider`: the tracer comes from the provider `init` built (always-on root sampler at
 * sample rate 1, one processor that does nothing at span start, the deferred-content exporter).
 */
export function createRuntime(config: SdkConfig, tracer: Tracer, ownProvider = false): Runtime {
  const baseAttributes: Attributes = { [TOKENMETER_SOURCE]: "sdk" };
  if (config.environment !== undefined) baseAttributes[TOKENMETER_ENVIRONMENT] = config.environment;
  return Object.freeze({
    tracer,
    config,
    defaults: normalizeAttribution({ team: config.team, project: config.project }),
    baseAttributes: Object.freeze(baseAttributes),
    deferSpans: ownProvider && config.sampleRate >= 1,
    deferContent: ownProvider,
  });
}

/** The runtime in effect: the one `init` installed, else one built from the environment. */
export function currentRuntime(): Runtime {
  if (installed !== undefined) return installed;
  fallback ??= createRuntime(resolveConfig(), trace.getTracer(SCOPE_NAME, SDK_VERSION));
  return fallback;
}

export function installRuntime(runtime: Runtime | undefined): void {
  installed = runtime;
}
