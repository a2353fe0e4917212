/**
 * Errors the SDK itself throws. Only configuration mistakes throw (at `init`); everything that
 * happens around an LLM call fails open instead (see instrument-method.ts).
 */

export type SdkErrorCode = "TM_SDK_BAD_CONFIG";

export class TokenmeterSdkError extends Error {
  readonly code: SdkErrorCode;

  constructor(code: SdkErrorCode, message: string) {
    super(message);
    this.name = "TokenmeterSdkError";
    this.code = code;
  }
}
