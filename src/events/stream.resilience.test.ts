import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { activeRequests, inFlight } from "../testing/observe.js";
import { openStream } from "../testing/sse.js";

/** Resolves with the outcome, or "pending" when `ms` pass first (a generous bound, not a timing assertion). */
function within<T>(work: Promise<T>, ms: number): Promise<T | "pending"> {
  return Promise.race([work, new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), ms).unref())]);
}

async function issue(admin: ApiClient, identity: string, extra: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const issued = await admin.post("/v1/auth/tokens", { identity_id: identity, identity_type: "service_account", scopes: ["secrets:read", "subscriptions:read", "subscriptions:write"], ...extra });
  expect(issued.status).toBe(201);
  return { id: issued.body.id, token: issued.body.token };
}

// Recheck target 200 ms; every bound below is at least 25× that.
const env = { SCAIVAULT_CREDENTIAL_RECHECK: "200ms", SCAIVAULT_MAX_STREAMS_PER_IDENTITY: "2", SCAIVAULT_MAX_STREAMS_PER_TENANT: "3", SCAIVAULT_MAX_CONCURRENT_REQUESTS: "2" };

describeEachBackend("streams and long polls: credentials and caps", (backend) => {
  const vault = useVault(backend, { env });

  it("ends an open stream with a final token_revoked error event when its token is revoked", async () => {
    const { admin, baseUrl } = vault();
    const { id, token } = await issue(admin, "sa:stream-revoked");
    const stream = await openStream(baseUrl, { token: token });
    expect(stream.response.status).toBe(200);
    // SSE responses carry the same security headers as every other answer.
    expect(stream.response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(stream.response.headers.get("x-frame-options")).toBe("DENY");
    expect(stream.response.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(stream.response.headers.get("x-request-id")).toMatch(/^req_/);
    expect((await admin.delete(`/v1/auth/tokens/${id}`)).status).toBe(200);
    const outcome = await within(stream.finished, 10_000);
    void stream.close();
    expect(outcome).not.toBe("pending");
    const last = stream.text.trimEnd().split("\n\n").pop()!;
    expect(last).toMatch(/^event: error\ndata: /);
    const data = JSON.parse(last.split("\n")[1].slice("data: ".length));
    expect(data.error).toMatchObject({ code: "token_revoked", details: {} });
    expect(data.error.request_id).toBe(stream.response.headers.get("x-request-id"));
  });

  it("ends an open stream with token_expired when its token expires", async () => {
    const { admin, baseUrl } = vault();
    const { token } = await issue(admin, "sa:stream-expiring", { expires_in: "2s" });
    const stream = await openStream(baseUrl, { token: token });
    expect(stream.response.status).toBe(200);
    const outcome = await within(stream.finished, 15_000);
    void stream.close();
    expect(outcome).not.toBe("pending");
    expect(stream.text).toMatch(/event: error\ndata: \{"error":\{"code":"token_expired"/);
  });

  it("answers a waiting long poll 401 token_revoked when its token is revoked", async () => {
    const { admin, anonymous } = vault();
    const { id, token } = await issue(admin, "sa:poller");
    const owner = anonymous.withToken(token);
    const sub = await owner.post("/v1/subscriptions", { name: "revoked-poll", paths: ["nothing/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    const busy = await activeRequests(admin.baseUrl, "subscription_poll");
    const poll = owner.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=60`);
    // The poll is in flight (no events to answer with); revoke underneath it.
    await inFlight(admin.baseUrl, "subscription_poll", busy + 1);
    expect((await admin.delete(`/v1/auth/tokens/${id}`)).status).toBe(200);
    const answer = await within(poll, 15_000);
    expect(answer).not.toBe("pending");
    if (answer === "pending") return;
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("token_revoked");
  });

  it("caps streams per identity and per tenant with 429 + Retry-After, and never counts them as requests in flight", async () => {
    const { admin, baseUrl } = vault();
    const first = await issue(admin, "sa:streamer-1");
    const second = await issue(admin, "sa:streamer-2");
    const open = [await openStream(baseUrl, { token: first.token }), await openStream(baseUrl, { token: first.token })];
    try {
      for (const s of open) expect(s.response.status).toBe(200);
      const third = await openStream(baseUrl, { token: first.token });
      expect(third.response.status).toBe(429);
      expect(third.response.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
      await third.finished;
      expect(JSON.parse(third.text).error).toMatchObject({ code: "rate_limited", details: { reason: "streams_per_identity", limit: 2 } });

      open.push(await openStream(baseUrl, { token: second.token }));
      expect(open[2].response.status).toBe(200);
      const overTenant = await openStream(baseUrl, { token: second.token });
      expect(overTenant.response.status).toBe(429);
      await overTenant.finished;
      expect(JSON.parse(overTenant.text).error.details).toMatchObject({ reason: "streams_per_tenant", limit: 3 });

      // Three open streams, request concurrency capped at 2: ordinary requests are still served.
      for (let i = 0; i < 3; i++) expect((await admin.get("/v1/secrets")).status).toBe(200);
    } finally {
      for (const s of open) void s.close();
    }
    // Closed streams give their slots back.
    let reopened = await openStream(baseUrl, { token: first.token });
    for (let i = 0; i < 50 && reopened.response.status === 429; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      reopened = await openStream(baseUrl, { token: first.token });
    }
    expect(reopened.response.status).toBe(200);
    void reopened.close();
  });
});

/** A long poll (timeout 60 s) on raw fetch, so the test can abandon it. */
function openPoll(baseUrl: string, token: string, subscriptionId: string) {
  const controller = new AbortController();
  const answer = fetch(`${baseUrl}/v1/subscriptions/${subscriptionId}/poll?timeout=60`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
    .then(async (response) => ({ status: response.status, retryAfter: response.headers.get("retry-after"), body: JSON.parse(await response.text()) }));
  answer.catch(() => {});
  return { answer, close: () => controller.abort() };
}

// Its own vault: the caps are counted per tenant, and the suite above leaves its own streams closing.
describeEachBackend("long polls: caps and expiry", (backend) => {
  const vault = useVault(backend, { env });

  async function pollingSubscription(admin: ApiClient, identity: string, extra: Record<string, unknown> = {}) {
    const { token } = await issue(admin, identity, extra);
    const sub = await admin.withToken(token).post("/v1/subscriptions", { name: `poll ${identity}`, paths: ["nothing/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    return { token, id: sub.body.id as string };
  }

  it("counts waiting long polls against the stream caps (429 + Retry-After), not against request concurrency", async () => {
    const { admin, baseUrl } = vault();
    const first = await pollingSubscription(admin, "sa:long-poller-1");
    const second = await pollingSubscription(admin, "sa:long-poller-2");
    const busy = await activeRequests(baseUrl, "subscription_poll");
    const open = [openPoll(baseUrl, first.token, first.id), openPoll(baseUrl, first.token, first.id)];
    try {
      await inFlight(baseUrl, "subscription_poll", busy + 2);
      const third = openPoll(baseUrl, first.token, first.id);
      const refused = await within(third.answer, 10_000);
      expect(refused).not.toBe("pending");
      if (refused === "pending") return;
      expect(refused.status).toBe(429);
      expect(refused.retryAfter).toMatch(/^[1-9]\d*$/);
      expect(refused.body.error).toMatchObject({ code: "rate_limited", details: { reason: "streams_per_identity", limit: 2 } });

      open.push(openPoll(baseUrl, second.token, second.id));
      await inFlight(baseUrl, "subscription_poll", busy + 3);
      const overTenant = await within(openPoll(baseUrl, second.token, second.id).answer, 10_000);
      expect(overTenant).not.toBe("pending");
      if (overTenant === "pending") return;
      expect(overTenant.status).toBe(429);
      expect(overTenant.body.error.details).toMatchObject({ reason: "streams_per_tenant", limit: 3 });

      // Three polls waiting with request concurrency capped at 2: ordinary requests are still served.
      for (let i = 0; i < 3; i++) expect((await admin.get("/v1/secrets")).status).toBe(200);
    } finally {
      for (const poll of open) poll.close();
    }
  });

  it("answers a waiting long poll 401 token_expired when its token expires", async () => {
    const { admin, baseUrl } = vault();
    const { token, id } = await pollingSubscription(admin, "sa:poller-expiring", { expires_in: "3s" });
    const poll = openPoll(baseUrl, token, id);
    // Target: the token's expiry (3 s from issue). Bound: 20 s.
    const answer = await within(poll.answer, 20_000);
    poll.close();
    expect(answer).not.toBe("pending");
    if (answer === "pending") return;
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("token_expired");
  });
});
