import { describe, expect, it } from "vitest";
import { errorType } from "./llm-call.js";

describe("errorType", () => {
  it("names a specific error class first", () => {
    class RateLimitError extends Error {
      status = 429;
    }
    expect(errorType(new RateLimitError("slow down"))).toBe("RateLimitError");
    expect(errorType(new RangeError("out of range"))).toBe("RangeError");
  });

  it("takes the HTTP status, then a code of the error or its cause, for generic classes", () => {
    expect(errorType(Object.assign(new Error("unavailable"), { status: 503 }))).toBe("503");
    expect(errorType(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))).toBe("ECONNRESET");
    const socket = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" });
    expect(errorType(new TypeError("terminated", { cause: socket }))).toBe("UND_ERR_SOCKET");
    const deep = new Error("outer", { cause: new Error("middle", { cause: socket }) });
    expect(errorType(deep)).toBe("UND_ERR_SOCKET");
  });

  it("keeps free text out of the label: a code that is not a code is ignored", () => {
    expect(errorType(Object.assign(new TypeError("bad"), { code: "user 42 not found" }))).toBe("TypeError");
    expect(errorType(Object.assign(new Error("bad"), { code: 42 }))).toBe("Error");
    expect(errorType(new TypeError("x is not a function"))).toBe("TypeError");
    expect(errorType("a string")).toBe("_OTHER");
    expect(errorType(null)).toBe("_OTHER");
  });
});
