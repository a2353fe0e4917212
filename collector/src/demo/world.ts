/**
 * The made-up company the demo simulates: four teams, their services and workloads, and the
 * models those workloads call. History and live traffic both draw from this one description, so
 * the dashboards tell a consistent story: who spends what on which model, and why.
 */

/** How a provider fails, with the error.type an instrumentation records for it. */
export interface FailureKind {
  readonly errorType: string;
  /** 0 when no response arrived (timeouts, connection errors). */
  readonly httpStatus: number;
  readonly weight: number;
}

export interface ModelProfile {
  /** gen_ai.provider.name */
  readonly provider: string;
  readonly model: string;
  /** What answers a request for `model` (a dated snapshot where the provider has one). */
  readonly responseModel: string;
  readonly serverAddress: string;
  readonly operation: "chat" | "embeddings";
  /** Median time before output starts, ms (time to first token when streamed). */
  readonly ttftMs: number;
  /** Median generation time per output token, ms. */
  readonly msPerToken: number;
  /** Reasoning tokens per visible output token (o-series), 0 otherwise. */
  readonly reasoningRatio: number;
  /** How the provider reports prompt caching. */
  readonly cache: "openai" | "anthropic" | "implicit" | "none";
  readonly errorRate: number;
  readonly failures: readonly FailureKind[];
}

const OPENAI_FAILURES: readonly FailureKind[] = [
  { errorType: "RateLimitError", httpStatus: 429, weight: 5 },
  { errorType: "InternalServerError", httpStatus: 500, weight: 2 },
  { errorType: "APIConnectionTimeoutError", httpStatus: 0, weight: 1 },
];
const ANTHROPIC_FAILURES: readonly FailureKind[] = [
  { errorType: "RateLimitError", httpStatus: 429, weight: 3 },
  { errorType: "OverloadedError", httpStatus: 529, weight: 3 },
  { errorType: "InternalServerError", httpStatus: 500, weight: 1 },
  { errorType: "APIConnectionTimeoutError", httpStatus: 0, weight: 1 },
];
const GEMINI_FAILURES: readonly FailureKind[] = [
  { errorType: "RateLimitError", httpStatus: 429, weight: 3 },
  { errorType: "ServiceUnavailableError", httpStatus: 503, weight: 2 },
];
const SELF_HOSTED_FAILURES: readonly FailureKind[] = [
  { errorType: "APIConnectionError", httpStatus: 0, weight: 2 },
  { errorType: "ServiceUnavailableError", httpStatus: 503, weight: 3 },
];

/** The OpenAI model whose alias moves to a new snapshot during the demo (see VERSION_CHANGE). */
export const GPT_4O_PREVIOUS_SNAPSHOT = "gpt-4o-2024-05-13";

