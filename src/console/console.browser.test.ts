import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { startVault, type TestVault } from "../testing/harness.js";
import { axeViolations, browserAvailable, ensureConsoleBuilt, launchBrowser, tracedPage, waitShown, watchCsp, type ApiTrace, type Browser } from "./testing/browser.js";

/**
 * The console in Debian's Chromium against a real vault (spec/console.md §6): one browser and one
 * vault for the file. Steps synchronise on what the page shows, never on sleeps.
 */
const run = browserAvailable("console browser tests") ? describe : describe.skip;

const VALUE = "s3cr3t-Value-Never-Early-7Q";

run("console in a real browser", { timeout: 90_000 }, () => {
  let vault: TestVault;
  let browser: Browser;
  let page: Page;
  let cspViolations: () => Promise<string[]>;
  let receiver: Server;
  let exportDir: string;
  const received: string[] = [];
  /** Every /v1 answer the page received; the bodies prove no value arrived before Reveal. */
  const trace: ApiTrace = { statuses: [], bodies: [] };
  const bodies = trace.bodies;
  const axeFindings: Record<string, string[]> = {};

  const audit = async (query: string) => (await vault.admin.get(`/v1/audit/logs?${query}`)).body.logs as Array<Record<string, any>>;
  const axeCheck = async (name: string) => {
    axeFindings[name] = await axeViolations(page);
  };
  const showsHeading = (heading: string | RegExp) => waitShown(page, trace, `heading ${String(heading)}`, page.getByRole("heading", { level: 1, name: heading }));
  const goto = async (path: string, heading: string | RegExp) => {
    await page.goto(`${vault.baseUrl}${path}`);
    await showsHeading(heading);
  };

  beforeAll(async () => {
    ensureConsoleBuilt();
    receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        received.push(body);
        response.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    exportDir = mkdtempSync(join(tmpdir(), "scaivault-console-exports-"));
    vault = await startVault("sqlite", { env: { SCAIVAULT_AUDIT_EXPORT_DIR: exportDir } });
    const { admin } = vault;
    expect((await admin.put("/v1/secrets/app/db/password", { data: { password: VALUE, user: "svc" }, metadata: { description: "the app database", tags: ["db"] } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/app/db/password", { data: { password: `${VALUE}-v2`, user: "svc" } })).status).toBe(200);
    expect((await admin.put("/v1/secrets/app/cache/url", { data: { url: "redis://cache" } })).status).toBe(201);
    expect((await admin.put("/v1/secrets/ops/pager", { data: { key: "pager" } })).status).toBe(201);
    browser = await launchBrowser();
    cspViolations = await watchCsp(browser.context);
    page = await tracedPage(browser, trace);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await vault?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    if (exportDir) rmSync(exportDir, { recursive: true, force: true });
  });

  it("refuses a bad token with the API's error, signs in with a good one, keeps no token in Web Storage or script cookies", async () => {
    // Where the sign-in heading first entered the page: it used to render at /ui/ a moment before
    // the address moved to /ui/login (a README run read the address in that moment).
    await page.addInitScript(() => {
      const seen = window as unknown as { signInFirstAt?: string };
      new MutationObserver(() => {
        if (!seen.signInFirstAt && [...document.querySelectorAll("h1")].some((h) => h.textContent === "Sign in to ScaiVault")) seen.signInFirstAt = location.pathname;
      }).observe(document, { childList: true, subtree: true });
    });
    await page.goto(`${vault.baseUrl}/ui`);
    await page.getByRole("heading", { name: "Sign in to ScaiVault" }).waitFor();
    expect(await page.evaluate(() => (window as unknown as { signInFirstAt?: string }).signInFirstAt)).toBe("/ui/login");
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    await axeCheck("login");
    await page.getByLabel("Token").fill("skt_" + "n".repeat(43));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "token_invalid" }).waitFor();
    await axeCheck("login with error");
    await page.getByLabel("Token").fill(vault.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await showsHeading("Secrets");
    const storage = await page.evaluate(() => ({ local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage), cookie: document.cookie }));
    expect(storage.local).not.toContain("skt_");
    expect(storage.session).not.toContain("skt_");
    expect(storage.local).toBe("{}");
    expect(storage.session).toBe("{}");
    expect(storage.cookie).toBe("");
    expect(page.url()).not.toContain(vault.adminToken);
    // A reload keeps the session (the app recovers its CSRF token from GET /v1/ui/session).
    await page.reload();
    await showsHeading("Secrets");
  });

  it("tree → secret → Reveal: nothing of the value before Reveal, the audited read only after it; Hide drops it", async () => {
    await goto("/ui/secrets", "Secrets");
    const tree = page.getByRole("tree", { name: "Secrets" });
    await tree.getByRole("treeitem", { name: /app/ }).first().waitFor();
    await axeCheck("secrets");
    // Keyboard only: focus the first item (app), → expands, ↓ moves, → expands db, ↓ and Enter open it.
    await tree.getByRole("treeitem").first().focus();
    await page.keyboard.press("ArrowRight");
    await tree.getByRole("treeitem", { name: /cache/ }).waitFor();
    // Each key is pressed once the focus it acts on is where a person would see it.
    const focusedOn = (name: string) => page.waitForFunction((text) => document.activeElement?.getAttribute("role") === "treeitem" && (document.activeElement.textContent ?? "").includes(text), name);
    await focusedOn("app");
    await page.keyboard.press("ArrowDown");
    await focusedOn("cache");
    await page.keyboard.press("ArrowDown");
    await focusedOn("db");
    await page.keyboard.press("ArrowRight");
    await tree.getByRole("treeitem", { name: /password/ }).waitFor();
    await page.keyboard.press("ArrowDown");
    await focusedOn("password");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 2, name: "app/db/password" }).waitFor();
    await page.getByText("the app database").waitFor();
    expect(new URL(page.url()).pathname).toBe("/ui/secrets/app/db/password");
    await axeCheck("secret detail");

    expect(await page.content()).not.toContain(VALUE);
    expect(bodies.filter((b) => b.body.includes(VALUE)).map((b) => b.url)).toEqual([]);
    expect(await audit("action=read&path_prefix=app/db/password")).toEqual([]);

    await page.getByRole("button", { name: "Reveal" }).click();
    await page.getByTestId("secret-value").filter({ hasText: `${VALUE}-v2` }).waitFor();
    await page.getByTestId("live").filter({ hasText: "Revealed" }).waitFor();
    const reads = await audit("action=read&path_prefix=app/db/password");
    expect(reads).toHaveLength(1);
    expect(reads[0].extra_data.via).toBe("console");
    await axeCheck("secret revealed");
    await page.getByRole("button", { name: "Hide" }).click();
    await page.getByRole("button", { name: "Reveal" }).waitFor();
    expect(await page.content()).not.toContain(VALUE);
  });

  it("restores version 1 as a new version with cas, both audited", async () => {
    await goto("/ui/secrets/app/db/password", "Secrets");
    await page.getByRole("button", { name: "Restore version 1" }).click();
    await page.getByTestId("live").filter({ hasText: "Restored version 1 as version 3" }).waitFor();
    const current = await vault.admin.get("/v1/secrets/app/db/password");
    expect(current.body.version).toBe(3);
    expect(current.body.data.password).toBe(VALUE);
    const writes = await audit("action=write&path_prefix=app/db/password");
    expect(writes.some((w) => w.extra_data.via === "console")).toBe(true);
  });

  it("deletes through the dialog (naming the path) and undeletes", async () => {
    await goto("/ui/secrets/ops/pager", "Secrets");
    await page.getByRole("heading", { level: 2, name: "ops/pager" }).waitFor();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete ops/pager?" });
    await dialog.waitFor();
    await axeCheck("delete dialog");
    // Escape closes and focus returns to the opener.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Delete");
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Undelete" }).waitFor();
    expect((await vault.admin.get("/v1/secrets/ops/pager")).body.error.details.deleted).toBe(true);
    await page.getByRole("button", { name: "Undelete" }).click();
    await page.getByRole("button", { name: "Reveal" }).waitFor();
    expect((await vault.admin.get("/v1/secrets/ops/pager")).status).toBe(200);
  });

  it("creates a secret from the tree page with key/value rows", async () => {
    await goto("/ui/secrets", "Secrets");
    await page.getByRole("button", { name: "Create" }).click();
    const dialog = page.getByRole("dialog", { name: "Create a secret" });
    await dialog.getByLabel("Path").fill("ui/made/here");
    await dialog.getByLabel("Key 1").fill("token");
    await dialog.getByLabel("Value 1").fill("abc");
    await axeCheck("create secret dialog");
    await dialog.getByRole("button", { name: "Create" }).click();
    await page.getByRole("heading", { level: 2, name: "ui/made/here" }).waitFor();
    expect((await vault.admin.get("/v1/secrets/ui/made/here")).body.data).toEqual({ token: "abc" });
    // Metadata without a new version (PATCH).
    await page.getByRole("button", { name: "Edit metadata" }).click();
    const meta = page.getByRole("dialog", { name: "Metadata of ui/made/here" });
    await meta.getByLabel("Description").fill("made in the console");
    await meta.getByLabel("Owner").fill("team-ui");
    await meta.getByRole("button", { name: "Save" }).click();
    await page.getByText("made in the console").waitFor();
    const after = await vault.admin.get("/v1/secrets/ui/made/here/metadata");
    expect(after.body.version).toBe(1);
    expect(after.body.metadata).toMatchObject({ description: "made in the console", owner: "team-ui" });
  });

  it("policy editor shows the API's errors on their fields; the simulator answers as inputs change", async () => {
    await goto("/ui/policies/new", "Policies");
    await page.getByLabel("Name").first().fill("console-readers");
    await page.getByLabel("Path pattern").fill("app**");
    await page.getByRole("button", { name: "Create" }).click();
    const patternError = page.locator("#r0-path_pattern-error");
    await patternError.waitFor();
    expect(await page.getByLabel("Path pattern").getAttribute("aria-invalid")).toBe("true");
    await axeCheck("policy editor with errors");
    await page.getByLabel("Path pattern").fill("app/**");
    await page.getByRole("checkbox", { name: "list" }).check();
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("heading", { level: 2, name: "Policy console-readers" }).waitFor();
    await page.getByLabel("Identity", { exact: true }).first().waitFor();
    await page.getByRole("textbox", { name: "Identity" }).first().fill("sa:reader");
    await page.getByRole("button", { name: "Add binding" }).click();
    await page.getByRole("button", { name: "Remove binding of sa:reader" }).waitFor();
    await axeCheck("policy with bindings");

    const sim = page.getByRole("region", { name: "Simulator" });
    await sim.getByLabel("Identity").fill("sa:reader");
    await sim.getByLabel("Path").fill("app/db/password");
    await page.getByTestId("sim-result").filter({ hasText: /^Allowed/ }).waitFor();
    await sim.getByLabel("Path").fill("ops/pager");
    await page.getByTestId("sim-result").filter({ hasText: "access_denied" }).waitFor();
    await sim.getByLabel("Permission").selectOption("write");
    await sim.getByLabel("Path").fill("app/db/password");
    await page.getByTestId("sim-result").filter({ hasText: "Denied" }).waitFor();
  });

  it("creates a token (shown once, then Copy/Done) and revokes it; a personal token for a non-user shows forbidden", async () => {
    await goto("/ui/access/tokens", "Personal tokens");
    await axeCheck("tokens");
    await page.getByLabel("Description").fill("console test");
    await page.getByRole("checkbox", { name: "secrets:read" }).check();
    await page.getByLabel(/For identity/).fill("sa:console-made");
    await page.getByRole("button", { name: "Create" }).click();
    const token = await page.getByTestId("new-token").textContent();
    expect(token).toMatch(/^skt_/);
    await axeCheck("token shown once");
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.content()).not.toContain(token!);
    const listed = (await vault.admin.get("/v1/auth/tokens")).body.data.find((t: any) => t.identity_id === "sa:console-made");
    expect(listed.scopes).toEqual(["secrets:read"]);
    await page.getByRole("button", { name: `Revoke ${listed.id}` }).click();
    await page.getByRole("row", { name: new RegExp(listed.id) }).getByText("revoked").waitFor();
    expect((await vault.anonymous.withToken(token!).get("/v1/auth/whoami")).body.error.code).toBe("token_revoked");
    // A token for oneself (personal tokens, spec/identity.md §5) is for users only: this session is
    // the bootstrap identity (system:bootstrap), so the page shows the API's forbidden (not_a_user).
    await page.getByLabel(/For identity/).fill("");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("alert").filter({ hasText: "forbidden" }).waitFor();
    expect((await vault.admin.get("/v1/auth/tokens?kind=personal")).body.data).toEqual([]);
  });

  it("audit: filters, entry detail, Verify chain, an export", async () => {
    await goto("/ui/audit", "Audit");
    await page.getByLabel("Action").fill("ui_login");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.getByRole("cell", { name: "ui_login" }).first().waitFor();
    const actions = await page.locator("tbody tr td:nth-child(2)").allTextContents();
    expect(actions.length).toBeGreaterThan(0);
    expect(new Set(actions)).toEqual(new Set(["ui_login"]));
    await axeCheck("audit");
    await page.getByRole("button", { name: "Verify chain" }).click();
    await page.getByTestId("verify-result").filter({ hasText: "Chain intact" }).waitFor();
    await page.locator("tbody a").first().click();
    await page.getByRole("heading", { level: 2, name: /^Entry log_/ }).waitFor();
    await page.getByText("prev_hash").waitFor();
    await axeCheck("audit entry");
    await goto("/ui/audit", "Audit");
    await page.getByRole("button", { name: "Export the last 24 hours" }).click();
    await page.getByTestId("live").filter({ hasText: /^Export exp_/ }).waitFor();
  });

  it("webhooks: a delivery is listed and Redeliver sends it again", async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const hook = await vault.admin.post("/v1/webhooks", { name: "console-hook", url, events: ["secret.*"] });
    expect(hook.status).toBe(201);
    // A real event (test events are not redeliverable): a secret write the webhook matches.
    expect((await vault.admin.put("/v1/secrets/hooks/one", { data: { a: "1" } })).status).toBe(201);
    await goto(`/ui/events/webhooks/${hook.body.id}`, "Webhooks");
    // The event is delivered by the worker; refresh until the page shows the delivery succeeded.
    const delivered = page.getByRole("cell", { name: "success", exact: true });
    while (!(await delivered.first().isVisible())) {
      await Promise.all([page.waitForResponse((r) => r.url().includes("/deliveries")), page.getByRole("button", { name: "Refresh" }).click()]);
    }
    await axeCheck("webhook detail");
    const before = received.length;
    await page.getByRole("button", { name: /^Redeliver del_/ }).first().click();
    await page.getByTestId("live").filter({ hasText: "queued" }).waitFor();
    await expect.poll(() => received.length, { timeout: 60_000 }).toBeGreaterThan(before);
  });

  it("axe finds no WCAG 2.1 A/AA violation on the remaining pages", async () => {
    await goto("/ui/policies", "Policies");
    await axeCheck("policies");
    await goto("/ui/events/webhooks", "Webhooks");
    await axeCheck("webhooks");
    await goto("/ui/events/subscriptions", "Subscriptions");
    await page.getByLabel("Name").fill("console-sub");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("button", { name: "Recent events" }).click();
    await page.getByRole("button", { name: "Refresh events" }).waitFor();
    await axeCheck("subscriptions");
    await goto("/ui/rotation", "Rotation");
    const rotationForm = page.getByRole("form", { name: "Create a rotation policy" });
    await rotationForm.getByLabel("Name").fill("monthly");
    await rotationForm.getByRole("button", { name: "Create" }).click();
    await page.getByRole("cell", { name: "monthly", exact: true }).waitFor();
    await axeCheck("rotation");
    await goto("/ui/tenants", "Tenants");
    await page.getByRole("cell", { name: "tnt_default" }).waitFor();
    await axeCheck("tenants");
    await goto("/ui/nowhere", "Not found");
    await axeCheck("not found");
    expect(axeFindings).toEqual(Object.fromEntries(Object.keys(axeFindings).map((k) => [k, []])));
    // The check can fail: an image without a text alternative is reported.
    await page.evaluate(() => {
      const img = document.createElement("img");
      img.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
      document.querySelector("main")?.append(img);
    });
    expect((await axeViolations(page)).some((line) => line.startsWith("image-alt"))).toBe(true);
  });

  it("a partner admin switches tenants: calls then go to /v1/t/{tenant}/…, and back", async () => {
    await goto("/ui/tenants", "Tenants");
    await page.getByLabel("Name").fill("Acme");
    await page.getByRole("button", { name: "Create" }).click();
    const switchTo = page.getByRole("button", { name: "Switch to Acme" });
    await switchTo.waitFor();
    await switchTo.click();
    const tenantId = await page.getByRole("combobox", { name: "Tenant" }).inputValue();
    expect(tenantId).toMatch(/^tnt_/);
    expect(tenantId).not.toBe("tnt_default");
    const [request] = await Promise.all([page.waitForRequest((r) => r.url().includes("/v1/t/") && r.url().includes("/secrets")), page.getByRole("link", { name: "Secrets" }).click()]);
    expect(new URL(request.url()).pathname).toBe(`/v1/t/${tenantId}/secrets`);
    await page.getByText("No secrets yet.").waitFor();
    await page.getByRole("combobox", { name: "Tenant" }).selectOption("tnt_default");
    await page.getByRole("tree", { name: "Secrets" }).getByRole("treeitem", { name: /app/ }).first().waitFor();
  });

  it("a cookie-only write without X-CSRF-Token is refused from the page itself; no CSP violation anywhere", async () => {
    await goto("/ui/secrets", "Secrets");
    const answer = await page.evaluate(async () => {
      const response = await fetch("/v1/secrets/ui/csrf/probe", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ data: { a: "1" } }) });
      return { status: response.status, body: await response.json() };
    });
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({ code: "forbidden", details: { reason: "csrf" } });
    expect((await vault.admin.get("/v1/secrets/ui/csrf/probe")).status).toBe(404);
    expect(await cspViolations()).toEqual([]);
    // The listener does catch violations: an inline style is refused by style-src 'self'.
    await page.evaluate(() => {
      const style = document.createElement("style");
      style.textContent = "body { color: black; }";
      document.head.append(style);
    });
    await expect.poll(async () => (await cspViolations()).join("\n")).toContain("style-src");
  });

  it("signs out: the session ends and the app returns to the login page", async () => {
    await goto("/ui/secrets", "Secrets");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to ScaiVault" }).waitFor();
    const after = await page.evaluate(async () => (await fetch("/v1/ui/session")).status);
    expect(after).toBe(401);
    expect((await audit("action=ui_logout")).length).toBe(1);
  });

  it("a narrower session is offered only its own scopes, sees actions it lacks disabled with the reason, and creates a personal token", async () => {
    const issued = await vault.admin.post("/v1/auth/tokens", { identity_id: "user:reader@example.com", identity_type: "user", scopes: ["secrets:read", "secrets:list"], expires_in: "1h" });
    expect(issued.status).toBe(201);
    await page.goto(`${vault.baseUrl}/ui/login`);
    await page.getByLabel("Token").fill(issued.body.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await showsHeading("Secrets");
    const create = page.getByRole("button", { name: "Create" });
    expect(await create.isDisabled()).toBe(true);
    expect(await create.getAttribute("title")).toBe("Needs the secrets:write scope");
    await page.getByRole("link", { name: "Personal tokens" }).click();
    await page.getByRole("heading", { level: 1, name: "Personal tokens" }).waitFor();
    const offered = await page.getByRole("group", { name: /Scopes/ }).getByRole("checkbox").evaluateAll((boxes) => boxes.map((b) => b.parentElement?.textContent?.trim()));
    expect(offered).toEqual(["secrets:list", "secrets:read"]);
    await axeCheck("tokens, narrow session");
    expect(axeFindings["tokens, narrow session"]).toEqual([]);
    // The docs' "Access → Personal Tokens → Create": a user makes one for itself, within its scopes.
    await page.getByLabel("Description").fill("laptop");
    await page.getByRole("checkbox", { name: "secrets:read" }).check();
    await page.getByRole("button", { name: "Create" }).click();
    const personal = await page.getByTestId("new-token").textContent();
    expect(personal).toMatch(/^skt_/);
    await page.getByRole("button", { name: "Done" }).click();
    const made = (await vault.admin.get("/v1/auth/tokens?kind=personal")).body.data;
    expect(made.map((t: { identity_id: string; scopes: string[]; description: string }) => [t.identity_id, t.scopes, t.description])).toEqual([["user:reader@example.com", ["secrets:read"], "laptop"]]);
    expect((await vault.anonymous.withToken(personal!).get("/v1/auth/whoami")).body.identity_id).toBe("user:reader@example.com");
  });
});
