import { beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";

type Rule = { path_pattern: string; permissions: string[]; effect?: string; conditions?: Record<string, unknown> };

const exceeds = (response: { status: number; body: any }) => ({ status: response.status, code: response.body.error?.code, reason: response.body.error?.details?.reason });
const REFUSED = { status: 403, code: "access_denied", reason: "grant_exceeds_caller" };

describeEachBackend("access: no escalation (SPEC §4): nobody grants what they do not hold", (backend) => {
  const vault = useVault(backend);
  let writer: ApiClient;
  let tenantAdmin: ApiClient;
  let adminPolicy: string;

  /** As the bootstrap admin: a policy with these rules bound to the identity, and a token for it. */
  async function identityWith(identity: string, rules: Rule[], scopes: string[]): Promise<ApiClient> {
    const { admin, anonymous } = vault();
    const policy = await admin.post("/v1/policies", { name: `for-${identity}`, rules });
    expect(policy.status).toBe(201);
    expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "user", identity_id: identity })).status).toBe(201);
    const token = await admin.post("/v1/auth/tokens", { identity_id: identity, scopes });
    expect(token.status).toBe(201);
    return anonymous.withToken(token.body.token);
  }

  beforeAll(async () => {
    const { admin } = vault();
    writer = await identityWith("user:writer", [
      { path_pattern: "app/**", permissions: ["read", "list"] },
      { path_pattern: "app/secret/*", permissions: ["read"], effect: "deny" },
      { path_pattern: "mfa/**", permissions: ["read"], conditions: { require_mfa: true } },
    ], ["policies:read", "policies:write"]);
    tenantAdmin = await identityWith("user:tenant-admin", [{ path_pattern: "team/**", permissions: ["admin"] }], ["admin"]);
    const created = await admin.post("/v1/policies", { name: "everything", rules: [{ path_pattern: "**", permissions: ["admin"] }] });
    expect(created.status).toBe(201);
    adminPolicy = created.body.id;
    expect((await admin.post(`/v1/policies/${adminPolicy}/bindings`, { identity_type: "user", identity_id: "user:root-ops" })).status).toBe(201);
  });

  it("policies:write alone cannot create admin on ** (the review's finding); a covered policy is created", async () => {
    const grab = await writer.post("/v1/policies", { name: "grab", rules: [{ path_pattern: "**", permissions: ["admin"] }] });
    expect(exceeds(grab)).toEqual(REFUSED);
    expect(grab.body.error.details).toMatchObject({ rule_index: 0, path_pattern: "**" });
    for (const rules of [
      [{ path_pattern: "app/**", permissions: ["write"] }],
      [{ path_pattern: "app/**", permissions: ["read"] }], // app/secret/* is denied to the writer
      [{ path_pattern: "app", permissions: ["read"] }], // app/** does not match app itself
      [{ path_pattern: "mfa/x", permissions: ["read"] }], // the writer holds it only with MFA
      [{ path_pattern: "app/db/*", permissions: ["read"] }, { path_pattern: "other/*", permissions: ["list"] }],
    ]) expect({ rules, ...exceeds(await writer.post("/v1/policies", { name: "more", rules })) }).toEqual({ rules, ...REFUSED });
    const fine = await writer.post("/v1/policies", { name: "db-readers", rules: [
      { path_pattern: "app/db/*", permissions: ["read", "list"] },
      { path_pattern: "mfa/x", permissions: ["read"], conditions: { require_mfa: true } },
      { path_pattern: "**", permissions: ["admin"], effect: "deny" },
    ] });
    expect(fine.status).toBe(201);
  });

  it("update (PUT and PATCH), bind, unbind and delete need the same cover", async () => {
    const { admin } = vault();
    const own = await writer.post("/v1/policies", { name: "own", rules: [{ path_pattern: "app/db/*", permissions: ["read"] }] });
    expect(own.status).toBe(201);
    expect(exceeds(await writer.put(`/v1/policies/${own.body.id}`, { name: "own", rules: [{ path_pattern: "**", permissions: ["read"] }] }))).toEqual(REFUSED);
    expect(exceeds(await writer.patch(`/v1/policies/${own.body.id}`, { rules: [{ path_pattern: "app/*/*", permissions: ["write"] }] }))).toEqual(REFUSED);
    expect((await writer.patch(`/v1/policies/${own.body.id}`, { rules: [{ path_pattern: "app/db/*", permissions: ["read", "list"] }] })).status).toBe(200);
    const bound = await writer.post(`/v1/policies/${own.body.id}/bindings`, { identity_type: "user", identity_id: "user:colleague" });
    expect(bound.status).toBe(201);

    // Someone else's policy that grants more than the writer holds: no bind, unbind, change or delete.
    expect(exceeds(await writer.post(`/v1/policies/${adminPolicy}/bindings`, { identity_type: "user", identity_id: "user:writer" }))).toEqual(REFUSED);
    const bindings = await admin.get(`/v1/policies/${adminPolicy}/bindings`);
    expect(bindings.body.data).toHaveLength(1);
    expect(exceeds(await writer.delete(`/v1/policies/${adminPolicy}/bindings/${bindings.body.data[0].id}`))).toEqual(REFUSED);
    expect(exceeds(await writer.patch(`/v1/policies/${adminPolicy}`, { description: "mine now" }))).toEqual(REFUSED);
    expect(exceeds(await writer.delete(`/v1/policies/${adminPolicy}?force=true`))).toEqual(REFUSED);
    expect((await admin.get(`/v1/policies/${adminPolicy}/bindings`)).body.data).toHaveLength(1);

    // Its own covered policy bound to others: unbind and delete pass.
    expect((await writer.delete(`/v1/policies/${own.body.id}/bindings/${bound.body.id}`)).status).toBe(200);
    expect((await writer.delete(`/v1/policies/${own.body.id}?force=true`)).status).toBe(200);

    // An unbound policy the writer could not have created (the admin made it): deleting it takes nothing from anyone.
    const loose = await admin.post("/v1/policies", { name: "loose", rules: [{ path_pattern: "**", permissions: ["admin"] }] });
    expect((await writer.delete(`/v1/policies/${loose.body.id}`)).status).toBe(200);
  });

  it("the bootstrap admin (a partner admin) is excepted", async () => {
    const { admin } = vault();
    expect((await admin.post("/v1/policies", { name: "admin-may", rules: [{ path_pattern: "**", permissions: ["admin"] }] })).status).toBe(201);
  });

  it("tokens: a non-admin token cannot issue one for another identity; an admin-scoped one only for identities it covers", async () => {
    const { admin } = vault();
    const plain = await writer.post("/v1/auth/tokens", { identity_id: "user:someone", scopes: ["secrets:read"] });
    expect({ status: plain.status, code: plain.body.error?.code }).toEqual({ status: 403, code: "insufficient_scope" });

    const covered = await admin.post("/v1/policies", { name: "team-db", rules: [{ path_pattern: "team/db/*", permissions: ["read"] }] });
    expect((await admin.post(`/v1/policies/${covered.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:team-db" })).status).toBe(201);
    const ok = await tenantAdmin.post("/v1/auth/tokens", { identity_id: "sa:team-db", scopes: ["secrets:read"] });
    expect(ok.status).toBe(201);
    expect((await tenantAdmin.post("/v1/auth/tokens", { identity_id: "user:nobody-bound", scopes: ["secrets:read"] })).status).toBe(201);

    const root = await tenantAdmin.post("/v1/auth/tokens", { identity_id: "user:root-ops", scopes: ["secrets:read"] });
    expect(exceeds(root)).toEqual(REFUSED);
    // A token for oneself is not a token for another identity.
    expect((await tenantAdmin.post("/v1/auth/tokens", { identity_id: "user:tenant-admin", scopes: ["secrets:read"] })).status).toBe(201);
  });
});
