/**
 * `npm run docs:screenshots`: the main console pages, as a person sees them, into docs/screenshots/.
 * A throwaway vault (SQLite in a temp directory) with a little sample data; not part of npm test.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Writable } from "node:stream";
import { buildVault } from "../../app.js";
import { loadConfig } from "../../config/config.js";
import { chromiumPath, ensureConsoleBuilt, launchBrowser } from "./browser.js";

let finished = false;
const OUT = fileURLToPath(new URL("../../../docs/screenshots/", import.meta.url));

async function main(): Promise<void> {
  if (!chromiumPath()) throw new Error("Chromium not found: set CHROMIUM_PATH or apt-get install chromium");
  ensureConsoleBuilt();
  const dir = mkdtempSync(join(tmpdir(), "scaivault-shots-"));
  const token = `skt_${randomBytes(32).toString("base64url")}`;
  const config = loadConfig({
    BIND_ADDRESS: "127.0.0.1:0",
    DATABASE_URL: `sqlite:${join(dir, "vault.db")}`,
    KMS_LOCAL_KEY: randomBytes(32).toString("base64"),
    SCAIVAULT_BOOTSTRAP_TOKEN: token,
    SCAIVAULT_AUDIT_EXPORT_DIR: join(dir, "exports"),
    LOG_LEVEL: "error",
  });
  const vault = await buildVault(config, { logStream: new Writable({ write: (_c, _e, done) => done() }) });
  const base = (await vault.app.listen({ host: "127.0.0.1", port: 0 })).replace("localhost", "127.0.0.1");
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  await api("PUT", "/v1/secrets/app/db/password", { data: { password: "example-only", user: "app" }, metadata: { description: "Application database", tags: ["db", "prod"], owner: "team-platform" } });
  await api("PUT", "/v1/secrets/app/db/password", { data: { password: "example-only-2", user: "app" } });
  await api("PUT", "/v1/secrets/app/cache/url", { data: { url: "redis://cache:6379" } });
  await api("PUT", "/v1/secrets/integrations/stripe/api-key", { data: { key: "example" } });
  const policy = await (await api("POST", "/v1/policies", { name: "app-readers", description: "Read the app's secrets", rules: [{ path_pattern: "app/**", permissions: ["read", "list"] }] })).json();
  await api("POST", `/v1/policies/${policy.id}/bindings`, { identity_type: "service_account", identity_id: "sa:app" });
  await api("POST", "/v1/auth/trusts", { name: "github-deploy", issuer: "https://token.actions.githubusercontent.com", audiences: ["https://github.com/acme"], rules: [{ conditions: { repository: "acme/api", ref: "refs/heads/main" }, identity_id: "sa:ci-deployer", scopes: ["secrets:read"], allowed_paths: ["app/**"] }] });
  const root = await (await api("POST", "/v1/pki/ca", { name: "root", common_name: "Example Root CA", ca_type: "root", key_type: "ec" })).json();
  const issuing = await (await api("POST", "/v1/pki/ca", { name: "issuing", common_name: "Example Issuing CA", ca_type: "intermediate", parent_ca_id: root.id, key_type: "ec", validity_days: 1000 })).json();
  await api("POST", "/v1/pki/roles", { name: "web", ca_id: issuing.id, allowed_domains: ["example.com"], allow_subdomains: true, ttl: "720h", max_ttl: "2160h", key_type: "ec" });
  await api("POST", "/v1/pki/issue/web", { common_name: "api.example.com" });

  const browser = await launchBrowser();
  mkdirSync(OUT, { recursive: true });
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.setViewportSize({ width: 1280, height: 800 });
    // Full pages, except long lists (audit), which keep to the first screen so the PNGs stay small.
    const shot = async (name: string, fullPage = true) => {
      await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
      console.log(`docs/screenshots/${name}.png`);
    };
    await page.goto(`${base}/ui/login`);
    await page.getByLabel("Token").waitFor();
    await shot("login");
    await page.getByLabel("Token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("tree").waitFor();
    await page.goto(`${base}/ui/secrets/app/db/password`);
    await page.getByRole("heading", { level: 2, name: "app/db/password" }).waitFor();
    // The tree opens to the deep-linked secret by itself.
    await page.getByRole("treeitem", { name: /password/ }).waitFor();
    await shot("secret");
    await page.goto(`${base}/ui/policies/${policy.id}`);
    await page.getByRole("heading", { level: 2, name: /app-readers/ }).waitFor();
    const sim = page.getByRole("region", { name: "Simulator" });
    await sim.getByLabel("Identity").fill("sa:app");
    await sim.getByLabel("Path").fill("app/db/password");
    await page.getByTestId("sim-result").waitFor();
    await shot("policy");
    await page.goto(`${base}/ui/audit`);
    await page.getByRole("button", { name: "Verify chain" }).click();
    await page.getByTestId("verify-result").waitFor();
    await shot("audit", false);
    await page.goto(`${base}/ui/access/tokens`);
    await page.getByRole("heading", { level: 1, name: "Personal tokens" }).waitFor();
    await page.locator("tbody tr").first().waitFor();
    await shot("tokens");
    await page.goto(`${base}/ui/access/exchange`);
    await page.getByRole("table", { name: "Trusts" }).getByRole("cell", { name: "github-deploy", exact: true }).waitFor();
    await shot("token-exchange");
    await page.goto(`${base}/ui/audit/retention`);
    await page.getByTestId("retention").waitFor();
    await shot("audit-retention");
    await page.goto(`${base}/ui/pki/cas`);
    await page.getByRole("table", { name: "Certificate authorities" }).getByRole("cell", { name: "Example Issuing CA", exact: true }).waitFor();
    await shot("pki-cas");
    await page.goto(`${base}/ui/pki/certificates`);
    await page.getByRole("table", { name: "Certificates" }).getByRole("cell", { name: "api.example.com", exact: true }).first().waitFor();
    await shot("pki-certificates");
    await page.goto(`${base}/ui/dynamic`);
    await page.getByRole("table", { name: "Engines" }).waitFor();
    await shot("dynamic");
    await page.goto(`${base}/ui/rotation`);
    await page.getByRole("table", { name: "Secret policies" }).waitFor();
    await shot("rotation");
    // Every PNG is written; the throwaway vault's close below is best-effort.
    finished = true;
  } catch (error) {
    // Reported before cleanup: a close that never settles would otherwise swallow it.
    console.error(error);
    process.exitCode = 1;
  } finally {
    await browser.close();
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// If the browser goes away mid-run, pending awaits never settle and Node would exit 0 silently.
process.on("beforeExit", () => {
  if (!finished) {
    console.error("screenshots: stopped before finishing (did Chromium exit?)");
    process.exitCode = 1;
  }
});

main().catch((error) => {
  finished = true;
  console.error(error);
  process.exitCode = 1;
});
