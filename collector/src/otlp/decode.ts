import zlib from "node:zlib";
import { ERR_BAD_OTLP, ERR_BODY_TOO_LARGE, ERR_UNSUPPORTED_ENCODING, ERR_UNSUPPORTED_MEDIA_TYPE } from "../errors.js";
import { AttributeLimiter } from "./attributes.js";
import { decodeLogsJson, decodeTracesJson, encodeResponseJson } from "./decode-json.js";
import { decodeLogsProtobuf, decodeTracesProtobuf, encodeResponseProtobuf } from "./decode-protobuf.js";
import type { DecodedLogRecord, DecodedSpan, DecodeResult } from "./types.js";

/**
 * Entry of the decode stage: an OTLP/HTTP request body (protobuf or JSON, optionally gzip) to
 * decoded spans or log records, plus the spec's response body for the answer.
 */

export interface DecodeLimits {
  /** Largest body accepted, measured after decompression. */
  maxBodyBytes: number;
  /** Longer attribute string/bytes values are cut to this many bytes (the item is kept). */
  maxAttributeValueBytes: number;
}

/** What the request asked for, from its Content-Type. */
export type OtlpEncoding = "protobuf" | "json";

export interface PartialSuccess {
  rejected: number;
  message: string;
}

export function decodeTraces(
  body: Buffer,
  contentType: string,
  contentEncoding: string | undefined,
  limits: DecodeLimits,
): DecodeResult<DecodedSpan> {
  const encoding = otlpEncoding(contentType);
  const raw = inflate(body, contentEncoding, limits.maxBodyBytes);
  const limiter = new AttributeLimiter(limits.maxAttributeValueBytes);
  return encoding === "protobuf" ? decodeTracesProtobuf(raw, limiter) : decodeTracesJson(raw, limiter);
}

export function decodeLogs(
  body: Buffer,
  contentType: string,
  contentEncoding: string | undefined,
  limits: DecodeLimits,
): DecodeResult<DecodedLogRecord> {
  const encoding = otlpEncoding(contentType);
  const raw = inflate(body, contentEncoding, limits.maxBodyBytes);
  const limiter = new AttributeLimiter(limits.maxAttributeValueBytes);
  return encoding === "protobuf" ? decodeLogsProtobuf(raw, limiter) : decodeLogsJson(raw, limiter);
}

/**
 * ExportTraceServiceResponse for a 200 answer, in the request's encoding. `partial_success` is
 * set only when something was rejected (OTLP spec: an empty one means full success anyway).
 */
export function encodeTracesResponse(partial: PartialSuccess, asJson: boolean): Buffer | string {
  return asJson ? encodeResponseJson("traces", partial) : encodeResponseProtobuf("traces", partial);
}

/** ExportLogsServiceResponse, as encodeTracesResponse. */
export function encodeLogsResponse(partial: PartialSuccess, asJson: boolean): Buffer | string {
  return asJson ? encodeResponseJson("logs", partial) : encodeResponseProtobuf("logs", partial);
}

/**
 * Media type of an OTLP/HTTP body; parameters such as `charset` are ignored. OTLP names
 * application/x-protobuf; application/protobuf, the registered name some senders use, is the
 * same encoding.
 */
export function otlpEncoding(contentType: string): OtlpEncoding {
  const semi = contentType.indexOf(";");
  const mediaType = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (mediaType === "application/x-protobuf" || mediaType === "application/protobuf") return "protobuf";
  if (mediaType === "application/json") return "json";
  throw ERR_UNSUPPORTED_MEDIA_TYPE(
    `Content-Type "${contentType}" is not supported; use application/x-protobuf or application/json`,
  );
}

type Decompress = (body: Buffer, options: { maxOutputLength: number }) => Buffer;

/**
 * Content codings taken, beside none: gzip (what OTLP/HTTP names), and deflate and br, which
 * other senders (an OpenTelemetry Collector's otlphttp exporter, log shippers) can be set to;
 * zstd where the runtime has it (Node 22.15 and later).
 */
const DECOMPRESSORS = new Map<string, Decompress>([
  ["gzip", zlib.gunzipSync],
  ["x-gzip", zlib.gunzipSync],
  ["deflate", zlib.inflateSync],
  ["br", zlib.brotliDecompressSync],
]);
const zstd = (zlib as { zstdDecompressSync?: Decompress }).zstdDecompressSync;
if (typeof zstd === "function") DECOMPRESSORS.set("zstd", zstd);

const SUPPORTED_CODINGS = [...DECOMPRESSORS.keys()].filter((c) => c !== "x-gzip").join(", ");

/**
 * The body as sent, or decompressed. The size limit applies to the decoded bytes: zlib stops at
 * `maxOutputLength`, so a small compression bomb never allocates more than the limit.
 */
function inflate(body: Buffer, contentEncoding: string | undefined, maxBodyBytes: number): Buffer {
  const coding = (contentEncoding ?? "").trim().toLowerCase();
  const decompress = coding === "" || coding === "identity" ? undefined : DECOMPRESSORS.get(coding);
  if (coding !== "" && coding !== "identity" && decompress === undefined) {
    throw ERR_UNSUPPORTED_ENCODING(
      `Content-Encoding "${contentEncoding}" is not supported; use ${SUPPORTED_CODINGS} or none`,
    );
  }
  if (body.length > maxBodyBytes) {
    throw ERR_BODY_TOO_LARGE(`body is ${body.length} bytes; the limit is ${maxBodyBytes}`);
  }
  if (decompress === undefined) return body;
  try {
    return decompress(body, { maxOutputLength: Math.max(1, maxBodyBytes) });
  } catch (err) {
    if (isOutputLimitError(err)) {
      throw ERR_BODY_TOO_LARGE(`${coding} body inflates beyond the limit of ${maxBodyBytes} bytes`, { cause: err });
    }
    throw ERR_BAD_OTLP(`${coding} body is corrupt: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/** zlib's answer when `maxOutputLength` is reached. */
function isOutputLimitError(err: unknown): boolean {
  return err instanceof RangeError && (err as RangeError & { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE";
}
