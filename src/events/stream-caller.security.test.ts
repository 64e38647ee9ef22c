import { beforeAll, expect, it } from "vitest";
import { baseFixture, startupSync, syncNow, useStandIn, waitForSync } from "../identity/testing/use-standin.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { openStream, type OpenStream } from "../testing/sse.js";

const RECHECK_MS = 200;
const env = { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", SCAIVAULT_CREDENTIAL_RECHECK: `${RECHECK_MS}ms` };

/** The paths a stream delivered once `marker` (a path the caller may read throughout) has arrived. */
async function pathsUpTo(stream: OpenStream, marker: string): Promise<string[]> {
  await stream.until((events) => events.some((e) => e.data.path === marker));
  return stream.events.map((e) => e.data.path);
}

/**
 * An open event stream filters by the caller's `read` permission as it is now (SPEC §7), not as
 * it was when the stream connected: a group left in the directory, a binding removed or a tenant
 * suspended applies to the very next event, as it does to the next request.
 */
describeEachBackend("events: an open stream's caller as it is now", (backend) => {
  const { env: directoryEnv, standIn } = useStandIn(baseFixture, env);
  const vault = useVault(backend, { env: directoryEnv });
  let aliceToken = "";

  const put = async (path: string) => expect((await vault().admin.put(`/v1/secrets/${path}`, { data: { v: 1 } })).status).toBe(201);
  const policy = async (name: string, pattern: string, identity: { identity_type: string; identity_id: string }) => {
    const created = await vault().admin.post("/v1/policies", { name, rules: [{ path_pattern: pattern, permissions: ["read"] }] });
    expect(created.status).toBe(201);
    const bound = await vault().admin.post(`/v1/policies/${created.body.id}/bindings`, identity);
    expect(bound.status).toBe(201);
    return { policyId: created.body.id as string, bindingId: bound.body.id as string };
  };

  beforeAll(async () => {
    const { admin } = vault();
    expect((await waitForSync(admin, (await startupSync(admin)).sync_id)).status).toBe("completed");
    await policy("sre-reads-team", "team/**", { identity_type: "group", identity_id: "group:sre" });
    await policy("alice-reads-mine", "mine/**", { identity_type: "user", identity_id: "user:alice@acme.example" });
    const token = await admin.post("/v1/auth/tokens", { identity_id: "user:alice@acme.example", scopes: ["secrets:read"] });
    expect(token.status).toBe(201);
    aliceToken = token.body.token;
  });

  it("stops delivering a group's paths once the caller left the group in the directory", async () => {
    const stream = await openStream(vault().baseUrl, { token: aliceToken });
    expect(stream.response.status).toBe(200);
    await put("team/a");
    await put("mine/1");
    expect(await pathsUpTo(stream, "mine/1")).toEqual(["team/a", "mine/1"]);
    standIn().edit((f) => {
      f.memberships = f.memberships.filter((m) => !(m.group_id === "grp_sre" && m.member_id === "usr_alice"));
    });
    await syncNow(vault().admin);
    await put("team/b");
    await put("mine/2");
    expect(await pathsUpTo(stream, "mine/2")).toEqual(["team/a", "mine/1", "mine/2"]);
    await stream.close();
  });

  it("stops delivering a policy's paths once its binding is removed", async () => {
    const ops = await policy("alice-reads-ops", "ops/**", { identity_type: "user", identity_id: "user:alice@acme.example" });
    const stream = await openStream(vault().baseUrl, { token: aliceToken });
    await put("ops/a");
    await put("mine/3");
    expect(await pathsUpTo(stream, "mine/3")).toEqual(["ops/a", "mine/3"]);
    expect((await vault().admin.delete(`/v1/policies/${ops.policyId}/bindings/${ops.bindingId}`)).status).toBe(200);
    await put("ops/b");
    await put("mine/4");
    expect(await pathsUpTo(stream, "mine/4")).toEqual(["ops/a", "mine/3", "mine/4"]);
    await stream.close();
  });

  it("keeps a console session's stream open past its credential rechecks", async () => {
    const signedIn = await fetch(`${vault().baseUrl}/v1/ui/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: aliceToken }) });
    expect(signedIn.status).toBe(201);
    const cookie = (signedIn.headers.get("set-cookie") ?? "").split(";")[0];
    const csrf = ((await signedIn.json()) as { csrf_token: string }).csrf_token;
    const stream = await openStream(vault().baseUrl, { headers: { cookie, "x-csrf-token": csrf } });
    expect(stream.response.status).toBe(200);
    // Ten rechecks: the first one used to end the stream (it looked for a bearer and found none).
    await new Promise((resolve) => setTimeout(resolve, 10 * RECHECK_MS));
    await put("mine/5");
    expect(await pathsUpTo(stream, "mine/5")).toEqual(["mine/5"]);
    expect(stream.ended).toBe(false);
    await stream.close();
  });

  it("ends the stream with tenant_access_denied once the directory suspends the tenant", async () => {
    const { admin, anonymous } = vault();
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "user:dave@acme.example", scopes: ["secrets:read"] }, { headers: { "x-tenant-id": "tnt_two" } });
    expect(issued.status).toBe(201);
    const stream = await openStream(vault().baseUrl, { token: issued.body.token });
    expect(stream.response.status).toBe(200);
    standIn().edit((f) => {
      f.tenants.find((t) => t.id === "tnt_two")!.status = "SUSPENDED";
    });
    await syncNow(admin);
    await stream.until((events) => events.some((e) => e.event === "error"));
    await stream.finished;
    const last = stream.events[stream.events.length - 1];
    expect(last.event).toBe("error");
    expect(last.data.error).toMatchObject({ code: "tenant_access_denied", details: { reason: "tenant_suspended" } });
    expect((await anonymous.withToken(issued.body.token).get("/v1/auth/whoami")).body.error.code).toBe("tenant_access_denied");
  });
});

/**
 * Without waiting for the recheck (an hour here): a revocation moves an access counter, so the
 * events read after it are judged by a fresh admission, which refuses the revoked token.
 */
describeEachBackend("events: a revoked token's stream and long poll get nothing committed after the revocation", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", SCAIVAULT_CREDENTIAL_RECHECK: "1h" } });

  const issue = async (identity: string) => {
    const issued = await vault().admin.post("/v1/auth/tokens", { identity_id: identity, identity_type: "service_account", scopes: ["secrets:read", "subscriptions:read", "subscriptions:write"] });
    expect(issued.status).toBe(201);
    const policy = await vault().admin.post("/v1/policies", { name: `${identity.slice(3)}-reads`, rules: [{ path_pattern: "feed/**", permissions: ["read"] }] });
    expect((await vault().admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: identity })).status).toBe(201);
    return { id: issued.body.id as string, token: issued.body.token as string };
  };
  const put = async (path: string) => expect((await vault().admin.put(`/v1/secrets/${path}`, { data: { v: 1 } })).status).toBe(201);

  it("ends the stream with token_revoked at the first event after the revocation", async () => {
    const { id, token } = await issue("sa:feed-stream");
    const stream = await openStream(vault().baseUrl, { token });
    await put("feed/a");
    await stream.until((events) => events.some((e) => e.data.path === "feed/a"));
    expect((await vault().admin.delete(`/v1/auth/tokens/${id}`)).status).toBe(200);
    await put("feed/b");
    await stream.until((events) => events.some((e) => e.event === "error"));
    await stream.finished;
    expect(stream.events.map((e) => e.event)).toEqual(["secret.created", "error"]);
    expect(stream.events[1].data.error.code).toBe("token_revoked");
  });

  it("answers a long poll 401 when its token was revoked before its events came", async () => {
    const { id, token } = await issue("sa:feed-poll");
    const owner = vault().anonymous.withToken(token);
    const sub = await owner.post("/v1/subscriptions", { name: "feed", paths: ["feed/**"], events: ["secret.*"], delivery: { type: "polling" } });
    expect(sub.status).toBe(201);
    const poll = owner.get(`/v1/subscriptions/${sub.body.id}/poll?timeout=20`);
    // The poll is waiting (nothing buffered); revoke underneath it, then give it an event.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await vault().admin.delete(`/v1/auth/tokens/${id}`)).status).toBe(200);
    await put("feed/c");
    const answer = await poll;
    expect(answer.status, answer.text).toBe(401);
    expect(answer.body.error.code).toBe("token_revoked");
  });
});
