/** The package version, reported as the instrumentation scope version of every span. */
export const SDK_VERSION = "0.1.0";

/** Instrumentation scope name; the collector also reads it as "this span came from the SDK". */
export const SCOPE_NAME = "@tokenmeter/sdk";
