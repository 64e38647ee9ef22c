import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { planOf, statementsDuring } from "../testing/plans.js";
import { LocalIssuer } from "./testing/local-issuer.js";

const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
/** Other tenants' enabled trusts of the same issuer, each with an audience of its own. */
const OTHERS = 2_000;

/**
 * An exchange reads the trusts of its token's issuer and audiences, in one tenant, along their
 * index: it read and parsed every enabled trust of the issuer in every tenant, for an anonymous
 * caller. A tenant holds at most SCAIVAULT_MAX_TRUSTS_PER_TENANT of them (docs/benchmarks.md round 34).
 */
describeEachBackend("token exchange among many tenants' trusts of one issuer", (backend) => {
  const vault = useVault(backend, { env: { SCAIVAULT_MAX_TRUSTS_PER_TENANT: "3" } });
  let issuer: LocalIssuer;
  let scaleTrust = "";
  const trust = (name: string, audience: string) => ({
    name, issuer: issuer.url, audiences: [audience], jwks: issuer.jwks,
    rules: [{ conditions: { "kubernetes.io/namespace": "billing" }, identity_id: "sa:scale-bot", scopes: ["secrets:read"] }],
  });

  beforeAll(async () => {
    issuer = await LocalIssuer.start();
    const { admin, vault: server } = vault();
    const policy = await admin.post("/v1/policies", { name: "scale-bot", rules: [{ path_pattern: "scale/**", permissions: ["read"] }] });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:scale-bot" });
    const created = await admin.post("/v1/auth/trusts", trust("scale", "scale-aud"));
    expect(created.status).toBe(201);
    scaleTrust = created.body.id;
    const numbers = backend === "sqlite" ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${OTHERS}) SELECT n FROM s` : `SELECT generate_series(1, ${OTHERS}) AS n`;
    const body = JSON.stringify({ description: null, audiences: ["elsewhere"], jwksUrl: null, jwks: issuer.jwks, algorithms: ["RS256"], defaultTtl: "1h", maxTtl: "1h", rules: [] });
    await server.db.run(
      `INSERT INTO exchange_trusts (id, partner_id, tenant_id, name, issuer, enabled, body, created_by, created_at, updated_at)
        SELECT 'trust_other' || n, 'ptn_default', 'tnt_other' || n, 'other', ?, 1, ?, NULL, 0, 0 FROM (${numbers}) s`,
      [issuer.url, body],
    );
    await server.db.run(`INSERT INTO exchange_trust_audiences (issuer, audience, tenant_id, trust_id) SELECT ?, 'elsewhere' || n, 'tnt_other' || n, 'trust_other' || n FROM (${numbers}) s`, [issuer.url]);
  });
  afterAll(async () => issuer?.close());

  it("reads one tenant's trusts of the token's issuer and audience, not every tenant's", async () => {
    const { anonymous, vault: server } = vault();
    const jwt = await issuer.sign({ sub: "system:serviceaccount:billing:bot", "kubernetes.io": { namespace: "billing" } }, { audience: "scale-aud", expiresIn: "5m" });
    const { value, statements } = await statementsDuring(server.db, () => anonymous.post("/v1/auth/exchange", { grant_type: GRANT, subject_token: jwt }));
    expect(value.status, value.text).toBe(200);
    expect(value.body).toMatchObject({ identity_id: "sa:scale-bot", scope: "secrets:read" });
    const trustRows = statements.filter((s) => /FROM exchange_trust/.test(s.sql)).reduce((sum, s) => sum + (s.rows ?? 0), 0);
    expect(trustRows).toBeLessThanOrEqual(3);
  });

  it("refuses a token naming more audiences than any trust could accept", async () => {
    const jwt = await issuer.sign({ "kubernetes.io": { namespace: "billing" } }, { audience: Array.from({ length: 33 }, (_, i) => `aud-${i}`), expiresIn: "5m" });
    const refused = await vault().anonymous.post("/v1/auth/exchange", { grant_type: GRANT, subject_token: jwt });
    expect(refused.body.error).toMatchObject({ code: "token_invalid", details: { reason: "too_many_audiences" } });
  });

  it("holds a tenant to SCAIVAULT_MAX_TRUSTS_PER_TENANT trusts, disabled ones included", async () => {
    const { admin } = vault();
    const second = await admin.post("/v1/auth/trusts", { ...trust("quota-2", "quota-aud"), enabled: false });
    expect(second.status, second.text).toBe(201);
    expect((await admin.post("/v1/auth/trusts", trust("quota-3", "quota-aud"))).status).toBe(201);
    const refused = await admin.post("/v1/auth/trusts", trust("quota-4", "quota-aud"));
    expect({ status: refused.status, error: refused.body.error }).toMatchObject({ status: 409, error: { code: "quota_exceeded", details: { resource: "trusts", per: "tenant", limit: 3 } } });
    expect((await admin.delete(`/v1/auth/trusts/${second.body.id}`)).status).toBe(200);
    expect((await admin.post("/v1/auth/trusts", trust("quota-4", "quota-aud"))).status).toBe(201);
  });

  it("a trust's revocation ends its live tokens along their own index and leaves the expired ones expired", async () => {
    const { admin, anonymous, vault: server } = vault();
    const jwt = await issuer.sign({ sub: "system:serviceaccount:billing:bot", "kubernetes.io": { namespace: "billing" } }, { audience: "scale-aud", expiresIn: "5m" });
    const live = await anonymous.post("/v1/auth/exchange", { grant_type: GRANT, subject_token: jwt });
    expect(live.status, live.text).toBe(200);
    const numbers = backend === "sqlite" ? "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 50) SELECT n FROM s" : "SELECT generate_series(1, 50) AS n";
    // Tokens the trust issued that have expired since, as a day of CI runs leaves them.
    await server.db.run(
      `INSERT INTO tokens (id, token_hash, partner_id, tenant_id, identity_id, identity_type, scopes, roles, created_at, expires_at, kind, trust_id)
        SELECT 'tok_expired' || n, 'hash_expired' || n, 'ptn_default', 'tnt_default', 'sa:scale-bot', 'service_account', '["secrets:read"]', '[]', 0, 1000 + n, 'exchange', ? FROM (${numbers}) s`,
      [scaleTrust],
    );
    const count = async (where: string) => Number((await server.db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM tokens WHERE trust_id = ? AND ${where}`, [scaleTrust]))?.n);
    const liveBefore = await count(`revoked_at IS NULL AND expires_at > ${Date.now()}`);
    expect(liveBefore).toBeGreaterThanOrEqual(1);
    const { value, statements } = await statementsDuring(server.db, () => admin.patch(`/v1/auth/trusts/${scaleTrust}`, { enabled: false }), { writes: true });
    expect(value.status, value.text).toBe(200);
    expect(await count("revoked_at IS NOT NULL")).toBe(liveBefore);
    expect(await count("id LIKE 'tok_expired%' AND revoked_at IS NULL")).toBe(50);
    expect((await anonymous.withToken(live.body.access_token).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    const update = statements.find((st) => /^UPDATE tokens SET revoked_at/.test(st.sql))!;
    expect(update).toBeDefined();
    expect(await planOf(server.db, update.sql, update.params), update.sql).toContain("tokens_trust_live");
  });
});
