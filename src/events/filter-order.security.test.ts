/**
 * Issue 13: the caller's permission is checked before any pattern work. A caller's own filter
 * patterns (stream `paths`, subscription `paths`, batch-metadata globs) are matched only against
 * paths the caller may see; before the fix the stream and the dispatcher matched first, so one
 * pathological pattern cost every tenant CPU on paths its author could never read.
 *
 * The glob module is wrapped to record every (pattern, path) a matcher is asked about; the
 * server runs in this process, so the record is complete. The filter patterns below are used by no
 * policy, so every recorded call with them is filter work.
 */
import { expect, it, vi } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { eventually } from "./test-receiver.js";

const calls = vi.hoisted(() => [] as Array<[string, string]>);

vi.mock("../access/glob.js", async (importOriginal) => {
  const original = await importOriginal<Record<string, unknown>>();
  type Matcher = { test(path: string): boolean };
  const recorded = (make: (pattern: string) => Matcher) => (pattern: string) => {
    const inner = make(pattern);
    return new Proxy(inner, {
      get: (target, key) => (key === "test" ? (path: string) => (calls.push([pattern, path]), target.test(path)) : Reflect.get(target, key)),
    });
  };
  const wrapped: Record<string, unknown> = { ...original };
  // Both names: the pre-fix code compiled with compileGlob, today's shares globMatcher.
  for (const name of ["globMatcher", "compileGlob"]) if (typeof original[name] === "function") wrapped[name] = recorded(original[name] as (p: string) => Matcher);
  return wrapped;
});

const asked = (pattern: string) => calls.filter(([p]) => p === pattern).map(([, path]) => path);

describeEachBackend("events: the caller's read permission is checked before any pattern work (issue 13)", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_EVENTS_POLL_INTERVAL: "100ms", SCAIVAULT_SSE_HEARTBEAT: "200ms" } });

  async function readerToken(identity: string, scopes: string[]): Promise<string> {
    const { admin } = vault();
    const policy = await admin.post("/v1/policies", { name: `mine-${identity}`, rules: [{ path_pattern: "mine/**", permissions: ["read", "list"] }] });
    expect(policy.status).toBe(201);
    expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: identity })).status).toBe(201);
    const issued = await admin.post("/v1/auth/tokens", { identity_id: identity, scopes });
    expect(issued.status).toBe(201);
    return issued.body.token;
  }

  it("the stream's paths filter never sees a path the caller may not read", { timeout: 60_000 }, async () => {
    const { admin, baseUrl } = vault();
    const token = await readerToken("sa:stream-order", ["secrets:read"]);
    const filter = "**/*s*t*r*e*a*m";
    const controller = new AbortController();
    const response = await fetch(`${baseUrl}/v1/events/stream?paths=${encodeURIComponent(filter)}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    expect(response.status).toBe(200);
    let text = "";
    const pump = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
      } catch {
        // aborted
      }
    })();
    expect((await admin.put("/v1/secrets/other/x-stream", { data: { v: 1 } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/mine/x-stream", { data: { v: 1 } })).status).toBe(201);
    // The readable event, written after the unreadable one, arrives: both have been through the loop.
    await eventually(async () => text, (t) => t.includes('"path":"mine/x-stream"'));
    controller.abort();
    await pump;
    expect(text).not.toContain("other/x-stream");
    expect(asked(filter)).toContain("mine/x-stream");
    expect(asked(filter)).not.toContain("other/x-stream");
  });

  it("a subscription's paths are matched only against events its owner may read", { timeout: 60_000 }, async () => {
    const { admin, anonymous } = vault();
    const client = anonymous.withToken(await readerToken("sa:sub-order", ["secrets:read", "subscriptions:read", "subscriptions:write"]));
    const filter = "**/*s*u*b*s";
    const created = await client.post("/v1/subscriptions", { name: "order", paths: [filter], events: ["secret.*"], delivery: { type: "polling" } });
    expect(created.status).toBe(201);
    expect((await admin.put("/v1/secrets/other/y-subs", { data: { v: 1 } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/mine/y-subs", { data: { v: 1 } })).status).toBe(201);
    const polled = await eventually(() => client.get(`/v1/subscriptions/${created.body.id}/poll?timeout=1`), (res) => res.body.events?.length >= 1);
    expect(polled.body.events.map((e: { path: string }) => e.path)).toEqual(["mine/y-subs"]);
    expect(asked(filter)).toContain("mine/y-subs");
    expect(asked(filter)).not.toContain("other/y-subs");
  });

  it("batch metadata with expand_wildcards matches its globs only against paths the caller may list", async () => {
    const { admin, anonymous } = vault();
    const client = anonymous.withToken(await readerToken("sa:batch-order", ["secrets:read", "secrets:list"]));
    for (const path of ["other/z-batch", "mine/z-batch"]) expect((await admin.put(`/v1/secrets/${path}`, { data: { v: 1 } })).status).toBe(201);
    const filter = "*/*b*a*t*c*h";
    const answer = await client.post("/v1/secrets/batch/metadata", { paths: [filter], expand_wildcards: true });
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body.secrets)).toEqual(["mine/z-batch"]);
    expect(asked(filter)).toContain("mine/z-batch");
    expect(asked(filter)).not.toContain("other/z-batch");
  });
});