export const MODELS = {
  "gpt-4o": {
    provider: "openai",
    model: "gpt-4o",
    // The snapshot the built-in fake provider answers with, so live calls continue the history.
    responseModel: "gpt-4o-2024-08-06",
    serverAddress: "api.openai.com",
    operation: "chat",
    ttftMs: 420,
    msPerToken: 11,
    reasoningRatio: 0,
    cache: "openai",
    errorRate: 0.025,
    failures: OPENAI_FAILURES,
  },
  "gpt-4o-mini": {
    provider: "openai",
    model: "gpt-4o-mini",
    responseModel: "gpt-4o-mini-2024-07-18",
    serverAddress: "api.openai.com",
    operation: "chat",
    ttftMs: 260,
    msPerToken: 6,
    reasoningRatio: 0,
    cache: "openai",
    errorRate: 0.02,
    failures: OPENAI_FAILURES,
  },
  "o4-mini": {
    provider: "openai",
    model: "o4-mini",
    responseModel: "o4-mini-2025-04-16",
    serverAddress: "api.openai.com",
    operation: "chat",
    ttftMs: 900,
    msPerToken: 5,
    reasoningRatio: 2.5,
    cache: "openai",
    errorRate: 0.025,
    failures: OPENAI_FAILURES,
  },
  "text-embedding-3-small": {
    provider: "openai",
    model: "text-embedding-3-small",
    responseModel: "text-embedding-3-small",
    serverAddress: "api.openai.com",
    operation: "embeddings",
    ttftMs: 70,
    msPerToken: 0,
    reasoningRatio: 0,
    cache: "none",
    errorRate: 0.004,
    failures: OPENAI_FAILURES,
  },
  "claude-sonnet-4-6": {
    provider: "anthropic",
    model: "claude-sonnet-4-6",
    responseModel: "claude-sonnet-4-6",
    serverAddress: "api.anthropic.com",
    operation: "chat",
    ttftMs: 650,
    msPerToken: 14,
    reasoningRatio: 0,
    cache: "anthropic",
    errorRate: 0.03,
    failures: ANTHROPIC_FAILURES,
  },
  "claude-haiku-4-5": {
    provider: "anthropic",
    model: "claude-haiku-4-5",
    responseModel: "claude-haiku-4-5",
    serverAddress: "api.anthropic.com",
    operation: "chat",
    ttftMs: 330,
    msPerToken: 5,
    reasoningRatio: 0,
    cache: "anthropic",
    errorRate: 0.025,
    failures: ANTHROPIC_FAILURES,
  },
  "gemini-2.5-flash": {
    provider: "gcp.gemini",
    model: "gemini-2.5-flash",
    responseModel: "gemini-2.5-flash",
    serverAddress: "generativelanguage.googleapis.com",
    operation: "chat",
    ttftMs: 380,
    msPerToken: 4,
    reasoningRatio: 0,
    cache: "implicit",
    errorRate: 0.02,
    failures: GEMINI_FAILURES,
  },
  // Fine-tuned and self-hosted behind vLLM: the price book has no price for it, so its calls
  // show up as unpriced spend (cost unknown, never $0).
  "acme-support-llama-3.1-8b": {
    provider: "vllm",
    model: "acme-support-llama-3.1-8b",
    responseModel: "acme-support-llama-3.1-8b",
    serverAddress: "llm.internal.acme.example",
    operation: "chat",
    ttftMs: 120,
    msPerToken: 3,
    reasoningRatio: 0,
    cache: "none",
    errorRate: 0.04,
    failures: SELF_HOSTED_FAILURES,
  },
} as const satisfies Record<string, ModelProfile>;

export type ModelName = keyof typeof MODELS;

export function modelProfile(name: ModelName): ModelProfile {
  return MODELS[name];
}

/** What one kind of request of a team looks like. */
export interface Workload {
  readonly project: string;
  readonly feature: string;
  /** Share of the team's traces. */
  readonly weight: number;
  /**
   * - single: one model call under the app's request span;
   * - rag: an embeddings call, a vector search, then the answer;
   * - agent: an agent run: a model call asking for a tool, the tool, the final answer.
   */
  readonly shape: "single" | "rag" | "agent";
  readonly models: Readonly<Partial<Record<ModelName, number>>>;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Share of the prompt that is a stable prefix (system prompt, examples): what caches. */
  readonly cacheablePrefix: number;
  readonly streamShare: number;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly promptName: string;
  readonly promptVersion: string;
  readonly system: string;
  readonly questions: readonly string[];
  readonly answers: readonly string[];
  /** The app's request span around the model calls. */
  readonly route: string;
  /** Online evaluator scores (gen_ai.evaluation.result events on the call span), with baseline means. */
  readonly evaluations: Readonly<Record<string, { mean: number; share: number }>>;
  /** Share of answers that get a thumbs up/down from the user (sent to POST /api/v1/scores). */
  readonly feedbackShare: number;
  /** Share of agent runs a reviewer marks correct or not (also through the scores API). */
  readonly reviewShare: number;
  readonly tools?: readonly string[];
}

export interface Team {
  readonly team: string;
  readonly service: string;
  /** Relative share of the company's traffic. */
  readonly weight: number;
  /**
   * Relative traffic by UTC hour on a weekday; weekends scale by `weekend`. Interactive teams
   * follow office hours; the growth team's batch jobs run at night.
   */
  readonly hourly: readonly number[];
  readonly weekend: number;
  /** Share of traffic from the staging environment. */
  readonly staging: number;
  /** How many distinct end users (or service accounts) send its traffic. */
  readonly users: number;
  readonly userPrefix: string;
  readonly workloads: readonly Workload[];
}

const OFFICE_HOURS = [2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 9, 11, 12, 12, 11, 9, 7, 5, 4, 3, 3, 2];
const CUSTOMER_HOURS = [4, 3, 2, 2, 2, 3, 5, 7, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10, 9, 9, 8, 7, 6, 5];
const NIGHTLY_BATCH = [6, 14, 16, 14, 8, 3, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 3];

