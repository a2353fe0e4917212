import { type Logger, pino } from "pino";

export type { Logger };

/**
 * Structured JSON logs. Secrets and prompt content never reach them: request headers are not
 * logged, and these paths are censored wherever they appear in a logged object.
 */
const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers['x-api-key']",
  "req.headers['api-key']",
  "headers.authorization",
  "headers['x-api-key']",
  "authorization",
  "apiKey",
  "api_key",
  "password",
  "token",
  "input",
  "output",
  "messages",
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "tokenmeter" },
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
