import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { pgScratch, type Scratch } from "../dynamic/testing.js";
import { startupSync, useStandIn, waitForSync } from "../identity/testing/use-standin.js";
import { OpenSsl } from "../pki/testing.js";
import { startVault, type TestVault } from "../testing/harness.js";
import { axeViolations, browserAvailable, ensureConsoleBuilt, launchBrowser, tracedPage, waitShown, watchCsp, type ApiTrace, type Browser } from "./testing/browser.js";

/**
 * The console's domain pages (identity, token exchange, audit retention, PKI, dynamic credentials)
 * in Debian's Chromium against a real vault: one browser and one vault for the file, the directory
 * served by the ScaiKey stand-in, dynamic credentials against the local PostgreSQL. Steps
 * synchronise on what the page shows, never on sleeps.
 */
const run = browserAvailable("console domain pages browser tests") ? describe : describe.skip;

run("console domain pages in a real browser", { timeout: 120_000 }, () => {
  const { env } = useStandIn();
  let vault: TestVault;
  let browser: Browser;
  let page: Page;
  let cspViolations: () => Promise<string[]>;
  let pg: Scratch;
  const ssl = new OpenSsl();
  /** Every /v1 answer the page received (a private key must arrive only with the issue). */
  const trace: ApiTrace = { statuses: [], bodies: [] };
  const bodies = trace.bodies;
  const axeFindings: Record<string, string[]> = {};

  const axeCheck = async (name: string) => {
    axeFindings[name] = await axeViolations(page);
  };
  const shows = (what: string, locator: ReturnType<Page["locator"]>) => waitShown(page, trace, what, locator);
  const goto = async (path: string, heading: string | RegExp) => {
    await page.goto(`${vault.baseUrl}${path}`);
    await shows(`heading ${String(heading)}`, page.getByRole("heading", { level: 1, name: heading }));
  };
  const form = (name: string) => page.getByRole("form", { name });
  const table = (name: string | RegExp) => page.getByRole("table", { name });
  const bodyText = () => page.locator("body").innerText();

  beforeAll(async () => {
    ensureConsoleBuilt();
    vault = await startVault("sqlite", { env });
    await waitForSync(vault.admin, (await startupSync(vault.admin)).sync_id);
    pg = await pgScratch();
    browser = await launchBrowser();
    cspViolations = await watchCsp(browser.context);
    page = await tracedPage(browser, trace);
    await page.goto(`${vault.baseUrl}/ui/`);
    await page.getByLabel("Token").fill(vault.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await shows("the secrets page", page.getByRole("heading", { level: 1, name: "Secrets" }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await vault?.close();
    await pg?.drop();
    rmSync(ssl.dir, { recursive: true, force: true });
  });

  it("Access → Identity: the synced directory's users, groups with members, service accounts; resolve; Sync now adds to the history", async () => {
    await goto("/ui/access/identity", "Identity");
    await shows("Alice", table("Users of tnt_default").getByRole("cell", { name: "alice@acme.example", exact: true }));
    await axeCheck("identity");
    await page.getByLabel("Search").fill("bob");
    await page.getByRole("button", { name: "Filter" }).click();
    await shows("Bob", table("Users of tnt_default").getByRole("cell", { name: "bob@acme.example", exact: true }));
    // Bob was listed before the filter too: wait for the filtered list, in which Alice is gone.
    await table("Users of tnt_default").getByRole("cell", { name: "alice@acme.example", exact: true }).waitFor({ state: "detached" });
    await page.getByLabel("Search").fill("");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByRole("combobox", { name: "Show" }).selectOption("groups");
    await page.getByRole("button", { name: "Members of platform" }).click();
    // Nested groups are resolved: Alice is in platform through sre.
    await shows("inherited member", table(/Members of grp_platform/).getByRole("cell", { name: "INHERITED via grp_sre" }));
    await page.getByRole("combobox", { name: "Show" }).selectOption("service-accounts");
    await shows("the CI bot", table("Service accounts of tnt_default").getByRole("cell", { name: "ci-bot", exact: true }));

    const resolve = form("Resolve an identity");
    await resolve.getByLabel("Identity").fill("alice@acme.example");
    await resolve.getByRole("button", { name: "Resolve" }).click();
    await shows("resolved identity", page.getByTestId("resolved").getByText("usr_alice"));
    await resolve.getByLabel("Identity").fill("nobody@acme.example");
    await resolve.getByRole("button", { name: "Resolve" }).click();
    await shows("the API's code", resolve.getByRole("alert").filter({ hasText: "identity_not_found" }));

    const before = (await vault.admin.get("/v1/identity/sync/history")).body.total as number;
    await page.getByRole("button", { name: "Sync now" }).click();
    await shows("a manual sync", table("Recent syncs").getByRole("cell", { name: "manual" }).first());
    expect((await vault.admin.get("/v1/identity/sync/history")).body.total).toBe(before + 1);
    await axeCheck("identity after sync");
  });

  it("Access → Token Exchange: creates a trust with a rule, tries a pasted token against it, disables and deletes it", async () => {
    await goto("/ui/access/exchange", "Token exchange");
    await axeCheck("token exchange");
    const create = form("Create a trust");
    await create.getByLabel("Name", { exact: true }).fill("cluster");
    await create.getByLabel("Issuer", { exact: true }).fill("https://issuer.example.com");
    await create.getByLabel("Audiences").fill("scaivault");
    await create.getByLabel(/Conditions/).fill("kubernetes.io/namespace=billing\nsub=system:serviceaccount:billing:*");
    await create.getByLabel("Identity").fill("sa:billing");
    await create.getByLabel("Scopes").fill("secrets:read");
    await create.getByRole("button", { name: "Create" }).click();
    await shows("the trust", table("Trusts").getByRole("cell", { name: "cluster", exact: true }));
    const trusts = (await vault.admin.get("/v1/auth/trusts")).body;
    const trust = (trusts.data ?? trusts.trusts).find((t: { name: string }) => t.name === "cluster");
    expect(trust).toMatchObject({ issuer: "https://issuer.example.com", audiences: ["scaivault"], enabled: true, rules: [{ identity_id: "sa:billing", scopes: ["secrets:read"], conditions: { "kubernetes.io/namespace": "billing", sub: "system:serviceaccount:billing:*" } }] });

    // A refused write shows the API's code: an issuer over plain http off loopback.
    await create.getByLabel("Name", { exact: true }).fill("bad");
    await create.getByLabel("Issuer", { exact: true }).fill("http://issuer.example.com");
    await create.getByRole("button", { name: "Create" }).click();
    await shows("validation error", create.getByRole("alert").filter({ hasText: "validation_error" }));

    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const claims = { iss: "https://issuer.example.com", aud: "scaivault", sub: "system:serviceaccount:billing:api", "kubernetes.io/namespace": "billing" };
    await page.getByLabel("JWT").fill(`${b64({ alg: "RS256" })}.${b64(claims)}.c2ln`);
    await shows("the rule holds", table("Rules for this token").getByText("yes"));
    await page.getByLabel("JWT").fill(`${b64({ alg: "RS256" })}.${b64({ ...claims, sub: "system:serviceaccount:other:api" })}.c2ln`);
    await shows("the failing condition", table("Rules for this token").getByText("no: sub"));
    await axeCheck("token exchange, try a token");

    await page.getByRole("button", { name: "Disable cluster" }).click();
    await shows("enable button", page.getByRole("button", { name: "Enable cluster" }));
    expect((await vault.admin.get(`/v1/auth/trusts/${trust.id}`)).body.enabled).toBe(false);
    await page.getByRole("button", { name: "Delete cluster" }).click();
    await shows("empty list", table("Trusts").getByText("No trusts yet."));
    expect((await vault.admin.get(`/v1/auth/trusts/${trust.id}`)).body.error.code).toBe("trust_not_found");
  });

  it("Audit → Retention: shows the default, sets a longer one and reads it back after a reload; a too-short one shows the API's code", async () => {
    await goto("/ui/audit/retention", "Audit retention");
    const facts = page.getByTestId("retention");
    const defaultDays = (await vault.admin.get("/v1/audit/retention")).body.days as number;
    await shows("the current days", facts.getByText(String(defaultDays), { exact: true }).first());
    await axeCheck("audit retention");
    const longer = defaultDays + 100;
    await page.getByLabel("Days").fill(String(longer));
    await page.getByRole("button", { name: "Save" }).click();
    await shows("the new days", facts.getByText(String(longer), { exact: true }));
    expect((await vault.admin.get("/v1/audit/retention")).body).toMatchObject({ days: longer, pending: null, updated_by: "system:bootstrap" });
    await page.reload();
    await shows("the new days after a reload", page.getByTestId("retention").getByText(String(longer), { exact: true }));
    await page.getByLabel("Days").fill("-1");
    await page.getByRole("button", { name: "Save" }).click();
    await shows("validation error", page.getByRole("alert").filter({ hasText: "validation_error" }));
  });

  it("PKI: creates a root and an intermediate CA, views the chain, a role, issues a certificate whose private key is shown once then gone, revokes it", async () => {
    await goto("/ui/pki/cas", "PKI");
    await axeCheck("pki cas");
    const ca = form("Create a CA");
    await ca.getByLabel("Name", { exact: true }).fill("root-ca");
    await ca.getByLabel("Common name").fill("Example Root CA");
    await ca.getByRole("button", { name: "Create" }).click();
    await shows("root CA", table("Certificate authorities").getByRole("cell", { name: "Example Root CA" }));
    await ca.getByLabel("Name", { exact: true }).fill("int-ca");
    await ca.getByLabel("Common name").fill("Example Issuing CA");
    await ca.getByRole("combobox", { name: "Type", exact: true }).selectOption("intermediate");
    await ca.getByLabel("Validity (days)").fill("1000");
    await ca.getByRole("button", { name: "Create" }).click();
    await shows("intermediate CA", table("Certificate authorities").getByRole("cell", { name: "Example Issuing CA" }));
    await page.getByRole("button", { name: "View chain of int-ca" }).click();
    const chainDialog = page.getByRole("dialog", { name: "Chain of int-ca" });
    await shows("issuer chain", chainDialog.getByLabel("Issuer chain").getByText(/BEGIN CERTIFICATE/));
    await axeCheck("pki chain dialog");
    await page.keyboard.press("Escape");
    await chainDialog.waitFor({ state: "detached" });

    await page.getByRole("link", { name: "Roles", exact: true }).click();
    const role = form("Create a role");
    await shows("role form", role);
    const cas = (await vault.admin.get("/v1/pki/ca")).body.data as Array<{ id: string; name: string }>;
    await role.getByLabel("Name", { exact: true }).fill("web");
    await role.getByRole("combobox", { name: "CA", exact: true }).selectOption(cas.find((c) => c.name === "int-ca")!.id);
    await role.getByLabel("Allowed domains").fill("example.com");
    await role.getByRole("button", { name: "Create" }).click();
    await shows("role", table("Roles").getByRole("cell", { name: "web", exact: true }));
    await axeCheck("pki roles");

    await page.getByRole("link", { name: "Certificates", exact: true }).click();
    const issue = form("Issue a certificate");
    await shows("issue form", issue);
    await axeCheck("pki certificates");
    expect(bodies.some((b) => b.body.includes("PRIVATE KEY"))).toBe(false);
    expect(await bodyText()).not.toContain("PRIVATE KEY");
    await issue.getByLabel("Common name").fill("api.example.com");
    await issue.getByRole("button", { name: "Issue" }).click();
    const once = page.getByRole("dialog", { name: "Certificate for api.example.com" });
    await shows("the private key", once.getByTestId("once-Private key").getByText(/BEGIN (EC )?PRIVATE KEY/));
    await axeCheck("pki issued dialog");
    await once.getByRole("button", { name: "Done" }).click();
    await once.waitFor({ state: "detached" });
    expect(await page.content()).not.toContain("PRIVATE KEY");
    const row = table("Certificates").getByRole("row").filter({ hasText: "api.example.com" });
    await shows("issued certificate", row.getByRole("cell", { name: "valid", exact: true }));
    // Reloading the list brings no key back (the API never returns it again).
    await page.reload();
    await shows("issued certificate after reload", table("Certificates").getByRole("cell", { name: "api.example.com" }).first());
    expect(await page.content()).not.toContain("PRIVATE KEY");

    await page.getByRole("button", { name: "Revoke api.example.com" }).click();
    const confirm = page.getByRole("dialog", { name: "Revoke api.example.com?" });
    await confirm.getByRole("button", { name: "Revoke" }).click();
    await shows("revoked state", table("Certificates").getByRole("row").filter({ hasText: "api.example.com" }).getByText(/revoked/));
    const listed = (await vault.admin.get("/v1/pki/certificates?include_revoked=true")).body.data as Array<{ common_name: string; revoked_at: string | null }>;
    expect(listed.find((c) => c.common_name === "api.example.com")?.revoked_at).toEqual(expect.any(String));
  });

  it("PKI: CSR requests are approved and rejected from the review list", async () => {
    const submit = async (cn: string) => {
      const response = await vault.admin.post("/v1/pki/csrs", { csr_pem: (await ssl.csr("ec:P-256", `/CN=${cn}`)).csr, role: "web", comment: `for ${cn}` });
      expect(response.status).toBe(201);
      return response.body.id as string;
    };
    const good = await submit("good.example.com");
    const bad = await submit("bad.example.com");
    await goto("/ui/pki/csrs", "PKI");
    await shows("pending CSR", table("Certificate signing requests").getByRole("cell", { name: good, exact: true }));
    await axeCheck("pki csrs");
    await page.getByRole("button", { name: `Approve ${good}` }).click();
    await table("Certificate signing requests").getByRole("cell", { name: good, exact: true }).waitFor({ state: "detached" });
    await page.getByLabel(`Reason for ${bad}`).fill("unknown requester");
    await page.getByRole("button", { name: `Reject ${bad}` }).click();
    await table("Certificate signing requests").getByRole("cell", { name: bad, exact: true }).waitFor({ state: "detached" });
    expect((await vault.admin.get(`/v1/pki/csrs/${good}`)).body).toMatchObject({ state: "signed", certificate_id: expect.any(String) });
    expect((await vault.admin.get(`/v1/pki/csrs/${bad}`)).body).toMatchObject({ state: "rejected", reason: "unknown requester" });
    await page.getByRole("combobox", { name: "State" }).selectOption("rejected");
    await shows("rejected CSR", table("Certificate signing requests").getByRole("cell", { name: bad, exact: true }));
  });

  it("PKI: the CSR review list shows 100 at a time, oldest first, and Load more brings the rest", async () => {
    // 120 pending CSRs submitted after every other one, put straight into the table.
    const later = Date.now() + 60_000;
    await vault.vault.db.run(
      `INSERT INTO pki_csrs (id, tenant_id, partner_id, role, csr_pem, state, common_name, alt_names, ip_sans, key_type, ttl, comment, requested_by, decided_by, reason, certificate_id, created_at, updated_at)
       WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 120)
       SELECT 'csr_queue' || g, 'tnt_default', 'ptn_default', 'web', 'PEM', 'pending', 'q' || g || '.example.com', '[]', '[]', 'ec', NULL, NULL, 'user:admin', NULL, NULL, NULL, ${later} + g, ${later} + g
         FROM s`,
    );
    await goto("/ui/pki/csrs", "PKI");
    const queue = table("Certificate signing requests");
    await shows("the first page", queue.getByRole("cell", { name: "csr_queue1", exact: true }));
    expect(await queue.getByRole("cell", { name: "csr_queue120", exact: true }).count()).toBe(0);
    expect(await queue.getByRole("cell", { name: /^csr_queue\d+$/ }).count()).toBe(100);
    await page.getByRole("button", { name: "Load more" }).click();
    await shows("the next page", queue.getByRole("cell", { name: "csr_queue120", exact: true }));
    expect(await queue.getByRole("cell", { name: /^csr_queue\d+$/ }).count()).toBe(120);
    expect(await page.getByRole("button", { name: "Load more" }).count()).toBe(0);
  });

  it("PKI → DNS Providers on a vault without that API (404) says so instead of breaking", async () => {
    await page.route("**/v1/dns/providers", (route) => route.fulfill({ status: 404, contentType: "application/json", body: JSON.stringify({ error: { code: "not_found", message: "No such endpoint", details: {}, request_id: "req_test" } }) }));
    try {
      await goto("/ui/pki/dns", "PKI");
      await shows("the notice", page.getByTestId("dns-unavailable"));
      await axeCheck("pki dns unavailable");
    } finally {
      await page.unroute("**/v1/dns/providers");
    }
  });

  it("Dynamic credentials: creates a PostgreSQL engine (root password write-only), a role, generates credentials shown once, renews and revokes the lease", async () => {
    const rootPath = "infra/dynamic/support-db/root";
    // The engine reads its root secret as dynamic:support-db: a policy lets it (as an operator would).
    const policy = await vault.admin.post("/v1/policies", { name: "dynamic-support-db-root", rules: [{ path_pattern: rootPath, permissions: ["read", "rotate"] }] });
    expect(policy.status).toBe(201);
    expect((await vault.admin.post(`/v1/policies/${policy.body.id}/bindings`, { identity_type: "system", identity_id: "dynamic:support-db" })).status).toBe(201);

    await goto("/ui/dynamic", "Dynamic credentials");
    await axeCheck("dynamic");
    const engine = form("Create a database engine");
    await engine.getByLabel("Name", { exact: true }).fill("support-db");
    await engine.getByLabel(/Connection URL/).fill(pg.connectionUrl);
    await engine.getByLabel("Root credentials secret path").fill(rootPath);
    await engine.getByLabel("Root username").fill(pg.rootUser);
    const password = engine.getByLabel("Root password");
    expect(await password.getAttribute("type")).toBe("password");
    await password.fill(pg.rootPassword);
    await engine.getByRole("button", { name: "Create" }).click();
    await shows("engine", table("Engines").getByRole("cell", { name: "support-db", exact: true }));
    // Sent once, then cleared from the field; never in the page or any answer it received.
    expect(await password.inputValue()).toBe("");
    expect(await page.content()).not.toContain(pg.rootPassword);
    expect(bodies.some((b) => b.body.includes(pg.rootPassword))).toBe(false);

    const role = form("Create a role in support-db");
    await shows("role form", role);
    await role.getByLabel("Role name").fill("readonly");
    await role.getByLabel(/Creation statements/).fill(`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT SELECT ON items TO "{{name}}"`);
    await role.getByRole("button", { name: "Create" }).click();
    await shows("role", table("Roles of support-db").getByRole("cell", { name: "readonly", exact: true }));
    await axeCheck("dynamic with roles");

    await page.getByRole("button", { name: "Generate credentials for readonly" }).click();
    const once = page.getByRole("dialog", { name: "Credentials for support-db/readonly" });
    const shown = once.getByTestId("once-password");
    await shows("generated password", shown);
    const generated = (await shown.innerText()).trim();
    const username = (await once.getByTestId("once-username").innerText()).trim();
    pg.track(username);
    expect(generated.length).toBeGreaterThan(10);
    await axeCheck("dynamic credentials dialog");
    await once.getByRole("button", { name: "Done" }).click();
    await once.waitFor({ state: "detached" });
    expect(await page.content()).not.toContain(generated);

    const lease = table("Leases").getByRole("row").filter({ hasText: username });
    await shows("the lease", lease.getByRole("cell", { name: "active", exact: true }));
    const leaseId = (await vault.admin.get("/v1/dynamic/leases")).body.data.find((l: { username: string }) => l.username === username).lease_id as string;
    const before = (await vault.admin.get(`/v1/dynamic/leases/${leaseId}`)).body;
    await page.getByRole("button", { name: `Renew ${leaseId}` }).click();
    await expect.poll(async () => (await vault.admin.get(`/v1/dynamic/leases/${leaseId}`)).body.last_renewed_at).not.toBeNull();
    expect(before.last_renewed_at).toBeNull();
    await page.getByRole("button", { name: `Revoke ${leaseId}` }).click();
    await lease.waitFor({ state: "detached" });
    expect((await vault.admin.get(`/v1/dynamic/leases/${leaseId}`)).body.state).toBe("revoked");
    await page.getByRole("combobox", { name: "Lease state" }).selectOption("revoked");
    await shows("revoked lease", table("Leases").getByRole("cell", { name: leaseId }));

    // A busy engine refuses deletion with the API's code only while leases live; now it goes.
    await page.getByRole("button", { name: "Delete support-db" }).click();
    await shows("no engines", table("Engines").getByText("No engines yet."));
  });

  it("Rotation: a policy's history narrowed to a secret; a secret policy created and previewed (nothing stored)", async () => {
    expect((await vault.admin.put("/v1/secrets/app/rotating/key", { data: { api_key: "first-value" } })).status).toBe(201);
    const policy = await vault.admin.post("/v1/rotation/policies", { name: "monthly", interval: "30d", auto_generate: true });
    expect(policy.status).toBe(201);
    expect((await vault.admin.post(`/v1/rotation/policies/${policy.body.id}/secrets`, { secret_path: "app/rotating/key" })).status).toBe(201);
    const rotated = await vault.admin.post(`/v1/rotation/policies/${policy.body.id}/rotate`, {});
    expect(rotated.status).toBe(200);
    await goto("/ui/rotation", "Rotation");
    const history = table("Rotation history");
    await shows("the rotation", history.getByRole("link", { name: "app/rotating/key" }));
    await page.getByLabel("Secret path (empty: all)").fill("app/other");
    await shows("the narrowed history", history.getByText("No rotations recorded."));
    await axeCheck("rotation");
    const create = form("Create a secret policy");
    await create.getByLabel("Policy name").fill("api-keys");
    await create.getByRole("combobox", { name: "Policy type" }).selectOption("api_key");
    await create.getByLabel(/Fields/).fill("api_key:hex");
    await create.getByRole("button", { name: "Create" }).click();
    await shows("the secret policy", table("Secret policies").getByRole("cell", { name: "api_key:hex" }));
    await page.getByRole("button", { name: "Preview api-keys" }).click();
    await shows("the sample", page.getByTestId("preview").getByText(/^[0-9a-f]{32,}$/));
    await axeCheck("rotation with preview");
    const listed = (await vault.admin.get("/v1/secret-policies")).body.data as Array<{ name: string; fields: unknown }>;
    expect(listed.find((p) => p.name === "api-keys")?.fields).toEqual([{ name: "api_key", generator: "hex", config: expect.any(Object) }]);
  });

  it("a narrower session sees the domain pages' actions disabled with the reason", async () => {
    const issued = await vault.admin.post("/v1/auth/tokens", { identity_id: "user:issuer@example.com", identity_type: "user", scopes: ["pki:issue", "dynamic:read"], expires_in: "1h" });
    expect(issued.status).toBe(201);
    await goto("/ui/secrets", "Secrets");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Token").fill(issued.body.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await shows("the secrets page", page.getByRole("heading", { level: 1, name: "Secrets" }));
    await goto("/ui/pki/cas", "PKI");
    const create = form("Create a CA").getByRole("button", { name: "Create" });
    expect(await create.isDisabled()).toBe(true);
    expect(await create.getAttribute("title")).toBe("Needs the pki:admin scope");
    await goto("/ui/dynamic", "Dynamic credentials");
    const engine = form("Create a database engine").getByRole("button", { name: "Create" });
    expect(await engine.getAttribute("title")).toBe("Needs the dynamic:manage scope");
    await goto("/ui/access/exchange", "Token exchange");
    expect(await form("Create a trust").getByRole("button", { name: "Create" }).getAttribute("title")).toBe("Needs the admin scope");
    await axeCheck("domain pages, narrow session");
  });

  it("no axe violation on any domain page and no CSP violation", async () => {
    expect(axeFindings).toEqual(Object.fromEntries(Object.keys(axeFindings).map((k) => [k, []])));
    expect(Object.keys(axeFindings).length).toBeGreaterThanOrEqual(16);
    expect(await cspViolations()).toEqual([]);
  });
});
