/**
 * `gen_ai.provider.name` of an `openai` client: the client is the common way to call
 * OpenAI-compatible APIs, so the provider follows the base URL for the well-known ones (spend
 * and metrics by provider would otherwise count a Groq or DeepSeek bill as OpenAI's). Names
 * are the OpenTelemetry GenAI ones where they exist, the price catalog's otherwise.
 */

import type { Server } from "../instrument-method.js";

/** API hosts of OpenAI-compatible providers, by hostname or its last labels. */
const HOSTS: ReadonlyArray<readonly [string, string]> = [
  ["openai.azure.com", "azure.ai.openai"],
  ["api.groq.com", "groq"],
  ["api.deepseek.com", "deepseek"],
  ["api.mistral.ai", "mistral_ai"],
  ["api.x.ai", "x_ai"],
  ["api.perplexity.ai", "perplexity"],
  ["api.together.xyz", "together"],
  ["api.together.ai", "together"],
  ["api.fireworks.ai", "fireworks"],
  ["openrouter.ai", "openrouter"],
  ["generativelanguage.googleapis.com", "gcp.gemini"],
  ["api.anthropic.com", "anthropic"],
  ["api.cohere.ai", "cohere"],
  ["api.cohere.com", "cohere"],
];

/** Ollama's default port: a local OpenAI-compatible server there is Ollama. */
const OLLAMA_PORT = 11434;

export function openAIProvider(constructorName: string | undefined, server: Server): string {
  if (constructorName === "AzureOpenAI") return "azure.ai.openai";
  const host = server.address;
  if (host === undefined) return "openai";
  for (const [suffix, provider] of HOSTS) {
    if (host === suffix || host.endsWith(`.${suffix}`)) return provider;
  }
  return server.port === OLLAMA_PORT ? "ollama" : "openai";
}
