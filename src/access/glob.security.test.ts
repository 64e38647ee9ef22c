import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { eventually } from "../events/test-receiver.js";
import { openStream } from "../testing/sse.js";

/** The docs' glob table (policies page) and SPEC §4's cases, as [pattern, path, matches]. */
const TABLE: Array<[string, string, boolean]> = [
  ["app/db", "app/db", true], ["app/db", "app/db/password", false],
  ["app/db/*", "app/db/password", true], ["app/db/*", "app/db/user", true], ["app/db/*", "app/db/primary/password", false],
  ["app/**", "app/db", true], ["app/**", "app/db/password", true], ["app/**", "other/app/db", false], ["app/**", "app", false],
  ["**/ssl/*", "app/ssl/cert", true], ["**/ssl/*", "service/ssl/key", true], ["**/ssl/*", "ssl/cert", false],
  ["a/**/b", "a/b", true], ["a/**/b", "a/x/b", true], ["a/**/b", "a/x/y/b", true], ["**", "any/path/at/all", true],
];

describeEachBackend("access: one glob matcher with SPEC §4's semantics and bounds, everywhere a pattern is accepted", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", SCAIVAULT_SSE_HEARTBEAT: "200ms" } });

  async function tokenFor(identity: string, rules: unknown[], scopes: string[]): Promise<{ client: ApiClient; token: string }> {
    const { admin, anonymous } = vault();
    const policy = await admin.post("/v1/policies", { name: `p-${identity}`, rules });
    expect(policy.status).toBe(201);
    expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: identity })).status).toBe(201);
    const issued = await admin.post("/v1/auth/tokens", { identity_id: identity, scopes });
    expect(issued.status).toBe(201);
    return { client: anonymous.withToken(issued.body.token), token: issued.body.token };
  }

  it("the policy test endpoint decides every row of the docs' table and SPEC §4's cases", async () => {
    const { admin } = vault();
    for (const [index, [pattern, path, matches]] of TABLE.entries()) {
      const policy = await admin.post("/v1/policies", { name: `row-${index}`, rules: [{ path_pattern: pattern, permissions: ["read"] }] });
      expect(policy.status).toBe(201);
      expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: `sa:row-${index}` })).status).toBe(201);
      const decision = await admin.post("/v1/policies/test", { identity_id: `sa:row-${index}`, path, permission: "read" });
      expect(decision.status).toBe(200);
      expect([pattern, path, decision.body.allowed]).toEqual([pattern, path, matches]);
    }
  });

  it("answers 400 invalid_glob for ** inside a segment, over 512 characters or over 16 wildcards: policies, subscriptions, the stream", async () => {
    const { admin, adminToken, baseUrl } = vault();
    const bad = ["a**", "**.json", `a/${"b".repeat(511)}`, Array.from({ length: 17 }, () => "?").join("/"), `${"x*".repeat(17)}`];
    const policy = await admin.post("/v1/policies", { name: "ok", rules: [{ path_pattern: "ok/*", permissions: ["read"] }] });
    const subscription = await admin.post("/v1/subscriptions", { name: "ok", paths: ["ok/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect([policy.status, subscription.status]).toEqual([201, 201]);
    for (const pattern of bad) {
      const answers = [
        await admin.post("/v1/policies", { name: "bad", rules: [{ path_pattern: pattern, permissions: ["read"] }] }),
        await admin.put(`/v1/policies/${policy.body.id}`, { name: "ok", rules: [{ path_pattern: pattern, permissions: ["read"] }] }),
        await admin.post("/v1/subscriptions", { name: "bad", paths: [pattern], events: ["secret.*"], delivery: { type: "polling" } }),
        await admin.patch(`/v1/subscriptions/${subscription.body.id}`, { paths: [pattern] }),
      ];
      expect({ pattern, answers: answers.map((a) => [a.status, a.body.error?.code]) }).toEqual({ pattern, answers: answers.map(() => [400, "invalid_glob"]) });
      const stream = await fetch(`${baseUrl}/v1/events/stream?paths=${encodeURIComponent(pattern)}`, { headers: { authorization: `Bearer ${adminToken}` } });
      expect({ pattern, status: stream.status, code: ((await stream.json()) as any).error?.code }).toEqual({ pattern, status: 400, code: "invalid_glob" });
    }
    const limit = Array.from({ length: 16 }, () => "?").join("/");
    expect((await admin.post("/v1/policies", { name: "sixteen", rules: [{ path_pattern: limit, permissions: ["read"] }] })).status).toBe(201);
  });

  // The review's pattern on a 120-character path: the RegExp took 18-25 s at 70 characters and grows
  // with the sixth power of the length, so before the fix this froze the (in-process) server for
  // many minutes; the 20 s timeout is a hang detector, not a latency bound.
  it("a secrets:read token's pathological stream filter no longer freezes the server", { timeout: 20_000 }, async () => {
    const { admin, baseUrl } = vault();
    const reader = await tokenFor("sa:stream-reader", [{ path_pattern: "**", permissions: ["read"] }], ["secrets:read"]);
    const stream = await openStream(baseUrl, { token: reader.token, query: `?paths=${encodeURIComponent("*a*a*a*a*a*a*c")}` });
    expect(stream.response.status).toBe(200);
    expect((await admin.put(`/v1/secrets/${"a".repeat(120)}`, { data: { v: 1 } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/aaaaaac", { data: { v: 1 } })).status).toBe(201);
    // The matching event, written after the pathological one, arrives: the long path was matched and passed over.
    await stream.until((events) => events.length >= 1);
    await stream.close();
    expect(stream.events.map((e) => e.data.path)).toEqual(["aaaaaac"]);
  });

  it("subscription path filters use the same semantics: **/ssl/* gets app/ssl/cert, not ssl/cert", async () => {
    const { admin } = vault();
    const poller = await tokenFor("sa:ssl-poller", [{ path_pattern: "**", permissions: ["read"] }], ["subscriptions:read", "subscriptions:write", "secrets:read"]);
    const created = await poller.client.post("/v1/subscriptions", { name: "ssl", paths: ["**/ssl/*", "top/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(created.status).toBe(201);
    for (const path of ["ssl/cert", "top", "app/ssl/cert", "top/x"]) expect((await admin.put(`/v1/secrets/${path}`, { data: { v: 1 } })).status).toBe(201);
    const polled = await eventually(() => poller.client.get(`/v1/subscriptions/${created.body.id}/poll?timeout=1`), (res) => res.body.events?.length >= 2);
    expect(polled.body.events.map((e: { path: string }) => e.path)).toEqual(["app/ssl/cert", "top/x"]);
  });

  it("stream path filters use the same semantics: **/ssl/* gets svc/ssl/key, not ssl/key; stop/** not stop", async () => {
    const { admin, baseUrl } = vault();
    const reader = await tokenFor("sa:ssl-streamer", [{ path_pattern: "**", permissions: ["read"] }], ["secrets:read"]);
    const stream = await openStream(baseUrl, { token: reader.token, query: `?paths=${encodeURIComponent("**/ssl/*")},${encodeURIComponent("stop/**")}` });
    expect(stream.response.status).toBe(200);
    for (const path of ["ssl/key", "stop", "svc/ssl/key", "stop/x"]) expect((await admin.put(`/v1/secrets/${path}`, { data: { v: 1 } })).status).toBe(201);
    await stream.until((events) => events.some((e) => e.data.path === "stop/x"));
    await stream.close();
    expect(stream.events.map((e) => e.data.path)).toEqual(["svc/ssl/key", "stop/x"]);
  });
});
