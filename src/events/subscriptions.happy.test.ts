import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { eventually } from "./test-receiver.js";
import { activeRequests, inFlight } from "../testing/observe.js";

const FAST = { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms" };

/** A service account that may read `team/**` only, with the subscription scopes. */
async function reader(admin: ApiClient): Promise<ApiClient> {
  const policy = await admin.post("/v1/policies", { name: "team-read", rules: [{ path_pattern: "team/**", permissions: ["read"] }] });
  expect(policy.status).toBe(201);
  expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:poller" })).status).toBe(201);
  const token = await admin.post("/v1/auth/tokens", { identity_id: "sa:poller", identity_type: "service_account", scopes: ["subscriptions:read", "subscriptions:write", "secrets:read"] });
  expect(token.status).toBe(201);
  return admin.withToken(token.body.token);
}

describeEachBackend("events: polling subscriptions", (backend) => {
  const vault = useVault(backend, { env: FAST });
  let poller: ApiClient;
  let subId = "";
  beforeAll(async () => {
    poller = await reader(vault().admin);
  });

  it("creates a polling subscription owned by the caller and polls, acks and re-delivers unacked events", async () => {
    const { admin } = vault();
    const created = await poller.post("/v1/subscriptions", { name: "team-changes", paths: ["team/**", "secret-area/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ identity_id: "sa:poller", status: "active", delivery: { type: "polling", buffer_size: 1000 } });
    subId = created.body.id;

    await admin.put("/v1/secrets/team/a", { data: { v: 1 } });
    // Matches the subscription's globs, but the owner may not read it: never delivered.
    await admin.put("/v1/secrets/secret-area/x", { data: { v: 1 } });
    await admin.put("/v1/secrets/team/a", { data: { v: 2 } });

    // Fan-out runs after each commit; wait until both readable events are queued.
    await eventually(() => poller.get(`/v1/subscriptions/${subId}/poll?timeout=1`), (res) => res.body.events.length === 2);
    const first = await poller.get(`/v1/subscriptions/${subId}/poll?timeout=5&max_events=1`);
    expect(first.status).toBe(200);
    expect(first.body.has_more).toBe(true);
    expect(first.body.events).toHaveLength(1);
    expect(first.body.events[0]).toMatchObject({ event_type: "secret.created", path: "team/a", tenant_id: "tnt_default" });

    const rest = await poller.get(`/v1/subscriptions/${subId}/poll?timeout=5&since_event_id=${first.body.events[0].event_id}`);
    expect(rest.body.events.map((e: { event_type: string; path: string }) => [e.event_type, e.path])).toEqual([["secret.updated", "team/a"]]);
    expect(rest.body.has_more).toBe(false);

    const ack = await poller.post(`/v1/subscriptions/${subId}/ack`, { event_ids: [first.body.events[0].event_id] });
    expect(ack.status).toBe(200);
    expect(ack.body.acknowledged).toBe(1);
    // Unacknowledged events come again on the next poll from the start.
    const again = await poller.get(`/v1/subscriptions/${subId}/poll?timeout=1`);
    expect(again.body.events.map((e: { event_id: string }) => e.event_id)).toEqual([rest.body.events[0].event_id]);
    await poller.post(`/v1/subscriptions/${subId}/ack`, { event_ids: [rest.body.events[0].event_id] });
    expect((await poller.get(`/v1/subscriptions/${subId}/poll?timeout=0`)).body).toEqual({ events: [], has_more: false });
  });

  it("long-polls until an event arrives", async () => {
    const { admin } = vault();
    const busy = await activeRequests(admin.baseUrl, "subscription_poll");
    const waiting = poller.get(`/v1/subscriptions/${subId}/poll?timeout=20`);
    // The poll is in flight before the change: either it is waiting and wakes, or it reads it first.
    await inFlight(admin.baseUrl, "subscription_poll", busy + 1);
    await admin.delete("/v1/secrets/team/a");
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(answered.body.events.map((e: { event_type: string }) => e.event_type)).toEqual(["secret.deleted"]);
  });

  it("keeps subscriptions to their owner and validates input", async () => {
    const { admin } = vault();
    // Poll and ack are the owner's alone; an admin may still see and manage the subscription.
    expect((await admin.get(`/v1/subscriptions/${subId}/poll?timeout=0`)).body.error.code).toBe("subscription_not_found");
    expect((await admin.get(`/v1/subscriptions/${subId}`)).status).toBe(200);
    const mine = await admin.post("/v1/subscriptions", { name: "admin-own", paths: ["**"], events: ["*"], delivery: { type: "polling", buffer_size: 2 } });
    expect(mine.status).toBe(201);
    expect((await poller.get(`/v1/subscriptions/${mine.body.id}`)).body.error.code).toBe("subscription_not_found");
    expect((await poller.get("/v1/subscriptions")).body.data.map((s: { id: string }) => s.id)).toEqual([subId]);

    for (let i = 0; i < 4; i++) await admin.put(`/v1/secrets/buffered/${i}`, { data: { i } });
    // buffer_size 2: the oldest unacknowledged events were dropped.
    const polled = await eventually(() => admin.get(`/v1/subscriptions/${mine.body.id}/poll?timeout=1`), (res) => res.body.events.at(-1)?.path === "buffered/3");
    expect(polled.body.events.map((e: { path: string }) => e.path)).toEqual(["buffered/2", "buffered/3"]);

    const cases: [unknown, number, string][] = [
      [{ name: "g", paths: ["Bad Glob"], events: ["secret.*"], delivery: { type: "polling" } }, 400, "invalid_glob"],
      [{ name: "e", paths: ["a/**"], events: ["secret.nope"], delivery: { type: "polling" } }, 422, "validation_error"],
      [{ name: "u", paths: ["a/**"], events: ["secret.*"], delivery: { type: "webhook" } }, 422, "validation_error"],
      [{ name: "u2", paths: ["a/**"], events: ["secret.*"], delivery: { type: "webhook", url: "ftp://x" } }, 422, "validation_error"],
      [{ name: "x", paths: ["a/**"], events: ["secret.*"], delivery: { type: "polling" }, extra: 1 }, 422, "validation_error"],
      [{ name: "admin-own", paths: ["a/**"], events: ["secret.*"], delivery: { type: "polling" } }, 409, "already_exists"],
    ];
    for (const [body, status, code] of cases) {
      const response = await admin.post("/v1/subscriptions", body);
      expect([response.status, response.body.error.code]).toEqual([status, code]);
    }
    expect((await poller.get(`/v1/subscriptions/${subId}/poll?since_event_id=evt_unknown`)).body.error.code).toBe("validation_error");
    const noScope = await admin.post("/v1/auth/tokens", { identity_id: "sa:noscope", identity_type: "service_account", scopes: ["secrets:read"] });
    expect((await admin.withToken(noScope.body.token).get("/v1/subscriptions")).body.error.code).toBe("insufficient_scope");
    expect((await admin.withToken(noScope.body.token).get("/v1/webhooks")).body.error.code).toBe("insufficient_scope");
    expect((await admin.delete(`/v1/subscriptions/${mine.body.id}`)).status).toBe(200);
    expect((await admin.get(`/v1/subscriptions/${mine.body.id}`)).body.error.code).toBe("subscription_not_found");
  });

  it("gets one event per committed write from bursts of concurrent writes, none from those that failed, in each path's order", async () => {
    const { admin } = vault();
    const created = await poller.post("/v1/subscriptions", { name: "burst", paths: ["team/burst/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(created.status).toBe(201);
    const paths = Array.from({ length: 8 }, (_, i) => `team/burst/${i}`);
    for (let version = 1; version <= 3; version++) {
      // Sent together, so they commit together; the cas writes fail inside their transactions.
      const results = await Promise.all([
        ...paths.map((path) => admin.put(`/v1/secrets/${path}`, { data: { version } })),
        ...paths.slice(0, 2).map((path) => admin.put(`/v1/secrets/${path}`, { data: { version: -1 }, options: { cas: 99 } })),
      ]);
      expect(results.map((r) => r.status)).toEqual([...paths.map(() => (version === 1 ? 201 : 200)), 409, 409]);
    }
    const polled = await eventually(() => poller.get(`/v1/subscriptions/${created.body.id}/poll?timeout=1&max_events=1000`), (res) => res.body.events.length >= 24);
    const events = polled.body.events as { event_id: string; event_type: string; path: string; data: { version: number } }[];
    expect(events).toHaveLength(24);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(24);
    for (const path of paths) {
      const mine = events.filter((e) => e.path === path);
      expect(mine.map((e) => [e.event_type, e.data.version])).toEqual([["secret.created", 1], ["secret.updated", 2], ["secret.updated", 3]]);
    }
    for (const path of paths.slice(0, 2)) expect((await admin.get(`/v1/secrets/${path}`)).body).toMatchObject({ version: 3, data: { version: 3 } });
  });

  it("accepts the seed's step 6 curl verbatim (placeholder host and secret) and never returns the secret", async () => {
    const { admin } = vault();
    const created = await admin.post("/v1/subscriptions", {
      name: "reporting-service-sf-rotations",
      paths: ["integrations/salesforce/oauth"],
      events: ["secret.rotated", "secret.updated"],
      delivery: { type: "webhook", url: "https://reporting.acme.example/scaivault/events", secret: "whsec_..." },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^sub_/), name: "reporting-service-sf-rotations", status: "active", identity_id: "system:bootstrap" });
    expect(created.text).not.toContain("whsec_...");
    expect((await admin.get(`/v1/subscriptions/${created.body.id}`)).text).not.toContain("whsec_...");
  });

  it("a long poll whose client leaves ends then, not at its deadline", async () => {
    const { admin, baseUrl, adminToken, vault: v } = vault();
    const sub = await admin.post("/v1/subscriptions", { name: "left", paths: ["left/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    const polled = async () => Number((await v.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'subscription_poll' AND extra_data LIKE ? AND extra_data LIKE '%client_gone%'", [`%${sub.body.id}%`]))?.n ?? 0);
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    const polls = controllers.map((c) => fetch(`${baseUrl}/v1/subscriptions/${sub.body.id}/poll?timeout=60`, { headers: { authorization: `Bearer ${adminToken}` }, signal: c.signal }).catch(() => null));
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const c of controllers) c.abort();
    await Promise.all(polls);
    // Each poll ends (and is audited) once its client has gone, long before its 60 s deadline.
    expect(await eventually(polled, (n) => n >= 3, 15_000)).toBe(3);
  });
});
