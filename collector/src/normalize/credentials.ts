import { redactSecrets } from "../enrich/redact.js";

/**
 * Credentials in span attributes: HTTP instrumentations configured to capture request headers
 * record `http.request.header.authorization`, some LLM instrumentations an `api_key`, and URLs
 * may carry a key in their query. None of it may reach storage, whoever sent the span, so every
 * attribute stored in `spans` (span, resource and event attributes) and the status message pass
 * through here: a credential key's value is replaced whole, and secret-looking tokens in any
 * other value (provider keys, bearer tokens, cloud keys, JWTs) are replaced where they stand.
 */

export const REDACTED_CREDENTIAL = "[REDACTED]";

/** Last key segments (lowercase, `-` as `_`) that name a credential. */
const CREDENTIAL_NAMES = new Set([
  "authorization",
  "proxy_authorization",
  "cookie",
  "set_cookie",
  "api_key",
  "apikey",
  "x_api_key",
  "x_goog_api_key",
  "api_token",
  "access_token",
  "refresh_token",
  "id_token",
  "auth_token",
  "token",
  "password",
  "passwd",
  "secret",
  "client_secret",
  "secret_key",
  "secret_access_key",
  "private_key",
]);

/** Keys seen, and whether each names a credential: a sender uses a few hundred keys at most. */
const seen = new Map<string, boolean>();
const MAX_SEEN = 10_000;

/** True when the attribute key names a credential (`http.request.header.authorization`, `llm.api_key`, ...). */
export function isCredentialKey(key: string): boolean {
  let answer = seen.get(key);
  if (answer === undefined) {
    const last = key
      .slice(key.lastIndexOf(".") + 1)
      .toLowerCase()
      .replaceAll("-", "_");
    answer = CREDENTIAL_NAMES.has(last);
    if (seen.size < MAX_SEEN) seen.set(key, answer);
  }
  return answer;
}

/** The value an attribute is stored with: a credential's replaced whole, secrets in others replaced. */
export function storedAttributeValue(key: string, value: string): string {
  return isCredentialKey(key) ? REDACTED_CREDENTIAL : redactSecrets(value);
}
