import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault, type ApiClient } from "../testing/harness.js";
import { statementsDuring } from "../testing/plans.js";
import { GITHUB_ACTIONS_ISSUER } from "./claims.js";
import { LocalIssuer } from "./testing/local-issuer.js";

const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const now = () => Math.floor(Date.now() / 1000);

describeEachBackend("token exchange: GitHub Actions and Kubernetes tokens for short-lived vault tokens", (backend) => {
  const vault = useVault(backend);
  let issuer: LocalIssuer;
  let github: string;
  let k8s: string;
  const gh = (claims: Record<string, unknown> = {}, options: Parameters<LocalIssuer["sign"]>[1] = {}) =>
    issuer.sign({ sub: "repo:acme/api:ref:refs/heads/main", repository: "acme/api", repository_owner: "acme", ref: "refs/heads/main", ...claims }, { issuer: GITHUB_ACTIONS_ISSUER, audience: "https://github.com/acme", expiresIn: "5m", ...options });
  const exchange = (client: ApiClient, body: Record<string, unknown>) => client.post("/v1/auth/exchange", { grant_type: GRANT, ...body });

  beforeAll(async () => {
    issuer = await LocalIssuer.start();
    const { admin } = vault();
    const policy = await admin.post("/v1/policies", { name: "deploy", rules: [{ path_pattern: "app/**", permissions: ["read"] }] });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:ci-deployer" });
    await admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:billing-prod" });
    await admin.put("/v1/secrets/app/config", { data: { v: "1" } });
    await admin.put("/v1/secrets/app/other", { data: { v: "2" } });
    const ghTrust = await admin.post("/v1/auth/trusts", {
      name: "github", issuer: GITHUB_ACTIONS_ISSUER, audiences: ["https://github.com/acme"], jwks: issuer.jwks, max_ttl: "1h",
      rules: [{ conditions: { repository: "acme/api", ref: "refs/heads/main" }, identity_id: "sa:ci-deployer", scopes: ["secrets:read", "secrets:list"], max_ttl: "10m", allowed_paths: ["app/**"] }],
    });
    expect(ghTrust.status).toBe(201);
    expect(ghTrust.body).toMatchObject({ id: expect.stringMatching(/^trust_/), created_at: expect.any(String), updated_at: expect.any(String), enabled: true, algorithms: ["RS256", "ES256"] });
    github = ghTrust.body.id;
    const k8sTrust = await admin.post("/v1/auth/trusts", {
      name: "cluster", issuer: issuer.url, audiences: ["scaivault"],
      rules: [{ conditions: { "kubernetes.io/namespace": "billing", "kubernetes.io/serviceaccount/name": ["billing-*"] }, identity_id: "sa:billing-prod", scopes: ["secrets:read"] }],
    });
    expect(k8sTrust.status).toBe(201);
    k8s = k8sTrust.body.id;
  });
  afterAll(async () => issuer?.close());

  it("refuses trusts without conditions, GitHub rules without a literal owner, HMAC, group identities and admin scope", async () => {
    const { admin } = vault();
    const base = { name: "bad", issuer: GITHUB_ACTIONS_ISSUER, audiences: ["x"], jwks: issuer.jwks };
    const rule = { identity_id: "sa:x", scopes: ["secrets:read"] };
    for (const rules of [[{ ...rule, conditions: {} }], [{ ...rule, conditions: { ref: "refs/heads/main" } }], [{ ...rule, conditions: { repository: "*/api" } }], [{ ...rule, conditions: { repository: "acme/api" }, identity_id: "group:sre" }], [{ ...rule, conditions: { repository: "acme/api" }, scopes: ["admin"] }],
      // Every anonymous exchange checks each condition of each rule until one holds: 32 claims at most.
      [{ ...rule, conditions: { repository: "acme/api", ...Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`claim_${i}`, "x"])) } }]]) {
      const refused = await admin.post("/v1/auth/trusts", { ...base, rules });
      expect(refused.status).toBe(422);
      expect(refused.body.error.code).toBe("validation_error");
    }
    expect((await admin.post("/v1/auth/trusts", { ...base, algorithms: ["HS256"], rules: [{ ...rule, conditions: { repository_owner: "acme" } }] })).status).toBe(422);
    expect((await admin.post("/v1/auth/trusts", { ...base, rules: [{ ...rule, conditions: { repository_owner: "acme" } }] })).status).toBe(201);
    expect((await admin.get("/v1/auth/trusts/trust_nope")).body.error.code).toBe("trust_not_found");
  });

  it("refuses a trust rule for an identity whose grants the writer does not hold (no escalation)", async () => {
    const { admin } = vault();
    // A tenant admin (scope admin) whose own policies reach app/** only, writing rules for two identities.
    const own = await admin.post("/v1/policies", { name: "narrow-admin", rules: [{ path_pattern: "app/**", permissions: ["read", "list"] }] });
    expect(own.status, own.text).toBe(201);
    expect((await admin.post(`/v1/policies/${own.body.id}/bindings`, { identity_type: "user", identity_id: "user:narrow-admin" })).status).toBe(201);
    const wide = await admin.post("/v1/policies", { name: "wide-grant", rules: [{ path_pattern: "**", permissions: ["read"] }] });
    expect((await admin.post(`/v1/policies/${wide.body.id}/bindings`, { identity_type: "service_account", identity_id: "sa:wide-reader" })).status).toBe(201);
    const token = await admin.post("/v1/auth/tokens", { identity_id: "user:narrow-admin", identity_type: "user", scopes: ["admin"] });
    expect(token.status, token.text).toBe(201);
    const narrow = admin.withToken(token.body.token);
    // Its own audience, so these trusts never answer the other tests' exchanges.
    const trust = { issuer: GITHUB_ACTIONS_ISSUER, audiences: ["https://github.com/escalation-test"], jwks: issuer.jwks };
    const refused = await narrow.post("/v1/auth/trusts", { ...trust, name: "escalate", rules: [{ conditions: { repository: "acme/api" }, identity_id: "sa:wide-reader", scopes: ["secrets:read"] }] });
    expect(refused.status, refused.text).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "access_denied", details: { reason: "grant_exceeds_caller" } });
    // sa:ci-deployer holds read on app/** only, which the writer holds too.
    const allowed = await narrow.post("/v1/auth/trusts", { ...trust, name: "covered", rules: [{ conditions: { repository: "acme/api" }, identity_id: "sa:ci-deployer", scopes: ["secrets:read"] }] });
    expect(allowed.status, allowed.text).toBe(201);
  });

  it("a GitHub-shaped token is exchanged (form-encoded too); the token reads only its allowed paths, expires within its trust and cannot mint tokens", async () => {
    const { anonymous, admin } = vault();
    const response = await exchange(anonymous, { subject_token: await gh(), expires_in: "24h", allowed_paths: ["app/config"] });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.body).toEqual({
      access_token: expect.stringMatching(/^skt_/), issued_token_type: "urn:ietf:params:oauth:token-type:access_token", token_type: "Bearer", expires_in: 600,
      scope: "secrets:read secrets:list", expires_at: expect.any(String), token_id: expect.stringMatching(/^tok_/), identity_id: "sa:ci-deployer",
    });
    const token = anonymous.withToken(response.body.access_token);
    expect((await token.get("/v1/secrets/app/config")).status).toBe(200);
    expect((await token.get("/v1/secrets/app/other")).body.error.code).toBe("access_denied");
    const mint = await token.post("/v1/auth/tokens", { identity_id: "sa:ci-deployer", scopes: ["secrets:read"] });
    expect(mint.status).toBe(403);
    expect(mint.body.error.code).toBe("forbidden");
    const listed = await admin.get("/v1/auth/tokens");
    expect(listed.body.data.find((t: { id: string }) => t.id === response.body.token_id)).toMatchObject({ kind: "exchange", trust_id: github, subject: "repo:acme/api:ref:refs/heads/main" });
    const form = new URLSearchParams({ grant_type: GRANT, subject_token: await gh(), scope: "secrets:read" });
    const viaForm = await anonymous.post("/v1/auth/exchange", undefined, { raw: form.toString(), headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(viaForm.status).toBe(200);
    expect(viaForm.body.scope).toBe("secrets:read");
    const audit = await vault().vault.db.all<{ extra_data: string }>("SELECT extra_data FROM audit_log WHERE action = 'token_exchange' AND success = 1");
    expect(audit.some((a) => a.extra_data.includes("repo:acme/api:ref:refs/heads/main") && !a.extra_data.includes("eyJ"))).toBe(true);
  });

  it("refuses more allowed_paths than a trust rule may hold, and longer ones: every later check of the token walks them all", async () => {
    const { anonymous } = vault();
    const many = Array.from({ length: 33 }, (_, i) => `app/never-${i}/**`);
    const tooMany = await exchange(anonymous, { subject_token: await gh(), allowed_paths: many });
    expect(tooMany.status, tooMany.text).toBe(422);
    expect(tooMany.body.error).toMatchObject({ code: "validation_error", details: { fields: { allowed_paths: "at most 32 path globs of at most 512 characters each" } } });
    const tooLong = await exchange(anonymous, { subject_token: await gh(), allowed_paths: `app/${"a".repeat(509)}` });
    expect(tooLong.status, tooLong.text).toBe(422);
    // At the limits the exchange works, and the token still reads only inside both lists.
    const atLimit = await exchange(anonymous, { subject_token: await gh(), allowed_paths: [...many.slice(3), `app/${"a".repeat(508)}`, "app/config"] });
    expect(atLimit.status, atLimit.text).toBe(200);
    const token = anonymous.withToken(atLimit.body.access_token);
    expect((await token.get("/v1/secrets/app/config")).status).toBe(200);
    expect((await token.get("/v1/secrets/app/other")).body.error.code).toBe("access_denied");
  });

  it("a Kubernetes-shaped token is exchanged with the issuer's keys found through discovery", async () => {
    const jwt = await issuer.sign({ sub: "system:serviceaccount:billing:billing-prod", "kubernetes.io": { namespace: "billing", serviceaccount: { name: "billing-prod", uid: "u-1" } } }, { audience: ["scaivault"], expiresIn: "10m" });
    const response = await exchange(vault().anonymous, { subject_token: jwt, role: "sa:billing-prod" });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ identity_id: "sa:billing-prod", expires_in: 900, scope: "secrets:read" });
    expect((await vault().anonymous.withToken(response.body.access_token).get("/v1/secrets/app/other")).status).toBe(200);
    // A rule without max_ttl: the trust's (default 1h) shortens a longer ask, and the token says so.
    const long = await exchange(vault().anonymous, { subject_token: jwt, expires_in: "24h" });
    expect(long.body.expires_in).toBe(3600);
    const introspected = await vault().anonymous.withToken(long.body.access_token).get("/v1/auth/whoami");
    expect(Date.parse(introspected.body.token_expires_at) - Date.now()).toBeLessThanOrEqual(3600_000);
    const wrongNs = await issuer.sign({ "kubernetes.io": { namespace: "default", serviceaccount: { name: "billing-prod" } } }, { audience: "scaivault", expiresIn: "10m" });
    expect((await exchange(vault().anonymous, { subject_token: wrongNs })).body.error).toMatchObject({ code: "access_denied", details: { reason: "no_matching_rule" } });
  });

  it("refuses the wrong issuer, audience, claim, signature, expired tokens, alg none, HMAC and scopes beyond the rule", async () => {
    const { anonymous } = vault();
    const claims = { sub: "repo:acme/api:ref:refs/heads/main", repository: "acme/api", ref: "refs/heads/main", iss: GITHUB_ACTIONS_ISSUER, aud: "https://github.com/acme", exp: now() + 300, iat: now() };
    const cases: Array<[string, Promise<string> | string, number, string]> = [
      ["wrong issuer", gh({}, { issuer: "https://evil.example" }), 401, "token_invalid"],
      ["wrong audience", gh({}, { audience: "https://github.com/evil" }), 401, "token_invalid"],
      ["wrong claim", gh({ repository: "acme/other" }), 403, "access_denied"],
      ["wrong signature", gh({}, { rogue: true }), 401, "token_invalid"],
      ["expired", gh({}, { expiresIn: now() - 120 }), 401, "token_expired"],
      ["alg none", issuer.forged(claims, "none"), 401, "token_invalid"],
      ["HMAC", issuer.forged(claims, "HS256"), 401, "token_invalid"],
    ];
    for (const [label, token, status, code] of cases) {
      const refused = await exchange(anonymous, { subject_token: await token });
      expect({ label, status: refused.status, code: refused.body.error?.code }).toEqual({ label, status, code });
    }
    // Refusals are audited too, with the foreign subject once the signature is good, never the token.
    const refusals = await vault().vault.db.all<{ extra_data: string; tenant_id: string }>("SELECT extra_data, tenant_id FROM audit_log WHERE action = 'token_exchange' AND success = 0");
    const claimRefusal = refusals.map((r) => ({ ...JSON.parse(r.extra_data), tenant_id: r.tenant_id })).find((r) => r.trust_id === github && r.subject === "repo:acme/api:ref:refs/heads/main");
    expect(claimRefusal).toMatchObject({ tenant_id: "tnt_default", issuer: GITHUB_ACTIONS_ISSUER });
    expect(refusals.length).toBeGreaterThanOrEqual(cases.length - 1);
    expect(refusals.every((r) => !r.extra_data.includes("eyJ"))).toBe(true);
    const scope = await exchange(anonymous, { subject_token: await gh(), scope: "secrets:write" });
    expect(scope.body.error).toMatchObject({ code: "insufficient_scope", details: { scopes: ["secrets:write"] } });
    expect((await exchange(anonymous, { subject_token: await gh(), extra: 1 })).status).toBe(422);
    expect((await anonymous.post("/v1/auth/exchange", { subject_token: await gh() })).body.error.code).toBe("invalid_request");
  });

  it("two tenants trusting one issuer and audience need tenant_id; role picks the rule; a token not yet valid is refused", async () => {
    const { admin, anonymous } = vault();
    expect((await admin.post("/v1/identity/tenants", { id: "tnt_shared", name: "Shared issuer" })).status).toBe(201);
    const trust = (name: string) => ({ name, issuer: issuer.url, audiences: ["shared"], jwks: issuer.jwks, rules: [
      { conditions: { sub: "job" }, identity_id: "sa:billing-prod", scopes: ["secrets:read"] },
      { conditions: { sub: "job" }, identity_id: "sa:ci-deployer", scopes: ["secrets:read"] },
    ] });
    expect((await admin.post("/v1/auth/trusts", trust("shared-default"))).status).toBe(201);
    const other = await admin.post("/v1/auth/trusts", trust("shared-other"), { headers: { "x-tenant-id": "tnt_shared" } });
    expect(other.status, other.text).toBe(201);
    const jwt = await issuer.sign({ sub: "job" }, { audience: "shared", expiresIn: "5m" });
    const ambiguous = await exchange(anonymous, { subject_token: jwt });
    expect({ status: ambiguous.status, error: ambiguous.body.error }).toMatchObject({ status: 400, error: { code: "invalid_request", details: { reason: "tenant_required" } } });
    const named = await exchange(anonymous, { subject_token: jwt, tenant_id: "tnt_shared", role: "sa:ci-deployer" });
    expect(named.status, named.text).toBe(200);
    expect(named.body.identity_id).toBe("sa:ci-deployer");
    expect((await anonymous.withToken(named.body.access_token).get("/v1/auth/whoami")).body).toMatchObject({ identity_id: "sa:ci-deployer", tenant_id: "tnt_shared" });
    expect((await exchange(anonymous, { subject_token: jwt, tenant_id: "tnt_default" })).body.identity_id).toBe("sa:billing-prod");
    expect((await exchange(anonymous, { subject_token: jwt, tenant_id: "tnt_default", role: "sa:nobody" })).body.error).toMatchObject({ code: "access_denied", details: { reason: "no_matching_rule" } });
    const early = await issuer.sign({ sub: "job", nbf: now() + 600 }, { audience: "shared", expiresIn: "20m" });
    expect((await exchange(anonymous, { subject_token: early, tenant_id: "tnt_default" })).body.error?.code).toBe("token_invalid");
    const future = await issuer.sign({ sub: "job" }, { audience: "shared", expiresIn: now() + 1200, issuedAt: now() + 600 });
    expect((await exchange(anonymous, { subject_token: future, tenant_id: "tnt_default" })).body.error?.code).toBe("token_invalid");
  });

  it("an issuer whose keys cannot be fetched (error answer, refused connection) is service_unavailable, not token_invalid", async () => {
    const { admin, anonymous } = vault();
    const broken = createServer((_request, response) => response.writeHead(500).end("{}"));
    await new Promise<void>((resolve) => broken.listen(0, "127.0.0.1", resolve));
    const port = (broken.address() as AddressInfo).port;
    try {
      const trust = await admin.post("/v1/auth/trusts", { name: "keys-down", issuer: issuer.url, audiences: ["keys-down"], jwks_url: `http://127.0.0.1:${port}/keys`, rules: [{ conditions: { sub: "pod" }, identity_id: "sa:billing-prod", scopes: ["secrets:read"] }] });
      expect(trust.status, trust.text).toBe(201);
      const jwt = await issuer.sign({ sub: "pod" }, { audience: "keys-down", expiresIn: "5m" });
      const answer = await exchange(anonymous, { subject_token: jwt });
      expect({ status: answer.status, code: answer.body.error?.code }).toEqual({ status: 503, code: "service_unavailable" });
      expect((await admin.delete(`/v1/auth/trusts/${trust.body.id}`)).status).toBe(200);
    } finally {
      broken.closeAllConnections();
      await new Promise<void>((resolve) => broken.close(() => resolve()));
    }
    const refused = await admin.post("/v1/auth/trusts", { name: "keys-gone", issuer: issuer.url, audiences: ["keys-gone"], jwks_url: `http://127.0.0.1:${port}/keys`, rules: [{ conditions: { sub: "pod" }, identity_id: "sa:billing-prod", scopes: ["secrets:read"] }] });
    expect(refused.status).toBe(201);
    const answer = await exchange(anonymous, { subject_token: await issuer.sign({ sub: "pod" }, { audience: "keys-gone", expiresIn: "5m" }) });
    expect({ status: answer.status, code: answer.body.error?.code }).toEqual({ status: 503, code: "service_unavailable" });
  });

  it("an exchanged token expires on its own; disabling or deleting the trust revokes what it issued", async () => {
    const { anonymous, admin } = vault();
    const short = await exchange(anonymous, { subject_token: await gh(), expires_in: 1 });
    expect(short.body.expires_in).toBe(1);
    const until = Date.now() + 30_000;
    let code = "";
    while (code !== "token_expired" && Date.now() < until) {
      code = (await anonymous.withToken(short.body.access_token).get("/v1/auth/whoami")).body.error?.code ?? "";
      if (code !== "token_expired") await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(code).toBe("token_expired");
    // A token cannot outlive the trust it came from: narrowing the trust's rules revokes what it
    // issued under the old ones; a change of name or description does not.
    const before = await exchange(anonymous, { subject_token: await gh() });
    expect(before.body.scope).toBe("secrets:read secrets:list");
    expect((await admin.patch(`/v1/auth/trusts/${github}`, { description: "deploys" })).status).toBe(200);
    expect((await anonymous.withToken(before.body.access_token).get("/v1/auth/whoami")).status).toBe(200);
    const rules = (await admin.get(`/v1/auth/trusts/${github}`)).body.rules;
    const narrowed = await admin.patch(`/v1/auth/trusts/${github}`, { rules: [{ ...rules[0], scopes: ["secrets:read"] }] });
    expect(narrowed.status, narrowed.text).toBe(200);
    const outgrown = await anonymous.withToken(before.body.access_token).get("/v1/auth/whoami");
    expect(outgrown.body.error?.code).toBe("token_revoked");
    const live = await exchange(anonymous, { subject_token: await gh() });
    expect(live.body.scope).toBe("secrets:read");
    expect((await anonymous.withToken(live.body.access_token).get("/v1/auth/whoami")).status).toBe(200);
    expect((await admin.patch(`/v1/auth/trusts/${github}`, { enabled: false })).status).toBe(200);
    expect((await anonymous.withToken(live.body.access_token).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    expect((await exchange(anonymous, { subject_token: await gh() })).body.error.code).toBe("token_invalid");
    const jwt = await issuer.sign({ "kubernetes.io": { namespace: "billing", serviceaccount: { name: "billing-prod" } } }, { audience: "scaivault", expiresIn: "10m" });
    const pod = await exchange(anonymous, { subject_token: jwt });
    // Three live tokens from the cluster trust: the Kubernetes test's two and this pod's.
    expect((await admin.get("/v1/secrets/app/config")).status).toBe(200);
    expect((await admin.delete(`/v1/auth/trusts/${k8s}`)).body).toMatchObject({ deleted: true, tokens_revoked: 3 });
    expect((await anonymous.withToken(pod.body.access_token).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    // Revoking a trust's tokens changes no policy: another identity's next read compiles none.
    const { statements, value } = await statementsDuring(vault().vault.db, () => admin.get("/v1/secrets/app/config"));
    expect(value.status).toBe(200);
    expect(statements.filter((s) => /FROM policies p\b|policy_bindings/.test(s.sql)).map((s) => s.sql.slice(0, 60))).toEqual([]);
  });

  it("a trust whose rules name one identity reads that identity's policies once, however many rules", async () => {
    const { admin, vault: v } = vault();
    const trust = (name: string, rules: number) => admin.post("/v1/auth/trusts", {
      name, issuer: GITHUB_ACTIONS_ISSUER, audiences: [`https://github.com/${name}`], jwks: issuer.jwks,
      rules: Array.from({ length: rules }, (_, i) => ({ conditions: { repository: `acme/api-${i}` }, identity_id: "sa:ci-deployer", scopes: ["secrets:read"] })),
    });
    const policyReads = async (name: string, rules: number) => {
      const { statements, value } = await statementsDuring(v.db, () => trust(name, rules));
      expect(value.status, value.text).toBe(201);
      return statements.filter((s) => /policy_bindings/.test(s.sql)).length;
    };
    const one = await policyReads("one-rule", 1);
    expect(one).toBeGreaterThan(0);
    expect(await policyReads("eight-rules", 8)).toBe(one);
  });
});