export const TEAMS: readonly Team[] = [
  {
    team: "payments",
    service: "payments-api",
    weight: 2,
    hourly: OFFICE_HOURS,
    weekend: 0.35,
    staging: 0.12,
    users: 40,
    userPrefix: "analyst",
    workloads: [
      {
        project: "fraud-review",
        feature: "dispute-triage",
        weight: 3,
        shape: "single",
        models: { "o4-mini": 7, "gpt-4o-mini": 3 },
        inputTokens: 1800,
        outputTokens: 260,
        cacheablePrefix: 0.6,
        streamShare: 0,
        maxTokens: 4000,
        temperature: 1,
        promptName: "dispute-triage",
        promptVersion: "v12",
        route: "POST /disputes/{id}/triage",
        system:
          "You review card payment disputes. Decide whether the dispute looks like friendly fraud, true fraud or a merchant error, and explain why in three bullet points.",
        questions: [
          "Dispute 88213: customer says the subscription renewal was never authorized. Three prior renewals succeeded.",
          "Dispute 88240: two charges of 49.90 EUR within one minute at the same merchant.",
          "Dispute 88301: card reported stolen, charges in two countries within an hour.",
          "Dispute 88377: customer claims goods not received; tracking shows delivered and signed.",
        ],
        answers: [
          "Likely friendly fraud: the renewal follows three successful ones, the card was not reported lost, and the customer logged in after the charge.",
          "Likely merchant error: a duplicate authorization within 60 seconds with identical amount and terminal id. Refund the second charge.",
          "Likely true fraud: geographically impossible sequence, new device fingerprint, card already blocked. Approve the chargeback.",
        ],
        evaluations: {},
        feedbackShare: 0,
        reviewShare: 0,
      },
      {
        project: "receipts",
        feature: "receipt-extraction",
        weight: 2,
        shape: "single",
        models: { "gpt-4o-mini": 1 },
        inputTokens: 900,
        outputTokens: 140,
        cacheablePrefix: 0.5,
        streamShare: 0,
        maxTokens: 512,
        temperature: 0,
        promptName: "receipt-extraction",
        promptVersion: "v4",
        route: "POST /receipts",
        system: "Extract merchant, date, currency, total and line items from the receipt text as JSON.",
        questions: [
          "BÄCKEREI MÜLLER 12.03. 2x Brezel 1,80 1x Kaffee 2,90 SUMME EUR 4,70",
          "ACME HARDWARE 2026-03-14 hammer 19.99 nails 4.50 tax 1.96 total USD 26.45",
        ],
        answers: [
          '{"merchant":"Bäckerei Müller","date":"03-12","currency":"EUR","total":4.70,"items":2}',
          '{"merchant":"ACME Hardware","date":"2026-03-14","currency":"USD","total":26.45,"items":2}',
        ],
        evaluations: {},
        feedbackShare: 0,
        reviewShare: 0,
      },
    ],
  },
  {
    team: "search",
    service: "search-api",
    weight: 3,
    hourly: CUSTOMER_HOURS,
    weekend: 0.7,
    staging: 0.05,
    users: 3000,
    userPrefix: "user",
    workloads: [
      {
        project: "query-rewrite",
        feature: "query-expansion",
        weight: 5,
        shape: "single",
        models: { "gpt-4o-mini": 1 },
        inputTokens: 380,
        outputTokens: 40,
        cacheablePrefix: 0,
        streamShare: 0,
        maxTokens: 128,
        temperature: 0.2,
        promptName: "query-rewrite",
        promptVersion: "v3",
        route: "GET /search",
        system: "Rewrite the user's search query into a precise keyword query. Answer with the query only.",
        questions: ["cheap flights berlin may", "how to cancel my plan", "invoice download not working", "sso setup"],
        answers: [
          "flights Berlin May low fare",
          "cancel subscription plan",
          "invoice PDF download error",
          "single sign-on SAML setup",
        ],
        evaluations: {},
        feedbackShare: 0,
        reviewShare: 0,
      },
      {
        project: "answers",
        feature: "ai-answers",
        weight: 3,
        shape: "rag",
        models: { "gemini-2.5-flash": 8, "gpt-4o-mini": 2 },
        inputTokens: 2600,
        outputTokens: 230,
        cacheablePrefix: 0.3,
        streamShare: 0.85,
        maxTokens: 800,
        temperature: 0.3,
        promptName: "search-answer",
        promptVersion: "v5",
        route: "POST /search/answer",
        system: "Answer the question using only the provided documents. Cite the document ids you used.",
        questions: [
          "Which plans include single sign-on?",
          "How long are invoices kept?",
          "Can I export my data to CSV?",
          "What are the API rate limits on the free tier?",
        ],
        answers: [
          "Single sign-on is part of the Business and Enterprise plans [doc-112]. It supports SAML 2.0 and OIDC [doc-87].",
          "Invoices are kept for ten years and can be downloaded from the billing page [doc-45].",
          "Yes: every table has an Export button that writes CSV, and the API offers the same as JSON [doc-201].",
        ],
        evaluations: { faithfulness: { mean: 0.91, share: 0.4 }, helpfulness: { mean: 0.82, share: 0.3 } },
        feedbackShare: 0.05,
        reviewShare: 0,
      },
    ],
  },
  {
    team: "support",
    service: "support-bot",
    weight: 4,
    hourly: CUSTOMER_HOURS,
    weekend: 0.8,
    staging: 0.06,
    users: 1500,
    userPrefix: "customer",
    workloads: [
      {
        project: "chatbot",
        feature: "help-chat",
        weight: 6,
        shape: "single",
        models: { "claude-haiku-4-5": 1 },
        inputTokens: 2300,
        outputTokens: 240,
        cacheablePrefix: 0.7,
        streamShare: 0.9,
        maxTokens: 600,
        temperature: 0.4,
        promptName: "support-answer",
        promptVersion: "v7",
        route: "POST /chat/messages",
        system:
          "You are Acme's support assistant. Be brief and friendly. Never promise refunds; hand over to a human when the customer asks for one.",
        questions: [
          "How do I reset my password? I no longer have access to my email jane.doe@example.com",
          "My invoice shows the wrong VAT number, can you fix it?",
          "The mobile app crashes when I open the settings page.",
          "Can I move my subscription to another workspace?",
          "Why was my card declined?",
        ],
        answers: [
          "You can reset it from the sign-in page with 'Forgot password'. If you cannot reach your email, I can start an identity check for you.",
          "I have updated the VAT number on your account. New invoices will show it; the corrected invoice will arrive within a day.",
          "Sorry about that! Please update to version 5.2.1, which fixes a crash on the settings page. If it persists, send us the crash id.",
          "Yes: an owner of both workspaces can move it under Billing > Subscription > Move. Seats and invoices move with it.",
        ],
        evaluations: { helpfulness: { mean: 0.84, share: 1 }, toxicity: { mean: 0.02, share: 0.5 } },
        feedbackShare: 0.1,
        reviewShare: 0,
      },
      {
        project: "escalations",
        feature: "refund-agent",
        weight: 1,
        shape: "agent",
        models: { "claude-sonnet-4-6": 1 },
        inputTokens: 3400,
        outputTokens: 320,
        cacheablePrefix: 0.6,
        streamShare: 0.3,
        maxTokens: 2048,
        temperature: 0.2,
        promptName: "refund-agent",
        promptVersion: "v2",
        route: "POST /escalations",
        system:
          "You handle refund escalations. Look up the order and the refund policy with the tools before you decide. Explain the decision to the customer.",
        questions: [
          "Order A-20931 arrived broken, I want my money back.",
          "I was charged twice for order A-21877.",
          "Cancel order A-22010 and refund it, it has not shipped.",
        ],
        answers: [
          "I'm sorry the order arrived damaged. I've approved a full refund of 129.00 EUR; it will reach your card in 3-5 business days.",
          "You were indeed charged twice. I've refunded the duplicate charge of 54.90 EUR.",
          "Order A-22010 is cancelled and fully refunded, as it had not shipped yet.",
        ],
        tools: ["lookup_order", "refund_policy", "issue_refund"],
        evaluations: { helpfulness: { mean: 0.86, share: 0.5 } },
        feedbackShare: 0.05,
        reviewShare: 0.25,
      },
      {
        project: "triage",
        feature: "ticket-routing",
        weight: 3,
        shape: "single",
        models: { "acme-support-llama-3.1-8b": 1 },
        inputTokens: 650,
        outputTokens: 12,
        cacheablePrefix: 0,
        streamShare: 0,
        maxTokens: 32,
        temperature: 0,
        promptName: "ticket-routing",
        promptVersion: "v1",
        route: "POST /tickets",
        system: "Classify the ticket into one of: billing, bug, account, how-to, other. Answer with the label only.",
        questions: [
          "I can't log in since this morning",
          "Please send me last month's invoice",
          "Export to CSV drops the last column",
        ],
        answers: ["account", "billing", "bug"],
        evaluations: {},
        feedbackShare: 0,
        reviewShare: 0,
      },
    ],
  },
  {
    team: "growth",
    service: "growth-jobs",
    weight: 1.4,
    hourly: NIGHTLY_BATCH,
    weekend: 0.6,
    staging: 0.03,
    users: 3,
    userPrefix: "svc-campaigns",
    workloads: [
      {
        project: "email-writer",
        feature: "lifecycle-emails",
        weight: 3,
        shape: "single",
        models: { "gpt-4o": 3, "claude-sonnet-4-6": 1 },
        inputTokens: 6200,
        outputTokens: 520,
        cacheablePrefix: 0.75,
        streamShare: 0,
        maxTokens: 1500,
        temperature: 0.8,
        promptName: "lifecycle-email",
        promptVersion: "v21",
        route: "job lifecycle-emails",
        system:
          "Write a personalised lifecycle email in the brand voice guide below. Use the customer's usage facts. Subject line under 60 characters.",
        questions: [
          "Customer: trial day 12, used dashboards 4 times, invited 2 teammates, never connected a data source.",
          "Customer: churned 30 days ago, was on Pro for 14 months, top feature exports.",
          "Customer: new Enterprise workspace, 40 seats, onboarding call next week.",
        ],
        answers: [
          "Subject: Your dashboards are one step from live data\n\nHi Sam, you and two teammates have explored dashboards four times this trial...",
          "Subject: We kept your exports warm\n\nHi Alex, it's been a month. Your saved exports are still here...",
          "Subject: Welcome aboard, 40 seats strong\n\nHi Priya, ahead of next week's onboarding call...",
        ],
        evaluations: {},
        feedbackShare: 0,
        reviewShare: 0,
      },
      {
        project: "ad-copy",
        feature: "ad-variants",
        weight: 1,
        shape: "single",
        models: { "claude-sonnet-4-6": 1 },
        inputTokens: 1500,
        outputTokens: 300,
        cacheablePrefix: 0.5,
        streamShare: 0,
        maxTokens: 1000,
        temperature: 1,
        promptName: "ad-variants",
        promptVersion: "v6",
        route: "job ad-variants",
        system: "Write five ad headline variants for the campaign brief, each under 40 characters.",
        questions: ["Brief: spring sale, 20% off annual plans, audience small agencies."],
        answers: [
          "1. Spring into savings: 20% off\n2. Annual plans, spring prices\n3. Agencies save 20% this spring...",
        ],
        evaluations: {},
        feedbackShare: 0,
        reviewShare: 0,
      },
    ],
  },
];

