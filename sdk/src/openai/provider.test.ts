import { describe, expect, it } from "vitest";
import { serverOf } from "../instrument-method.js";
import { openAIProvider } from "./provider.js";

describe("openAIProvider", () => {
  it("follows the base URL of well-known OpenAI-compatible APIs", () => {
    const cases: Array<[string, string]> = [
      ["https://api.openai.com/v1", "openai"],
      ["https://my-resource.openai.azure.com/openai", "azure.ai.openai"],
      ["https://api.groq.com/openai/v1", "groq"],
      ["https://api.deepseek.com", "deepseek"],
      ["https://api.mistral.ai/v1", "mistral_ai"],
      ["https://api.x.ai/v1", "x_ai"],
      ["https://api.together.xyz/v1", "together"],
      ["https://api.fireworks.ai/inference/v1", "fireworks"],
      ["https://openrouter.ai/api/v1", "openrouter"],
      ["https://generativelanguage.googleapis.com/v1beta/openai/", "gcp.gemini"],
      ["http://localhost:11434/v1", "ollama"],
      ["http://127.0.0.1:8787/openai/v1", "openai"],
      ["https://evil-api.groq.com.example.org/v1", "openai"],
    ];
    for (const [url, provider] of cases)
      expect([url, openAIProvider("OpenAI", serverOf(url))]).toEqual([url, provider]);
  });

  it("an AzureOpenAI client is Azure whatever its URL; no URL or a bad one is openai", () => {
    expect(openAIProvider("AzureOpenAI", serverOf("https://gateway.example.com"))).toBe("azure.ai.openai");
    expect(openAIProvider("OpenAI", serverOf(undefined))).toBe("openai");
    expect(openAIProvider(undefined, serverOf("not a url"))).toBe("openai");
  });
});
