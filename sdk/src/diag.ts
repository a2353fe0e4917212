import { diag } from "@opentelemetry/api";
import { SCOPE_NAME } from "./version.js";

/** The SDK's messages go through the OpenTelemetry diagnostic logger (silent unless the app sets one). */
export const log = diag.createComponentLogger({ namespace: SCOPE_NAME });

/** Warnings about our own failures are capped so a persistent bug cannot flood the app's logs. */
const MAX_FAILURE_WARNINGS = 20;
let failureWarnings = 0;

/**
 * Reports a failure of the instrumentation itself (never of the user's call). The caller has
 * already fallen back to running the call untouched; this only tells the operator why.
 */
export function reportFailure(where: string, error: unknown): void {
  if (failureWarnings >= MAX_FAILURE_WARNINGS) return;
  failureWarnings++;
  const message = error instanceof Error ? error.message : String(error);
  log.warn(`instrumentation failed in ${where}; the call continues uninstrumented: ${message}`);
  if (failureWarnings === MAX_FAILURE_WARNINGS) log.warn("further instrumentation failures are not logged");
}