/** The team whose spend is steered toward its monthly budget (budgets in examples/tokenmeter.demo.yaml). */
export const HEAVY_SPENDER = "growth";

/**
 * The drift episode: in the last hours of the history (and in live traffic) the support
 * chatbot's model starts answering 40% longer (so more answers hit max_tokens), and the helpfulness
 * evaluator's mean drops by 0.2, with no change of prompt version: the kind of silent change
 * the drift rules in alerts/default.yaml exist for.
 */
export const DRIFT = {
  team: "support",
  project: "chatbot",
  model: "claude-haiku-4-5" as ModelName,
  /** Hours before the end of the history when it starts. */
  hoursBeforeEnd: 20,
  outputFactor: 1.4,
  scoreDrop: 0.2,
} as const;

/**
 * The model-version change: `gpt-4o` requests were answered by an older snapshot for the whole
 * history; 40 minutes before its end the alias moves to the snapshot live calls get too.
 */
export const VERSION_CHANGE = {
  model: "gpt-4o" as ModelName,
  previous: GPT_4O_PREVIOUS_SNAPSHOT,
  minutesBeforeEnd: 40,
} as const;

/** Short provider incidents in the history, so the reliability panels have something to show. */
export interface Incident {
  readonly daysBeforeEnd: number;
  /** UTC hour the incident starts. */
  readonly hour: number;
  readonly minutes: number;
  readonly provider: string;
  readonly errorRate: number;
  readonly failure: FailureKind;
  /** Latency multiplier of the calls that still succeed. */
  readonly slowdown: number;
}

export const INCIDENTS: readonly Incident[] = [
  {
    daysBeforeEnd: 3,
    hour: 14,
    minutes: 40,
    provider: "openai",
    errorRate: 0.3,
    failure: { errorType: "RateLimitError", httpStatus: 429, weight: 1 },
    slowdown: 1.3,
  },
  {
    daysBeforeEnd: 6,
    hour: 10,
    minutes: 30,
    provider: "anthropic",
    errorRate: 0.2,
    failure: { errorType: "OverloadedError", httpStatus: 529, weight: 1 },
    slowdown: 2.2,
  },
];
