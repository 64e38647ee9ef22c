import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { GITHUB_ACTIONS_ISSUER } from "../identity/claims.js";
import { LocalIssuer } from "../identity/testing/local-issuer.js";
import { startupSync, useStandIn, waitForSync } from "../identity/testing/use-standin.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { cli, useCliHome } from "./cli-harness.js";

// identity domain: `scaivault identity …`, `scaivault trusts …`, personal `tokens create`, and
// docs/identity.md's worked example (a GitHub Actions job reading one secret, no stored credential).
describeEachBackend("scaivault identity, trusts and personal tokens", (backend) => {
  const { env: standInEnv } = useStandIn();
  const vault = useVault(backend, { env: standInEnv });
  const { env } = useCliHome(vault);
  let issuer: LocalIssuer;
  let oidc: Server;
  let oidcUrl = "";
  let dir: string;
  const json = (stdout: string) => JSON.parse(stdout);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cli-identity-"));
    issuer = await LocalIssuer.start();
    // GitHub's runner-side OIDC endpoint: a token for this job's repository and branch, for the audience asked.
    oidc = createServer(async (request, response) => {
      if (request.headers.authorization !== "Bearer runner-token") return response.writeHead(401).end();
      const audience = new URL(request.url ?? "/", "http://x").searchParams.get("audience") ?? "";
      const value = await issuer.sign({ sub: "repo:acme/api:ref:refs/heads/main", repository: "acme/api", repository_owner: "acme", ref: "refs/heads/main" }, { issuer: GITHUB_ACTIONS_ISSUER, audience, expiresIn: "5m" });
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ value }));
    });
    await new Promise<void>((resolve) => oidc.listen(0, "127.0.0.1", resolve));
    oidcUrl = `http://127.0.0.1:${(oidc.address() as AddressInfo).port}/token?api-version=2.0`;
    await waitForSync(vault().admin, (await startupSync(vault().admin)).sync_id);
  });
  afterAll(async () => {
    await issuer?.close();
    await new Promise<void>((resolve) => oidc?.close(() => resolve()));
  });

  it("docs/identity.md's worked example: a GitHub Actions job reads one secret with no stored credential", async () => {
    const admin = env();
    expect((await cli(["secrets", "write", "ci/deploy/registry-password", "value=s3cret"], admin)).code).toBe(0);
    expect((await cli(["secrets", "write", "ci/other", "value=not-for-ci"], admin)).code).toBe(0);
    writeFileSync(join(dir, "deploy-read.json"), JSON.stringify({ name: "ci-deploy-read", rules: [{ path_pattern: "ci/deploy/*", permissions: ["read"] }] }));
    const policy = await cli(["policies", "create", "--file", join(dir, "deploy-read.json"), "-o", "json"], admin);
    expect(policy.code, policy.stderr).toBe(0);
    expect((await cli(["policies", "bind", json(policy.stdout).id, "--identity", "sa:ci-deployer", "--identity-type", "service_account"], admin)).code).toBe(0);
    // The docs' trust, with the stand-in issuer's keys inline (GitHub's own JWKS is not reachable here).
    writeFileSync(join(dir, "trust.json"), JSON.stringify({
      name: "github-acme-api", issuer: GITHUB_ACTIONS_ISSUER, audiences: ["scaivault"], max_ttl: "15m", jwks: issuer.jwks,
      rules: [{ conditions: { repository: "acme/api", ref: "refs/heads/main" }, identity_id: "sa:ci-deployer", scopes: ["secrets:read"], allowed_paths: ["ci/deploy/*"] }],
    }));
    const trust = await cli(["trusts", "create", "--file", join(dir, "trust.json"), "-o", "json"], admin);
    expect(trust.code, trust.stderr).toBe(0);
    const trustId = json(trust.stdout).id as string;
    expect(json((await cli(["trusts", "list", "-o", "json"], admin)).stdout).data.map((t: { id: string }) => t.id)).toContain(trustId);

    // The job: no token in its environment or config, only the runner's OIDC request variables.
    const job = { HOME: mkdtempSync(join(tmpdir(), "cli-job-")), SCAIVAULT_URL: vault().baseUrl, ACTIONS_ID_TOKEN_REQUEST_URL: oidcUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: "runner-token" };
    const login = await cli(["auth", "login", "--exchange", "--github-actions", "--audience", "scaivault", "--role", "sa:ci-deployer"], job);
    expect(login.code, login.stderr).toBe(0);
    const read = await cli(["secrets", "read", "ci/deploy/registry-password", "--field", "value"], job);
    expect({ code: read.code, stdout: read.stdout.trim() }).toEqual({ code: 0, stdout: "s3cret" });
    // Only the trust's allowed paths, and nothing once the trust is disabled.
    expect((await cli(["secrets", "read", "ci/other", "--field", "value"], job)).code).not.toBe(0);
    expect(json((await cli(["trusts", "disable", trustId, "-o", "json"], admin)).stdout).enabled).toBe(false);
    const after = await cli(["secrets", "read", "ci/deploy/registry-password", "--field", "value"], job);
    expect(after.code).not.toBe(0);
    expect(after.stdout).not.toContain("s3cret");
  });

  it("identity commands read the directory cache, run a sync and show its history", async () => {
    const admin = env();
    const users = await cli(["identity", "users", "tnt_default", "-o", "json"], admin);
    expect(users.code, users.stderr).toBe(0);
    expect(json(users.stdout).users.map((u: { id: string }) => u.id).sort()).toEqual(["usr_alice", "usr_bob"]);
    const resolved = json((await cli(["identity", "resolve", "user", "alice@acme.example", "-o", "json"], admin)).stdout);
    expect(resolved).toMatchObject({ id: "usr_alice", identity_id: "user:alice@acme.example" });
    expect(resolved.groups.sort()).toEqual(["group:platform", "group:sre"]);
    const sync = await cli(["identity", "sync", "--wait", "-o", "json"], admin);
    expect(sync.code, sync.stderr).toBe(0);
    expect(json(sync.stdout)).toMatchObject({ status: "completed", trigger: "manual" });
    const history = json((await cli(["identity", "sync-history", "--limit", "1", "-o", "json"], admin)).stdout);
    expect(history.syncs[0].sync_id).toBe(json(sync.stdout).sync_id);
    expect(json((await cli(["identity", "roles", "-o", "json"], admin)).stdout).roles.map((r: { name: string }) => r.name)).toEqual(["tenant_admin", "partner_admin", "super_admin"]);
    const missing = await cli(["identity", "resolve", "user", "nobody@acme.example"], admin);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("identity_not_found");
  });

  it("tokens create without --identity makes a personal token for the caller, within the caller's scopes", async () => {
    const issued = await vault().admin.post("/v1/auth/tokens", { identity_id: "user:alice@acme.example", scopes: ["secrets:read", "secrets:list"] });
    expect(issued.status).toBe(201);
    const alice = env({ SCAIVAULT_TOKEN: issued.body.token });
    const created = await cli(["tokens", "create", "--scopes", "secrets:read", "--description", "laptop", "-o", "json"], alice);
    expect(created.code, created.stderr).toBe(0);
    expect(json(created.stdout)).toMatchObject({ kind: "personal", identity_id: "user:alice@acme.example", scopes: ["secrets:read"] });
    const excess = await cli(["tokens", "create", "--scopes", "secrets:write"], alice);
    expect(excess.code).not.toBe(0);
    expect(excess.stderr).toContain("insufficient_scope");
    const listed = json((await cli(["tokens", "list", "--kind", "personal", "-o", "json"], alice)).stdout).data;
    expect(listed.map((t: { id: string; identity_id: string }) => [t.id, t.identity_id])).toEqual([[json(created.stdout).id, "user:alice@acme.example"]]);
  });
});
