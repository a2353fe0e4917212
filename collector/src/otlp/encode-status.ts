import protobuf from "protobufjs";

/**
 * google.rpc.Status, the body the OTLP/HTTP spec asks for on error answers, in the request's
 * encoding. Only `code` and `message` are set (details stay empty).
 */
const StatusType = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: "int32", id: 1 },
                message: { type: "string", id: 2 },
              },
            },
          },
        },
      },
    },
  },
}).lookupType("google.rpc.Status");

/** HTTP status -> gRPC status code, as the OTLP spec maps them. */
function grpcCode(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
    case 415:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 413:
    case 429:
      return 8; // RESOURCE_EXHAUSTED
    case 503:
      return 14; // UNAVAILABLE
    default:
      return 13; // INTERNAL
  }
}

export function encodeStatus(httpStatus: number, message: string, asJson: boolean): Buffer | string {
  const code = grpcCode(httpStatus);
  if (asJson) return JSON.stringify({ code, message });
  return Buffer.from(StatusType.encode(StatusType.create({ code, message })).finish());
}
