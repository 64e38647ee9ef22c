import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { GITHUB_ACTIONS_ISSUER } from "../identity/claims.js";
import { LocalIssuer } from "../identity/testing/local-issuer.js";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";
import { cli, useCliHome } from "./cli-harness.js";

// identity domain: `scaivault auth login --exchange` (src/cli/commands/exchange.ts).
describeEachBackend("scaivault auth login --exchange", (backend) => {
  const vault = useVault(backend);
  const { home } = useCliHome(vault);
  let issuer: LocalIssuer;
  let oidc: Server;
  let oidcUrl = "";
  let asked: string | null = null;

  beforeAll(async () => {
    issuer = await LocalIssuer.start();
    const trust = await vault().admin.post("/v1/auth/trusts", {
      name: "gha", issuer: GITHUB_ACTIONS_ISSUER, audiences: ["scaivault"], jwks: issuer.jwks,
      rules: [{ conditions: { repository: "acme/api" }, identity_id: "sa:deployer", scopes: ["secrets:read"] }],
    });
    expect(trust.status).toBe(201);
    // GitHub's runner-side OIDC endpoint: answers {value} to the job's request token.
    oidc = createServer(async (request, response) => {
      asked = new URL(request.url ?? "/", "http://x").searchParams.get("audience");
      if (request.headers.authorization !== "Bearer runner-token") return response.writeHead(401).end();
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ value: await issuer.sign({ repository: "acme/api", sub: "repo:acme/api:ref:refs/heads/main" }, { issuer: GITHUB_ACTIONS_ISSUER, audience: "scaivault", expiresIn: "5m" }) }));
    });
    await new Promise<void>((resolve) => oidc.listen(0, "127.0.0.1", resolve));
    oidcUrl = `http://127.0.0.1:${(oidc.address() as AddressInfo).port}/token?api-version=2.0`;
  });
  afterAll(async () => {
    await issuer?.close();
    await new Promise<void>((resolve) => oidc?.close(() => resolve()));
  });

  it("--jwt-file and --github-actions save an exchanged token; bad tokens exit 2", async () => {
    const jwt = await issuer.sign({ repository: "acme/api" }, { issuer: GITHUB_ACTIONS_ISSUER, audience: "scaivault", expiresIn: "5m" });
    const file = join(mkdtempSync(join(tmpdir(), "jwt-")), "token.jwt");
    writeFileSync(file, `${jwt}\n`);
    const env = { HOME: home(), SCAIVAULT_URL: vault().baseUrl };
    const login = await cli(["auth", "login", "--exchange", "--jwt-file", file, "--role", "sa:deployer"], env);
    expect(login.stderr).toBe("");
    expect(login.code).toBe(0);
    expect(login.stdout).toContain("logged in as sa:deployer");
    const saved = JSON.parse(readFileSync(join(home(), ".scaivault", "config.json"), "utf8")).token;
    expect(saved).toMatch(/^skt_/);
    expect((await vault().anonymous.withToken(saved).get("/v1/auth/whoami")).body.identity_id).toBe("sa:deployer");
    const gha = await cli(["auth", "login", "--exchange", "--github-actions"], { ...env, ACTIONS_ID_TOKEN_REQUEST_URL: oidcUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: "runner-token" });
    expect(gha.code).toBe(0);
    expect(asked).toBe("scaivault");
    writeFileSync(file, await issuer.sign({ repository: "acme/api" }, { issuer: GITHUB_ACTIONS_ISSUER, audience: "scaivault", expiresIn: "5m", rogue: true }));
    expect((await cli(["auth", "login", "--exchange", "--jwt-file", file], env)).code).toBe(2);
    expect((await cli(["auth", "login", "--exchange"], env)).code).toBe(5);
  });
});
