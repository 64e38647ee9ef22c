import { beforeAll, expect, it } from "vitest";
import { SignJWT } from "jose";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { AUDIENCE, ISSUER } from "./testing/fake-scaikey.js";
import { useFakeScaiKey } from "./testing/use-fake-scaikey.js";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describeEachBackend("access: authentication (ScaiKey JWTs against a local JWKS, vault tokens)", (backend) => {
  const { env, scaikey } = useFakeScaiKey();
  const vault = useVault(backend, { env });

  const claims = { sub: "user:alice@acme.example", tenant_id: "tnt_default", scope: "secrets:read secrets:list", name: "Alice" };

  beforeAll(async () => {
    const { admin } = vault();
    await admin.put("/v1/secrets/team/sre/pager", { data: { key: "pager-key" } });
    await admin.put("/v1/secrets/team/dev/db", { data: { password: "dev-pass" } });
    const policy = await admin.post("/v1/policies", { name: "sre", rules: [{ path_pattern: "team/sre/**", permissions: ["read", "list"] }] });
    expect((await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "group", identity_id: "group:sre" })).status).toBe(201);
  });

  async function call(token: string, path = "/v1/auth/whoami") {
    return vault().anonymous.withToken(token).get(path);
  }

  it("accepts a valid RS256 token and an ES256 token, mapping the claims", async () => {
    const rs = await call(await scaikey().sign(claims));
    expect(rs.status).toBe(200);
    expect(rs.body).toMatchObject({ identity_id: "user:alice@acme.example", identity_type: "user", display_name: "Alice", tenant_id: "tnt_default", partner_id: "ptn_default", scopes: ["secrets:read", "secrets:list"], groups: [], roles: [] });
    expect(rs.body.token_expires_at).toMatch(/Z$/);
    const es = await call(await scaikey().sign({ ...claims, sub: "some-uuid", email: "bob@acme.example", role: "tenant_admin" }, { kid: "ec-1" }));
    expect(es.status).toBe(200);
    expect(es.body).toMatchObject({ identity_id: "user:bob@acme.example", roles: ["tenant_admin"] });
  });

  it("refuses a token signed by a key the JWKS does not hold (same kid, and unknown kid after a refetch)", async () => {
    const forged = await call(await scaikey().sign(claims, { kid: "rsa-rogue", headerKid: "rsa-1" }));
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe("token_invalid");
    const unknownKid = await call(await scaikey().sign(claims, { kid: "rsa-rogue" }));
    expect(unknownKid.status).toBe(401);
    expect(unknownKid.body.error.code).toBe("token_invalid");
    expect(scaikey().fetches).toBeGreaterThanOrEqual(1);
  });

  it("a remembered verification is bound to the exact token: a changed signature or changed claims are refused", async () => {
    const token = await scaikey().sign(claims);
    expect((await call(token)).status).toBe(200);
    expect((await call(token)).status).toBe(200);
    const [header, payload, signature] = token.split(".");
    const flipped = `${signature.slice(0, -2)}${signature.at(-2) === "A" ? "B" : "A"}${signature.at(-1)}`;
    const tampered = await call(`${header}.${payload}.${flipped}`);
    expect(tampered.status).toBe(401);
    expect(tampered.body.error.code).toBe("token_invalid");
    const otherPayload = b64({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), sub: "user:mallory@acme.example" });
    expect((await call(`${header}.${otherPayload}.${signature}`)).status).toBe(401);
  });

  it("refuses alg none and HMAC tokens", async () => {
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...claims, iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    const unsigned = await call(none);
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error.code).toBe("token_invalid");
    const hmac = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "rsa-1" }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("1h").sign(new TextEncoder().encode("a-shared-secret-of-32-bytes-long!"));
    const shared = await call(hmac);
    expect(shared.status).toBe(401);
    expect(shared.body.error.code).toBe("token_invalid");
  });

  it("refuses a wrong audience and a wrong issuer", async () => {
    const audience = await call(await scaikey().sign(claims, { audience: "another-app" }));
    expect(audience.status).toBe(401);
    expect(audience.body.error.code).toBe("token_invalid");
    const issuer = await call(await scaikey().sign(claims, { issuer: "https://evil.example" }));
    expect(issuer.status).toBe(401);
    expect(issuer.body.error.code).toBe("token_invalid");
  });

  it("answers token_expired for an expired token (beyond the skew), and accepts one within it", async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await call(await scaikey().sign(claims, { expiresIn: now - 120 }));
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe("token_expired");
    const withinSkew = await call(await scaikey().sign(claims, { expiresIn: now - 5 }));
    expect(withinSkew.status).toBe(200);
  });

  it("applies group bindings through the groups claim (sre and group:sre alike)", async () => {
    const member = await scaikey().sign({ ...claims, groups: ["sre", "oncall"] });
    const read = await call(member, "/v1/secrets/team/sre/pager");
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual({ key: "pager-key" });
    expect((await call(member, "/v1/secrets/team/dev/db")).status).toBe(403);
    expect((await call(member)).body.groups).toEqual(["group:sre", "group:oncall"]);
    const prefixed = await scaikey().sign({ ...claims, groups: "group:sre" });
    expect((await call(prefixed, "/v1/secrets/team/sre/pager")).status).toBe(200);
    const outsider = await scaikey().sign(claims);
    const denied = await call(outsider, "/v1/secrets/team/sre/pager");
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("access_denied");
    // Listing shows only what the group may list.
    const listed = await call(member, "/v1/secrets?prefix=team/");
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((s: { path: string }) => s.path)).toEqual(["team/sre/pager"]);
  });

  it("takes the tenant from the tenant_id claim; an unknown tenant or a contradicting partner is refused", async () => {
    const { admin } = vault();
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_jwt_other", name: "Other" })).status).toBe(201);
    const other = await scaikey().sign({ ...claims, tenant_id: "tnt_jwt_other", partner_id: "ptn_default" });
    const who = await call(other);
    expect(who.status).toBe(200);
    expect(who.body.tenant_id).toBe("tnt_jwt_other");
    // Same path, other tenant: the group's policy lives in tnt_default, so nothing is granted here.
    expect((await call(await scaikey().sign({ ...claims, tenant_id: "tnt_jwt_other", groups: ["sre"] }), "/v1/secrets/team/sre/pager")).status).toBe(403);
    const unknown = await call(await scaikey().sign({ ...claims, tenant_id: "tnt_nowhere" }));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("tenant_not_found");
    const mismatch = await call(await scaikey().sign({ ...claims, partner_id: "ptn_elsewhere" }));
    expect(mismatch.status).toBe(401);
    expect(mismatch.body.error.code).toBe("token_invalid");
    const crossing = await vault().anonymous.withToken(await scaikey().sign(claims)).get("/v1/auth/whoami", { headers: { "x-tenant-id": "tnt_jwt_other" } });
    expect(crossing.status).toBe(403);
    expect(crossing.body.error.code).toBe("tenant_access_denied");
  });

  it("a partner-level JWT (partner_id, no tenant) reads partner secrets and names tenants explicitly", async () => {
    const { admin } = vault();
    expect((await admin.put("/v1/partner/secrets/shared/jwt-key", { data: { k: "partner" } })).status).toBe(201);
    // Policies still decide for partner admins: this one reads shared/** partner-wide and, through group sre, team/sre/**.
    const shared = await admin.post("/v1/policies", { name: "partner-shared", scope: "partner", rules: [{ path_pattern: "shared/**", permissions: ["read"] }] });
    expect(shared.status).toBe(201);
    expect((await admin.post(`/v1/policies/${shared.body.id}/bindings`, { identity_type: "user", identity_id: "user:partner-ops" })).status).toBe(201);
    const partnerAdmin = await scaikey().sign({ sub: "user:partner-ops", partner_id: "ptn_default", role: "partner_admin", groups: ["sre"], scope: "secrets:read" });
    const who = await call(partnerAdmin);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ tenant_id: null, partner_id: "ptn_default", roles: ["partner_admin"] });
    expect((await call(partnerAdmin, "/v1/partner/secrets/shared/jwt-key")).body.data).toEqual({ k: "partner" });
    const noTenant = await call(partnerAdmin, "/v1/secrets/team/sre/pager");
    expect(noTenant.status).toBe(400);
    const named = await vault().anonymous.withToken(partnerAdmin).get("/v1/secrets/team/sre/pager", { headers: { "x-tenant-id": "tnt_default" } });
    expect(named.status).toBe(200);
    // Without a partner admin role, the same claims cannot name a tenant.
    const plain = await scaikey().sign({ sub: "user:partner-ops", partner_id: "ptn_default", groups: ["sre"], scope: "secrets:read" });
    expect((await vault().anonymous.withToken(plain).get("/v1/secrets/team/sre/pager", { headers: { "x-tenant-id": "tnt_default" } })).body.error.code).toBe("tenant_access_denied");
  });

  it("a ScaiKey JWT with sub or email admin (or a system: name) is an ordinary user, never the bootstrap identity (issue 13)", async () => {
    const { admin } = vault();
    for (const extra of [{ sub: "admin" }, { sub: "some-uuid", email: "admin" }, { sub: "user:admin" }]) {
      const jwt = await scaikey().sign({ ...extra, tenant_id: "tnt_default", role: "tenant_admin", scope: "admin secrets:read policies:write" });
      const who = await call(jwt);
      expect(who.body).toMatchObject({ identity_id: "user:admin", identity_type: "user" });
      const read = await call(jwt, "/v1/secrets/team/dev/db");
      expect({ extra, status: read.status, code: read.body.error?.code }).toEqual({ extra, status: 403, code: "access_denied" });
      const grab = await vault().anonymous.withToken(jwt).post("/v1/policies", { name: "grab", rules: [{ path_pattern: "**", permissions: ["admin"] }] });
      expect({ extra, status: grab.status, reason: grab.body.error?.details?.reason }).toEqual({ extra, status: 403, reason: "grant_exceeds_caller" });
    }
    for (const sub of ["system:bootstrap", "system:x"]) {
      const who = await call(await scaikey().sign({ sub, tenant_id: "tnt_default", scope: "secrets:read" }));
      expect(who.status).toBe(200);
      expect(who.body.identity_type).toBe("user");
      expect(who.body.identity_id).not.toMatch(/^system:/);
    }
    // The bootstrap token is system:bootstrap, and the built-in policy is bound to it alone.
    expect((await admin.get("/v1/auth/whoami")).body).toMatchObject({ identity_id: "system:bootstrap", identity_type: "system" });
    const builtin = (await admin.get("/v1/policies")).body.policies.find((p: { builtin: boolean }) => p.builtin);
    const bindings = await admin.get(`/v1/policies/${builtin.id}/bindings`);
    expect(bindings.body.data.map((b: { identity_id: string; identity_type: string }) => [b.identity_type, b.identity_id])).toEqual([["system", "system:bootstrap"]]);
  });

  it("bindings may name only the system identities a contract defines", async () => {
    const { admin } = vault();
    const policy = await admin.post("/v1/policies", { name: "sys-bind", rules: [{ path_pattern: "sysb/*", permissions: ["read"] }] });
    for (const [identity_type, identity_id, status] of [
      ["system", "system:bootstrap", 201], ["system", "dynamic:support-db", 201],
      ["system", "system:rotation-scheduler", 422], ["system", "system:x", 422], ["system", "user:alice", 422], ["system", "dynamic:Bad Name", 422],
      ["user", "system:bootstrap", 422], ["service_account", "dynamic:support-db", 422],
    ] as const) {
      const response = await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type, identity_id });
      expect([identity_type, identity_id, response.status]).toEqual([identity_type, identity_id, status]);
    }
    // No token can be issued for a system identity either.
    expect((await admin.post("/v1/auth/tokens", { identity_id: "system:bootstrap", scopes: ["secrets:read"] })).status).toBe(422);
  });

  it("vault tokens: unknown → token_invalid, revoked → token_revoked, expired → token_expired, no header → authentication_required", async () => {
    const { admin, anonymous, vault: server } = vault();
    expect((await anonymous.get("/v1/auth/whoami")).body.error.code).toBe("authentication_required");
    expect((await anonymous.get("/v1/auth/whoami", { headers: { authorization: "Basic abc" } })).body.error.code).toBe("authentication_required");
    const unknown = await call(`skt_${"A".repeat(43)}`);
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe("token_invalid");
    expect((await call("not-a-token")).body.error.code).toBe("token_invalid");

    const issued = await admin.post("/v1/auth/tokens", { identity_id: "user:carol", scopes: ["secrets:read"], expires_in: "1h" });
    expect(issued.status).toBe(201);
    expect((await call(issued.body.token)).status).toBe(200);
    const revoked = await admin.delete(`/v1/auth/tokens/${issued.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    const afterRevoke = await call(issued.body.token);
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.body.error.code).toBe("token_revoked");

    const short = await admin.post("/v1/auth/tokens", { identity_id: "user:dave", scopes: ["secrets:read"] });
    await server.db.run("UPDATE tokens SET expires_at = ? WHERE id = ?", [Date.now() - 1000, short.body.id]);
    const expired = await call(short.body.token);
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe("token_expired");
  });

  it("stores vault tokens only as a keyed hash, lists them without values, and introspects them", async () => {
    const { admin, vault: server, logs } = vault();
    const issued = await admin.post("/v1/auth/tokens", { identity_id: "sa:billing", identity_type: "service_account", description: "billing" });
    expect(issued.status).toBe(201);
    expect(issued.body.scopes).not.toContain("admin");
    expect(Date.parse(issued.body.expires_at) - Date.now()).toBeGreaterThan(89 * 86_400_000);
    const rows = await server.db.all<Record<string, unknown>>("SELECT * FROM tokens");
    expect(JSON.stringify(rows)).not.toContain(issued.body.token);
    expect(JSON.stringify(rows)).not.toContain(issued.body.token.slice(4));
    const audit = await server.db.all<Record<string, unknown>>("SELECT * FROM audit_log");
    expect(JSON.stringify(audit)).not.toContain(issued.body.token.slice(4));
    expect(logs.join("\n")).not.toContain(issued.body.token.slice(4));

    const list = await admin.get("/v1/auth/tokens");
    expect(list.status).toBe(200);
    const listed = list.body.data.find((t: { id: string }) => t.id === issued.body.id);
    expect(listed).toMatchObject({ identity_id: "sa:billing", identity_type: "service_account", description: "billing", revoked_at: null });
    expect(JSON.stringify(list.body)).not.toContain(issued.body.token);

    const active = await admin.post("/v1/auth/introspect", { token: issued.body.token });
    expect(active.status).toBe(200);
    expect(active.body).toMatchObject({ active: true, identity_id: "sa:billing", identity_type: "service_account", tenant_id: "tnt_default" });
    expect(active.body.issued_at).toMatch(/Z$/);
    const jwt = await admin.post("/v1/auth/introspect", { token: await scaikey().sign(claims) });
    expect(jwt.body).toMatchObject({ active: true, identity_id: "user:alice@acme.example" });
    expect((await admin.post("/v1/auth/introspect", { token: "skt_nonsense_nonsense_nonsense_nonsense" })).body).toEqual({ active: false });
    const notAdmin = await admin.post("/v1/auth/tokens", { identity_id: "user:erin", scopes: ["secrets:read"] });
    const refused = await vault().anonymous.withToken(notAdmin.body.token).post("/v1/auth/introspect", { token: issued.body.token });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("insufficient_scope");
  });

  it("only a partner admin may issue a token for an identity with partner-wide grants", async () => {
    const { admin, anonymous } = vault();
    const tenantAdmin = anonymous.withToken((await admin.post("/v1/auth/tokens", { identity_id: "user:tenant-admin", scopes: ["admin"] })).body.token);
    // An identity with a partner-wide binding whose grants the tenant admin would cover (none at all: an empty policy).
    const wide = await admin.post("/v1/policies", { name: "wide-empty", scope: "partner", rules: [] });
    expect((await admin.post(`/v1/policies/${wide.body.id}/bindings`, { identity_type: "user", identity_id: "user:partner-wide" })).status).toBe(201);
    const impersonation = await tenantAdmin.post("/v1/auth/tokens", { identity_id: "user:partner-wide", scopes: ["secrets:read"] });
    expect(impersonation.status).toBe(403);
    expect(impersonation.body.error.code).toBe("forbidden");
    expect((await tenantAdmin.post("/v1/auth/tokens", { identity_id: "user:someone", scopes: ["secrets:read"] })).status).toBe(201);
    expect((await admin.post("/v1/auth/tokens", { identity_id: "user:partner-wide", scopes: ["secrets:read"] })).status).toBe(201);
  });

  it("validates token requests with specific codes", async () => {
    const { admin } = vault();
    expect((await admin.post("/v1/auth/tokens", { identity_id: "user:x", expires_in: "soon" })).body.error.code).toBe("invalid_duration");
    const badScope = await admin.post("/v1/auth/tokens", { identity_id: "user:x", scopes: ["secrets:everything"] });
    expect(badScope.status).toBe(422);
    expect(badScope.body.error.details.fields.scopes).toBeDefined();
    const mismatch = await admin.post("/v1/auth/tokens", { identity_id: "sa:x", identity_type: "user" });
    expect(mismatch.status).toBe(422);
    const unknownField = await admin.post("/v1/auth/tokens", { identity_id: "user:x", scope: ["secrets:read"] });
    expect(unknownField.status).toBe(422);
    expect(unknownField.body.error.details.fields.scope).toBe("is not a known field");
    expect((await admin.delete("/v1/auth/tokens/tok_doesnotexist")).body.error.code).toBe("token_not_found");
  });
});
