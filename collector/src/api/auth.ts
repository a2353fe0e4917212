import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { ERR_UNAUTHORIZED } from "../errors.js";

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * A preHandler that requires `Authorization: Bearer <token>` when a token is configured.
 * Compares digests in constant time so the token's length and prefix do not leak.
 */
export function bearerAuth(token: string | undefined) {
  if (!token) return undefined;
  const expected = digest(token);
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    const given = header?.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!given || !timingSafeEqual(digest(given), expected)) {
      throw ERR_UNAUTHORIZED("missing or invalid bearer token");
    }
  };
}
