import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { startVault, type TestVault } from "../testing/harness.js";
import { axeViolations, browserAvailable, ensureConsoleBuilt, launchBrowser, type Browser } from "./testing/browser.js";

/**
 * PKI → DNS Providers against a vault that has `/v1/dns/providers` (spec/pki.md §P7, built in
 * parallel with the page). Requires the route: kept in its own file so the integrator enables it
 * once both are merged. One browser and one vault; steps synchronise on what the page shows.
 */
const run = browserAvailable("console DNS providers browser tests") ? describe : describe.skip;

const TSIG_SECRET = Buffer.from("console-dns-tsig-secret-never-shown-0123456789").toString("base64");

run("console PKI → DNS Providers in a real browser", { timeout: 90_000 }, () => {
  let vault: TestVault;
  let browser: Browser;
  let page: Page;
  const bodies: string[] = [];

  beforeAll(async () => {
    ensureConsoleBuilt();
    vault = await startVault("sqlite");
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(20_000);
    page.on("response", async (response) => {
      if (!response.url().includes("/v1/")) return;
      try {
        bodies.push(await response.text());
      } catch {
        // Redirects and aborted requests have no body.
      }
    });
    await page.goto(`${vault.baseUrl}/ui/`);
    await page.getByLabel("Token").fill(vault.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Secrets" }).waitFor();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await vault?.close();
  });

  it("adds an rfc2136 provider with a write-only TSIG secret, lists it without the secret, deletes it; no axe violation", async () => {
    expect((await vault.admin.get("/v1/dns/providers")).status).toBe(200);
    await page.goto(`${vault.baseUrl}/ui/pki/dns`);
    const form = page.getByRole("form", { name: "Add a DNS provider" });
    await form.waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await form.getByLabel("Name", { exact: true }).fill("lab-dns");
    await form.getByLabel("Server (host:port)").fill("127.0.0.1:5353");
    await form.getByLabel("TSIG key name").fill("acme-key.");
    const secret = form.getByLabel("TSIG secret (base64)");
    expect(await secret.getAttribute("type")).toBe("password");
    await secret.fill(TSIG_SECRET);
    await form.getByLabel("Managed zones").fill("lab.example");
    await form.getByRole("button", { name: "Create" }).click();
    const table = page.getByRole("table", { name: "DNS providers" });
    await table.getByRole("cell", { name: "lab-dns", exact: true }).waitFor();
    expect(await secret.inputValue()).toBe("");
    expect(await page.content()).not.toContain(TSIG_SECRET);
    expect(bodies.some((b) => b.includes(TSIG_SECRET))).toBe(false);
    const listed = await vault.admin.get("/v1/dns/providers");
    expect(JSON.stringify(listed.body)).not.toContain(TSIG_SECRET);
    expect(JSON.stringify(listed.body)).toContain("lab.example");
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole("button", { name: "Delete lab-dns" }).click();
    await table.getByText("No DNS providers yet.").waitFor();
    expect(JSON.stringify((await vault.admin.get("/v1/dns/providers")).body)).not.toContain("lab-dns");
  });
});
