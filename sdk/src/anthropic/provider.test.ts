import { describe, expect, it } from "vitest";
import { anthropicProvider } from "./observe.js";

describe("anthropicProvider", () => {
  it("Claude through Bedrock or Vertex AI is that cloud's bill", () => {
    class AnthropicBedrock {
      baseURL = "https://bedrock-runtime.us-east-1.amazonaws.com";
    }
    class AnthropicVertex {
      baseURL = "https://example.invalid";
    }
    class Anthropic {
      constructor(readonly baseURL: string) {}
    }
    expect(anthropicProvider(new AnthropicBedrock())).toBe("aws.bedrock");
    expect(anthropicProvider(new AnthropicVertex())).toBe("gcp.vertex_ai");
    expect(anthropicProvider(new Anthropic("https://bedrock-runtime.eu-west-1.amazonaws.com"))).toBe("aws.bedrock");
    expect(anthropicProvider(new Anthropic("https://us-east5-aiplatform.googleapis.com/v1"))).toBe("gcp.vertex_ai");
    expect(anthropicProvider(new Anthropic("https://api.anthropic.com"))).toBe("anthropic");
    expect(anthropicProvider(new Anthropic("not a url"))).toBe("anthropic");
  });
});
