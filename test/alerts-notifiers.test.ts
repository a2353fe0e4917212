import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type NotifierConfig, notifierConfigSchema } from "../collector/src/alerts/config.js";
import { createNotifiers } from "../collector/src/alerts/notifiers/create-notifiers.js";
import { notifyAll } from "../collector/src/alerts/notifiers/dispatch.js";
import type { AlertNotification } from "../collector/src/alerts/notifiers/types.js";

/** A local HTTP receiver: records every request and answers with what `respond` says. */
interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Answer = { status: number; headers?: Record<string, string>; body?: string } | "hang";

const open: { close(): Promise<void> }[] = [];

async function receiver(respond: (index: number) => Answer = () => ({ status: 200 })) {
  const requests: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const index = requests.length;
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      const answer = respond(index);
      if (answer === "hang") {
        hanging.push(res);
        return;
      }
      res.writeHead(answer.status, answer.headers).end(answer.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const handle = {
    url: `http://127.0.0.1:${port}`,
    requests,
    json: (i: number) => JSON.parse(requests[i]?.body ?? "null") as unknown,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(handle);
  return handle;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

const STARTS = Date.UTC(2026, 9, 5, 13, 10, 0);
const firing: AlertNotification = {
  status: "firing",
  repeat: false,
  rule: "OutputTokensDrift",
  kind: "drift",
  fingerprint: "0123456789abcdef",
  severity: "critical",
  labels: {
    alertname: "OutputTokensDrift",
    severity: "critical",
    team: "search",
    model: "gpt-4o",
    signal: "output_tokens",
  },
  annotations: { summary: "output length of gpt-4o drifted: PSI 3.142 <check>" },
  value: 3.4567,
  threshold: 0.25,
  statistic: "psi",
  startsAt: STARTS,
  endsAt: null,
  validUntil: STARTS + 4 * 60_000,
  generatorUrl: "http://tokenmeter.test:4318/api/v1/alerts?fingerprint=0123456789abcdef",
  details: { ref_mean: 400.2, cur_mean: 559.4, ref_n: 15880, cur_n: 300 },
};
const resolved: AlertNotification = {
  ...firing,
  status: "resolved",
  value: 0.03,
  endsAt: STARTS + 2 * 3_600_000,
  validUntil: null,
};

/** Fast, deterministic retries: sleeps are recorded, not waited. */
function fastRetries() {
  const delays: number[] = [];
  return {
    delays,
    deps: {
      sleep: async (ms: number) => {
        delays.push(ms);
      },
      random: () => 0.5,
    },
  };
}

function config(raw: Record<string, unknown>): NotifierConfig {
  return notifierConfigSchema.parse(raw);
}

describe("notifiers: exact payloads", () => {
  it("slack-incoming-webhook-blocks-and-fallback-text", async () => {
    const slack = await receiver();
    const [n] = createNotifiers([config({ type: "slack", name: "team-chat", webhookUrlEnv: "SLACK_URL" })], {
      SLACK_URL: `${slack.url}/services/T000/B000/XXXX`,
    });
    await n?.send(firing);
    expect(slack.requests[0]).toMatchObject({ method: "POST", url: "/services/T000/B000/XXXX" });
    expect(slack.requests[0]?.headers["content-type"]).toBe("application/json");
    expect(slack.json(0)).toEqual({
      text: "[FIRING] OutputTokensDrift: output length of gpt-4o drifted: PSI 3.142 <check>",
      blocks: [
        { type: "header", text: { type: "plain_text", text: "[FIRING] OutputTokensDrift" } },
        { type: "section", text: { type: "mrkdwn", text: "output length of gpt-4o drifted: PSI 3.142 &lt;check&gt;" } },
        {
          type: "section",
          fields: [
            { type: "mrkdwn", text: "*Severity*\ncritical" },
            { type: "mrkdwn", text: "*Value*\n3.457" },
            { type: "mrkdwn", text: "*Threshold*\n0.25" },
            { type: "mrkdwn", text: "*Statistic*\npsi" },
            { type: "mrkdwn", text: "*team*\nsearch" },
            { type: "mrkdwn", text: "*model*\ngpt-4o" },
            { type: "mrkdwn", text: "*signal*\noutput_tokens" },
          ],
        },
        {
          type: "context",
          elements: [
            {
              type: "mrkdwn",
              text: "firing since 2026-10-05T13:10:00.000Z · fingerprint `0123456789abcdef` · <http://tokenmeter.test:4318/api/v1/alerts?fingerprint=0123456789abcdef|details>",
            },
          ],
        },
      ],
    });
  });

  it("pagerduty-v2-trigger-then-resolve-share-the-dedup-key", async () => {
    const pd = await receiver(() => ({ status: 202, body: '{"status":"success","message":"Event processed"}' }));
    const [n] = createNotifiers(
      [config({ type: "pagerduty", name: "oncall", url: `${pd.url}/v2/enqueue`, routingKeyEnv: "PD_KEY" })],
      { PD_KEY: "R0UT1NGKEY" },
    );
    await n?.send(firing);
    await n?.send(resolved);
    expect(pd.requests.map((r) => [r.method, r.url])).toEqual([
      ["POST", "/v2/enqueue"],
      ["POST", "/v2/enqueue"],
    ]);
    expect(pd.json(0)).toEqual({
      routing_key: "R0UT1NGKEY",
      event_action: "trigger",
      dedup_key: "0123456789abcdef",
      payload: {
        summary: "output length of gpt-4o drifted: PSI 3.142 <check>",
        source: "tokenmeter",
        severity: "critical",
        timestamp: "2026-10-05T13:10:00.000Z",
        component: "gpt-4o",
        group: "search",
        class: "psi",
        custom_details: {
          rule: "OutputTokensDrift",
          kind: "drift",
          value: 3.4567,
          threshold: 0.25,
          statistic: "psi",
          labels: firing.labels,
          annotations: firing.annotations,
          details: { ref_mean: 400.2, cur_mean: 559.4, ref_n: 15880, cur_n: 300 },
        },
      },
      client: "tokenmeter",
      client_url: "http://tokenmeter.test:4318/api/v1/alerts?fingerprint=0123456789abcdef",
    });
    expect(pd.json(1)).toEqual({ routing_key: "R0UT1NGKEY", event_action: "resolve", dedup_key: "0123456789abcdef" });
  });

  it("alertmanager-v2-postable-alerts-firing-then-resolved-with-endsAt", async () => {
    const am = await receiver();
    const [n] = createNotifiers(
      [config({ type: "alertmanager", name: "am", url: `${am.url}/`, bearerTokenEnv: "AM_TOKEN" })],
      { AM_TOKEN: "am-token" },
    );
    await n?.send(firing);
    await n?.send(resolved);
    expect(am.requests[0]?.url).toBe("/api/v2/alerts");
    expect(am.requests[0]?.headers.authorization).toBe("Bearer am-token");
    expect(am.json(0)).toEqual([
      {
        labels: firing.labels,
        annotations: {
          summary: "output length of gpt-4o drifted: PSI 3.142 <check>",
          value: "3.457",
          threshold: "0.25",
        },
        startsAt: "2026-10-05T13:10:00.000Z",
        endsAt: "2026-10-05T13:14:00.000Z",
        generatorURL: "http://tokenmeter.test:4318/api/v1/alerts?fingerprint=0123456789abcdef",
      },
    ]);
    expect(am.json(1)).toEqual([
      {
        labels: firing.labels,
        annotations: {
          summary: "output length of gpt-4o drifted: PSI 3.142 <check>",
          value: "0.03",
          threshold: "0.25",
        },
        startsAt: "2026-10-05T13:10:00.000Z",
        endsAt: "2026-10-05T15:10:00.000Z",
        generatorURL: "http://tokenmeter.test:4318/api/v1/alerts?fingerprint=0123456789abcdef",
      },
    ]);
  });

  it("signed-webhook-hmac-of-the-exact-body-verifies", async () => {
    const hook = await receiver();
    const secret = "whsec_test_only";
    const [n] = createNotifiers(
      [
        config({
          type: "webhook",
          name: "hook",
          url: `${hook.url}/hooks/alerts`,
          secretEnv: "HOOK_SECRET",
          headers: { "x-team": "sre" },
        }),
      ],
      { HOOK_SECRET: secret },
    );
    await n?.send(firing);
    const req = hook.requests[0];
    expect(req?.url).toBe("/hooks/alerts");
    expect(req?.headers["x-team"]).toBe("sre");
    const expected = `sha256=${createHmac("sha256", secret)
      .update(req?.body ?? "")
      .digest("hex")}`;
    expect(req?.headers["x-tokenmeter-signature"]).toBe(expected);
    // Tampering with one byte breaks it.
    const tampered = `sha256=${createHmac("sha256", secret)
      .update((req?.body ?? "").replace("search", "searcH"))
      .digest("hex")}`;
    expect(req?.headers["x-tokenmeter-signature"]).not.toBe(tampered);
    const timestamp = Number(req?.headers["x-tokenmeter-timestamp"]);
    const body = hook.json(0) as Record<string, unknown>;
    expect(body["sent_at"]).toBe(new Date(timestamp * 1000).toISOString());
    expect({ ...body, sent_at: "<sent_at>" }).toEqual({
      version: "1",
      status: "firing",
      repeat: false,
      rule: "OutputTokensDrift",
      kind: "drift",
      fingerprint: "0123456789abcdef",
      severity: "critical",
      labels: firing.labels,
      annotations: firing.annotations,
      value: 3.4567,
      threshold: 0.25,
      statistic: "psi",
      details: { ref_mean: 400.2, cur_mean: 559.4, ref_n: 15880, cur_n: 300 },
      starts_at: "2026-10-05T13:10:00.000Z",
      ends_at: null,
      generator_url: "http://tokenmeter.test:4318/api/v1/alerts?fingerprint=0123456789abcdef",
      sent_at: "<sent_at>",
    });
  });
});

describe("notifiers: delivery", () => {
  it("retries-500-with-exponential-backoff-then-succeeds", async () => {
    const flaky = await receiver((i) => (i < 2 ? { status: 500, body: "upstream down" } : { status: 200 }));
    const { delays, deps } = fastRetries();
    const [n] = createNotifiers(
      [config({ type: "webhook", name: "hook", url: flaky.url, minBackoffMs: 100, maxBackoffMs: 1000 })],
      {},
      deps,
    );
    expect(await n?.send(firing)).toEqual({ status: 200, attempts: 3 });
    expect(flaky.requests).toHaveLength(3);
    // Full jitter (random 0.5) of 100 ms, then 200 ms.
    expect(delays).toEqual([50, 100]);
  });

  it("429-honours-retry-after-and-400-is-not-retried", async () => {
    const limited = await receiver((i) =>
      i === 0 ? { status: 429, headers: { "retry-after": "2" } } : { status: 202 },
    );
    const { delays, deps } = fastRetries();
    const [pd] = createNotifiers(
      [config({ type: "pagerduty", name: "pd", url: limited.url, routingKeyEnv: "K", maxBackoffMs: 5000 })],
      { K: "key" },
      deps,
    );
    await pd?.send(firing);
    expect(delays).toEqual([2000]);

    const rejecting = await receiver(() => ({ status: 400, body: '{"status":"invalid event"}' }));
    const [bad] = createNotifiers([config({ type: "webhook", name: "w", url: rejecting.url })], {}, deps);
    await expect(bad?.send(firing)).rejects.toMatchObject({ name: "DeliveryError", status: 400, attempts: 1 });
    expect(rejecting.requests).toHaveLength(1);
  });

  it("gives up after maxAttempts with the last status", async () => {
    const down = await receiver(() => ({ status: 503 }));
    const { deps } = fastRetries();
    const [n] = createNotifiers([config({ type: "webhook", name: "w", url: down.url, maxAttempts: 4 })], {}, deps);
    await expect(n?.send(firing)).rejects.toMatchObject({ status: 503, attempts: 4 });
    expect(down.requests).toHaveLength(4);
  });

  it("one-failing-or-hanging-notifier-does-not-block-the-others", async () => {
    const down = await receiver(() => ({ status: 500 }));
    const hanging = await receiver(() => "hang");
    const ok = await receiver(() => ({ status: 200 }));
    const { deps } = fastRetries();
    const notifiers = createNotifiers(
      [
        config({ type: "webhook", name: "down", url: down.url, maxAttempts: 3 }),
        config({ type: "webhook", name: "hanging", url: hanging.url, timeoutMs: 300, attemptTimeoutMs: 200 }),
        config({ type: "slack", name: "ok", webhookUrlEnv: "SLACK" }),
      ],
      { SLACK: ok.url },
      deps,
    );
    const started = Date.now();
    const results = await notifyAll(notifiers, firing);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(results.map((r) => [r.notifier, r.ok])).toEqual([
      ["down", false],
      ["hanging", false],
      ["ok", true],
    ]);
    expect(results[0]?.attempts).toBe(3);
    expect(results[1]?.error).toMatch(/deadline|abort/i);
    expect(ok.requests).toHaveLength(1);
  });

  it("secrets come only from the environment: a missing variable fails at start, by name", () => {
    expect(() =>
      createNotifiers([config({ type: "pagerduty", name: "oncall", routingKeyEnv: "PD_ROUTING_KEY" })], {}),
    ).toThrowError(
      expect.objectContaining({ code: "TM_ERR_BAD_CONFIG", message: expect.stringContaining("PD_ROUTING_KEY") }),
    );
    expect(
      notifierConfigSchema.safeParse({ type: "slack", name: "s", webhookUrl: "https://hooks.slack.com/x" }).success,
    ).toBe(false);
  });
});
