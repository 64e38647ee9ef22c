import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { startVault, useVault } from "../testing/harness.js";
import { inFlight } from "../testing/observe.js";
import { openStream } from "../testing/sse.js";

describeEachBackend("events: SSE stream", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", SCAIVAULT_SSE_HEARTBEAT: "200ms" } });

  it("streams events with id lines and resumes from Last-Event-ID with exactly the missed events", async () => {
    const { admin, baseUrl, adminToken } = vault();
    const first = await openStream(baseUrl, { token: adminToken });
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(first.response.headers.get("x-request-id")).toMatch(/^req_/);
    await admin.put("/v1/secrets/sse/a", { data: { v: 1 } });
    await admin.put("/v1/secrets/sse/b", { data: { v: 1 } });
    await first.until((e) => e.length >= 2);
    await first.close();
    expect(first.events.map((e) => [e.event, e.data.path])).toEqual([["secret.created", "sse/a"], ["secret.created", "sse/b"]]);
    expect(first.events[0].id).toBe(first.events[0].data.event_id);
    expect(JSON.stringify(first.events)).not.toContain('"v":1');

    // Missed while disconnected.
    await admin.put("/v1/secrets/sse/a", { data: { v: 2 } });
    await admin.delete("/v1/secrets/sse/b");

    const resumed = await openStream(baseUrl, { token: adminToken, headers: { "last-event-id": first.events[1].id! } });
    await resumed.until((e) => e.length >= 2);
    await admin.put("/v1/secrets/sse/marker", { data: { v: 1 } });
    await resumed.until((e) => e.some((x) => x.data.path === "sse/marker"));
    await resumed.until(() => resumed.comments.includes("heartbeat"));
    await resumed.close();
    expect(resumed.events.map((e) => [e.event, e.data.path])).toEqual([["secret.updated", "sse/a"], ["secret.deleted", "sse/b"], ["secret.created", "sse/marker"]]);
  });

  it("a catch-up whose filter is slow to match goes out across several turns: every match once, in order", async () => {
    const { admin, baseUrl, adminToken, vault: v } = vault();
    await admin.put("/v1/secrets/slowf/start", { data: { v: 0 } });
    const start = await v.db.get<{ id: string }>("SELECT id FROM events WHERE path = 'slowf/start'");
    // Long segments against eight long globs: ~10 ms of matching per event, so the sending of one
    // batch is cut into slices (src/events/stream.ts, SEND_SLICE_MS) and resumed where it stopped.
    const long = (i: number) => `slowf/${"a".repeat(490)}${String(i).padStart(4, "0")}`;
    const match = (i: number) => `slowf/${"a".repeat(400)}b${i}`;
    const expected: string[] = [];
    for (let i = 0; i < 60; i++) {
      const path = i % 10 === 9 ? match(i) : long(i);
      if (path === match(i)) expected.push(path);
      await admin.put(`/v1/secrets/${path}`, { data: { v: i } });
    }
    const paths = Array.from({ length: 8 }, (_, k) => `slowf/*${"a".repeat(400)}b${k === 0 ? "" : "?"}*`).join(",");
    const stream = await openStream(baseUrl, { token: adminToken, headers: { "last-event-id": start!.id }, query: `?paths=${encodeURIComponent(paths)}` });
    const got = await stream.until((events) => events.filter((e) => e.data?.path).length >= expected.length, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await stream.close();
    const received = stream.events.filter((e) => e.data?.path);
    expect(received.map((e) => e.data.path)).toEqual(expected);
    expect(new Set(received.map((e) => e.id)).size).toBe(received.length);
    expect(got.length).toBeGreaterThanOrEqual(expected.length);
  });

  it("filters by the caller's read permission and by the paths and events asked for", async () => {
    const { admin, baseUrl } = vault();
    const policy = await admin.post("/v1/policies", { name: "sse-team", rules: [{ path_pattern: "team/**", permissions: ["read"] }] });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:cache" });
    const token = (await admin.post("/v1/auth/tokens", { identity_id: "sa:cache", identity_type: "service_account", scopes: ["secrets:read"] })).body.token as string;
    const stream = await openStream(baseUrl, { token });
    const narrow = await openStream(baseUrl, { token, query: "?paths=team/b/**&events=secret.updated" });
    await admin.put("/v1/secrets/elsewhere/x", { data: { v: 1 } });
    await admin.put("/v1/secrets/team/a", { data: { v: 1 } });
    await admin.put("/v1/secrets/team/b/c", { data: { v: 1 } });
    await admin.put("/v1/secrets/team/b/c", { data: { v: 2 } });
    await admin.put("/v1/secrets/team/marker", { data: { v: 1 } });
    await stream.until((e) => e.some((x) => x.data.path === "team/marker"));
    await narrow.until((e) => e.length >= 1);
    await stream.close();
    await narrow.close();
    expect(stream.events.map((e) => e.data.path)).toEqual(["team/a", "team/b/c", "team/b/c", "team/marker"]);
    expect(narrow.events.map((e) => [e.event, e.data.path])).toEqual([["secret.updated", "team/b/c"]]);

    const noScope = (await admin.post("/v1/auth/tokens", { identity_id: "sa:none", identity_type: "service_account", scopes: ["secrets:list"] })).body.token as string;
    expect((await admin.withToken(noScope).get("/v1/events/stream")).body.error.code).toBe("insufficient_scope");
    expect((await admin.get("/v1/events/stream?paths=BAD GLOB")).body.error.code).toBe("invalid_glob");
  });

  it("ends open streams and long polls cleanly when the server shuts down", async () => {
    const own = await startVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms" } });
    const stream = await openStream(own.baseUrl, { token: own.adminToken });
    expect(stream.response.status).toBe(200);
    const sub = await own.admin.post("/v1/subscriptions", { name: "p", paths: ["**"], events: ["*"], delivery: { type: "polling" } });
    const poll = own.admin.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=60`);
    await inFlight(own.baseUrl, "subscription_poll", 2);
    await own.close();
    expect((await poll).body).toEqual({ events: [], has_more: false });
    await stream.until(() => stream.ended, 5000).catch(() => undefined);
    expect(stream.ended).toBe(true);
  });
});

/** With the poll an hour away, only the commit's own signal can bring an event to a waiting stream. */
describeEachBackend("events: SSE stream woken by the commit", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "1h" } });

  it("sends a write's event without waiting for the poll", async () => {
    const { admin, baseUrl, adminToken } = vault();
    const stream = await openStream(baseUrl, { token: adminToken });
    expect(stream.response.status).toBe(200);
    // The stream waits only once it has read what was there when it connected.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await admin.put("/v1/secrets/woken/a", { data: { v: 1 } })).status).toBe(201);
    await stream.until((e) => e.some((x) => x.data.path === "woken/a"), 10_000);
    await stream.close();
  });
});
