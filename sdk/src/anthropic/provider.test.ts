import { describe, expect, it } from "vitest";
import { serverOf } from "../instrument-method.js";
import { anthropicProvider } from "./observe.js";

const provider = (client: { baseURL: string }) => anthropicProvider(client, serverOf(client.baseURL));

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
    expect(provider(new AnthropicBedrock())).toBe("aws.bedrock");
    expect(provider(new AnthropicVertex())).toBe("gcp.vertex_ai");
    expect(provider(new Anthropic("https://bedrock-runtime.eu-west-1.amazonaws.com"))).toBe("aws.bedrock");
    expect(provider(new Anthropic("https://us-east5-aiplatform.googleapis.com/v1"))).toBe("gcp.vertex_ai");
    expect(provider(new Anthropic("https://api.anthropic.com"))).toBe("anthropic");
    expect(provider(new Anthropic("not a url"))).toBe("anthropic");
  });
});
