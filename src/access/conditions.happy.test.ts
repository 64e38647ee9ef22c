import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { useFakeScaiKey } from "./testing/use-fake-scaikey.js";

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

describeEachBackend("access: rule conditions and deny rules on real requests", (backend) => {
  const { env, scaikey } = useFakeScaiKey();
  const vault = useVault(backend, { env });

  let vaultToken: ApiClient;
  const jwt = async (extra: Record<string, unknown>) =>
    vault().anonymous.withToken(await scaikey().sign({ sub: "user:cond", tenant_id: "tnt_default", scope: "secrets:read", ...extra }));

  beforeAll(async () => {
    const { admin, anonymous } = vault();
    const now = Date.now();
    for (const path of ["cond/ip/here", "cond/ip/away", "cond/mfa/x", "cond/time/open", "cond/time/closed", "cond/deny/ok", "cond/deny/secret"]) {
      await admin.put(`/v1/secrets/${path}`, { data: { path } });
    }
    const policy = await admin.post("/v1/policies", {
      name: "conditions",
      rules: [
        { path_pattern: "cond/ip/here", permissions: ["read"], conditions: { ip_ranges: ["127.0.0.0/8", "::1/128"] } },
        { path_pattern: "cond/ip/away", permissions: ["read"], conditions: { ip_ranges: ["10.0.0.0/8"] } },
        { path_pattern: "cond/mfa/*", permissions: ["read"], conditions: { require_mfa: true } },
        { path_pattern: "cond/time/open", permissions: ["read"], conditions: { time_window: { start: hhmm(now - 3_600_000), end: hhmm(now + 3_600_000), timezone: "UTC" } } },
        { path_pattern: "cond/time/closed", permissions: ["read"], conditions: { time_window: { start: hhmm(now + 3 * 3_600_000), end: hhmm(now + 4 * 3_600_000), timezone: "UTC" } } },
        { path_pattern: "cond/deny/*", permissions: ["read"] },
        { path_pattern: "cond/deny/secret", permissions: ["read"], effect: "deny" },
      ],
    });
    expect(policy.status).toBe(201);
    expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "user", identity_id: "user:cond" })).status).toBe(201);
    vaultToken = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "user:cond", scopes: ["secrets:read"] })).body.token);
  });

  it("ip_ranges: the caller's address must be inside; outside answers ip_not_allowed naming the condition", async () => {
    expect((await vaultToken.get("/v1/secrets/cond/ip/here")).status).toBe(200);
    const away = await vaultToken.get("/v1/secrets/cond/ip/away");
    expect(away.status).toBe(403);
    expect(away.body.error.code).toBe("ip_not_allowed");
    expect(away.body.error.details.failed_condition).toBe("ip_ranges");
  });

  it("require_mfa: a fresh MFA verification is needed", async () => {
    const none = await vaultToken.get("/v1/secrets/cond/mfa/x");
    expect(none.status).toBe(403);
    expect(none.body.error.code).toBe("mfa_required");
    expect(none.body.error.details.failed_condition).toBe("require_mfa");
    const nowSeconds = Math.floor(Date.now() / 1000);
    expect((await (await jwt({ mfa_verified_at: nowSeconds - 60 })).get("/v1/secrets/cond/mfa/x")).status).toBe(200);
    expect((await (await jwt({ amr: ["pwd", "mfa"], auth_time: nowSeconds - 60 })).get("/v1/secrets/cond/mfa/x")).status).toBe(200);
    const stale = await (await jwt({ mfa_verified_at: nowSeconds - 3 * 3600 })).get("/v1/secrets/cond/mfa/x");
    expect(stale.status).toBe(403);
    expect(stale.body.error.code).toBe("mfa_required");
    const who = await (await jwt({ mfa_verified_at: nowSeconds - 60 })).get("/v1/auth/whoami");
    expect(who.body.mfa_verified_at).toBe(new Date((nowSeconds - 60) * 1000).toISOString());
  });

  it("time_window: inside is allowed, outside answers time_window_violation", async () => {
    expect((await vaultToken.get("/v1/secrets/cond/time/open")).status).toBe(200);
    const closed = await vaultToken.get("/v1/secrets/cond/time/closed");
    expect(closed.status).toBe(403);
    expect(closed.body.error.code).toBe("time_window_violation");
    expect(closed.body.error.details.failed_condition).toBe("time_window");
  });

  it("a matching deny rule wins over an allow rule", async () => {
    expect((await vaultToken.get("/v1/secrets/cond/deny/ok")).status).toBe(200);
    const denied = await vaultToken.get("/v1/secrets/cond/deny/secret");
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("access_denied");
  });

  it("time windows honour the timezone and the days through the dry-run endpoint", async () => {
    const { admin } = vault();
    const policy = await admin.post("/v1/policies", {
      name: "office-hours",
      rules: [{ path_pattern: "office/**", permissions: ["read"], conditions: { time_window: { start: "08:00", end: "18:00", timezone: "Europe/Amsterdam", days: ["mon", "tue", "wed", "thu", "fri"] } } }],
    });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "user", identity_id: "user:office" });
    const at = async (timestamp: string) => (await admin.post("/v1/policies/test", { identity_id: "user:office", path: "office/doc", permission: "read", context: { timestamp } })).body;
    // Wednesday 2026-04-22: 07:30 UTC is 09:30 in Amsterdam (CEST, UTC+2).
    expect(await at("2026-04-22T07:30:00Z")).toMatchObject({ allowed: true });
    expect(await at("2026-04-22T05:30:00Z")).toMatchObject({ allowed: false, code: "time_window_violation", failed_condition: "time_window" });
    expect(await at("2026-04-22T16:30:00Z")).toMatchObject({ allowed: false, code: "time_window_violation" });
    // Saturday 2026-04-25 at noon local.
    expect(await at("2026-04-25T10:00:00Z")).toMatchObject({ allowed: false, code: "time_window_violation" });
  });
});
