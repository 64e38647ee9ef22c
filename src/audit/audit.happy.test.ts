import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { identityWith } from "./test-fixtures.js";

describeEachBackend("audit: happy paths", (backend) => {
  const vault = useVault(backend);

  it("records a service account's read with identity, action, path, success, timestamp and request id", async () => {
    const t = vault();
    await t.admin.put("/v1/secrets/integrations/salesforce/oauth", { data: { client_id: "3MVG9...", client_secret: "REDACTED" }, secret_type: "json" });
    const reporting = await identityWith(t, { id: "sa:reporting", type: "service_account", scopes: ["secrets:read"], rules: [{ path_pattern: "integrations/**", permissions: ["read"] }] });
    const before = Date.now();
    const read = await reporting.get("/v1/secrets/integrations/salesforce/oauth", { headers: { "user-agent": "scaivault-python/1.0.0" } });
    expect(read.status).toBe(200);
    const requestId = read.headers.get("x-request-id")!;

    const logs = await t.admin.get(`/v1/audit/logs?request_id=${requestId}`);
    expect(logs.status).toBe(200);
    expect(logs.body.logs).toHaveLength(1);
    const entry = logs.body.logs[0];
    expect(entry).toMatchObject({
      action: "read",
      identity_type: "service_account",
      identity_id: "sa:reporting",
      secret_path: "integrations/salesforce/oauth",
      success: true,
      request_id: requestId,
      user_agent: "scaivault-python/1.0.0",
      tenant_id: "tnt_default",
    });
    expect(entry.id).toMatch(/^log_/);
    expect(Date.parse(entry.timestamp)).toBeGreaterThanOrEqual(before - 1000);
    expect(entry.source_ip).toBe("127.0.0.1");
    expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(entry.prev_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(entry)).not.toContain("REDACTED");
  });

  it("records a denied read with success false and its error code", async () => {
    const t = vault();
    const nosy = await identityWith(t, { id: "sa:nosy", type: "service_account", scopes: ["secrets:read"], rules: [{ path_pattern: "other/**", permissions: ["read"] }] });
    const denied = await nosy.get("/v1/secrets/integrations/salesforce/oauth");
    expect(denied.status).toBe(403);
    const logs = await t.admin.get(`/v1/audit/logs?request_id=${denied.body.error.request_id}`);
    expect(logs.body.logs).toHaveLength(1);
    expect(logs.body.logs[0]).toMatchObject({ action: "read", identity_id: "sa:nosy", secret_path: "integrations/salesforce/oauth", success: false, extra_data: { error_code: "access_denied", status: 403 } });
  });

  it("records failed authentication on the partner chain, visible to the partner admin", async () => {
    const t = vault();
    const anon = await t.anonymous.get("/v1/secrets/integrations/salesforce/oauth", { token: "skt_" + "x".repeat(43) });
    expect(anon.status).toBe(401);
    const logs = await t.admin.get(`/v1/audit/logs?request_id=${anon.body.error.request_id}`);
    expect(logs.body.logs).toHaveLength(1);
    expect(logs.body.logs[0]).toMatchObject({ tenant_id: null, identity_id: null, success: false, extra_data: { error_code: "token_invalid" } });
  });

  it("filters by action, identity, path prefix, success and time, and pages with a cursor", async () => {
    const t = vault();
    for (let i = 0; i < 5; i++) await t.admin.put(`/v1/secrets/paging/s${i}`, { data: { n: i } });
    const first = await t.admin.get("/v1/audit/logs?path_prefix=paging/&action=write&limit=2");
    expect(first.status).toBe(200);
    expect(first.body.logs).toHaveLength(2);
    expect(first.body.has_more).toBe(true);
    const seen = first.body.logs.map((l: { secret_path: string }) => l.secret_path);
    let cursor = first.body.cursor;
    while (cursor) {
      const next = await t.admin.get(`/v1/audit/logs?path_prefix=paging/&action=write&limit=2&cursor=${cursor}`);
      seen.push(...next.body.logs.map((l: { secret_path: string }) => l.secret_path));
      cursor = next.body.has_more ? next.body.cursor : null;
    }
    expect(seen.sort()).toEqual(["paging/s0", "paging/s1", "paging/s2", "paging/s3", "paging/s4"]);
    const failed = await t.admin.get("/v1/audit/logs?success=false&identity_id=sa:nosy&identity_type=service_account");
    expect(failed.body.logs.length).toBeGreaterThanOrEqual(1);
    expect(failed.body.logs.every((l: { success: boolean; identity_id: string }) => !l.success && l.identity_id === "sa:nosy")).toBe(true);
    const future = await t.admin.get(`/v1/audit/logs?from=${new Date(Date.now() + 3_600_000).toISOString()}`);
    expect(future.body).toEqual({ logs: [], cursor: null, has_more: false });
    const several = await t.admin.get("/v1/audit/logs?action=write,read&path_prefix=integrations/");
    expect(new Set(several.body.logs.map((l: { action: string }) => l.action))).toEqual(new Set(["write", "read"]));
  });

  it("shows a caller only the entries on paths its policies let it read", async () => {
    const t = vault();
    const auditor = await identityWith(t, { id: "sa:auditor", type: "service_account", scopes: ["audit:read"], rules: [{ path_pattern: "paging/**", permissions: ["read"] }] });
    const logs = await auditor.get("/v1/audit/logs?limit=1000");
    expect(logs.status).toBe(200);
    expect(logs.body.logs.length).toBeGreaterThanOrEqual(5);
    for (const entry of logs.body.logs) {
      expect(entry.secret_path === null ? entry.identity_id : entry.secret_path.startsWith("paging/")).toBeTruthy();
      if (entry.secret_path === null) expect(entry.identity_id).toBe("sa:auditor");
    }
    const trail = await auditor.get("/v1/audit/secrets/integrations/salesforce/oauth");
    expect(trail.status).toBe(403);
    expect(trail.body.error.code).toBe("access_denied");
  });

  it("answers the per-secret trail with who read it and when", async () => {
    const t = vault();
    const trail = await t.admin.get("/v1/audit/secrets/integrations/salesforce/oauth");
    expect(trail.status).toBe(200);
    expect(trail.body.path).toBe("integrations/salesforce/oauth");
    expect(trail.body.logs.every((l: { secret_path: string }) => l.secret_path === "integrations/salesforce/oauth")).toBe(true);
    expect(trail.body.summary).toMatchObject({ period_days: 30, reads: 1, writes: 1, last_read_by: "sa:reporting" });
    expect(trail.body.summary.failed_events).toBeGreaterThanOrEqual(2);
    expect(trail.body.summary.readers).toEqual([expect.objectContaining({ identity_id: "sa:reporting", reads: 1 })]);
  });

  it("answers the per-identity trail and the summary", async () => {
    const t = vault();
    const who = await t.admin.get("/v1/audit/identities/sa:reporting");
    expect(who.status).toBe(200);
    expect(who.body.identity_id).toBe("sa:reporting");
    expect(who.body.logs.map((l: { action: string }) => l.action)).toEqual(["read"]);
    expect(who.body.summary).toMatchObject({ total_events: 1, successful_events: 1, by_action: { read: 1 }, paths_accessed: 1 });
    const summary = await t.admin.get("/v1/audit/summary");
    expect(summary.status).toBe(200);
    expect(summary.body.total_events).toBe(summary.body.successful_events + summary.body.failed_events);
    expect(summary.body.by_action.write).toBeGreaterThanOrEqual(6);
    expect(summary.body.denied_events).toBeGreaterThanOrEqual(2);
    expect(summary.body.top_paths.length).toBeGreaterThan(0);
  });

  it("verifies the chains it may see", async () => {
    const t = vault();
    const verify = await t.admin.get("/v1/audit/verify");
    expect(verify.status).toBe(200);
    expect(verify.body.ok).toBe(true);
    expect(verify.body.entries).toBeGreaterThan(10);
  });

  it("needs the audit:read scope", async () => {
    const t = vault();
    const reader = await identityWith(t, { id: "sa:reader-only", type: "service_account", scopes: ["secrets:read"], rules: [{ path_pattern: "**", permissions: ["read"] }] });
    const denied = await reader.get("/v1/audit/logs");
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("insufficient_scope");
  });

  it("counts batch reads in the per-secret trail", async () => {
    const t = vault();
    const reporting = await identityWith(t, { id: "sa:batcher", type: "service_account", scopes: ["secrets:read"], rules: [{ path_pattern: "integrations/**", permissions: ["read"] }] });
    const batch = await reporting.post("/v1/secrets/batch", { paths: ["integrations/salesforce/oauth", "integrations/salesforce", "paging/s1"] });
    expect(batch.status).toBe(200);
    const trail = await t.admin.get("/v1/audit/secrets/integrations/salesforce/oauth");
    const batchEntry = trail.body.logs.find((l: { request_id: string }) => l.request_id === batch.headers.get("x-request-id"));
    expect(batchEntry).toMatchObject({ action: "read", identity_id: "sa:batcher", secret_path: null, extra_data: { paths: ["integrations/salesforce/oauth"] } });
    expect(trail.body.summary).toMatchObject({ reads: 2, last_read_by: "sa:batcher" });
    expect(trail.body.summary.readers.map((r: { identity_id: string }) => r.identity_id).sort()).toEqual(["sa:batcher", "sa:reporting"]);
    // A path the batch only failed on shows the attempt, not a read.
    const other = await t.admin.get("/v1/audit/secrets/paging/s1");
    expect(other.body.logs.some((l: { request_id: string }) => l.request_id === batch.headers.get("x-request-id"))).toBe(true);
    expect(other.body.summary.readers).toEqual([]);
    // "integrations" is only a prefix of the batch's paths, not a path it named.
    const prefix = await t.admin.get("/v1/audit/secrets/integrations");
    expect(prefix.status).toBe(200);
    expect(prefix.body.logs.some((l: { request_id: string }) => l.request_id === batch.headers.get("x-request-id"))).toBe(false);
  });
});

describeEachBackend("audit: requests to unknown routes", (backend) => {
  const vault = useVault(backend);

  it("records them too, with the error code", async () => {
    const t = vault();
    const missing = await t.admin.get("/v1/no/such/thing");
    expect(missing.status).toBe(404);
    const logs = await t.admin.get(`/v1/audit/logs?request_id=${missing.body.error.request_id}`);
    expect(logs.body.logs).toEqual([expect.objectContaining({ action: "route_not_found", identity_id: "system:bootstrap", success: false, extra_data: expect.objectContaining({ error_code: "not_found" }) })]);
  });
});
